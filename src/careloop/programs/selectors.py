"""Read the designated care-team member. Scoped by organization; ``on`` is a clinic-local date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Count, Q, QuerySet

from careloop.programs.models import DesignatedCareMember


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
