"""Value sets supplied by the deployer (FHIR ValueSet expansions), stored for the registry evaluation path.

Terminology, not PHI: these rows belong to no organization. careloop ships none of them (VSAC content holds
licensed CPT, SNOMED CT and LOINC codes); ``careloop valuesets load DIR`` fills them.
"""

from __future__ import annotations

from django.db import models

from careloop.core.models import TimeStampedModel


class ValueSet(TimeStampedModel):
    url = models.CharField(max_length=255, unique=True, help_text="canonical URL, without |version")
    version = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=500, blank=True, help_text="file it was loaded from")
    content_hash = models.CharField(max_length=64)
    code_count = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name or self.url} ({self.version})"


class ValueSetCode(models.Model):
    value_set = models.ForeignKey(ValueSet, on_delete=models.CASCADE, related_name="codes")
    system = models.CharField(max_length=255)
    code = models.CharField(max_length=128)
    display = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["value_set", "system", "code"], name="quality_vscode_unique"),
        ]
        indexes = [models.Index(fields=["system", "code"], name="quality_vscode_code_idx")]

    def __str__(self) -> str:
        return f"{self.system}|{self.code}"


class MeasureResult(models.Model):
    """One patient's populations for one measure group and measurement period, written set-based by the population
    job (``population.run_population``), which replaces the period's rows for the measures it ran."""

    organization = models.ForeignKey("clinics.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    measure = models.CharField(max_length=32)
    group = models.CharField(max_length=64, default="Group_1")
    period_start = models.DateField()
    period_end = models.DateField()
    populations = models.JSONField(default=dict)
    stratum = models.CharField(max_length=64, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["organization", "period_start", "period_end", "measure"], name="qresult_period_idx"),
            models.Index(fields=["organization", "patient"], name="qresult_patient_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.measure} {self.period_start}:{self.period_end} patient {self.patient_id}"


class GapStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class CareGap(models.Model):
    """A patient's care gap for one measure group and period: open (in the denominator, not met; or, for an inverse
    measure, in its numerator) or closed (met), refreshed by the population job."""

    organization = models.ForeignKey("clinics.Organization", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    measure = models.CharField(max_length=32)
    group = models.CharField(max_length=64, default="Group_1")
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=8, choices=GapStatus.choices)
    missing = models.TextField(blank=True)
    closes_by = models.TextField(blank=True, help_text="what would close the gap")
    due = models.DateField(null=True, blank=True)
    evidence = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["organization", "period_start", "period_end", "status"], name="qgap_period_idx"),
            models.Index(fields=["organization", "patient"], name="qgap_patient_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.measure} {self.status} patient {self.patient_id}"
