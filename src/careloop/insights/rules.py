"""Revenue and capacity arithmetic. Pure: no database, no clock; callers pass the month's facts in.

Inputs are the month's patient-months (eligible programs with the APCM level, enrolled programs), the billed
claim lines, the fee amounts, the coordination staff's FTEs and the time log's minutes. Outputs:

* rows per program and APCM level: eligible, planned (the patient-months that count toward potential revenue,
  one program per exclusive group per patient), enrolled, capture rate, potential and actual revenue;
* revenue per coordinator FTE;
* projections for the configured enrollment scenarios with the staffing they need and, when a cost per FTE is
  configured, the net of staff cost.

The assumptions (scenario rates, patients per FTE, minutes per program-month, codes per program) are data:
``data/assumptions.yaml``, documented in docs/insights.md.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from importlib import resources
from typing import Any

import yaml

from careloop.core.errors import ValidationFailed

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
APCM = "APCM"
APCM_LEVELS = ("G0556", "G0557", "G0558")
OTHER = "Other"
# Display order of programs (then "Other").
PROGRAM_ORDER = ("APCM", "CCM", "PCM", "BHI", "CoCM", "RPM", "RTM", "TCM")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# ---------- assumptions ----------


@dataclass(frozen=True)
class Assumptions:
    version: str
    scenarios: tuple[tuple[str, Decimal], ...]
    roles: frozenset[str]
    default_fte: Decimal
    patients_per_fte: Decimal
    productive_minutes_per_fte_month: Decimal
    annual_cost_per_fte: Decimal | None
    min_sample_patient_months: int
    minutes_per_program_month: dict[str, Decimal]
    monthly_codes: dict[str, tuple[str, ...]]
    exclusive_groups: tuple[tuple[str, ...], ...]
    code_programs: dict[str, str]
    choose_by: str = "order"  # "order": the first eligible program of each group; "value": the highest-value one


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _decimal(value: Any, where: str, *, positive: bool = False, at_most: Decimal | None = None) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"assumptions: {where} must be a number, not {value!r}",
                               field_errors={where: "not a number"}) from None
    if not d.is_finite() or d < 0 or (positive and d == 0) or (at_most is not None and d > at_most):
        bound = f" and at most {at_most}" if at_most is not None else ""
        raise ValidationFailed(f"assumptions: {where} must be {'above' if positive else 'at least'} 0{bound}, "
                               f"not {value!r}", field_errors={where: "out of range"})
    return d


# Sections an override replaces whole (the others merge key by key).
REPLACED = ("scenarios",)


def default_assumptions_text() -> str:
    return resources.files("careloop.insights").joinpath("data", "assumptions.yaml").read_text()


def parse_assumptions(*texts: str) -> Assumptions:
    """The shipped defaults, then each override text (YAML of the same shape) merged key by key."""
    raw: dict[str, Any] = {}
    for text in texts:
        try:
            part = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ValidationFailed(f"assumptions: not valid YAML: {exc}") from None
        if not isinstance(part, Mapping):
            raise ValidationFailed("assumptions: the file must be a YAML mapping")
        replaced = {k: part[k] for k in REPLACED if k in part}  # a scenario table replaces, never adds to, the last
        raw = {**_merge(raw, part), **replaced}
    try:
        staffing = dict(raw["staffing"])
        scenarios = dict(raw["scenarios"])
        minutes = dict(raw["minutes_per_program_month"])
        codes = dict(raw["monthly_codes"])
        groups = list(raw["exclusive_groups"])
        code_programs = dict(raw["code_programs"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationFailed(f"assumptions: missing or malformed section {exc}") from None
    if not scenarios:
        raise ValidationFailed("assumptions: at least one scenario is needed")
    cost = staffing.get("annual_cost_per_fte")
    choose_by = str(raw.get("potential_choice", "order"))
    if choose_by not in ("order", "value"):
        raise ValidationFailed(f"assumptions: potential_choice must be order or value, not {choose_by!r}",
                               field_errors={"potential_choice": "order | value"})
    by_code: dict[str, str] = {}
    for program, program_codes in code_programs.items():
        for code in program_codes or []:
            by_code[str(code)] = str(program)
    return Assumptions(
        version=str(raw.get("version", "custom")),
        scenarios=tuple((str(name), _decimal(rate, f"scenarios.{name}", at_most=Decimal(1)))
                        for name, rate in scenarios.items()),
        roles=frozenset(str(r) for r in staffing.get("roles") or ()),
        default_fte=_decimal(staffing.get("default_fte", 1), "staffing.default_fte", at_most=Decimal(1)),
        patients_per_fte=_decimal(staffing.get("patients_per_fte", 60), "staffing.patients_per_fte", positive=True),
        productive_minutes_per_fte_month=_decimal(staffing.get("productive_minutes_per_fte_month", 6000),
                                                  "staffing.productive_minutes_per_fte_month", positive=True),
        annual_cost_per_fte=None if cost is None else _decimal(cost, "staffing.annual_cost_per_fte"),
        min_sample_patient_months=int(_decimal(staffing.get("min_sample_patient_months", 5),
                                               "staffing.min_sample_patient_months")),
        minutes_per_program_month={str(p): _decimal(m, f"minutes_per_program_month.{p}")
                                   for p, m in minutes.items()},
        monthly_codes={str(p): tuple(str(c) for c in cs or ()) for p, cs in codes.items()},
        exclusive_groups=tuple(tuple(str(p) for p in g) for g in groups),
        code_programs=by_code,
        choose_by=choose_by,
    )


def default_assumptions() -> Assumptions:
    return parse_assumptions(default_assumptions_text())


# ---------- values and classification ----------


def program_values(fees: Mapping[str, Decimal | None], a: Assumptions) -> dict[str, Decimal]:
    """Monthly amount per served patient-month, keyed by program (APCM by level code). A code without an amount
    in ``fees`` (contractor-priced, unknown) adds nothing."""
    out: dict[str, Decimal] = {}
    for level in APCM_LEVELS:
        out[level] = fees.get(level) or ZERO
    for program, codes in a.monthly_codes.items():
        out[program] = sum((fees.get(c) or ZERO for c in codes), ZERO)
    return out


def value_key(program: str, level: str) -> str:
    return level if program == APCM and level else program


def classify(code: str, a: Assumptions) -> tuple[str, str]:
    """(program, level) of a billed code: APCM codes keep the code as level (base levels and BH add-ons)."""
    program = a.code_programs.get(code, OTHER)
    return program, (code if program == APCM else "")


# ---------- the month ----------


@dataclass(frozen=True)
class PatientMonth:
    patient_id: int
    eligible: Mapping[str, str]  # program -> APCM level ("" for other programs)
    enrolled: frozenset[str]


@dataclass(frozen=True)
class BilledLine:
    patient_id: int
    code: str
    status: str  # billable | denied | flagged
    allowed: Decimal


def plan(eligible: Mapping[str, str], values: Mapping[str, Decimal], a: Assumptions,
         enrolled: frozenset[str] = frozenset()) -> list[str]:
    """Programs that count toward potential revenue for one patient-month: one eligible program of each exclusive
    group, plus eligible programs in no group. In a group, the program the patient is enrolled in (and eligible
    for) is kept; otherwise the first eligible in the group's order, or with ``choose_by`` "value" the
    highest-value one (ties by order)."""
    chosen: list[str] = []
    grouped: set[str] = set()
    for group in a.exclusive_groups:
        grouped.update(group)
        current = [p for p in group if p in eligible and p in enrolled]
        if current:
            chosen.append(current[0])
            continue
        best: str | None = None
        for program in group:
            if program not in eligible:
                continue
            if best is None:
                best = program
                if a.choose_by == "order":
                    break
            elif values.get(value_key(program, eligible[program]), ZERO) > values.get(
                    value_key(best, eligible[best]), ZERO):
                best = program
        if best is not None:
            chosen.append(best)
    chosen.extend(sorted(p for p in eligible if p not in grouped))
    return chosen


@dataclass
class RevenueRow:
    program: str
    level: str
    value: Decimal  # monthly amount per served patient-month (0 where nothing is planned: TCM, add-ons, other)
    eligible: int = 0
    planned: int = 0
    enrolled: int = 0
    enrolled_eligible: int = 0
    billed_patients: int = 0
    actual: Decimal = ZERO
    held: Decimal = ZERO  # allowed amount of lines held for review
    denied: Decimal = ZERO

    @property
    def potential(self) -> Decimal:
        return cents(self.planned * self.value)

    @property
    def capture_pct(self) -> Decimal | None:
        """Eligible patient-months that are enrolled, as a percentage (None when nobody is eligible)."""
        if not self.eligible:
            return None
        return (Decimal(100) * self.enrolled_eligible / self.eligible).quantize(Decimal("0.1"), ROUND_HALF_UP)

    @property
    def gap(self) -> Decimal:
        return cents(self.potential - self.actual)


def _order(key: tuple[str, str]) -> tuple[int, str]:
    program, level = key
    return (PROGRAM_ORDER.index(program) if program in PROGRAM_ORDER else len(PROGRAM_ORDER), level)


def revenue_rows(patients: Iterable[PatientMonth], lines: Iterable[BilledLine], values: Mapping[str, Decimal],
                 a: Assumptions) -> list[RevenueRow]:
    """One row per (program, APCM level) that has an eligible, enrolled or billed patient-month."""
    rows: dict[tuple[str, str], RevenueRow] = {}

    def row(program: str, level: str) -> RevenueRow:
        key = (program, level)
        if key not in rows:
            planned_value = program != OTHER and (program != APCM or level in APCM_LEVELS)
            rows[key] = RevenueRow(program, level, values.get(value_key(program, level), ZERO) if planned_value
                                   else ZERO)
        return rows[key]

    levels: dict[int, str] = {}
    for pm in patients:
        level = pm.eligible.get(APCM, "")
        levels[pm.patient_id] = level
        for program, lvl in pm.eligible.items():
            r = row(program, lvl if program == APCM else "")
            r.eligible += 1
            if program in pm.enrolled:
                r.enrolled_eligible += 1
        for program in plan(pm.eligible, values, a, pm.enrolled):
            row(program, pm.eligible[program] if program == APCM else "").planned += 1
        for program in pm.enrolled:
            row(program, level if program == APCM else "").enrolled += 1
    billed: dict[tuple[str, str], set[int]] = defaultdict(set)
    for ln in lines:
        program, level = classify(ln.code, a)
        r = row(program, level)
        if ln.status == "billable":
            r.actual += ln.allowed
            billed[(program, level)].add(ln.patient_id)
        elif ln.status == "flagged":
            r.held += ln.allowed
        elif ln.status == "denied":
            r.denied += ln.allowed
    for key, pids in billed.items():
        rows[key].billed_patients = len(pids)
    return [rows[k] for k in sorted(rows, key=_order)]


@dataclass(frozen=True)
class Totals:
    eligible_patients: int  # patients eligible for at least one program
    planned_patient_months: int
    enrolled_patients: int  # patients enrolled in at least one program
    potential: Decimal
    actual: Decimal
    held: Decimal
    denied: Decimal

    @property
    def capture_pct(self) -> Decimal | None:
        if not self.potential:
            return None
        return (Decimal(100) * self.actual / self.potential).quantize(Decimal("0.1"), ROUND_HALF_UP)

    @property
    def gap(self) -> Decimal:
        return cents(self.potential - self.actual)


def totals(patients: Sequence[PatientMonth], rows: Sequence[RevenueRow]) -> Totals:
    return Totals(
        eligible_patients=sum(1 for p in patients if p.eligible),
        planned_patient_months=sum(r.planned for r in rows),
        enrolled_patients=sum(1 for p in patients if p.enrolled),
        potential=cents(sum((r.potential for r in rows), ZERO)),
        actual=cents(sum((r.actual for r in rows), ZERO)),
        held=cents(sum((r.held for r in rows), ZERO)),
        denied=cents(sum((r.denied for r in rows), ZERO)),
    )


# ---------- staffing ----------


@dataclass(frozen=True)
class StaffMember:
    user_id: int
    role: str
    memberships_fte: tuple[Decimal, ...]  # FTE of each active care-team membership


def staff_fte(member: StaffMember, a: Assumptions) -> Decimal:
    """The member's FTE: memberships summed and capped at 1.0, or the default FTE without a membership."""
    if not member.memberships_fte:
        return a.default_fte
    return min(Decimal(1), sum(member.memberships_fte, Decimal(0)))


def coordinator_fte(staff: Iterable[StaffMember], a: Assumptions) -> Decimal:
    return sum((staff_fte(m, a) for m in staff if m.role in a.roles), Decimal(0)).quantize(CENT)


def per_fte(amount: Decimal, fte: Decimal) -> Decimal | None:
    return cents(amount / fte) if fte > 0 else None


@dataclass(frozen=True)
class ProgramMinutes:
    program: str
    minutes: Decimal  # per served patient-month
    source: str  # "time log (N patient-months)" or "default"


def minutes_per_program(observed: Mapping[str, tuple[int, int]], a: Assumptions) -> dict[str, ProgramMinutes]:
    """Minutes per patient-month by program: the time-log average (``observed``: program -> (total minutes,
    patient-months with time)) when it covers ``min_sample_patient_months``, else the configured default."""
    out: dict[str, ProgramMinutes] = {}
    for program in sorted(set(a.minutes_per_program_month) | set(observed)):
        total, months = observed.get(program, (0, 0))
        if months and months >= max(1, a.min_sample_patient_months):
            out[program] = ProgramMinutes(program, (Decimal(total) / months).quantize(Decimal("0.1"), ROUND_HALF_UP),
                                          f"time log ({months} patient-months)")
        elif program in a.minutes_per_program_month:
            out[program] = ProgramMinutes(program, a.minutes_per_program_month[program], "default")
    return out


@dataclass(frozen=True)
class StaffingNeed:
    patients: Decimal
    minutes: Decimal
    fte_by_caseload: Decimal
    fte_by_time: Decimal

    @property
    def fte(self) -> Decimal:
        return max(self.fte_by_caseload, self.fte_by_time)


def _up(x: Decimal) -> Decimal:
    return (Decimal(math.ceil(x * 100)) / 100).quantize(CENT)


def staffing_need(patients: Decimal | int, program_months: Mapping[str, Decimal | int],
                  minutes: Mapping[str, ProgramMinutes], a: Assumptions) -> StaffingNeed:
    """FTE to carry ``patients`` (patients per FTE) and to deliver the programs' minutes (productive minutes per
    FTE-month); the need is the larger. Rounded up to 0.01 FTE."""
    total = sum((n * (minutes[p].minutes if p in minutes else ZERO) for p, n in program_months.items()),
                Decimal(0))
    count = Decimal(patients)
    return StaffingNeed(count, total, _up(count / a.patients_per_fte), _up(total / a.productive_minutes_per_fte_month))


# ---------- projections ----------


@dataclass(frozen=True)
class Projection:
    name: str
    rate: Decimal
    patients: Decimal  # expected patients served (rate x eligible patients; may be fractional)
    program_months: dict[str, Decimal]
    revenue: Decimal
    need: StaffingNeed
    current_fte: Decimal
    cost: Decimal | None  # monthly staff cost of the needed FTE, when a cost per FTE is configured

    @property
    def fte_gap(self) -> Decimal:
        """FTE to add (negative: spare FTE) against the current coordination staff."""
        return self.need.fte - self.current_fte

    @property
    def net(self) -> Decimal | None:
        return None if self.cost is None else cents(self.revenue - self.cost)

    @property
    def revenue_per_fte(self) -> Decimal | None:
        return per_fte(self.revenue, self.need.fte)


def monthly_cost(fte: Decimal, a: Assumptions) -> Decimal | None:
    if a.annual_cost_per_fte is None:
        return None
    return cents(fte * a.annual_cost_per_fte / 12)


def project(rows: Sequence[RevenueRow], eligible_patients: int, current_fte: Decimal,
            minutes: Mapping[str, ProgramMinutes], a: Assumptions) -> list[Projection]:
    """Each scenario enrolls and serves ``rate`` of the planned patient-months of every row and of the eligible
    patients. Expected values, not rounded per row (a small practice's 20% of 3 patients is 0.6 patient, not 1
    or 0); revenue is rounded to the cent and FTE up to 0.01 at the end."""
    out: list[Projection] = []
    for name, rate in a.scenarios:
        program_months: dict[str, Decimal] = defaultdict(Decimal)
        revenue = Decimal(0)
        for r in rows:
            if r.planned:
                n = r.planned * rate
                program_months[r.program] += n
                revenue += n * r.value
        patients = eligible_patients * rate
        need = staffing_need(patients, program_months, minutes, a)
        out.append(Projection(name, rate, patients, dict(program_months), cents(revenue), need, current_fte,
                              monthly_cost(need.fte, a)))
    return out


@dataclass(frozen=True)
class Current:
    """The month as it is: actual revenue, FTE, revenue per FTE, the staffing the enrolled panel needs."""

    actual: Decimal
    fte: Decimal
    revenue_per_fte: Decimal | None
    need: StaffingNeed
    cost: Decimal | None
    program_months: dict[str, int] = field(default_factory=dict)

    @property
    def net(self) -> Decimal | None:
        return None if self.cost is None else cents(self.actual - self.cost)


def current(rows: Sequence[RevenueRow], enrolled_patients: int, fte: Decimal, minutes: Mapping[str, ProgramMinutes],
            a: Assumptions) -> Current:
    program_months: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.enrolled:
            program_months[r.program] += r.enrolled
    actual = cents(sum((r.actual for r in rows), ZERO))
    return Current(actual, fte, per_fte(actual, fte), staffing_need(enrolled_patients, program_months, minutes, a),
                   monthly_cost(fte, a), dict(program_months))
