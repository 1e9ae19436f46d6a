"""Per-clinician quality dashboard: each measure's numerator, denominator and rate over the patients attributed to a
clinician, with drill-down to that clinician's gap list (CSV export in the view).

Attribution (one clinician per patient for a period): the patient's designated care-team member
(``programs.DesignatedCareMember``) on the period's last day; otherwise the most recent designation that overlaps
the period. Patients with neither are counted under "unattributed" (visible to leaders and administrators only).
Clinicians are users; the name shown is the linked ``clinics.Practitioner`` when there is one.

Access: ``quality.read`` is required; leaders and administrators see every clinician, any other role sees only
its own row and its own patients' gaps. Every read is audited.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.contrib.auth import get_user_model

from careloop.accounts import rules as access
from careloop.audit.services import record_event
from careloop.clinics.models import Practitioner
from careloop.core.actor import Actor
from careloop.core.errors import PermissionDenied
from careloop.programs.models import DesignatedCareMember
from careloop.quality import selectors
from careloop.quality.gaps import gap_key
from careloop.quality.measures import REGISTRY
from careloop.quality.models import GapStatus, MeasureResult

SEE_ALL_ROLES = frozenset({"leader", "admin"})
UNATTRIBUTED = 0  # clinician id of patients with no attribution


def _scope(actor: Actor, clinician_id: int | None = None) -> tuple[int, int | None]:
    """(organization, the only clinician the actor may see or None for all); raises when not allowed."""
    if actor.organization_id is None or not access.has_permission(actor.role, "quality.read"):
        raise PermissionDenied("quality.read required")
    if actor.role in SEE_ALL_ROLES:
        return actor.organization_id, None
    if actor.user_id is None:
        raise PermissionDenied("a clinician view needs a signed-in user")
    if clinician_id is not None and clinician_id != actor.user_id:
        raise PermissionDenied("you may see only your own patients' measures")
    return actor.organization_id, actor.user_id


def attribution(organization_id: int, first: dt.date, last: dt.date) -> dict[int, int]:
    """patient id -> clinician (user) id for the period: the designation current on ``last``, else the latest
    designation overlapping the period."""
    out: dict[int, int] = {}
    rows = (DesignatedCareMember.objects.filter(organization_id=organization_id, since__lte=last)
            .exclude(until__lt=first).order_by("patient_id", "since", "id")
            .values_list("patient_id", "user_id", "since", "until"))
    current: set[int] = set()
    for pid, uid, _since, until in rows:
        on_last = until is None or until >= last
        if on_last or pid not in current:
            out[pid] = uid
        if on_last:
            current.add(pid)
    return out


def rate_row(measure: str, group: str, counts: dict[str, int]) -> dict[str, Any]:
    eligible = counts.get("denominator", 0) - counts.get("denominator_exclusion", 0) - counts.get(
        "denominator_exception", 0)
    numer = counts.get("numerator", 0) - counts.get("numerator_exclusion", 0)
    m = REGISTRY.get(measure)
    return {"measure": gap_key(measure, group), "title": m.title if m else measure, "inverse": bool(m and m.inverse),
            "numerator": numer, "performance_denominator": eligible, "populations": dict(counts),
            "rate": round(numer / eligible, 4) if eligible > 0 else None}


def _names(organization_id: int, user_ids: set[int]) -> dict[int, str]:
    names: dict[int, str] = {}
    for uid, username, given, family in get_user_model().objects.filter(pk__in=user_ids).values_list(
            "pk", "username", "first_name", "last_name"):
        names[uid] = f"{given} {family}".strip() or username
    for uid, given, family, cred in Practitioner.objects.filter(
            organization_id=organization_id, user_id__in=user_ids).values_list("user_id", "given", "family",
                                                                               "credentials"):
        names[uid] = f"{given} {family}{', ' + cred if cred else ''}"
    names[UNATTRIBUTED] = "Unattributed"
    return names


def clinician_performance(*, actor: Actor, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
    """One entry per clinician the actor may see: name, attributed patients, and a rate row per measure group."""
    org, only = _scope(actor)
    owner = attribution(org, first, last)
    sums: dict[int, dict[tuple[str, str], dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int)))
    patients: dict[int, set[int]] = defaultdict(set)
    for pid, measure, group, pops in MeasureResult.objects.filter(
            organization_id=org, period_start=first, period_end=last).values_list(
            "patient_id", "measure", "group", "populations"):
        uid = owner.get(pid, UNATTRIBUTED)
        if only is not None and uid != only:
            continue
        patients[uid].add(pid)
        bucket = sums[uid][(measure, group)]
        for key, value in pops.items():
            bucket[key] += int(value)
    if only is not None:
        sums.setdefault(only, defaultdict(lambda: defaultdict(int)))
    names = _names(org, set(sums))
    out = [
        {"clinician_id": uid, "name": names.get(uid, f"user {uid}"), "patients": len(patients.get(uid, ())),
         "measures": [rate_row(m, g, dict(c)) for (m, g), c in sorted(by_measure.items())]}
        for uid, by_measure in sums.items()
    ]
    out.sort(key=lambda row: (row["clinician_id"] == UNATTRIBUTED, row["name"]))
    record_event(actor=actor, action="quality.clinician_report_viewed", object_type="MeasureResult",
                 object_id=f"{first}:{last}", detail={"clinicians": [row["clinician_id"] for row in out]})
    return out


def clinician_gaps(*, actor: Actor, clinician_id: int, first: dt.date, last: dt.date, measure: str | None = None,
                   status: str = GapStatus.OPEN) -> list[dict[str, Any]]:
    """Drill-down: the gaps of ``status`` of the patients attributed to ``clinician_id`` (0: unattributed)."""
    org, _only = _scope(actor, clinician_id)
    owner = attribution(org, first, last)
    out = [row for row in selectors.gap_rows(organization_id=org, first=first, last=last, status=status,
                                             measure=measure)
           if owner.get(row["patient_id"], UNATTRIBUTED) == clinician_id]
    record_event(actor=actor, action="quality.clinician_gaps_viewed", object_type="CareGap",
                 object_id=f"{clinician_id}:{first}:{last}:{measure or '*'}", detail={"patients": len(out)})
    return out
