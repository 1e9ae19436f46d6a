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
from careloop.programs.models import DesignatedCareMember, EligibilityDecision, Enrollment
from careloop.registry.choices import EncounterClass
from careloop.registry.models import Encounter, Patient
from careloop.risk.selectors import risk_tiers


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
