"""Role x route matrix for the care-plan and access routes (status = what ROLE_PERMISSIONS says)."""

from __future__ import annotations

import pytest
from django.test import Client

from careloop.accounts import rules
from tests.conftest import World

# name -> (path template, permission, kind)
ROUTES: dict[str, tuple[str, str, str]] = {
    "api-careplan-templates": ("/api/careplans/templates", "careplan.read", "api"),
    "api-careplan-patient": ("/api/careplans/patients/{id}", "careplan.read", "api"),
    "api-messages": ("/api/access/patients/{id}/messages", "careplan.read", "api"),
    "api-on-call": ("/api/access/on-call", "oncall.read", "api"),
    "api-protocol": ("/api/access/protocol", "oncall.read", "api"),
    "api-portal-plans": ("/api/access/portal/plans", "portal.use", "api"),
    "api-partner-plans": ("/api/access/partner/plans", "partner.use", "api"),
    "ui-on-call": ("/access/on-call/", "oncall.read", "ui"),
    "ui-portal": ("/portal/", "portal.use", "ui"),
    "ui-partner": ("/partner/", "partner.use", "ui"),
    "ui-access-panel": ("/access/patients/{id}/panel/", "careplan.read", "ui"),
}


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("role", sorted(rules.ALL_ROLES))
@pytest.mark.django_db
def test_role_route_matrix(world: World, role: str, route: str) -> None:
    template, permission, kind = ROUTES[route]
    client = Client()
    headers: dict[str, str] = {}
    if kind == "ui":
        client.force_login(world.a.user(role))
    else:
        headers = world.a.headers(role)
    response = client.get(template.format(id=world.a.patient.pk), **headers)
    expected = 200 if rules.has_permission(role, permission) else 403
    assert response.status_code == expected, response.content[:300]


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.django_db
def test_anonymous(world: World, route: str) -> None:
    template, _, kind = ROUTES[route]
    path = template.format(id=world.a.patient.pk)
    response = Client().get(path)
    if kind == "ui":
        assert (response.status_code, response["Location"]) == (302, f"/login/?next={path}")
    else:
        assert response.status_code == 401


@pytest.mark.django_db
def test_other_organizations_patient_is_not_found(world: World) -> None:
    headers = world.a.headers("coordinator")
    assert Client().get(f"/api/careplans/patients/{world.b.patient.pk}", **headers).status_code == 404
    assert Client().get(f"/api/access/patients/{world.b.patient.pk}/messages", **headers).status_code == 404
