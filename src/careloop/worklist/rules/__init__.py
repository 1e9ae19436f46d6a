"""Pure worklist rules: status transitions, priority, assignment, due dates and contact evidence."""

from careloop.worklist.rules.assignment import Candidate, Decision, choose_assignee, default_role
from careloop.worklist.rules.priority import (
    Priority,
    PriorityInput,
    business_hours_between,
    compute_priority,
    deadline_at_risk,
)
from careloop.worklist.rules.status import can_transition, in_queue, transition_problem

__all__ = [
    "Candidate",
    "Decision",
    "Priority",
    "PriorityInput",
    "business_hours_between",
    "can_transition",
    "choose_assignee",
    "compute_priority",
    "deadline_at_risk",
    "default_role",
    "in_queue",
    "transition_problem",
]
