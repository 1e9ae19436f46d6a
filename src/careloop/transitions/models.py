"""Transition episodes: one per discharge (or per stay still in hospital), with their deadlines and checklist."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from careloop.core.models import OrgScopedModel
from careloop.transitions.choices import EpisodeStatus, Setting


class TransitionEpisode(OrgScopedModel):
    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    encounter = models.OneToOneField("registry.Encounter", on_delete=models.CASCADE, related_name="+")
    setting = models.CharField(max_length=16, choices=Setting.choices)
    status = models.CharField(max_length=16, choices=EpisodeStatus.choices, default=EpisodeStatus.ADMITTED)
    facility = models.CharField(max_length=200, blank=True)
    admitted_at = models.DateTimeField(null=True, blank=True)
    discharged_at = models.DateTimeField(null=True, blank=True)
    disposition = models.CharField(max_length=32, blank=True)
    tcm_eligible = models.BooleanField(default=True, help_text="False after discharge to SNF, hospice or death")
    contact_due = models.DateTimeField(null=True, blank=True)
    followup_due = models.DateTimeField(null=True, blank=True)
    visit_due_high = models.DateTimeField(null=True, blank=True)
    visit_due_moderate = models.DateTimeField(null=True, blank=True)
    medrec_due = models.DateTimeField(null=True, blank=True)
    readmission_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="readmissions")
    # checklist: when and by whom each element was done
    contact_done = models.BooleanField(default=False)
    contact_at = models.DateTimeField(null=True, blank=True)
    contact_note = models.CharField(max_length=300, blank=True)
    visit_encounter = models.ForeignKey("registry.Encounter", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    visit_at = models.DateTimeField(null=True, blank=True)
    medrec_at = models.DateTimeField(null=True, blank=True)
    medrec_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    care_plan_reviewed_at = models.DateTimeField(null=True, blank=True)
    care_plan_reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                              on_delete=models.SET_NULL, related_name="+")
    cancelled_reason = models.CharField(max_length=100, blank=True)
    revision = models.PositiveIntegerField(default=1, help_text="bumped when a cancelled discharge is redone")

    class Meta:
        indexes = [
            models.Index(fields=["organization", "status", "contact_due"], name="episode_board_idx"),
            models.Index(fields=["organization", "patient", "discharged_at"], name="episode_patient_idx"),
        ]


class DischargeMedication(OrgScopedModel):
    """A medication on the hospital's discharge list (FHIR MedicationRequest/Statement, or typed in)."""

    episode = models.ForeignKey(TransitionEpisode, on_delete=models.CASCADE, related_name="discharge_meds")
    rxnorm = models.CharField(max_length=32, blank=True)
    display = models.CharField(max_length=300)
    dosage = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=16, default="manual")


class PendingEpisodeSync(OrgScopedModel):
    """Durable work queue: an encounter whose discharge state changed (an ADT discharge, cancelled discharge or
    cancelled stay). Written in the same transaction as the encounter change; the transitions worker brings the
    encounter's episode and tasks in line and deletes the row in one transaction, so after a crash nothing is
    lost and nothing is applied twice (the episode is one per encounter, its tasks keyed per revision)."""

    encounter = models.ForeignKey("registry.Encounter", on_delete=models.CASCADE, related_name="+")
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
