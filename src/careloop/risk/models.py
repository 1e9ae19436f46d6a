"""Risk results: one current row per patient, the history of tier changes, and the runs that wrote them."""

from __future__ import annotations

from django.db import models

from careloop.core.models import OrgScopedModel
from careloop.risk.choices import RiskTier, RunKind


class RiskRun(OrgScopedModel):
    """One population refresh. ``watermark`` is the time its reads started; the next incremental run
    recomputes the patients whose data changed after it."""

    kind = models.CharField(max_length=16, choices=RunKind.choices)
    as_of = models.DateField()
    methodology_version = models.CharField(max_length=40)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    watermark = models.DateTimeField()
    patients_scored = models.IntegerField(default=0)
    tier_changes = models.IntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    actor_username = models.CharField(max_length=150)

    class Meta:
        indexes = [models.Index(fields=["organization", "finished_at"], name="riskrun_org_idx")]


class PatientRisk(OrgScopedModel):
    """The patient's current risk picture, as of ``as_of``, from ``methodology_version``."""

    patient = models.OneToOneField("registry.Patient", on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(RiskRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    as_of = models.DateField()
    methodology_version = models.CharField(max_length=40)
    tier = models.CharField(max_length=16, choices=RiskTier.choices)
    points = models.IntegerField(default=0)
    explanation = models.TextField(blank=True)
    chronic_count = models.IntegerField(default=0)
    chronic_conditions = models.JSONField(default=list, blank=True)
    ccw_categories = models.JSONField(default=list, blank=True)
    charlson = models.IntegerField(default=0)
    charlson_quan = models.IntegerField(default=0)
    charlson_age_adjusted = models.IntegerField(default=0)
    charlson_categories = models.JSONField(default=list, blank=True)
    hcc_score = models.FloatField(null=True, blank=True)
    hcc_percentile = models.FloatField(null=True, blank=True)
    hccs = models.JSONField(default=list, blank=True)
    hcc_segment = models.CharField(max_length=32, blank=True)
    ed_visits_12m = models.IntegerField(default=0)
    admissions_12m = models.IntegerField(default=0)
    readmissions_12m = models.IntegerField(default=0)
    active_medications = models.IntegerField(default=0)
    polypharmacy = models.BooleanField(default=False)
    sdoh_needs = models.JSONField(default=list, blank=True)
    bh_flags = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "tier"], name="patientrisk_tier_idx")]


class RiskTierChange(OrgScopedModel):
    """Append-only history: a row each time a patient's tier is first set or changes."""

    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(RiskRun, on_delete=models.CASCADE, related_name="+")
    from_tier = models.CharField(max_length=16, blank=True)
    to_tier = models.CharField(max_length=16, choices=RiskTier.choices)
    changed_at = models.DateTimeField()
    as_of = models.DateField()
    methodology_version = models.CharField(max_length=40)
    explanation = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "patient", "changed_at"], name="tierchange_patient_idx")]
