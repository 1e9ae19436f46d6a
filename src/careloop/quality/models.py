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
