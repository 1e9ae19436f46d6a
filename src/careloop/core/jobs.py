"""Side effects run only after the surrounding transaction commits."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction


def after_commit(fn: Callable[[], object]) -> None:
    """Run ``fn`` once the current transaction commits (at once when there is none)."""
    transaction.on_commit(fn)
