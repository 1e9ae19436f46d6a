"""Transitions REST API: role x route matrix, tenancy, the Da Vinci notification endpoint (good bundle, bad
bundles -> OperationOutcome + quarantine, auth) and the medication reconciliation worksheet."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import time_machine
from django.test import Client

from careloop.accounts import rules
from careloop.audit.models import AuditEvent
from careloop.core.actor import Actor
from careloop.interop.fhir.tests import factories as fx
from careloop.registry.models import Encounter, Medication, QuarantinedInput
from careloop.transitions import services
from careloop.transitions.models import DischargeMedication, TransitionEpisode
from careloop.transitions.tests.factories import make_stay
from careloop.worklist.models import CareTask
from tests.conftest import SHARED_MRN, World

pytestmark = pytest.mark.django_db
DISCHARGE = dt.datetime(2026, 11, 27, 20, 0, tzinfo=dt.UTC)
NOW = DISCHARGE + dt.timedelta(hours=2)
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def _episode(world: World) -> TransitionEpisode:
    enc = make_stay(world.a.patient, start=DISCHARGE - dt.timedelta(days=2), end=DISCHARGE)
    ep = services.open_or_update_episode_for_encounter(organization_id=world.a.org.pk, encounter_id=enc.pk,
                                                       actor=Actor.system(world.a.org.pk))
    assert ep is not None
    return ep


def _bundle(event: str = "notification-discharge", *, mrn: str = SHARED_MRN,
            end: str | None = "2026-11-27T15:00:00-05:00", meds: bool = True) -> bytes:
    period: dict[str, str] = {"start": "2026-11-24T09:00:00-05:00"}
    if end:
        period["end"] = end
    entries: list[dict[str, Any]] = [
        {"resource": {"resourceType": "MessageHeader", "id": "mh1", "source": {"name": "General Hospital",
                      "endpoint": "urn:gh"},
                      "eventCoding": {"system": "http://hl7.org/fhir/us/davinci-alerts/CodeSystem/notification-event",
                                      "code": event}}},
        {"resource": {"resourceType": "Encounter", "id": "e1", "status": "finished" if end else "in-progress",
                      "class": {"code": "IMP"}, "period": period,
                      "identifier": [{"system": "urn:gh:visit", "value": "V-100"}],
                      "hospitalization": {"dischargeDisposition": {"coding": [{"code": "home"}]}},
                      "serviceProvider": {"display": "General Hospital"}}},
        {"resource": {"resourceType": "Patient", "id": "p", "identifier": [{"system": fx.MRN_SYSTEM, "value": mrn}]}},
    ]
    if meds:
        entries += [
            {"resource": {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
                          "medicationCodeableConcept": {"coding": [{"system": RX, "code": "312961",
                                                                    "display": "Simvastatin 20 MG"}]},
                          "dosageInstruction": [{"text": "20 mg nightly"}]}},
        ]
    return orjson.dumps({"resourceType": "Bundle", "type": "message", "entry": entries})


def _post(world: World, body: bytes, role: str = "admin") -> Any:
    return Client().post("/api/transitions/notifications", data=body, content_type="application/fhir+json",
                         **world.a.headers(role))


# name -> (method, path template, permission)
ROUTES = {
    "board": ("GET", "/api/transitions/board", "transitions.read"),
    "list": ("GET", "/api/transitions/episodes", "transitions.read"),
    "detail": ("GET", "/api/transitions/episodes/{ep}", "transitions.read"),
    "checklist": ("POST", "/api/transitions/episodes/{ep}/checklist", "transitions.write"),
    "worksheet": ("GET", "/api/transitions/episodes/{ep}/medication-reconciliation", "transitions.read"),
    "meds": ("POST", "/api/transitions/episodes/{ep}/discharge-medications", "transitions.write"),
    "medrec": ("POST", "/api/transitions/episodes/{ep}/medication-reconciliation/complete", "transitions.medrec"),
    "notify": ("POST", "/api/transitions/notifications", "transitions.notify"),
}
BODIES = {"checklist": b'{"item": "care_plan_review"}', "meds": b'{"medications": [{"display": "Aspirin 81"}]}',
          "notify": _bundle()}


def _call(client: Client, route: str, ep: TransitionEpisode, headers: dict[str, str]) -> Any:
    method, template, _ = ROUTES[route]
    path = template.format(ep=ep.pk)
    if method == "POST":
        return client.post(path, data=BODIES.get(route, b"{}"), content_type="application/json", **headers)
    return client.get(path, **headers)


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("role", sorted(rules.ALL_ROLES))
def test_role_route_matrix(world: World, role: str, route: str) -> None:
    ep = _episode(world)
    response = _call(Client(), route, ep, world.a.headers(role))
    expected = 200 if rules.has_permission(role, ROUTES[route][2]) else 403
    assert response.status_code == expected, response.content[:300]


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_anonymous_is_401(world: World, route: str) -> None:
    assert _call(Client(), route, _episode(world), {}).status_code == 401


@pytest.mark.parametrize("route", ["detail", "checklist", "worksheet", "medrec"])
def test_another_organization_gets_404(world: World, route: str) -> None:
    ep = _episode(world)
    role = "nurse"
    assert _call(Client(), route, ep, world.b.headers(role)).status_code == 404


def test_lists_never_show_another_organization(world: World) -> None:
    _episode(world)
    for path in ["/api/transitions/board", "/api/transitions/episodes"]:
        body = Client().get(path, **world.b.headers("nurse")).content
        assert world.a.family.encode() not in body


def test_board_and_detail(world: World) -> None:
    ep = _episode(world)
    make_stay(world.a.patient, start=NOW - dt.timedelta(hours=1), end=None, class_code="EMER")
    board = Client().get("/api/transitions/board", **world.a.headers("nurse")).json()
    assert [r["id"] for r in board["awaiting_contact"]] == [ep.pk]
    assert board["awaiting_contact"][0]["countdown"] == "4d 6h"  # Fri 17:00 -> Tue 1 Dec 23:59 New York
    assert [r["class_code"] for r in board["in_hospital"]] == ["EMER"]
    with time_machine.travel(DISCHARGE + dt.timedelta(days=5), tick=False):
        board = Client().get("/api/transitions/board", **world.a.headers("nurse")).json()
        assert [r["id"] for r in board["overdue"]] == [ep.pk]
    detail = Client().get(f"/api/transitions/episodes/{ep.pk}", **world.a.headers("nurse")).json()
    assert [c["item"] for c in detail["checklist"]] == ["post_discharge_contact", "followup_visit_scheduling",
                                                         "medication_reconciliation", "care_plan_review"]
    assert {t["task_type"] for t in detail["tasks"]} >= {"post_discharge_contact"}
    assert [e["kind"] for e in detail["timeline"]][:2] == ["encounter", "encounter"]
    assert AuditEvent.objects.filter(action="transition.viewed", object_id=str(ep.pk)).exists()


def test_discharge_notification_opens_episode_with_meds_idempotently(world: World) -> None:
    response = _post(world, _bundle())
    assert response.status_code == 200, response.content
    out = response.json()
    assert out["resourceType"] == "OperationOutcome" and out["patient_id"] == world.a.patient.pk
    ep = TransitionEpisode.objects.get(pk=out["episode_id"])
    assert (ep.setting, ep.status, ep.disposition, ep.facility) == ("inpatient", "open", "home", "General Hospital")
    assert ep.contact_due == dt.datetime(2026, 12, 2, 4, 59, 59, tzinfo=dt.UTC)  # Tue 1 Dec 23:59:59 New York
    assert _post(world, _bundle()).json()["episode_id"] == ep.pk
    assert TransitionEpisode.objects.count() == 1 and DischargeMedication.objects.count() == 1
    assert Encounter.objects.filter(source_kind="fhir-notify").count() == 1
    assert CareTask.objects.filter(source_type="TransitionEpisode").count() == 4


def test_admit_then_discharge_notification(world: World) -> None:
    out = _post(world, _bundle("notification-admit", end=None, meds=False)).json()
    assert out["episode_id"] is None
    board = Client().get("/api/transitions/board", **world.a.headers("nurse")).json()
    assert [r["encounter_id"] for r in board["in_hospital"]] == [out["encounter_id"]]
    again = _post(world, _bundle()).json()
    assert again["encounter_id"] == out["encounter_id"] and again["episode_id"] is not None


@pytest.mark.parametrize(("body", "status", "reason"), [
    (b"not json", 400, "not JSON"),
    (b'{"resourceType": "Patient"}', 400, "Bundle of type message"),
    (_bundle("notification-foo"), 422, "unsupported eventCoding"),
    (_bundle(mrn="NOBODY"), 422, "no patient of this clinic"),
    (_bundle(end=None), 422, "needs Encounter.period.end"),
    (_bundle(end="2026-11-01T00:00:00Z"), 422, "before its start"),
])
def test_bad_notification_is_operation_outcome_and_quarantined(world: World, body: bytes, status: int,
                                                                reason: str) -> None:
    response = _post(world, body)
    assert response.status_code == status
    out = response.json()
    assert out["resourceType"] == "OperationOutcome" and reason in out["issue"][0]["diagnostics"]
    q = QuarantinedInput.objects.get()
    assert (q.organization_id, q.raw) == (world.a.org.pk, body.decode())
    assert TransitionEpisode.objects.count() == 0


def test_notification_for_another_organizations_only_patient_is_rejected(world: World) -> None:
    assert _post(world, _bundle(mrn=world.b.only_mrn)).status_code == 422


def test_medication_reconciliation_worksheet_and_completion(world: World) -> None:
    ep_id = _post(world, _bundle()).json()["episode_id"]
    Medication.objects.filter(organization=world.a.org).update(status="active", dosage="1 daily")
    clinic = list(Medication.objects.filter(organization=world.a.org).values_list("display", flat=True))
    headers = world.a.headers("nurse")
    r = Client().post(f"/api/transitions/episodes/{ep_id}/discharge-medications", content_type="application/json",
                      data=orjson.dumps({"medications": [{"display": clinic[0], "dosage": "2 daily"}]}), **headers)
    assert r.json() == {"added": 1}
    ws = Client().get(f"/api/transitions/episodes/{ep_id}/medication-reconciliation", **headers).json()
    assert [(ln["change"], ln["display"]) for ln in ws["lines"]] == [
        ("new", "Simvastatin 20 MG"), ("changed", clinic[0])]
    assert ws["completed_at"] is None
    r = Client().post(f"/api/transitions/episodes/{ep_id}/medication-reconciliation/complete", **headers)
    assert r.status_code == 200
    ep = TransitionEpisode.objects.get(pk=ep_id)
    assert (ep.medrec_at, ep.medrec_by_id) == (NOW, world.a.user("nurse").pk)
    assert CareTask.objects.get(dedupe_key=f"transition:{ep_id}:r1:medication_reconciliation").status == "completed"
    ws = Client().get(f"/api/transitions/episodes/{ep_id}/medication-reconciliation", **headers).json()
    assert ws["completed_by"] == world.a.user("nurse").username
