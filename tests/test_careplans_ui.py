"""Team, portal, partner and on-call pages through the Django test client."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from careloop.access import services as access
from careloop.access.models import SecureMessage
from careloop.accounts.tests.factories import make_user
from careloop.careplans.models import CarePlan
from careloop.careplans.tests.factories import T0, make_clinic

pytestmark = pytest.mark.django_db


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


@time_machine.travel(T0, tick=True)
def test_team_creates_edits_and_reads_history_from_the_chart() -> None:
    c = make_clinic()
    web = _client(c.coordinator)
    chart = web.get(f"/patients/{c.patient.pk}/").content.decode()
    assert 'value="diabetes" checked' in chart  # suggested from the E11.9 problem
    r = web.post(f"/careplans/new/{c.patient.pk}/", {"template": ["diabetes"]})
    plan = CarePlan.objects.get(patient=c.patient)
    assert r["Location"] == f"/careplans/{plan.pk}/"
    assert "HbA1c below 8% within 6 months" in web.get(r["Location"]).content.decode()
    form = {"base_version": "1", "reason": "Patient's own goal", "new:goals": "Walk my dog every morning",
            "new-patient-stated:goals": "on", "status:goals:diabetes-g1": "on-hold", "pref-involvement": "shared"}
    assert web.post(f"/careplans/{plan.pk}/edit/", {**form, "reason": ""}).status_code == 400
    assert web.post(f"/careplans/{plan.pk}/edit/", form).status_code == 302
    history = web.get(f"/careplans/{plan.pk}/history/").content.decode()
    assert "Walk my dog every morning" in history and "status: active → on-hold" in history
    assert "Patient&#x27;s own goal" in history


def test_portal_partner_and_on_call_pages() -> None:
    c = make_clinic()
    web = _client(c.coordinator)
    web.post(f"/careplans/new/{c.patient.pk}/", {"template": ["hypertension"]})
    plan = CarePlan.objects.get(patient=c.patient)
    pu, other = make_user(c.org, "patient"), make_user(c.org, "patient")
    access.link_portal_account(organization_id=c.org.pk, patient_id=c.patient.pk, user_id=pu.pk, actor=c.coord)
    portal = _client(pu)
    page = portal.get("/portal/").content.decode()
    assert "Check your blood pressure at home twice a week" in page
    assert portal.post(f"/portal/plans/{plan.pk}/done/hypertension-s1/").status_code == 302
    assert portal.post(f"/portal/plans/{plan.pk}/comments/", {"body": "Thanks"}).status_code == 302
    r = portal.post("/portal/messages/", {"patient_id": c.patient.pk, "body": "I have chest pain"})
    assert "Your message sounds urgent." in r.content.decode()
    assert SecureMessage.objects.filter(patient=c.patient).count() == 1
    assert portal.get(f"/portal/plans/{plan.pk}/pdf/").content.startswith(b"%PDF")
    assert "not shared in the portal yet" in _client(other).get("/portal/").content.decode()
    assert _client(other).get(f"/portal/plans/{plan.pk}/pdf/").status_code == 404
    assert portal.get("/partner/").status_code == 403
    assert portal.get(f"/careplans/{plan.pk}/").status_code == 403
    partner = make_user(c.org, "partner")
    access.share_with_partner(organization_id=c.org.pk, patient_id=c.patient.pk, partner_id=partner.pk,
                              partner_kind="home_health", actor=c.coord,
                              expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=7))
    assert "Check your blood pressure" in _client(partner).get("/partner/").content.decode()
    oc = web.get("/access/on-call/")
    assert oc.status_code == 200 and "Nobody is on call right now." in oc.content.decode()
    r = web.post("/access/on-call/", {"form": "shift", "clinician": c.nurse.pk, "starts_at": "2030-01-01T17:00",
                                      "ends_at": "2030-01-02T08:00"})
    assert r.status_code == 302
    assert _client(pu).get("/access/on-call/").status_code == 403
    chart = web.get(f"/patients/{c.patient.pk}/").content.decode()
    assert "I have chest pain" in chart and "Home health" in chart
