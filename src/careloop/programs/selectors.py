"""Program reads, scoped by organization: the designated care-team member, eligibility decisions, enrollments,
initiating-visit facts and the enroll-first list. ``on`` is a clinic-local date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import Count, Max, Q, QuerySet, Sum

from careloop.clinics.models import CareTeamMember
from careloop.programs import rules
from careloop.programs.choices import Program
from careloop.programs.models import DesignatedCareMember, DeviceDayCount, EligibilityDecision, Enrollment
from careloop.registry.choices import EncounterClass
from careloop.registry.models import Coverage, Encounter, Patient
from careloop.risk.selectors import risk_tiers, tier_counts


def _in_force(on: dt.date) -> Q:
    return Q(since__lte=on) & (Q(until__isnull=True) | Q(until__gte=on))


def designated_member(*, organization_id: int, patient_id: int, on: dt.date) -> DesignatedCareMember | None:
    """The designation in force on ``on`` (the latest one when a same-day correction left two)."""
    return (
        DesignatedCareMember.objects.filter(_in_force(on), organization_id=organization_id, patient_id=patient_id)
        .select_related("user")
        .order_by("-since", "-pk")
        .first()
    )


def designated_users(*, organization_id: int, patient_ids: Iterable[int], on: dt.date) -> dict[int, int]:
    """patient id -> designated user id, for the patients that have one on ``on``."""
    ids = list(patient_ids)
    out: dict[int, int] = {}
    for i in range(0, len(ids), 900):
        rows = (
            DesignatedCareMember.objects.filter(
                _in_force(on), organization_id=organization_id, patient_id__in=ids[i : i + 900]
            )
            .order_by("patient_id", "since", "pk")
            .values_list("patient_id", "user_id")
        )
        out.update(dict(rows))  # later rows (latest since) win
    return out


def designations_in_period(*, organization_id: int, first: dt.date, last: dt.date) -> QuerySet[DesignatedCareMember]:
    """Designations in force on at least one day of [first, last] (for set-based population jobs)."""
    return DesignatedCareMember.objects.filter(
        Q(until__isnull=True) | Q(until__gte=first), organization_id=organization_id, since__lte=last
    )


def designation_history(*, organization_id: int, patient_id: int) -> QuerySet[DesignatedCareMember]:
    return (
        DesignatedCareMember.objects.filter(organization_id=organization_id, patient_id=patient_id)
        .select_related("user")
        .order_by("-since", "-pk")
    )


def designated_patient_counts(*, organization_id: int, on: dt.date) -> dict[int, int]:
    """user id -> number of patients for whom the user is the designated member on ``on`` (their panel)."""
    rows = (
        DesignatedCareMember.objects.filter(_in_force(on), organization_id=organization_id)
        .values("user_id")
        .annotate(n=Count("patient_id", distinct=True))
        .values_list("user_id", "n")
    )
    return dict(rows)


# ---------- eligibility and enrollment ----------

CARE_MANAGEMENT = (Program.APCM, Program.CCM, Program.PCM, Program.BHI, Program.COCM)


def eligibility_for(*, organization_id: int, patient_id: int, month: str) -> list[EligibilityDecision]:
    return list(EligibilityDecision.objects.filter(organization_id=organization_id, patient_id=patient_id,
                                                   month=month).order_by("program"))


def enrollments_for(*, organization_id: int, patient_id: int) -> QuerySet[Enrollment]:
    return (
        Enrollment.objects.filter(organization_id=organization_id, patient_id=patient_id)
        .select_related("billing_practitioner", "designation__user", "consent__obtained_by")
        .order_by("-start", "-pk")
    )


def enrollment(*, organization_id: int, enrollment_id: int) -> Enrollment | None:
    return (
        Enrollment.objects.filter(organization_id=organization_id, pk=enrollment_id)
        .select_related("billing_practitioner", "consent__obtained_by", "patient")
        .first()
    )


def last_ambulatory_visit(*, organization_id: int, patient_id: int, on: dt.date, zone: ZoneInfo) -> dt.date | None:
    """The clinic-local date of the latest ambulatory (AMB) encounter on or before ``on``: "seen by the practice"."""
    end = dt.datetime.combine(on + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    start = (
        Encounter.objects.filter(organization_id=organization_id, patient_id=patient_id,
                                 class_code=EncounterClass.AMB, start__lt=end)
        .exclude(status__in=["cancelled", "entered-in-error", "planned"])
        .aggregate(m=Max("start"))["m"]
    )
    return start.astimezone(zone).date() if start is not None else None


def last_care_management_end(*, organization_id: int, patient_id: int, before: dt.date) -> dt.date | None:
    """The last day the patient received a care-management program from the practice before ``before`` (an open
    enrollment counts up to ``before``): the 12-month exemption from the initiating visit."""
    rows = Enrollment.objects.filter(organization_id=organization_id, patient_id=patient_id,
                                     program__in=CARE_MANAGEMENT, start__lte=before)
    if rows.filter(Q(end__isnull=True) | Q(end__gte=before)).exists():
        return before
    last: dt.date | None = rows.aggregate(m=Max("end"))["m"]
    return last


def enrollments_missing_visit(*, organization_id: int) -> list[Enrollment]:
    """Open enrollments whose initiating visit is still missing (the worklist schedules one)."""
    return list(Enrollment.objects.filter(organization_id=organization_id, end__isnull=True,
                                          initiating_visit="missing").order_by("pk"))


def enrolled_patient_ids(*, organization_id: int, first: dt.date) -> set[int]:
    """Patients with a care-management enrollment in force on or after ``first``."""
    return set(
        Enrollment.objects.filter(Q(end__isnull=True) | Q(end__gte=first), organization_id=organization_id,
                                  program__in=CARE_MANAGEMENT).values_list("patient_id", flat=True)
    )


def team_capacity(*, organization_id: int) -> int:
    total = CareTeamMember.objects.filter(organization_id=organization_id, is_active=True).aggregate(
        n=Sum("capacity"))["n"]
    return int(total or 0)


@dataclass(frozen=True)
class EnrollFirstRow:
    patient_id: int
    name: str
    program: str
    level: str
    tier: str
    value: float
    score: float


@dataclass(frozen=True)
class EnrollFirst:
    month: str
    capacity: int
    enrolled: int
    free: int
    eligible_not_enrolled: int
    rows: list[EnrollFirstRow]


def enroll_first(*, organization_id: int, month: str, limit: int = 50) -> EnrollFirst:
    """Eligible, not-yet-enrolled patients for ``month`` ranked by risk weight x expected monthly value, cut to
    the team's free capacity (sum of active care-team members' capacity minus patients already enrolled)."""
    first = dt.date.fromisoformat(f"{month}-01")
    enrolled = enrolled_patient_ids(organization_id=organization_id, first=first)
    offers: dict[int, dict[str, str]] = {}
    rows = EligibilityDecision.objects.filter(organization_id=organization_id, month=month, eligible=True,
                                              program__in=CARE_MANAGEMENT).values_list("patient_id", "program", "level")
    for pid, program, level in rows:
        if pid not in enrolled:
            offers.setdefault(pid, {})[program] = level
    tiers = risk_tiers(organization_id, offers)
    rs = rules.ruleset()
    candidates = []
    for pid, eligible in offers.items():
        c = rules.best_offer(eligible, tiers.get(pid, ""), rs)
        if c is not None:
            candidates.append(rules.Candidate(pid, c.program, c.level, c.tier, c.value, c.score))
    capacity = team_capacity(organization_id=organization_id)
    free = max(0, capacity - len(enrolled))
    top = rules.rank(candidates, min(limit, free))
    names = dict(
        (pid, f"{fam}, {giv}")
        for pid, fam, giv in Patient.objects.filter(organization_id=organization_id, pk__in=[c.patient_id for c in top])
        .values_list("pk", "family", "given")
    )
    return EnrollFirst(
        month, capacity, len(enrolled), free, len(candidates),
        [EnrollFirstRow(c.patient_id, names.get(c.patient_id, ""), c.program, c.level, c.tier, c.value, c.score)
         for c in top],
    )


# ---------- population dashboard and cohorts ----------


def _month_bounds(month: str) -> tuple[dt.date, dt.date]:
    first = dt.date.fromisoformat(f"{month}-01")
    return first, rules.month_end(first)


def _enrolled_in_month(organization_id: int, month: str) -> dict[int, set[str]]:
    """Patient -> programs with a consented enrollment in force on any day of ``month``."""
    first, last = _month_bounds(month)
    rows = (Enrollment.objects.filter(Q(end__isnull=True) | Q(end__gte=first), organization_id=organization_id,
                                      start__lte=last, consent__isnull=False)
            .values_list("patient_id", "program"))
    out: dict[int, set[str]] = {}
    for pid, program in rows:
        out.setdefault(pid, set()).add(program)
    return out


def _eligible_in_month(organization_id: int, month: str) -> dict[int, dict[str, str]]:
    """Patient -> {program: APCM level or ""} for the month's positive eligibility decisions."""
    out: dict[int, dict[str, str]] = {}
    for pid, program, level in EligibilityDecision.objects.filter(
            organization_id=organization_id, month=month, eligible=True).values_list("patient_id", "program", "level"):
        out.setdefault(pid, {})[program] = level
    return out


def program_months(*, organization_id: int, month: str) -> dict[int, tuple[dict[str, str], set[str]]]:
    """Patient -> ({eligible program: APCM level or ""}, {programs with a consented enrollment in force}) for
    every patient eligible for or enrolled in something in ``month``. Two queries, no names or tiers."""
    eligible = _eligible_in_month(organization_id, month)
    enrolled = _enrolled_in_month(organization_id, month)
    return {pid: (eligible.get(pid, {}), enrolled.get(pid, set())) for pid in eligible.keys() | enrolled.keys()}


@dataclass(frozen=True)
class PopulationSummary:
    month: str
    patients: int
    tiers: list[tuple[str, int]]
    programs: list[rules.ProgramRow]
    capacity: int
    enrolled_patients: int
    decisions: int  # eligibility decisions recorded for the month (0: run `careloop programs eligibility`)

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.enrolled_patients)

    @property
    def revenue_enrolled(self) -> float:
        return round(sum(r.revenue_enrolled for r in self.programs), 2)

    @property
    def revenue_eligible(self) -> float:
        return round(sum(r.revenue_eligible for r in self.programs), 2)


def population_summary(*, organization_id: int, month: str) -> PopulationSummary:
    """Aggregates only (no patient rows): tier distribution, eligible vs enrolled per program and APCM level with
    expected monthly revenue, and the team's capacity against care-management enrollments."""
    patients = Patient.objects.filter(organization_id=organization_id).count()
    counts = tier_counts(organization_id)
    scored = sum(counts.values())
    tiers = [(t, counts.get(t, 0)) for t in rules.TIER_ORDER[:-1]] + [("unscored", max(0, patients - scored))]
    eligible = _eligible_in_month(organization_id, month)
    enrolled = _enrolled_in_month(organization_id, month)
    eligible_keys = [(program, level) for progs in eligible.values() for program, level in progs.items()]
    enrolled_keys = [(program, eligible.get(pid, {}).get(program, "") if program == Program.APCM else "")
                     for pid, progs in enrolled.items() for program in progs]
    care_management = {pid for pid, progs in enrolled.items() if progs & set(CARE_MANAGEMENT)}
    return PopulationSummary(
        month=month, patients=patients, tiers=tiers, programs=rules.program_rows(eligible_keys, enrolled_keys),
        capacity=team_capacity(organization_id=organization_id), enrolled_patients=len(care_management),
        decisions=sum(len(v) for v in eligible.values()),
    )


@dataclass(frozen=True)
class CohortRow:
    patient_id: int
    name: str
    birth_date: dt.date | None
    tier: str
    apcm_level: str
    eligible: tuple[str, ...]
    enrolled: tuple[str, ...]


def cohort(*, organization_id: int, month: str, tier: str = "", program: str = "", level: str = "",
           enrolled: str = "") -> list[CohortRow]:
    """Patients of the month matching the filters: ``tier`` (high/rising/moderate/low/unscored), ``program``
    (eligible for it), ``level`` (APCM level), ``enrolled`` ("yes": enrolled in ``program`` or in any program,
    "no": not). Sorted by tier then name. Callers audit the rows they show."""
    eligible = _eligible_in_month(organization_id, month)
    enrolled_map = _enrolled_in_month(organization_id, month)
    ids: set[int] = set(eligible) | set(enrolled_map)
    if not program and not level and enrolled != "yes":
        ids |= set(Patient.objects.filter(organization_id=organization_id).values_list("pk", flat=True))
    tiers = risk_tiers(organization_id, ids)
    rows: list[CohortRow] = []
    for pid in ids:
        e = eligible.get(pid, {})
        n = enrolled_map.get(pid, set())
        t = tiers.get(pid, "unscored")
        if tier and t != tier:
            continue
        if program and program not in e and not (enrolled == "yes" and program in n):
            continue
        if level and e.get(Program.APCM, "") != level:
            continue
        in_scope = (program in n) if program else bool(n)
        if (enrolled == "yes" and not in_scope) or (enrolled == "no" and in_scope):
            continue
        rows.append(CohortRow(pid, "", None, t, e.get(Program.APCM, ""), tuple(sorted(e)), tuple(sorted(n))))
    people = {pid: (f"{fam}, {giv}", bd) for pid, fam, giv, bd in Patient.objects.filter(
        organization_id=organization_id, pk__in=[r.patient_id for r in rows]).values_list("pk", "family", "given",
                                                                                          "birth_date")}
    order = {t: i for i, t in enumerate(rules.TIER_ORDER)}
    full = [CohortRow(r.patient_id, people.get(r.patient_id, ("", None))[0], people.get(r.patient_id, ("", None))[1],
                      r.tier, r.apcm_level, r.eligible, r.enrolled) for r in rows]
    return sorted(full, key=lambda r: (order.get(r.tier, 9), r.name, r.patient_id))


def qmb_periods(*, organization_id: int, patient_id: int) -> QuerySet[Coverage]:
    return Coverage.objects.filter(organization_id=organization_id, patient_id=patient_id, kind="qmb").order_by(
        "-start", "-pk")


def device_days(*, organization_id: int, patient_id: int, month: str) -> dict[str, int]:
    """Distinct days with remote-monitoring data in ``month`` per kind (rpm, rtm)."""
    first, last = _month_bounds(month)
    counts = dict(DeviceDayCount.objects.filter(organization_id=organization_id, patient_id=patient_id,
                                                day__gte=first, day__lte=last)
                  .values("kind").annotate(n=Count("day", distinct=True)).values_list("kind", "n"))
    return {"rpm": int(counts.get("rpm", 0)), "rtm": int(counts.get("rtm", 0))}
