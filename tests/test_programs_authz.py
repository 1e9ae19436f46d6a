"""Programs: the role x route matrix for every new route (API and UI), tenant isolation, and the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.test import Client

from careloop.accounts import rules
from careloop.cli import main
from careloop.core.actor import Actor
from careloop.programs import eligibility, services
from careloop.programs.models import EligibilityDecision, Enrollment
from careloop.programs.tests.factories import MBI_A, make_practitioner, qmb_eb, subscriber, x271
from careloop.registry.models import Coverage
from careloop.registry.tests.factories import add_condition
from tests.conftest import World

ALL4 = ["availability", "one_practitioner_per_month", "right_to_stop", "cost_sharing"]

# name -> (method, path template, permission, kind, body)
ROUTES: dict[str, tuple[str, str, str, str, dict[str, object] | None]] = {
    "eligibility": ("GET", "/api/programs/patients/{id}/eligibility?month=2026-03", "program.read", "api", None),
    "enrollments": ("GET", "/api/programs/patients/{id}/enrollments", "program.read", "api", None),
    "consent-fhir": ("GET", "/api/programs/enrollments/{eid}/consent.fhir", "program.read", "api", None),
    "enroll-first": ("GET", "/api/programs/enroll-first?month=2026-03", "program.read", "api", None),
    "eligibility-run": ("POST", "/api/programs/eligibility/run?month=2026-03", "program.eligibility_run", "api", {}),
    "qmb-import": ("POST", "/api/programs/qmb/import", "qmb.manage", "api",
                   {"format": "csv", "content": "mbi,qmb_start,qmb_end,source\n"}),
    "qmb-enter": ("POST", "/api/programs/patients/{id}/qmb", "qmb.manage", "api",
                  {"start": "2026-03-01", "evidence": "state portal"}),
    "device-day": ("POST", "/api/programs/patients/{id}/device-days", "program.enroll", "api",
                   {"kind": "rpm", "day": "2026-03-01"}),
    "enroll": ("POST", "/api/programs/patients/{id}/enrollments", "program.enroll", "api",
               {"program": "CCM", "billing_practitioner_id": 0, "consent": {"method": "verbal", "disclosures": ALL4}}),
    "ui-enroll-first": ("GET", "/programs/enroll-first/", "program.read", "ui", None),
    "ui-panel": ("GET", "/programs/patients/{id}/panel/", "program.read", "ui", None),
    "ui-qmb": ("POST", "/programs/patients/{id}/qmb/", "qmb.manage", "ui", {"start": "2026-03-01", "evidence": "x"}),
    "ui-device-day": ("POST", "/programs/patients/{id}/device-days/", "program.enroll", "ui",
                      {"kind": "rpm", "day": "2026-03-01"}),
    "ui-population": ("GET", "/programs/population/?month=2026-03", "program.read", "ui", None),
    "ui-cohort": ("GET", "/programs/cohort/?month=2026-03", "program.read", "ui", None),
    "ui-cohort-csv": ("GET", "/programs/cohort/?month=2026-03&format=csv", "program.read", "ui", None),
}


def _enrollment(world: World) -> Enrollment:
    org, p = world.a.org, world.a.patient
    return services.enroll_patient(
        organization_id=org.pk, patient_id=p.pk, program="APCM",
        billing_practitioner_id=make_practitioner(org).pk, actor=Actor.system(org.pk),
        consent=services.ConsentIn(method="verbal", disclosures=tuple(ALL4),
                                   obtained_by_user_id=world.a.user("nurse").pk,
                                   obtained_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
    )


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("role", sorted(rules.ALL_ROLES))
@pytest.mark.django_db
def test_role_route_matrix(world: World, role: str, route: str) -> None:
    method, template, permission, kind, body = ROUTES[route]
    e = _enrollment(world)
    if body and "billing_practitioner_id" in body:
        body = {**body, "billing_practitioner_id": e.billing_practitioner_id}
    path = template.format(id=world.a.patient.pk, eid=e.pk)
    client = Client()
    headers: dict[str, str] = {}
    if kind == "ui":
        client.force_login(world.a.user(role))
    else:
        headers = world.a.headers(role)
    if method == "POST":
        response = client.post(path, body or {}, content_type="application/json", **headers)
    else:
        response = client.get(path, **headers)
    expected = 200 if rules.has_permission(role, permission) else 403
    assert response.status_code == expected, response.content[:300]


@pytest.mark.parametrize("route", sorted(r for r, v in ROUTES.items() if v[3] == "api"))
@pytest.mark.django_db
def test_anonymous_is_401(world: World, route: str) -> None:
    method, template, _, _, _ = ROUTES[route]
    path = template.format(id=world.a.patient.pk, eid=1)
    response = Client().post(path, {}, content_type="application/json") if method == "POST" else Client().get(path)
    assert response.status_code == 401


@pytest.mark.django_db
def test_other_organization_sees_nothing(world: World) -> None:
    e = _enrollment(world)
    h = world.b.headers("admin")
    c = Client()
    pid = world.a.patient.pk
    assert c.get(f"/api/programs/patients/{pid}/eligibility", **h).status_code == 404
    assert c.get(f"/api/programs/enrollments/{e.pk}/consent.fhir", **h).status_code == 404
    assert c.post(f"/api/programs/enrollments/{e.pk}/disenroll", {}, content_type="application/json",
                  **h).status_code == 404
    assert c.post(f"/api/programs/patients/{pid}/qmb", {"start": "2026-03-01", "evidence": "x"},
                  content_type="application/json", **h).status_code == 404
    eligibility.compute_eligibility(organization_id=world.b.org.pk, month="2026-03", actor=Actor.system(world.b.org.pk))
    assert not EligibilityDecision.objects.filter(patient=world.a.patient).exists()
    body = c.get("/api/programs/enroll-first?month=2026-03", **h).json()
    assert all(r["patient_id"] != pid for r in body["rows"])
    ui = Client()
    ui.force_login(world.b.user("admin"))
    assert ui.get(f"/programs/patients/{pid}/panel/").status_code == 404


@pytest.mark.django_db
def test_chart_panel_enroll_form(world: World) -> None:
    org, p = world.a.org, world.a.patient
    doc = make_practitioner(org)
    ui = Client()
    ui.force_login(world.a.user("nurse"))
    panel = ui.get(f"/programs/patients/{p.pk}/panel/")
    assert b"Eligibility" in panel.content and b'name="disclosures"' in panel.content
    r = ui.post(f"/programs/patients/{p.pk}/enroll/", {"program": "APCM", "billing_practitioner_id": doc.pk,
                                                       "method": "verbal", "disclosures": ALL4[:3]})
    assert r.status_code == 200 and b"cost_sharing" in r.content
    assert not Enrollment.objects.exists()
    r = ui.post(f"/programs/patients/{p.pk}/enroll/", {"program": "APCM", "billing_practitioner_id": doc.pk,
                                                       "method": "verbal", "disclosures": ALL4})
    assert b"Enrolled." in r.content and Enrollment.objects.filter(patient=p, program="APCM").count() == 1
    e = Enrollment.objects.get(patient=p)
    r = ui.post(f"/programs/patients/{p.pk}/enrollments/{e.pk}/disenroll/")
    assert b"end of the month" in r.content
    e.refresh_from_db()
    assert e.end is not None and e.end.day >= 28
    billing = Client()
    billing.force_login(world.a.user("billing"))
    assert billing.post(f"/programs/patients/{p.pk}/enroll/", {"program": "CCM"}).status_code == 403


@pytest.mark.django_db
def test_cli_eligibility_and_qmb_import(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    org, p = world.a.org, world.a.patient
    p.mbi = MBI_A
    p.save(update_fields=["mbi"])
    add_condition(p, "E119")
    add_condition(p, "I10")
    f271 = tmp_path / "r.271"
    f271.write_text(x271(subscriber(1, MBI_A, qmb_eb("20260301"))))
    assert main(["programs", "qmb-import", str(f271), "--format", "271", "--org", org.slug, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["created"] == 1
    fcsv = tmp_path / "q.csv"
    fcsv.write_text("mbi,qmb_start,qmb_end,source\nBAD,2026-01-01,,csv\n")
    assert main(["programs", "qmb-import", str(fcsv), "--format", "csv", "--org", org.slug]) == 1
    assert "rejected 1" in capsys.readouterr().out
    assert Coverage.objects.filter(organization=org, kind="qmb").count() == 1
    assert main(["programs", "eligibility", "--month", "2026-03", "--org", org.slug, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["levels"] == {"G0558": 1}
    assert EligibilityDecision.objects.get(patient=p, month="2026-03", program="APCM").level == "G0558"
    assert main(["programs", "eligibility", "--month", "bad", "--org", org.slug]) == 2
