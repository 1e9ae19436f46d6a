"""Coverage periods: Medicare Part B, Medicare Advantage and the Medicaid dual-eligibility programs.

One Coverage resource per period. The kind is ``type.coding`` in ``urn:careloop:coverage-kind`` (the codes
of ``registry.choices.CoverageKind``). Some periods start or end mid-year, as Medicaid redeterminations and
Medicare Advantage enrolment changes do; no period starts or ends after as_of.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from careloop.synth import codes as c
from careloop.synth.population import PatientCtx
from careloop.synth.rand import one, ri
from careloop.synth.timeutil import DAY, add_years, first_of_month, iso_date

KINDS = {
    "medicare-part-b": "Medicare Part B",
    "medicare-advantage": "Medicare Advantage",
    "qmb": "Qualified Medicare Beneficiary",
    "slmb": "Specified Low-Income Medicare Beneficiary",
    "full-dual": "Full Medicaid (dual eligible)",
    "medicaid": "Medicaid",
}
PAYORS = {
    "medicare-part-b": "Centers for Medicare & Medicaid Services",
    "qmb": "MassHealth (Senior Buy-In, QMB)",
    "slmb": "MassHealth (Buy-In, SLMB)",
    "full-dual": "MassHealth Standard (full benefit dual)",
    "medicaid": "MassHealth Standard",
}
MA_PLANS = ("Pioneer Valley Senior Advantage (HMO)", "Commonwealth Medicare Advantage Plus (PPO)",
            "Bay State Health Medicare Advantage (HMO-POS)")
_SUBSCRIBER_SELF = c.concept(c.SUBSCRIBER_REL, "self", "Self")


def _jan1(year: int) -> int:
    return date(year, 1, 1).toordinal()


def _month_end(ordinal: int) -> int:
    d = date.fromordinal(ordinal)
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt.toordinal() - 1


def part_b_start(ctx: PatientCtx) -> int:
    rng = ctx.rng
    as_of = ctx.win.as_of_ord
    turn65 = add_years(ctx.birth_ord, 65)
    if ctx.disabled:
        start = max(add_years(ctx.birth_ord, 47), as_of - int(rng.uniform(1.0, 14.0) * 365.25))
    elif ctx.orec in ("1", "3"):
        start = turn65 - int(rng.uniform(2.0, 15.0) * 365.25)
    elif rng.random() < 0.04 and add_years(turn65, 3) < as_of:
        start = add_years(turn65, ri(rng, 1, 3))  # delayed enrolment after employer coverage
    else:
        start = turn65 - 1
    return min(first_of_month(start), first_of_month(as_of - 1))


def resources(ctx: PatientCtx) -> tuple[list[dict[str, Any]], set[str]]:
    """The Coverage resources and the set of kinds the patient ever had."""
    rng = ctx.rng
    as_of = ctx.win.as_of_ord
    death = ctx.death_m // DAY if ctx.death_m is not None else None
    out: list[dict[str, Any]] = []
    kinds: set[str] = set()

    def add(kind: str, start: int, end: int | None, payor: str, member: str) -> None:
        if death is not None and (end is None or end > death):
            end = death
        if start >= as_of or (end is not None and end < start):
            return
        kinds.add(kind)
        period = {"start": iso_date(start)}
        if end is not None:
            period["end"] = iso_date(min(end, as_of - 1))
        out.append({
            "resourceType": "Coverage", "id": ctx.next_id("cov"), "meta": ctx.meta,
            "status": "active",
            "type": {"coding": [c.coding(c.COVERAGE_KIND, kind, KINDS[kind])], "text": KINDS[kind]},
            "subscriberId": member, "beneficiary": ctx.ref, "relationship": _SUBSCRIBER_SELF,
            "period": period, "payor": [{"display": payor}],
        })

    b_start = part_b_start(ctx)
    add("medicare-part-b", b_start, None, PAYORS["medicare-part-b"], ctx.mbi)
    year = date.fromordinal(as_of).year

    r = rng.random() + (0.05 if ctx.disabled else 0.0)
    plan = one(rng, MA_PLANS)
    member = f"{plan[:2].upper()}{ri(rng, 100_000_000, 999_999_999)}"
    first_year = date.fromordinal(b_start).year + 1
    if r < 0.21 and first_year <= year - 1:
        add("medicare-advantage", _jan1(ri(rng, max(first_year, year - 8), year - 1)), None, plan, member)
    elif r < 0.25 and first_year <= year:
        add("medicare-advantage", _jan1(year), None, plan, member)
    elif r < 0.28 and first_year <= year - 2:
        add("medicare-advantage", _jan1(ri(rng, max(first_year, year - 6), year - 2)), _jan1(year) - 1,
            plan, member)

    p_dual = (0.38 if ctx.disabled else 0.17) + (0.05 if ctx.frailty > 1.0 else 0.0)
    if rng.random() < p_dual:
        r = rng.random()
        dual = ("qmb" if r < 0.70 else "slmb" if r < 0.84 else "full-dual")
        plus = dual == "qmb" and r < 0.28  # QMB-Plus: QMB and full Medicaid benefits
        medicaid_id = f"{ri(rng, 100_000_000_000, 999_999_999_999)}"
        for start, end in _dual_periods(ctx, b_start):
            add(dual, start, end, PAYORS[dual], medicaid_id)
            if plus:
                add("medicaid", start, end, PAYORS["medicaid"], medicaid_id)
    return out, kinds


def _dual_periods(ctx: PatientCtx, b_start: int) -> list[tuple[int, int | None]]:
    rng = ctx.rng
    as_of = ctx.win.as_of_ord
    r = rng.random()
    long_ago = max(b_start, first_of_month(as_of - int(rng.uniform(1.0, 8.0) * 365.25)))
    recent_start = max(b_start, first_of_month(as_of - ri(rng, 20, 330)))
    if r < 0.70:
        return [(long_ago, None)]
    if r < 0.82:
        return [(recent_start, None)]  # became eligible this year
    end = _month_end(as_of - ri(rng, 35, 330))
    first = max(b_start, min(long_ago, end - 200))
    if r < 0.92:
        return [(first, end)]  # lost eligibility at redetermination
    restart = first_of_month(min(end + ri(rng, 40, 150), as_of - 1))
    return [(first, end), (max(restart, end + 1), None)]
