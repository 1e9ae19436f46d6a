"""Transitions UI: board, episode page, checklist and medication reconciliation forms, chart panel; roles,
anonymous users and another organization."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from django.test import Client

from careloop.accounts import rules
from careloop.core.actor import Actor
from careloop.transitions import services
from careloop.transitions.models import TransitionEpisode
from careloop.transitions.tests.factories import make_stay
from tests.conftest import World

pytestmark = pytest.mark.django_db
DISCHARGE = dt.datetime(2026, 11, 27, 20, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(DISCHARGE + dt.timedelta(days=5), tick=False):
        yield


def _episode(world: World) -> TransitionEpisode:
    enc = make_stay(world.a.patient, start=DISCHARGE - dt.timedelta(days=2), end=DISCHARGE, facility="Mercy")
    ep = services.open_or_update_episode_for_encounter(organization_id=world.a.org.pk, encounter_id=enc.pk,
                                                       actor=Actor.system(world.a.org.pk))
    assert ep is not None
    return ep


def _client(world: World, role: str) -> Client:
    c = Client()
    c.force_login(world.a.user(role))
    return c


@pytest.mark.parametrize("role", sorted(rules.ALL_ROLES))
def test_board_and_episode_page_by_role(world: World, role: str) -> None:
    ep = _episode(world)
    client = _client(world, role)
    allowed = rules.has_permission(role, "transitions.read")
    for path in ["/transitions/", f"/transitions/episodes/{ep.pk}/",
                 f"/transitions/patients/{world.a.patient.pk}/panel/"]:
        assert client.get(path).status_code == (200 if allowed else 403), path


def test_board_shows_overdue_countdown_and_nav(world: World) -> None:
    _episode(world)
    body = _client(world, "nurse").get("/transitions/").content.decode()
    assert "Overdue contact" in body and "overdue 15h" in body and "Alder, Ann" in body
    assert 'href="/transitions/"' in body


def test_episode_page_checklist_and_medrec_forms(world: World) -> None:
    ep = _episode(world)
    nurse = _client(world, "nurse")
    body = nurse.get(f"/transitions/episodes/{ep.pk}/").content.decode()
    assert "Checklist" in body and "Record reconciliation" in body and "Mercy" in body
    response = nurse.post(f"/transitions/episodes/{ep.pk}/checklist/", {"item": "care_plan_review"})
    assert response.status_code == 302
    response = nurse.post(f"/transitions/episodes/{ep.pk}/medrec/")
    assert response.status_code == 302
    ep.refresh_from_db()
    assert ep.care_plan_reviewed_at is not None and ep.medrec_by_id == world.a.user("nurse").pk
    coordinator = _client(world, "coordinator")
    assert coordinator.post(f"/transitions/episodes/{ep.pk}/medrec/").status_code == 403


def test_chart_includes_the_panel(world: World) -> None:
    _episode(world)
    body = _client(world, "nurse").get(f"/patients/{world.a.patient.pk}/").content.decode()
    assert f"/transitions/patients/{world.a.patient.pk}/panel/" in body
    panel = _client(world, "nurse").get(f"/transitions/patients/{world.a.patient.pk}/panel/").content.decode()
    assert "Mercy" in panel


def test_anonymous_redirects_and_other_organization_404(world: World) -> None:
    ep = _episode(world)
    assert Client().get("/transitions/").status_code == 302
    other = Client()
    other.force_login(world.b.user("nurse"))
    assert other.get(f"/transitions/episodes/{ep.pk}/").status_code == 404
    assert other.get(f"/transitions/patients/{world.a.patient.pk}/panel/").status_code == 404
    assert "Alder" not in other.get("/transitions/").content.decode()
