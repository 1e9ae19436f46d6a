"""Billing rows: the monthly run, one decision per patient-month (with its trace), claim lines with prices,
the correction ledger, per-organization billing settings and the fee schedule."""

from __future__ import annotations

from django.db import models

from careloop.billing.choices import LineStatus
from careloop.core.models import OrgScopedModel, TimeStampedModel


class BillingSettings(OrgScopedModel):
    """How an organization bills. The practice type itself (physician / RHC / FQHC) is the organization's
    ``practice_type``; RHCs and FQHCs bill institutional claims (837I, cms-rules 2.12 and 4), so the 837P export
    refuses them."""

    locality = models.CharField(max_length=16, default="national", help_text="fee-schedule locality (GPCI)")
    place_of_service = models.CharField(max_length=2, default="11", help_text="default POS for claim lines")
    strict = models.BooleanField(default=False, help_text="deny_if_config_strict_else_flag rules deny")
    qp_npis = models.JSONField(default=list, blank=True, help_text="NPIs of qualifying APM participants (QP CF)")
    receiver_name = models.CharField(max_length=60, default="MEDICARE PART B")
    receiver_id = models.CharField(max_length=15, default="MEDICARE")
    payer_id = models.CharField(max_length=15, default="MEDICARE")
    address_line = models.CharField(max_length=55, blank=True)
    city = models.CharField(max_length=30, blank=True)
    state = models.CharField(max_length=2, blank=True)
    postal_code = models.CharField(max_length=9, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="uniq_billing_settings")]


class BillingRun(OrgScopedModel):
    month = models.CharField(max_length=7, help_text="YYYY-MM")
    ruleset = models.CharField(max_length=40)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    actor_username = models.CharField(max_length=150)
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "month"], name="billingrun_month_idx")]


class PatientMonthDecision(OrgScopedModel):
    """The current decision for one patient-month: the engine's answer and trace, the facts it used and their
    hash. ``revision`` goes up each time changed facts change the answer (the ledger keeps what was before)."""

    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    month = models.CharField(max_length=7)
    ruleset = models.CharField(max_length=40)
    revision = models.PositiveIntegerField(default=1)
    facts_hash = models.CharField(max_length=64)
    facts = models.JSONField(default=dict, blank=True)
    decision = models.JSONField(default=dict, blank=True)
    run = models.ForeignKey(BillingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "patient", "month"], name="uniq_patient_month_decision")
        ]
        indexes = [models.Index(fields=["organization", "month"], name="decision_month_idx")]


class ClaimLine(OrgScopedModel):
    """One code for one patient-month: billable, denied, held for review, or void (superseded). Lines are never
    deleted or edited in place after a run; a changed answer voids them and adds replacements."""

    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    month = models.CharField(max_length=7)
    decision = models.ForeignKey(PatientMonthDecision, on_delete=models.CASCADE, related_name="lines")
    revision = models.PositiveIntegerField(default=1)
    code = models.CharField(max_length=8)
    units = models.PositiveIntegerField(default=1)
    practitioner = models.ForeignKey("clinics.Practitioner", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    service_date = models.DateField(null=True, blank=True)
    place_of_service = models.CharField(max_length=2, default="11")
    diagnoses = models.JSONField(default=list, blank=True)
    rule_ids = models.JSONField(default=list, blank=True)
    reason = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=LineStatus.choices)
    allowed_amount = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    patient_share = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    amount = models.DecimalField(max_digits=10, decimal_places=2, default=0, help_text="charge on the claim")
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "month", "status"], name="claimline_month_idx"),
            models.Index(fields=["organization", "patient", "month"], name="claimline_patient_idx"),
        ]


class ClaimCorrection(OrgScopedModel):
    """The ledger: a re-run whose facts changed the month's answer. Lists the lines voided and the lines added,
    and why (which facts changed)."""

    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    month = models.CharField(max_length=7)
    run = models.ForeignKey(BillingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    from_revision = models.PositiveIntegerField()
    to_revision = models.PositiveIntegerField()
    reason = models.TextField()
    voided = models.JSONField(default=list, blank=True, help_text="[{id, code, units, status}]")
    added = models.JSONField(default=list, blank=True, help_text="[{code, units, status}]")
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["organization", "month"], name="correction_month_idx")]


class FeeScheduleEntry(TimeStampedModel):
    """Allowed amounts for one code in one locality and year (reference data, not PHI), loaded from a CMS PFS
    relative-value file and GPCIs (``careloop billing fees load``). Codes absent here fall back to the shipped
    CY national table (billing/data)."""

    year = models.PositiveIntegerField()
    locality = models.CharField(max_length=16)
    code = models.CharField(max_length=8)
    modifier = models.CharField(max_length=2, blank=True)
    nf_amount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    f_amount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    nf_amount_qp = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    f_amount_qp = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["year", "locality", "code", "modifier"], name="uniq_fee_entry")
        ]
