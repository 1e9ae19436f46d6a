"""Medication reconciliation for a transition episode: the discharge list (from the notification, or typed in)
against the clinic's active list (``registry.Medication``), and its completion with who and when."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import NotFound, ValidationFailed
from careloop.registry.models import Medication
from careloop.transitions import rules, services
from careloop.transitions.models import DischargeMedication, TransitionEpisode

INACTIVE = ("stopped", "completed", "cancelled", "entered-in-error", "not-taken", "ended")


@dataclass(frozen=True)
class Worksheet:
    episode_id: int
    lines: list[rules.MedLine]
    completed_at: str | None
    completed_by: str


def _episode(organization_id: int, episode_id: int, *, lock: bool = False) -> TransitionEpisode:
    qs = TransitionEpisode.objects.filter(organization_id=organization_id, pk=episode_id)
    ep = (qs.select_for_update() if lock else qs.select_related("medrec_by")).first()
    if ep is None:
        raise NotFound("episode not found")
    return ep


def clinic_medications(*, organization_id: int, patient_id: int) -> list[rules.Med]:
    rows = (Medication.objects.filter(organization_id=organization_id, patient_id=patient_id)
            .exclude(status__in=INACTIVE).order_by("pk").values_list("rxnorm", "display", "dosage"))
    return [rules.Med(*r) for r in rows]


def medication_worksheet(*, organization_id: int, episode_id: int, actor: Actor) -> Worksheet:
    services._check(actor, organization_id, "transitions.read")
    ep = _episode(organization_id, episode_id)
    discharge = [rules.Med(r, d, s) for r, d, s in DischargeMedication.objects.filter(
        organization_id=organization_id, episode_id=ep.pk).order_by("pk").values_list("rxnorm", "display", "dosage")]
    lines = rules.reconcile(discharge, clinic_medications(organization_id=organization_id, patient_id=ep.patient_id))
    return Worksheet(ep.pk, lines, ep.medrec_at.isoformat() if ep.medrec_at else None,
                     ep.medrec_by.username if ep.medrec_by else "")


def add_discharge_medications(*, organization_id: int, episode_id: int, meds: list[rules.Med],
                              actor: Actor) -> int:
    """Enter discharge medications by hand (when the hospital sent none)."""
    services._check(actor, organization_id, "transitions.write")
    errors = {f"meds[{i}]": "display or rxnorm required" for i, m in enumerate(meds) if not (m.display or m.rxnorm)}
    if errors:
        raise ValidationFailed("invalid medications", field_errors=errors)
    with transaction.atomic():
        ep = _episode(organization_id, episode_id, lock=True)
        DischargeMedication.objects.bulk_create([
            DischargeMedication(organization_id=organization_id, episode=ep, rxnorm=m.rxnorm[:32],
                                display=(m.display or m.rxnorm)[:300], dosage=m.dosage[:300], source="manual")
            for m in meds])
        services._audit(actor, ep, "transition.discharge_medications_added", count=len(meds))
    return len(meds)


def complete_medication_reconciliation(*, organization_id: int, episode_id: int, actor: Actor) -> TransitionEpisode:
    """Record that a clinician reconciled the lists (who and when); completes the reconciliation task."""
    services._check(actor, organization_id, "transitions.medrec")
    with transaction.atomic():
        ep = _episode(organization_id, episode_id, lock=True)
        if ep.status == "cancelled":
            raise ValidationFailed("the episode is cancelled")
        if ep.medrec_at is None:
            ep.medrec_at, ep.medrec_by_id = clock.now(), actor.user_id
            ep.save(update_fields=["medrec_at", "medrec_by", "updated_at"])
            services._audit(actor, ep, "transition.medications_reconciled")
        services._refresh(ep, actor)
    return ep
