"""Worklist enums and the task status transition table (FHIR R4 Task.status codes, a subset)."""

from __future__ import annotations

from django.db import models


class TaskType(models.TextChoices):
    ENROLLMENT_CALL = "enrollment_call", "Enrollment call"
    MONTHLY_CHECKIN = "monthly_checkin", "Monthly check-in"
    POST_DISCHARGE_CONTACT = "post_discharge_contact", "Post-discharge contact"
    FOLLOWUP_VISIT_SCHEDULING = "followup_visit_scheduling", "Follow-up visit scheduling"
    MEDICATION_RECONCILIATION = "medication_reconciliation", "Medication reconciliation"
    CARE_PLAN_REVIEW = "care_plan_review", "Care plan review"
    REFERRAL_FOLLOWUP = "referral_followup", "Referral follow-up"
    CARE_GAP_CLOSURE = "care_gap_closure", "Care gap closure"
    SCREENING_FOLLOWUP = "screening_followup", "Screening follow-up"
    PRIOR_AUTHORIZATION = "prior_authorization", "Prior authorization"
    MESSAGE_RESPONSE = "message_response", "Message response"
    OTHER = "other", "Other"


class TaskStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    READY = "ready", "Ready"
    IN_PROGRESS = "in-progress", "In progress"
    ON_HOLD = "on-hold", "On hold"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


S = TaskStatus
# Which status may follow which. Terminal statuses (completed, cancelled, failed) have no way out: a new
# trigger creates a new task. Nothing goes back to "requested" (it means "not yet looked at").
TRANSITIONS: dict[str, frozenset[str]] = {
    S.REQUESTED: frozenset({S.READY, S.IN_PROGRESS, S.ON_HOLD, S.COMPLETED, S.CANCELLED, S.FAILED}),
    S.READY: frozenset({S.IN_PROGRESS, S.ON_HOLD, S.COMPLETED, S.CANCELLED, S.FAILED}),
    S.IN_PROGRESS: frozenset({S.READY, S.ON_HOLD, S.COMPLETED, S.CANCELLED, S.FAILED}),
    S.ON_HOLD: frozenset({S.READY, S.IN_PROGRESS, S.COMPLETED, S.CANCELLED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.FAILED: frozenset(),
}
# Statuses that put a task in somebody's queue (``CareTask.in_queue``). On-hold tasks wait outside it.
QUEUE_STATUSES = frozenset({S.REQUESTED, S.READY, S.IN_PROGRESS})
OPEN_STATUSES = QUEUE_STATUSES | {S.ON_HOLD}
TERMINAL_STATUSES = frozenset({S.COMPLETED, S.CANCELLED, S.FAILED})
# Moving into these needs a reason (kept in the task's history).
REASON_REQUIRED = frozenset({S.ON_HOLD, S.CANCELLED, S.FAILED})


class RiskTier(models.TextChoices):
    HIGH = "high", "High"
    RISING = "rising", "Rising"
    MODERATE = "moderate", "Moderate"
    LOW = "low", "Low"


class TaskEventKind(models.TextChoices):
    CREATED = "created", "Created"
    STATUS_CHANGED = "status_changed", "Status changed"
    ASSIGNED = "assigned", "Assigned"
    REASSIGNED = "reassigned", "Reassigned"
    SNOOZED = "snoozed", "Snoozed"
    ESCALATED = "escalated", "Escalated"
    AT_RISK = "at_risk", "Flagged at risk"
    NOTE = "note", "Note"


class Channel(models.TextChoices):
    PHONE = "phone", "Phone"
    SMS = "sms", "Text message"
    PORTAL_MESSAGE = "portal_message", "Portal message"
    LETTER = "letter", "Letter"
    IN_PERSON = "in_person", "In person"
    VIDEO = "video", "Video"


class Outcome(models.TextChoices):
    REACHED = "reached", "Reached"
    LEFT_MESSAGE = "left_message", "Left message"
    NO_ANSWER = "no_answer", "No answer"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    DECLINED = "declined", "Declined"


class StaffType(models.TextChoices):
    CLINICAL_STAFF = "clinical_staff", "Clinical staff"
    BILLING_PRACTITIONER = "billing_practitioner", "Billing practitioner"


class Activity(models.TextChoices):
    CARE_PLAN = "care_plan", "Care plan"
    MEDICATION_MANAGEMENT = "medication_management", "Medication management"
    CARE_COORDINATION = "care_coordination", "Care coordination"
    PATIENT_EDUCATION = "patient_education", "Patient education"
    CAREGIVER_COMMUNICATION = "caregiver_communication", "Caregiver communication"
    OUTREACH = "outreach", "Outreach"
    DOCUMENTATION_REVIEW = "documentation_review", "Documentation review"
    OTHER = "other", "Other"


class TimeSource(models.TextChoices):
    MANUAL = "manual", "Entered by hand"
    TIMER = "timer", "Timer"
    OUTREACH = "outreach", "Logged with an outreach attempt"


class NotificationKind(models.TextChoices):
    ESCALATION = "escalation", "Overdue task escalated"
    AT_RISK = "at_risk", "Regulatory deadline at risk"
    REASSIGNED = "reassigned", "Task reassigned to you"
