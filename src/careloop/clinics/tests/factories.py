"""Plain factory functions for clinics rows."""

from __future__ import annotations

from typing import Any

from careloop.clinics.models import Organization

_counter = {"n": 0}


def make_org(slug: str | None = None, *, name: str | None = None, **fields: Any) -> Organization:
    _counter["n"] += 1
    slug = slug or f"org-{_counter['n']}"
    return Organization.objects.create(slug=slug, name=name or f"Clinic {slug}", **fields)
