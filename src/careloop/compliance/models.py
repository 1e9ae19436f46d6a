"""Practice capabilities with effective dates and evidence, and each billing clinician's performance-measurement
pathway per performance year. Neither holds PHI; both are organization-scoped and every write is audited."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from careloop.compliance.choices import CapabilityKey, PerformancePathway
from careloop.core.models import OrgScopedModel


class PracticeCapability(OrgScopedModel):
    """One capability (cms-rules 2.6) in force from ``effective_from`` to ``effective_to`` (inclusive; null while
    current). Recording a new period for a key closes the open one the day before (history is never deleted)."""

    key = models.CharField(max_length=40, choices=CapabilityKey.choices)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    evidence = models.TextField(help_text="what proves the capability: policy, schedule, system, report")
    evidence_link = models.CharField(max_length=500, blank=True, help_text="URL or file reference")
    recorded_by = models.CharField(max_length=150)
    recorded_by_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=models.F("effective_from")),
                name="capability_to_after_from",
            ),
        ]
        indexes = [models.Index(fields=["organization", "key", "effective_from"], name="capability_key_idx")]

    def __str__(self) -> str:
        return f"{self.key} {self.effective_from}..{self.effective_to or ''}"


class ClinicianPathway(OrgScopedModel):
    """A billing practitioner's APCM performance-measurement pathway for one performance year (APCM-011)."""

    practitioner = models.ForeignKey("clinics.Practitioner", on_delete=models.PROTECT, related_name="+")
    performance_year = models.PositiveSmallIntegerField()
    pathway = models.CharField(max_length=32, choices=PerformancePathway.choices)
    evidence = models.TextField(blank=True)
    evidence_link = models.CharField(max_length=500, blank=True)
    recorded_by = models.CharField(max_length=150)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "practitioner", "performance_year"],
                                    name="uniq_clinician_pathway_year"),
        ]


class MonthlyAttestation(OrgScopedModel):
    """An affirmative statement that the APCM elements were available to the patient in a month with no other
    documented activity (the conservative monthly-activity policy of cms-rules 2.7). One per patient-month."""

    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    month = models.CharField(max_length=7, help_text="YYYY-MM")
    statement = models.TextField()
    attested_by = models.CharField(max_length=150)
    attested_by_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "patient", "month"], name="uniq_monthly_attestation"),
        ]
        indexes = [models.Index(fields=["organization", "month"], name="attestation_month_idx")]
