"""Read queries over risk results, scoped to the organization."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count

from careloop.core.actor import Actor
from careloop.core.db import keyed_tenant_column, select_rows
from careloop.core.errors import NotFound
from careloop.risk.models import PatientRisk, RiskRun, RiskTierChange

ID_CHUNK = 5_000


def _org(actor: Actor) -> int:
    if actor.organization_id is None:
        raise NotFound("no organization")
    return actor.organization_id


def risk_tiers(organization_id: int, patient_ids: Iterable[int]) -> dict[int, str]:
    """Current tier per patient ("high", "rising", "moderate", "low"); patients never scored are absent.

    For other apps (the worklist priority): one query per 5,000 ids, no audit (no PHI beyond the tier).
    """
    ids = sorted(set(patient_ids))
    tiers: dict[int, str] = {}
    for i in range(0, len(ids), ID_CHUNK):
        chunk = ids[i : i + ID_CHUNK]
        # by the patients' unique key: SQLite would otherwise take the organization's index and read all its rows
        where = f"{keyed_tenant_column()} = %s AND patient_id IN ({', '.join(['%s'] * len(chunk))})"
        tiers.update((pid, tier) for pid, tier in select_rows(PatientRisk, ("patient", "tier"), where,
                                                              [organization_id, *chunk]))
    return tiers


def patient_risk(*, actor: Actor, patient_id: int) -> PatientRisk | None:
    return PatientRisk.objects.filter(organization_id=_org(actor), patient_id=patient_id).first()


def tier_history(*, actor: Actor, patient_id: int, limit: int = 50) -> list[RiskTierChange]:
    return list(
        RiskTierChange.objects.filter(organization_id=_org(actor), patient_id=patient_id).order_by(
            "-changed_at", "-id"
        )[:limit]
    )


def latest_run(organization_id: int) -> RiskRun | None:
    return (
        RiskRun.objects.filter(organization_id=organization_id, finished_at__isnull=False)
        .order_by("-finished_at", "-id")
        .first()
    )


def tier_counts(organization_id: int) -> dict[str, int]:
    return dict(
        PatientRisk.objects.filter(organization_id=organization_id)
        .values("tier")
        .annotate(n=Count("id"))
        .values_list("tier", "n")
    )
