"""Billing routes x roles (status = what ROLE_PERMISSIONS says), anonymous access, organization isolation,
the CSV and the 837P download, and the explained-decision page."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from careloop.accounts import rules
from careloop.accounts.tests.factories import bearer, make_token, make_user
from careloop.audit.models import AuditEvent
from careloop.billing import services
from careloop.billing.tests.factories import (
    MONTH,
    D,
    StandInRuleset,
    enrolled_patient,
    log_time,
    make_practice,
    stand_in_evaluate,
)
from careloop.clinics.tests.factories import make_org
from careloop.core.actor import Actor

STAFF = sorted(rules.STAFF_ROLES)


@pytest.fixture
def world() -> dict[str, object]:
    a = make_practice(make_org())
    b = make_practice(make_org(), npi="1245319599")
    ann = enrolled_patient(a, "Ames")
    zed = enrolled_patient(b, "Zebrowski", mbi="2AC3CD4EF56")
    log_time(a, ann, 25, D(2026, 3, 5))
    log_time(b, zed, 25, D(2026, 3, 5))
    for p in (a, b):
        services.run_billing_month(organization=p.org, month=MONTH, actor=Actor.system(p.org.pk),
                                   evaluate=stand_in_evaluate, ruleset=StandInRuleset())
    return {"a": a, "b": b, "ann": ann, "zed": zed}


ROUTES = {
    "month": ("GET", "/api/billing/months/2026-03", "billing.view"),
    "patient": ("GET", "/api/billing/months/2026-03/patients/{ann}", "billing.view"),
    "csv": ("GET", "/api/billing/months/2026-03/claims.csv", "billing.export"),
    "837p": ("GET", "/api/billing/months/2026-03/837p", "billing.export"),
    "ui-month": ("GET", "/billing/?month=2026-03", "billing.view"),
    "ui-patient": ("GET", "/billing/2026-03/patients/{ann}/", "billing.view"),
    "ui-csv": ("GET", "/billing/2026-03/claims.csv", "billing.view_export"),
    "ui-837p": ("GET", "/billing/2026-03/claims.837", "billing.export"),
}


def _path(template: str, world: dict[str, object]) -> str:
    return template.format(ann=world["ann"].pk)  # type: ignore[attr-defined]


@pytest.mark.parametrize("role", STAFF)
@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.django_db
def test_route_by_role(world: dict[str, object], route: str, role: str) -> None:
    method, template, permission = ROUTES[route]
    permission = permission.replace("view_export", "export")
    a = world["a"]
    user = make_user(a.org, role)  # type: ignore[attr-defined]
    client = Client()
    if route.startswith("ui"):
        client.force_login(user)
        response = client.get(_path(template, world))
    else:
        response = client.get(_path(template, world), **bearer(make_token(user)))
    allowed = rules.has_permission(role, permission)
    assert response.status_code == (200 if allowed else 403), response.content[:300]


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.django_db
def test_anonymous(world: dict[str, object], route: str) -> None:
    _, template, _ = ROUTES[route]
    response = Client().get(_path(template, world))
    if route.startswith("ui"):
        assert response.status_code == 302
    else:
        assert response.status_code == 401


@pytest.mark.django_db
def test_run_route_needs_billing_run(world: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "_engine", lambda year: (stand_in_evaluate, StandInRuleset(), "test-ccm"))
    a = world["a"]
    for role in STAFF:
        token = make_token(make_user(a.org, role))  # type: ignore[attr-defined]
        response = Client().post("/api/billing/runs", {"month": "2026-04"}, content_type="application/json",
                                 **bearer(token))
        assert response.status_code == (200 if rules.has_permission(role, "billing.run") else 403), role


@pytest.mark.django_db
def test_month_api_explains_and_never_shows_another_organization(world: dict[str, object]) -> None:
    a, zed = world["a"], world["zed"]
    headers = bearer(make_token(make_user(a.org, "billing")))  # type: ignore[attr-defined]
    body = Client().get("/api/billing/months/2026-03", **headers).json()
    assert body["patients"] == 1 and body["by_code"] == {"99490": 1} and body["allowed"] == "66.13"
    row = body["rows"][0]
    assert [(ln["code"], ln["units"], ln["rule_ids"]) for ln in row["billable"]] == [("99490", 1, ["T-MIN"])]
    assert b"Zebrowski" not in Client().get("/api/billing/months/2026-03", **headers).content
    assert Client().get(f"/api/billing/months/2026-03/patients/{zed.pk}", **headers).status_code == 404  # type: ignore[attr-defined]
    assert AuditEvent.objects.filter(action="billing.month_viewed", patient_id=world["ann"].pk).exists()  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_csv_rows(world: dict[str, object]) -> None:
    a = world["a"]
    headers = bearer(make_token(make_user(a.org, "billing")))  # type: ignore[attr-defined]
    text = Client().get("/api/billing/months/2026-03/claims.csv", **headers).content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["code"], r["units"], r["status"], r["allowed_amount"], r["patient_share"], r["billing_npi"],
             r["mbi"], r["diagnoses"]) for r in rows] == [
        ("99490", "1", "billable", "66.13", "13.23", "1234567893", "1EG4TE5MK73", "E119 I509")]
    assert AuditEvent.objects.filter(action="billing.csv_exported").count() == 1


@pytest.mark.django_db
def test_ui_month_page_shows_explained_decisions_and_downloads(world: dict[str, object]) -> None:
    a = world["a"]
    client = Client()
    client.force_login(make_user(a.org, "billing"))  # type: ignore[attr-defined]
    page = client.get("/billing/?month=2026-03").content.decode()
    assert "99490" in page and "T-MIN" in page and "Ames" in page and "Zebrowski" not in page
    assert "/billing/2026-03/claims.837" in page and "Run billing for 2026-03" in page
    x12 = client.get("/billing/2026-03/claims.837")
    assert x12.status_code == 200 and x12.content.startswith(b"ISA*00*")
    detail = client.get(f"/billing/2026-03/patients/{world['ann'].pk}/").content.decode()  # type: ignore[attr-defined]
    assert "T-CONSENT" in detail and "time_entries" in detail
    leader = Client()
    leader.force_login(make_user(a.org, "leader"))  # type: ignore[attr-defined]
    page = leader.get("/billing/?month=2026-03").content.decode()
    assert "Run billing" not in page and "claims.837" not in page
