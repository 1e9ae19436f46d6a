"""Task status transitions (table in ``choices.TRANSITIONS``)."""

from __future__ import annotations

from careloop.worklist.choices import QUEUE_STATUSES, REASON_REQUIRED, TRANSITIONS, TaskStatus


def can_transition(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def transition_problem(current: str, new: str, reason: str) -> str | None:
    """Why ``current -> new`` is not allowed (None when it is)."""
    if new not in TaskStatus.values:
        return f"unknown status {new!r}"
    if not can_transition(current, new):
        return f"a {current} task cannot become {new}"
    if new in REASON_REQUIRED and not reason.strip():
        return f"a reason is required to make a task {new}"
    return None


def in_queue(status: str) -> bool:
    return status in QUEUE_STATUSES
