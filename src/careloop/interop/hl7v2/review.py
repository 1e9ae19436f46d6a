"""Resolving a patient-match review: a person says which patient a held message is about (or that it is a new
patient); the held message is then applied, and so are other held messages for the same identifiers that now
match with certainty (in the order they arrived)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from careloop.accounts import rules as access
from careloop.audit.services import record_event
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from careloop.interop.hl7v2.adt import Context, apply_message, finish
from careloop.interop.hl7v2.extract import extract
from careloop.interop.hl7v2.matching import Match, match_patient
from careloop.interop.hl7v2.parse import Hl7Message, read_header
from careloop.registry.choices import Hl7MessageStatus as S
from careloop.registry.choices import MatchReviewStatus
from careloop.registry.models import PatientMatchReview
from careloop.registry.selectors import hl7_messages, patient_by_id, patient_match_reviews, surviving_patient_id
from careloop.registry.services import close_patient_match_review, quarantine, set_hl7_message_outcomes
from careloop.transitions.services import drain


@dataclass
class Resolution:
    patient_id: int
    applied_messages: list[int]


REVIEW_PERMISSION = "transitions.match_review"


def _may_review(actor: Actor) -> None:
    if actor.role != "system" and not access.has_permission(actor.role, REVIEW_PERMISSION):
        raise PermissionDenied(f"role {actor.role!r} may not {REVIEW_PERMISSION}")


def resolve_match_review(*, review_id: int, patient_id: int | None, actor: Actor, time_zone: str | None = None
                         ) -> Resolution:
    """Apply the held message of review ``review_id`` to ``patient_id`` (None: create a new patient). Audited
    (``hl7.match_review_resolved``); a discharge among the applied messages opens its episode after the commit."""
    _may_review(actor)
    zone = clock.clinic_zone(time_zone)
    review = patient_match_reviews(actor=actor, status=MatchReviewStatus.OPEN).filter(pk=review_id).first()
    if review is None:
        raise NotFound("no open match review with that id")
    if patient_id is not None:
        patient_by_id(actor=actor, patient_id=patient_id)  # exists, same organization
        patient_id = surviving_patient_id(actor=actor, patient_id=patient_id)
    applied: list[int] = []
    with transaction.atomic():
        message = hl7_messages(actor=actor, status=S.REVIEW).filter(pk=review.message_id).first()
        if message is None:
            raise Conflict("the held message is no longer waiting for review")
        x = extract(Hl7Message(message.raw, read_header(message.raw)), zone)
        ctx = Context(review.organization_id, actor, message.pk)
        forced = Match(patient_id, "review") if patient_id is not None else Match(None, "new")
        result = apply_message(x, ctx, match=forced)
        assert result.patient_id is not None
        set_hl7_message_outcomes([(message.pk, S.ACCEPTED, "AA", result.note, result.patient_id)])
        close_patient_match_review(review_id=review.pk, patient_id=result.patient_id, actor=actor)
        finish(ctx)
        applied.append(message.pk)
        chosen = result.patient_id
        # Later held messages for the same identifiers: apply those that now match with certainty.
        if review.match_key:
            for other in patient_match_reviews(actor=actor).filter(match_key=review.match_key).order_by("message_id"):
                held = hl7_messages(actor=actor, status=S.REVIEW).filter(pk=other.message_id).first()
                if held is None:
                    continue
                hx = extract(Hl7Message(held.raw, read_header(held.raw)), zone)
                if hx.patient is None:
                    continue
                match = match_patient(hx.patient, actor=actor)
                if match.uncertain or match.patient_id is None:
                    continue
                hctx = Context(other.organization_id, actor, held.pk)
                done = apply_message(hx, hctx, match=match)
                set_hl7_message_outcomes([(held.pk, S.ACCEPTED, "AA", done.note, done.patient_id)])
                close_patient_match_review(review_id=other.pk, patient_id=match.patient_id, actor=actor)
                finish(hctx)
                applied.append(held.pk)
        record_event(actor=actor, organization_id=review.organization_id, action="hl7.match_review_resolved",
                     patient_id=chosen, object_type="PatientMatchReview", object_id=str(review.pk),
                     detail={"patient": chosen, "new_patient": patient_id is None, "messages": applied})
    drain(organization_id=review.organization_id)  # episodes for discharges among them (after the commit)
    return Resolution(chosen, applied)


def reject_match_review(*, review_id: int, actor: Actor, reason: str) -> int:
    """Close review ``review_id`` without applying its held message: the message is marked rejected (with the
    reviewer's reason) and kept in quarantine; nothing is written for any patient. Returns the message id."""
    _may_review(actor)
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("say why the message is rejected", field_errors={"reason": "required"})
    review = patient_match_reviews(actor=actor, status=MatchReviewStatus.OPEN).filter(pk=review_id).first()
    if review is None:
        raise NotFound("no open match review with that id")
    with transaction.atomic():
        message = hl7_messages(actor=actor, status=S.REVIEW).filter(pk=review.message_id).first()
        if message is None:
            raise Conflict("the held message is no longer waiting for review")
        note = f"rejected at patient-matching review by {actor.username}: {reason}"[:500]
        set_hl7_message_outcomes([(message.pk, S.REJECTED, "AE", note, None)])
        quarantine(organization_id=review.organization_id, channel="hl7v2", source_name=message.source,
                   location=f"MSH-10 {message.control_id}", reason=note, raw=message.raw,
                   resource_type=message.message_type)
        PatientMatchReview.objects.filter(organization_id=review.organization_id, pk=review.pk).update(
            status=MatchReviewStatus.RESOLVED, resolved_by=actor.username, resolved_at=clock.now(),
            updated_at=clock.now())
        record_event(actor=actor, organization_id=review.organization_id, action="hl7.match_review_rejected",
                     object_type="PatientMatchReview", object_id=str(review.pk),
                     detail={"message": message.pk, "reason": reason[:300]})
    return int(message.pk)
