"""Worklist write use-cases. Other apps call these (never the models) to create tasks and read time."""

from careloop.worklist.services.assignment import reassign_task, rebalance_for_absence, record_absence
from careloop.worklist.services.escalation import EscalationResult, escalate_overdue
from careloop.worklist.services.merge import move_patient_work
from careloop.worklist.services.notifications import mark_notifications_read
from careloop.worklist.services.outreach import log_outreach
from careloop.worklist.services.recurring import RecurringResult, run_monthly_checkins, run_recurring
from careloop.worklist.services.tasks import (
    BulkCreateResult,
    BulkOutcome,
    TaskSpec,
    bulk_action,
    change_status,
    create_task,
    create_tasks_bulk,
    snooze_task,
)
from careloop.worklist.services.time import (
    add_time_entry,
    cancel_timer,
    edit_time_entry,
    start_timer,
    stop_timer,
    void_time_entry,
)

__all__ = [
    "BulkCreateResult",
    "BulkOutcome",
    "EscalationResult",
    "RecurringResult",
    "TaskSpec",
    "add_time_entry",
    "bulk_action",
    "cancel_timer",
    "change_status",
    "create_task",
    "create_tasks_bulk",
    "edit_time_entry",
    "escalate_overdue",
    "log_outreach",
    "mark_notifications_read",
    "move_patient_work",
    "reassign_task",
    "rebalance_for_absence",
    "record_absence",
    "run_monthly_checkins",
    "run_recurring",
    "snooze_task",
    "start_timer",
    "stop_timer",
    "void_time_entry",
]
