"""Plain factory functions for users, tokens and actors (through the public account services)."""

from __future__ import annotations

from careloop.accounts.models import User
from careloop.accounts.services import actor_for, create_user, issue_api_token
from careloop.clinics.models import Organization
from careloop.core.actor import Actor

PASSWORD = "correct-horse-battery-9"
_counter = {"n": 0}


def make_user(
    organization: Organization, role: str = "coordinator", *, username: str | None = None, password: str = PASSWORD
) -> User:
    _counter["n"] += 1
    username = username or f"{role}-{organization.slug}-{_counter['n']}"
    return create_user(organization=organization, username=username, password=password, role=role)


def make_token(user: User) -> str:
    return issue_api_token(user=user, name="tests")


def bearer(token: str) -> dict[str, str]:
    """Headers for the Django test client."""
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def actor(user: User, source_ip: str = "10.0.0.1") -> Actor:
    return actor_for(user, source_ip)
