"""Patient-match review page: held ADT messages listed with the message's demographics and the candidates;
accept (apply to a candidate: the discharge opens its episode), new patient, reject (quarantined); roles,
another organization, audit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from careloop.accounts import rules
from careloop.accounts.tests.factories import make_user
from careloop.audit.models import AuditEvent
from careloop.clinics.tests.factories import make_org
from careloop.interop.hl7v2.tests.factories import adt, receive
from careloop.registry.models import Encounter, Patient, PatientMatchReview, QuarantinedInput, RawHl7Message
from careloop.registry.tests.factories import make_patient
from careloop.transitions.models import TransitionEpisode

pytestmark = pytest.mark.django_db
PAGE = "/transitions/match-reviews/"


def held_discharge(org):  # type: ignore[no-untyped-def]
    """A discharge for "DOE, JANE" whose hospital MRN is new while the clinic has a Jane Maiden born the same
    day: uncertain, so the message is held for review."""
    clinic = make_patient(org, "Maiden", "Jane", birth_date=dt.date(1948, 3, 12), sex="female")
    [r] = receive(org, adt("A03", "HELD-1", mrn="H-77", discharge="20260105083000-0500", disposition="01"))
    assert r.status == "review"
    return clinic, PatientMatchReview.objects.get()


def client_for(org, role: str) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(make_user(org, role, username=f"{role}-{org.slug}"))
    return c


@pytest.mark.parametrize("role", sorted(rules.ALL_ROLES))
def test_page_and_decisions_by_role(role: str) -> None:
    org = make_org()
    _, review = held_discharge(org)
    c = client_for(org, role)
    allowed = role in ("coordinator", "nurse", "admin")
    assert rules.has_permission(role, "transitions.match_review") == allowed
    page = c.get(PAGE)
    assert page.status_code == (200 if allowed else 403)
    answer = c.post(f"{PAGE}{review.pk}/", {"action": "new"})
    assert answer.status_code == (302 if allowed else 403)
    assert RawHl7Message.objects.get(control_id="HELD-1").status == ("accepted" if allowed else "review")


def test_anonymous_is_sent_to_login() -> None:
    org = make_org()
    _, review = held_discharge(org)
    assert Client().get(PAGE).status_code == 302
    assert Client().post(f"{PAGE}{review.pk}/", {"action": "new"}).status_code == 302
    assert PatientMatchReview.objects.get().status == "open"


def test_list_shows_message_demographics_and_candidates_and_is_audited() -> None:
    org = make_org()
    clinic, review = held_discharge(org)
    html = client_for(org, "coordinator").get(PAGE).content.decode()
    assert "ADT^A03" in html and "HELD-1" in html
    assert "DOE, JANE" in html and "1948-03-12" in html and "H-77" in html  # what the hospital sent
    assert f'value="{clinic.pk}"' in html and "Maiden, Jane" in html  # the candidate to choose
    assert AuditEvent.objects.filter(action="hl7.match_review_candidates_viewed", patient_id=clinic.pk).exists()
    assert AuditEvent.objects.filter(action="hl7.match_reviews_listed").exists()


def test_accept_links_the_message_to_the_patient_and_opens_the_episode() -> None:
    org = make_org()
    clinic, review = held_discharge(org)
    answer = client_for(org, "nurse").post(f"{PAGE}{review.pk}/", {"action": "accept", "patient": clinic.pk})
    assert answer.status_code == 302 and answer["Location"].endswith("done=accepted")
    msg = RawHl7Message.objects.get(control_id="HELD-1")
    assert (msg.status, msg.patient_id) == ("accepted", clinic.pk)
    assert Patient.objects.filter(organization=org).count() == 1  # no new patient
    enc = Encounter.objects.get()
    assert enc.patient_id == clinic.pk and enc.status == "finished"
    ep = TransitionEpisode.objects.get()  # the held discharge's episode, opened once the decision committed
    assert ep.patient_id == clinic.pk and ep.contact_due is not None
    review.refresh_from_db()
    assert (review.status, review.resolved_patient_id) == ("resolved", clinic.pk)
    event = AuditEvent.objects.get(action="hl7.match_review_resolved")
    assert event.patient_id == clinic.pk and event.actor_username == "nurse-" + org.slug
    # the page no longer lists it
    assert "HELD-1" not in client_for(org, "admin").get(PAGE).content.decode()


def test_new_patient_and_reject() -> None:
    org = make_org()
    clinic, review = held_discharge(org)
    c = client_for(org, "coordinator")
    assert c.post(f"{PAGE}{review.pk}/", {"action": "new"}).status_code == 302
    assert Patient.objects.filter(organization=org).count() == 2
    assert RawHl7Message.objects.get(control_id="HELD-1").patient_id != clinic.pk

    [r] = receive(org, adt("A01", "HELD-2", mrn="H-88", visit="V9"))  # Jane Doe again, another hospital MRN
    assert r.status == "review"
    second = PatientMatchReview.objects.get(status="open")
    bad = c.post(f"{PAGE}{second.pk}/", {"action": "reject", "reason": ""})
    assert bad.status_code == 400 and PatientMatchReview.objects.get(pk=second.pk).status == "open"
    assert c.post(f"{PAGE}{second.pk}/", {"action": "reject", "reason": "wrong clinic"}).status_code == 302
    msg = RawHl7Message.objects.get(control_id="HELD-2")
    assert (msg.status, msg.ack_code) == ("rejected", "AE") and "wrong clinic" in msg.error
    assert QuarantinedInput.objects.filter(organization=org, reason__contains="wrong clinic").exists()
    assert Encounter.objects.filter(visit_number="V9").count() == 0  # nothing applied
    assert AuditEvent.objects.filter(action="hl7.match_review_rejected", object_id=str(second.pk)).exists()
    # deciding again is refused
    again = c.post(f"{PAGE}{second.pk}/", {"action": "new"})
    assert again.status_code == 404


def test_another_organizations_review_is_not_reachable() -> None:
    org, other = make_org(), make_org()
    _, review = held_discharge(org)
    c = client_for(other, "admin")
    assert "HELD-1" not in c.get(PAGE).content.decode()
    assert c.post(f"{PAGE}{review.pk}/", {"action": "new"}).status_code == 404
    assert PatientMatchReview.objects.get().status == "open"


def test_board_links_to_the_review_queue_for_reviewers_only() -> None:
    org = make_org()
    held_discharge(org)
    assert "1 hospital message awaiting patient-match review" in client_for(org, "coordinator").get(
        "/transitions/").content.decode()
    assert "match-reviews" not in client_for(org, "provider").get("/transitions/").content.decode()
