"""The staff side of sharing and 24/7 access in the chart (issue 8): access notices, replies to secure messages,
after-hours calls, caregiver proxies and partner shares - each permission-checked, audited, tenant-scoped."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from careloop.access.models import AccessNotice, AfterHoursContact, PartnerShare, ProxyAccess, SecureMessage
from careloop.access.selectors import partner_plans, portal_patient_ids
from careloop.accounts.tests.factories import actor, make_user
from careloop.audit.models import AuditEvent
from careloop.careplans import services as plan_services
from careloop.worklist.models import CareTask
from tests.conftest import World

NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)


def _post(client: Client, pid: int, action: str, data: dict[str, str]) -> tuple[int, str]:
    r = client.post(f"/access/patients/{pid}/{action}/", data)
    return r.status_code, r.content.decode()


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_staff_manage_sharing_notices_and_replies(world: World) -> None:
    org, patient = world.a.org, world.a.patient
    coordinator = world.a.user("coordinator")
    client = Client()
    client.force_login(coordinator)
    assert client.get(f"/access/patients/{patient.pk}/panel/").status_code == 200

    status, html = _post(client, patient.pk, "notice", {"told_on": "2026-03-09", "method": "phone", "note": "card"})
    assert status == 200 and "Notice recorded." in html
    assert AccessNotice.objects.get(patient=patient).method == "phone"
    status, html = _post(client, patient.pk, "notice", {"told_on": "yesterday", "method": "phone"})
    assert status == 400 and "told_on must be YYYY-MM-DD" in html and AccessNotice.objects.count() == 1

    status, html = _post(client, patient.pk, "reply", {"body": "Your results are fine."})
    assert status == 200 and "Your results are fine." in html
    assert SecureMessage.objects.get(patient=patient).sender_kind == "team"
    assert _post(client, patient.pk, "reply", {"body": "  "})[0] == 400

    caregiver = make_user(org, "caregiver", username="cg-alpha")
    status, _ = _post(client, patient.pk, "proxy", {"caregiver": str(caregiver.pk), "consent_date": "2026-03-01",
                                                   "relationship": "daughter"})
    assert status == 200
    proxy = ProxyAccess.objects.get(patient=patient)
    assert patient.pk in portal_patient_ids(actor=actor(caregiver), today=NOW.date())
    _post(client, patient.pk, "proxy-revoke", {"id": str(proxy.pk)})
    assert patient.pk not in portal_patient_ids(actor=actor(caregiver), today=NOW.date())

    partner = make_user(org, "partner", username="cardio-alpha")
    plan = plan_services.create_plan(organization_id=org.pk, patient_id=patient.pk, actor=actor(coordinator),
                                     templates=[])
    status, html = _post(client, patient.pk, "share", {"partner": str(partner.pk), "partner_kind": "specialist",
                                                       "plan": "", "expires_on": "2026-04-30"})
    assert status == 200 and "Plan shared." in html
    assert [p.pk for p in partner_plans(actor=actor(partner), now=NOW)] == [plan.pk]
    assert _post(client, patient.pk, "share", {"partner": str(partner.pk), "partner_kind": "specialist",
                                               "expires_on": "2026-03-01"})[0] == 400  # expiry in the past
    share = PartnerShare.objects.get(patient=patient)
    _post(client, patient.pk, "share-revoke", {"id": str(share.pk)})
    assert partner_plans(actor=actor(partner), now=NOW) == []
    actions = set(AuditEvent.objects.filter(patient_id=patient.pk).values_list("action", flat=True))
    assert {"access.notice_recorded", "message.replied", "access.proxy_granted", "access.proxy_revoked",
            "access.partner_shared", "access.partner_share_revoked"} <= actions


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_after_hours_call_needs_oncall_role_and_creates_follow_up(world: World) -> None:
    patient = world.a.patient
    nurse, chw = Client(), Client()
    nurse.force_login(world.a.user("nurse"))
    chw.force_login(world.a.user("chw"))
    status, html = _post(nurse, patient.pk, "call", {"summary": "Chest tightness, advised ED"})
    assert status == 200 and "follow-up task created" in html
    contact = AfterHoursContact.objects.get(patient=patient)
    assert CareTask.objects.filter(pk=contact.followup_task_id, patient=patient).exists()
    assert _post(chw, patient.pk, "call", {"summary": "x"})[0] == 403
    assert AfterHoursContact.objects.count() == 1


@pytest.mark.django_db
def test_manage_actions_need_access_manage_and_stay_in_tenant(world: World) -> None:
    chw = Client()
    chw.force_login(world.a.user("chw"))
    caregiver = make_user(world.a.org, "caregiver", username="cg2-alpha")
    data = {"caregiver": str(caregiver.pk), "consent_date": "2026-03-01"}
    assert _post(chw, world.a.patient.pk, "proxy", data)[0] == 403
    coordinator = Client()
    coordinator.force_login(world.a.user("coordinator"))
    assert _post(coordinator, world.b.patient.pk, "proxy", data)[0] == 404
    assert coordinator.get(f"/access/patients/{world.b.patient.pk}/panel/").status_code == 404
    other_caregiver = make_user(world.b.org, "caregiver", username="cg-bravo")
    status, html = _post(coordinator, world.a.patient.pk, "proxy",
                         {"caregiver": str(other_caregiver.pk), "consent_date": "2026-03-01"})
    assert status == 400 and "must be a caregiver in this clinic" in html
    # a share of org A's patient cannot be revoked through org B's patient
    share_b = PartnerShare.objects.filter(patient=world.b.patient).first()
    assert share_b is None
    assert _post(coordinator, world.a.patient.pk, "share-revoke", {"id": "999999"})[0] == 404
    assert ProxyAccess.objects.count() == 0
