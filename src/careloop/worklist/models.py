"""Care tasks, their history, outreach attempts, time entries, timers, absences, notifications, job runs.

Times are stored in UTC; ``TimeEntry.service_date`` is the clinic-local date of service (what the month's
billing reads). ``CareTask.in_queue`` mirrors ``status in QUEUE_STATUSES`` so the queue query is one range
scan of ``task_queue_idx`` in priority order, with no sort.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from careloop.core.models import OrgScopedModel
from careloop.programs.choices import Program
from careloop.worklist.choices import (
    Activity,
    Channel,
    NotificationKind,
    Outcome,
    RiskTier,
    StaffType,
    TaskEventKind,
    TaskStatus,
    TaskType,
    TimeSource,
)

USER = settings.AUTH_USER_MODEL


class CareTask(OrgScopedModel):
    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    task_type = models.CharField(max_length=32, choices=TaskType.choices)
    reason = models.CharField(max_length=500)
    source_type = models.CharField(max_length=64, blank=True, help_text="what created it, e.g. Encounter")
    source_id = models.CharField(max_length=128, blank=True)
    dedupe_key = models.CharField(max_length=200, help_text="unique per organization: one task per trigger")
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.REQUESTED)
    status_reason = models.CharField(max_length=300, blank=True)
    in_queue = models.BooleanField(default=True, help_text="status is requested, ready or in-progress")
    due_at = models.DateTimeField()
    deadline_at = models.DateTimeField(null=True, blank=True, help_text="regulatory deadline, if any")
    priority = models.PositiveSmallIntegerField(default=0)
    priority_explanation = models.JSONField(default=list, blank=True)
    priority_valid_until = models.DateTimeField(null=True, blank=True, help_text="when the urgency band changes")
    risk_tier = models.CharField(max_length=16, choices=RiskTier.choices, default=RiskTier.MODERATE)
    value_note = models.CharField(max_length=300, blank=True)
    at_risk = models.BooleanField(default=False, help_text="the regulatory deadline is about to be missed")
    escalation_level = models.PositiveSmallIntegerField(default=0)
    escalated_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    program = models.CharField(max_length=8, choices=Program.choices, blank=True)
    assigned_role = models.CharField(max_length=32, blank=True)
    assigned_user = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assignment_reason = models.CharField(max_length=300, blank=True)
    care_team = models.ForeignKey("clinics.CareTeam", null=True, blank=True, on_delete=models.SET_NULL)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "dedupe_key"], name="uniq_task_dedupe_key"),
            models.CheckConstraint(condition=Q(priority__lte=100), name="task_priority_max_100"),
        ]
        indexes = [
            # "My queue": equality on the first three, then already in priority order.
            models.Index(
                fields=["organization", "assigned_user", "in_queue", "-priority", "due_at", "id"],
                name="task_queue_idx",
            ),
            models.Index(fields=["organization", "patient", "status"], name="task_patient_idx"),
            models.Index(fields=["organization", "in_queue", "due_at"], name="task_due_idx"),
            models.Index(fields=["organization", "in_queue", "priority_valid_until"], name="task_reprioritize_idx"),
        ]


class TaskEvent(OrgScopedModel):
    """The task's history: every status change, (re)assignment, snooze and escalation, with who and why."""

    task = models.ForeignKey(CareTask, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=16, choices=TaskEventKind.choices)
    actor_user = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=150)
    from_value = models.CharField(max_length=150, blank=True)
    to_value = models.CharField(max_length=150, blank=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["task", "at"], name="task_event_task_idx")]


class StaffAbsence(OrgScopedModel):
    """A staff member is away on the clinic-local days [start, end] (inclusive)."""

    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="absences")
    start = models.DateField()
    end = models.DateField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="absence_end_after_start")]
        indexes = [models.Index(fields=["organization", "end", "start"], name="absence_period_idx")]


class Notification(OrgScopedModel):
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="worklist_notifications")
    task = models.ForeignKey(CareTask, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=NotificationKind.choices)
    text = models.CharField(max_length=500)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "read_at", "created_at"], name="notification_user_idx")]


class OutreachAttempt(OrgScopedModel):
    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey(CareTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="attempts")
    user = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()
    channel = models.CharField(max_length=16, choices=Channel.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    note = models.TextField(blank=True)
    script_key = models.CharField(max_length=32, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "patient", "at"], name="outreach_patient_idx")]


class TimeEntry(OrgScopedModel):
    """Minutes of care-management work: the unit the monthly billing run reads. Never deleted: voided."""

    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    staff = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    staff_type = models.CharField(max_length=24, choices=StaffType.choices)
    minutes = models.PositiveIntegerField()
    activity = models.CharField(max_length=32, choices=Activity.choices)
    program = models.CharField(max_length=8, choices=Program.choices)
    interactive = models.BooleanField(default=False, help_text="real-time interactive communication")
    service_date = models.DateField(help_text="clinic-local date of service")
    started_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    source = models.CharField(max_length=16, choices=TimeSource.choices, default=TimeSource.MANUAL)
    task = models.ForeignKey(CareTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    outreach = models.ForeignKey(OutreachAttempt, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    voided = models.BooleanField(default=False)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    void_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(minutes__gte=1), name="time_entry_minutes_positive")]
        indexes = [
            models.Index(fields=["organization", "service_date", "patient", "program"], name="time_month_idx"),
            models.Index(fields=["organization", "patient", "service_date"], name="time_patient_idx"),
        ]


class TimeEntryRevision(models.Model):
    """One edit or void of a time entry: who, when, why, and the values before (and after) the change."""

    entry = models.ForeignKey(TimeEntry, on_delete=models.CASCADE, related_name="revisions")
    at = models.DateTimeField()
    user = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=150)
    reason = models.CharField(max_length=300)
    old_values = models.JSONField()
    new_values = models.JSONField()


class RunningTimer(OrgScopedModel):
    """A started, not yet stopped, timer: one per user, kept server-side so it survives page navigation."""

    user = models.OneToOneField(USER, on_delete=models.CASCADE, related_name="running_timer")
    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField()
    program = models.CharField(max_length=8, choices=Program.choices)
    activity = models.CharField(max_length=32, choices=Activity.choices, default=Activity.CARE_COORDINATION)
    task = models.ForeignKey(CareTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")


class ScheduledJobRun(models.Model):
    """A run of a periodic job for one period. The unique (job, period_key) row is the lock that keeps two
    schedulers from running the same period twice. Not PHI, not per organization."""

    job = models.CharField(max_length=64)
    period_key = models.CharField(max_length=32)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, default="running")
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "period_key"], name="uniq_job_period")]
