"""Who gets a task. Pure: the caller loads candidates (role, capacity, caseload, away) and passes them in.

1. Continuity: the patient's designated care-team member, when present, not away, and in a role that may do
   this task type (``TASK_ROLES``). Capacity does not apply: the patient is already on their panel.
2. Otherwise by role: among active members with the task's role who are not away and whose caseload is below
   capacity (preferring the task's care team when it has members in the pool), the one with the most spare
   capacity (lowest caseload / capacity, then lowest caseload, then lowest user id: deterministic).
3. Nobody fits: the task stays unassigned with its role, for the team lead (team view) to assign.

Caseload = distinct patients with queued tasks assigned to the member. Capacity comes from
``clinics.CareTeamMember.capacity`` (the largest over the member's teams), ``DEFAULT_CAPACITY`` without one:
one coordinator FTE carries about 50-75 complex patients, so 60.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DEFAULT_CAPACITY = 60

CLINICAL = frozenset({"provider", "nurse", "coordinator", "chw", "bh_care_manager"})
STAFF = frozenset({"nurse", "coordinator", "chw", "bh_care_manager"})

# task type -> (default role, roles that may do it)
TASK_ROLES: dict[str, tuple[str, frozenset[str]]] = {
    "enrollment_call": ("coordinator", STAFF | {"provider"}),
    "monthly_checkin": ("coordinator", STAFF | {"provider"}),
    # TCM interactive contact: clinical staff able to address status and needs beyond scheduling.
    "post_discharge_contact": ("nurse", frozenset({"nurse", "coordinator", "provider", "bh_care_manager"})),
    "followup_visit_scheduling": ("coordinator", STAFF),
    "medication_reconciliation": ("nurse", frozenset({"nurse", "provider"})),
    "care_plan_review": ("provider", frozenset({"provider", "nurse"})),
    "referral_followup": ("coordinator", STAFF),
    "care_gap_closure": ("coordinator", STAFF),
    "screening_followup": ("bh_care_manager", frozenset({"bh_care_manager", "nurse", "provider"})),
    "prior_authorization": ("coordinator", frozenset({"coordinator", "nurse"})),
    "message_response": ("nurse", frozenset({"nurse", "coordinator", "provider", "bh_care_manager"})),
    "other": ("coordinator", CLINICAL),
}


@dataclass(frozen=True)
class Candidate:
    user_id: int
    role: str
    capacity: int = DEFAULT_CAPACITY
    caseload: int = 0
    away: bool = False
    team_ids: frozenset[int] = frozenset()
    name: str = ""

    @property
    def has_room(self) -> bool:
        return self.caseload < self.capacity


@dataclass(frozen=True)
class Decision:
    user_id: int | None
    role: str
    reason: str


def default_role(task_type: str) -> str:
    return TASK_ROLES.get(task_type, TASK_ROLES["other"])[0]


def eligible_roles(task_type: str, role: str) -> frozenset[str]:
    return TASK_ROLES.get(task_type, TASK_ROLES["other"])[1] | {role}


def choose_assignee(
    *,
    task_type: str,
    role: str = "",
    designated: Candidate | None,
    candidates: Sequence[Candidate],
    care_team_id: int | None = None,
    exclude: Iterable[int] = (),
) -> Decision:
    role = role or default_role(task_type)
    excluded = frozenset(exclude)
    note = ""
    if designated is not None and designated.user_id not in excluded:
        label = designated.name or f"user {designated.user_id}"
        if designated.away:
            note = f"; designated member {label} is away"
        elif designated.role not in eligible_roles(task_type, role):
            note = f"; designated member {label} ({designated.role}) does not do {task_type}"
        else:
            return Decision(designated.user_id, role, "designated care-team member (continuity)")
    pool = [c for c in candidates if c.role == role and not c.away and c.has_room and c.user_id not in excluded]
    if care_team_id is not None:
        in_team = [c for c in pool if care_team_id in c.team_ids]
        pool = in_team or pool
    if not pool:
        return Decision(None, role, f"no {role} available within capacity: for the team lead to assign{note}")
    best = min(pool, key=lambda c: (c.caseload / max(c.capacity, 1), c.caseload, c.user_id))
    return Decision(
        best.user_id, role, f"{role} with the most spare capacity ({best.caseload}/{best.capacity} patients){note}"
    )


