"""Role x route matrix for the compliance API and pages, tenant isolation of the packet route, and the audit of
the packet download."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import time_machine
from django.test import Client

from careloop.accounts import rules
from careloop.accounts.tests.factories import bearer, make_token
from careloop.audit.models import AuditEvent
from careloop.compliance import services
from careloop.compliance.models import PracticeCapability
from careloop.compliance.tests.factories import MONTH, T0, Clinic, enroll_apcm, make_clinic

pytestmark = pytest.mark.django_db
CAP = {"key": "24x7_access", "effective_from": "2026-01-01", "evidence": "Nurse line policy"}

# name -> (method, path template, permission, kind, body, success status)
ROUTES: dict[str, tuple[str, str, str, str, dict[str, Any] | None, int]] = {
    "api-capabilities": ("GET", "/api/compliance/capabilities?month=2026-03", "compliance.read", "api", None, 200),
    "api-capability-record": ("POST", "/api/compliance/capabilities", "compliance.manage", "api", CAP, 200),
    "api-capability-end": ("POST", "/api/compliance/capabilities/{cap}/end", "compliance.manage", "api",
                           {"effective_to": "2026-06-30"}, 200),
    "ui-capability-end": ("POST", "/compliance/capabilities/{cap}/end/", "compliance.manage", "ui",
                          {"effective_to": "2026-06-30", "month": MONTH}, 302),
    "api-pathways": ("GET", "/api/compliance/pathways?year=2026", "compliance.read", "api", None, 200),
    "api-pathway-record": ("POST", "/api/compliance/pathways", "compliance.manage", "api",
                           {"practitioner_id": "{pr}", "performance_year": 2026, "pathway": "MSSP"}, 200),
    "api-coverage": ("GET", "/api/compliance/coverage?month=2026-03", "compliance.read", "api", None, 200),
    "api-packet-pdf": ("GET", "/api/compliance/patients/{id}/packet?month=2026-03", "compliance.packet", "api",
                       None, 200),
    "api-packet-fhir": ("GET", "/api/compliance/patients/{id}/packet?month=2026-03&format=fhir",
                        "compliance.packet", "api", None, 200),
    "api-attest": ("POST", "/api/compliance/patients/{id}/attestations", "compliance.attest", "api",
                   {"month": MONTH, "statement": "elements available; no contact needed this month"}, 200),
    "ui-dashboard": ("GET", "/compliance/?month=2026-03", "compliance.read", "ui", None, 200),
    "ui-capability-record": ("POST", "/compliance/capabilities/", "compliance.manage", "ui",
                             {**CAP, "month": MONTH}, 302),
    "ui-pathway-record": ("POST", "/compliance/pathways/", "compliance.manage", "ui",
                          {"practitioner_id": "{pr}", "performance_year": "2026", "pathway": "MSSP"}, 302),
    "ui-packet": ("GET", "/compliance/patients/{id}/packet/?month=2026-03", "compliance.packet", "ui", None, 200),
}


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(T0, tick=False):
        yield


def _call(c: Clinic, patient_id: int, route: str, role: str | None) -> Any:
    method, template, _, kind, body, _ = ROUTES[route]
    cap = 0
    if "{cap}" in template:
        cap = services.record_capability(actor=c.actor("admin"), key="ehi_exchange", effective_from=dt.date(2026, 1, 1),
                                         evidence="ADT feed").pk
    path = template.format(id=patient_id, cap=cap)
    client = Client()
    headers: dict[str, str] = {}
    if role is not None and kind == "ui":
        client.force_login(c.user(role))
    elif role is not None:
        headers = bearer(make_token(c.user(role)))
    data = {k: (c.practitioner.pk if v == "{pr}" else v) for k, v in (body or {}).items()}
    if method == "GET":
        return client.get(path, **headers)
    if kind == "api":
        return client.post(path, data=orjson.dumps(data), content_type="application/json", **headers)
    return client.post(path, data=data, **headers)


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("role", sorted(rules.ALL_ROLES))
def test_role_route_matrix(role: str, route: str) -> None:
    c = make_clinic()
    p, _ = enroll_apcm(c)
    response = _call(c, p.pk, route, role)
    _, _, permission, _, _, ok = ROUTES[route]
    expected = ok if rules.has_permission(role, permission) else 403
    assert response.status_code == expected, response.content[:300]


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_anonymous(route: str) -> None:
    c = make_clinic()
    response = _call(c, 1, route, None)
    if ROUTES[route][3] == "ui":
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    else:
        assert response.status_code == 401


def test_packet_route_is_tenant_scoped_and_audited() -> None:
    a, b = make_clinic("alpha"), make_clinic("bravo")
    p, _ = enroll_apcm(a)
    assert _call(b, p.pk, "api-packet-pdf", "billing").status_code == 404
    assert _call(b, p.pk, "ui-packet", "leader").status_code == 404
    response = _call(a, p.pk, "api-packet-pdf", "billing")
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="evidence-packet-{p.pk}-{MONTH}.pdf"'
    assert list(AuditEvent.objects.filter(action="compliance.packet_generated")
                .values_list("organization_id", "patient_id")) == [(a.org.pk, p.pk)]


def test_capability_board_and_bad_input() -> None:
    c = make_clinic()
    headers = bearer(make_token(c.user("leader")))
    bad = Client().post("/api/compliance/capabilities", data=orjson.dumps({**CAP, "key": "nope"}),
                        content_type="application/json", **headers)
    assert bad.status_code == 400 and "key" in orjson.loads(bad.content)["errors"]
    ok = Client().post("/api/compliance/capabilities", data=orjson.dumps(CAP), content_type="application/json",
                       **headers)
    assert ok.status_code == 200
    board = orjson.loads(Client().get("/api/compliance/capabilities?month=2026-03", **headers).content)
    row = next(r for r in board["capabilities"] if r["key"] == "24x7_access")
    assert (row["in_force"], [r["evidence"] for r in row["records"]]) == (True, ["Nurse line policy"])
    assert Client().get("/api/compliance/coverage?month=2026-3", **headers).status_code == 400
    assert PracticeCapability.objects.filter(organization=c.org).count() == 1
    page = Client()
    page.force_login(c.user("leader"))
    html = page.get("/compliance/?month=2026-03").content.decode()
    assert "Nurse line policy" in html and "Element coverage, 2026-03" in html
