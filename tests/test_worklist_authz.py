"""Worklist routes x roles (status = what ROLE_PERMISSIONS says), anonymous access, and organization isolation."""

from __future__ import annotations

import pytest
from django.test import Client

from careloop.accounts import rules
from careloop.worklist.tests.factories import make_task
from tests.conftest import World

# name -> (method, path template, permissions (any of), kind)
ROUTES: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "api-queue": ("GET", "/api/worklist/queue", ("worklist.own", "worklist.team"), "api"),
    "api-ping": ("GET", "/api/worklist/ping", ("worklist.own", "worklist.team"), "api"),
    "api-team": ("GET", "/api/worklist/team", ("worklist.team",), "api"),
    "api-task": ("GET", "/api/worklist/tasks/{task}", ("worklist.own", "worklist.team"), "api"),
    "api-patient-tasks": ("GET", "/api/worklist/patients/{id}/tasks", ("worklist.own", "worklist.team"), "api"),
    "api-patient-outreach": ("GET", "/api/worklist/patients/{id}/outreach", ("worklist.own", "worklist.team"), "api"),
    "api-patient-time": ("GET", "/api/worklist/patients/{id}/time", ("time.read",), "api"),
    "api-minutes": ("GET", "/api/worklist/minutes?month=2026-03", ("time.read",), "api"),
    "api-notifications": ("GET", "/api/worklist/notifications", ("worklist.own", "worklist.team"), "api"),
    "api-designated": ("GET", "/api/programs/patients/{id}/designated-member", ("patient.read",), "api"),
    "ui-queue": ("GET", "/queue/", ("worklist.own", "worklist.team"), "ui"),
    "ui-team": ("GET", "/team/", ("worklist.team",), "ui"),
    "ui-task": ("GET", "/queue/tasks/{task}/", ("worklist.own", "worklist.team"), "ui"),
    "ui-panel": ("GET", "/worklist/patients/{id}/panel/", ("worklist.own", "worklist.team"), "ui"),
    "ui-notifications": ("GET", "/notifications/", ("worklist.own", "worklist.team"), "ui"),
}


def _allowed(role: str, permissions: tuple[str, ...]) -> bool:
    return any(rules.has_permission(role, p) for p in permissions)


def _path(template: str, world: World) -> str:
    task = make_task(world.a.org, world.a.patient, dedupe_key=f"authz:{template}")
    return template.format(id=world.a.patient.pk, task=task.pk)


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("role", sorted(rules.ALL_ROLES))
@pytest.mark.django_db
def test_role_route_matrix(world: World, role: str, route: str) -> None:
    method, template, permissions, kind = ROUTES[route]
    client = Client()
    headers: dict[str, str] = {}
    if kind == "ui":
        client.force_login(world.a.user(role))
    else:
        headers = world.a.headers(role)
    response = client.get(_path(template, world), **headers)
    assert response.status_code == (200 if _allowed(role, permissions) else 403), response.content[:300]


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.django_db
def test_anonymous(world: World, route: str) -> None:
    _, template, _, kind = ROUTES[route]
    path = _path(template, world)
    response = Client().get(path)
    if kind == "ui":
        assert (response.status_code, response["Location"]) == (302, f"/login/?next={path.split('?')[0]}")
    else:
        assert response.status_code == 401


@pytest.mark.django_db
def test_worklist_never_shows_another_organization(world: World) -> None:
    a, b = world.a, world.b
    b_task = make_task(b.org, b.patient, dedupe_key="b-only")
    client = Client()
    for role in ("coordinator", "leader", "admin"):
        headers = a.headers(role)
        assert client.get(f"/api/worklist/tasks/{b_task.pk}", **headers).status_code == 404
        assert client.get(f"/api/worklist/patients/{b.patient.pk}/tasks", **headers).status_code in (403, 404)
        body = client.get("/api/worklist/queue?unassigned=true", **headers).content
        assert b.family.encode() not in body
    ui = Client()
    ui.force_login(a.user("leader"))
    assert ui.get(f"/queue/tasks/{b_task.pk}/").status_code == 404
    assert ui.get(f"/worklist/patients/{b.patient.pk}/panel/").status_code == 404
    assert b.family.encode() not in ui.get("/queue/?who=unassigned").content
    assert b"nurse-bravo" not in ui.get("/team/").content
