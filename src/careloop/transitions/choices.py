"""Transition-of-care enums."""

from __future__ import annotations

from django.db import models


class Setting(models.TextChoices):
    INPATIENT = "inpatient", "Inpatient"
    OBSERVATION = "observation", "Observation"
    SNF = "snf", "Skilled nursing facility"
    EMERGENCY = "emergency", "Emergency department"


class EpisodeStatus(models.TextChoices):
    ADMITTED = "admitted", "In hospital"
    OPEN = "open", "Discharged, in follow-up"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class ChecklistItem(models.TextChoices):
    CONTACT = "post_discharge_contact", "Interactive contact"
    VISIT = "followup_visit_scheduling", "Face-to-face visit"
    MEDREC = "medication_reconciliation", "Medication reconciliation"
    CAREPLAN = "care_plan_review", "Care plan review"
