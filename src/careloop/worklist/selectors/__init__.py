"""Worklist read queries, scoped to one organization."""

from careloop.worklist.selectors.outreach import contact_history, patients_contacted_in_month, tcm_contact_evidence
from careloop.worklist.selectors.tasks import (
    QueueFilters,
    assignment_candidates,
    caseloads,
    notifications_for,
    organization_zone,
    patient_open_tasks,
    queue,
    risk_tiers,
    task_by_id,
    task_events,
    team_workload,
    upcoming_absences,
)
from careloop.worklist.selectors.time import (
    minutes_by_program,
    patient_month_minutes,
    patient_time_entries,
    running_timer,
    time_entry_revisions,
)

__all__ = [
    "QueueFilters",
    "assignment_candidates",
    "caseloads",
    "contact_history",
    "minutes_by_program",
    "notifications_for",
    "organization_zone",
    "patient_month_minutes",
    "patient_open_tasks",
    "patient_time_entries",
    "patients_contacted_in_month",
    "queue",
    "risk_tiers",
    "running_timer",
    "task_by_id",
    "task_events",
    "tcm_contact_evidence",
    "team_workload",
    "time_entry_revisions",
    "upcoming_absences",
]
