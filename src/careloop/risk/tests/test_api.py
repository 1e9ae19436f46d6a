"""Risk routes: role x route matrix, tenant scope, audit, the chart panel."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import Context, Template
from django.test import Client

from careloop.accounts import rules as perms
from careloop.accounts.tests.factories import bearer, make_token, make_user
from careloop.audit.models import AuditEvent
from careloop.clinics.tests.factories import make_org
from careloop.core.actor import Actor
from careloop.registry.models import Patient
from careloop.risk.services import refresh_risk
from careloop.risk.tests import factories as f


def _scored(slug: str) -> Patient:
    org = make_org(slug)
    p = f.patient(org, f"Pat{slug}")
    f.condition(p, "I5022")
    f.condition(p, "N184")
    refresh_risk(organization_id=org.pk, actor=Actor.system(org.pk), as_of=dt.date(2026, 3, 15))
    return p


@pytest.mark.parametrize("role", sorted(perms.ALL_ROLES))
@pytest.mark.parametrize("path", ["/api/risk/patients/{id}", "/api/risk/methodology"])
@pytest.mark.django_db
def test_role_route_matrix(role: str, path: str) -> None:
    p = _scored("a")
    headers = bearer(make_token(make_user(p.organization, role)))
    response = Client().get(path.format(id=p.pk), **headers)
    assert response.status_code == (200 if perms.has_permission(role, "risk.read") else 403), response.content[:200]


@pytest.mark.django_db
def test_patient_risk_shows_tier_explanation_history_and_is_audited() -> None:
    p = _scored("a")
    headers = bearer(make_token(make_user(p.organization, "coordinator")))
    body = Client().get(f"/api/risk/patients/{p.pk}", **headers).json()
    assert (body["patient_id"], body["tier"], body["chronic_count"], body["hccs"]) == (
        p.pk,
        "moderate",
        2,
        ["226", "327"],
    )
    assert body["explanation"].startswith("moderate: HCC 1.")
    assert [(h["from_tier"], h["to_tier"]) for h in body["history"]] == [("", "moderate")]
    assert AuditEvent.objects.filter(action="risk.viewed", patient_id=p.pk).count() == 1


@pytest.mark.django_db
def test_another_organizations_patient_is_404() -> None:
    a, b = _scored("a"), _scored("b")
    headers = bearer(make_token(make_user(a.organization, "provider")))
    response = Client().get(f"/api/risk/patients/{b.pk}", **headers)
    assert response.status_code == 404
    assert b"Patb" not in response.content


@pytest.mark.django_db
def test_methodology_route_returns_the_document() -> None:
    p = _scored("a")
    headers = bearer(make_token(make_user(p.organization, "leader")))
    body = Client().get("/api/risk/methodology", **headers).json()
    assert body["version"] == "careloop-risk-v1"
    assert "| high | 10 |" in body["markdown"]
    assert Client().get("/api/risk/methodology?version=404", **headers).status_code == 404


@pytest.mark.django_db
def test_chart_panel_template_tag() -> None:
    p = _scored("a")
    html = Template("{% load risk_tags %}{% risk_panel p %}").render(Context({"p": p}))
    assert 'class="tag tier-moderate"' in html
    assert "CKD 4 with CHF" in html or "CHF with CKD 4" in html
    unscored = f.patient(p.organization, "New")
    assert "Not scored yet" in Template("{% load risk_tags %}{% risk_panel p %}").render(Context({"p": unscored}))
