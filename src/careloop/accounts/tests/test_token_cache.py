"""The in-process bearer token cache: hits skip the database, and revocation / deactivation / role changes win."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from careloop.accounts import services
from careloop.accounts.models import ApiToken, User
from careloop.accounts.services import issue_api_token, revoke_api_token, user_for_token
from careloop.accounts.tests.factories import bearer, make_user
from careloop.clinics.tests.factories import make_org


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def mono(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Clock]:
    clock = _Clock()
    monkeypatch.setattr(services, "_monotonic", clock)
    services.clear_token_cache()
    yield clock
    services.clear_token_cache()


def _queries(raw: str) -> tuple[User | None, int]:
    with CaptureQueriesContext(connection) as ctx:
        user = user_for_token(raw)
    return user, len(ctx.captured_queries)


@pytest.mark.django_db
def test_a_cached_token_needs_no_query_until_the_ttl_passes(mono: _Clock, settings) -> None:  # type: ignore[no-untyped-def]
    settings.API_TOKEN_CACHE_SECONDS = 30
    user = make_user(make_org(), "coordinator")
    raw = issue_api_token(user=user, name="ehr")
    first, n_first = _queries(raw)
    assert first == user and n_first >= 1
    again, n_again = _queries(raw)
    assert again == user and n_again == 0
    assert again is not first
    assert again.organization == user.organization
    mono.t += 31
    _, n_expired = _queries(raw)
    assert n_expired >= 1


@pytest.mark.django_db
def test_a_revoked_token_stops_working_at_once_in_this_process(mono: _Clock) -> None:
    user = make_user(make_org(), "coordinator")
    raw = issue_api_token(user=user, name="ehr")
    assert user_for_token(raw) == user
    revoke_api_token(token=ApiToken.objects.get(user=user))
    assert user_for_token(raw) is None
    assert ApiToken.objects.get(user=user).revoked


@pytest.mark.django_db
def test_a_revocation_saved_through_the_orm_also_clears_the_cache(mono: _Clock) -> None:
    user = make_user(make_org(), "coordinator")
    raw = issue_api_token(user=user, name="ehr")
    assert user_for_token(raw) == user
    token = ApiToken.objects.get(user=user)
    token.revoked = True
    token.save()
    assert user_for_token(raw) is None


@pytest.mark.django_db
def test_a_revocation_by_another_process_takes_effect_within_the_ttl(mono: _Clock, settings) -> None:  # type: ignore[no-untyped-def]
    settings.API_TOKEN_CACHE_SECONDS = 30
    user = make_user(make_org(), "coordinator")
    raw = issue_api_token(user=user, name="ehr")
    assert user_for_token(raw) == user
    ApiToken.objects.filter(user=user).update(revoked=True)  # no signal: what this process sees of another one
    mono.t += 29
    assert user_for_token(raw) == user  # the documented bound: up to API_TOKEN_CACHE_SECONDS
    mono.t += 2
    assert user_for_token(raw) is None


@pytest.mark.django_db
def test_deactivating_the_user_or_changing_the_role_wins_over_the_cache(mono: _Clock) -> None:
    user = make_user(make_org(), "coordinator")
    raw = issue_api_token(user=user, name="ehr")
    assert user_for_token(raw).role == "coordinator"  # type: ignore[union-attr]
    user.role = "leader"
    user.save(update_fields=["role"])
    assert user_for_token(raw).role == "leader"  # type: ignore[union-attr]
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert user_for_token(raw) is None


@pytest.mark.django_db
def test_changes_to_the_returned_user_do_not_leak_into_the_cache(mono: _Clock) -> None:
    user = make_user(make_org(), "coordinator")
    raw = issue_api_token(user=user, name="ehr")
    got = user_for_token(raw)
    assert got is not None
    got.role = "admin"
    got.organization.name = "changed"
    again = user_for_token(raw)
    assert again is not None
    assert (again.role, again.organization.name) == ("coordinator", user.organization.name)


@pytest.mark.django_db
def test_the_cache_is_bounded_and_can_be_turned_off(mono: _Clock, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(services._TokenCache, "MAX_ENTRIES", 3)
    user = make_user(make_org(), "coordinator")
    raws = [issue_api_token(user=user, name=f"t{i}") for i in range(5)]
    for raw in raws:
        assert user_for_token(raw) == user
    assert len(services._token_cache) == 3
    assert _queries(raws[0])[1] >= 1  # evicted first (least recently used)
    assert _queries(raws[4])[1] == 0
    settings.API_TOKEN_CACHE_SECONDS = 0
    services.clear_token_cache()
    assert _queries(raws[4])[1] >= 1 and _queries(raws[4])[1] >= 1
    assert len(services._token_cache) == 0


@pytest.mark.django_db
def test_unknown_tokens_are_never_cached(mono: _Clock) -> None:
    user = make_user(make_org(), "coordinator")
    assert user_for_token("cl_nope") is None
    assert len(services._token_cache) == 0
    raw = issue_api_token(user=user, name="ehr")
    ApiToken.objects.filter(user=user).update(revoked=True)
    assert user_for_token(raw) is None
    ApiToken.objects.filter(user=user).update(revoked=False)
    assert user_for_token(raw) == user


@pytest.mark.django_db
def test_a_revoked_token_is_refused_by_the_api_right_after_use(mono: _Clock) -> None:
    user = make_user(make_org(), "coordinator")
    raw = issue_api_token(user=user, name="ehr")
    client = Client()
    assert client.get("/api/worklist/ping", **bearer(raw)).status_code == 200
    revoke_api_token(token=ApiToken.objects.get(user=user))
    assert client.get("/api/worklist/ping", **bearer(raw)).status_code == 401
