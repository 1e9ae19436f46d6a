"""Portal accounts, proxy (caregiver) access, partner shares, secure messages, after-hours protocol and on-call."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from careloop.access.choices import ContactChannel, MessageSender, NoticeMethod, PartnerKind
from careloop.core.models import OrgScopedModel

USER = settings.AUTH_USER_MODEL
PATIENT = "registry.Patient"


class PortalAccount(OrgScopedModel):
    """The portal user who *is* the patient."""

    patient = models.ForeignKey(PATIENT, on_delete=models.CASCADE, related_name="+")
    user = models.OneToOneField(USER, on_delete=models.CASCADE, related_name="+")


class ProxyAccess(OrgScopedModel):
    """A caregiver may see the patient's plan and message for them, with the patient's consent, until revoked."""

    patient = models.ForeignKey(PATIENT, on_delete=models.CASCADE, related_name="+")
    caregiver = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    relationship = models.CharField(max_length=64, blank=True)
    consent_date = models.DateField()
    revoked = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(null=True, blank=True)


class PartnerShare(OrgScopedModel):
    """Scoped, expiring read/comment access for an external partner to one patient's plans (or one plan)."""

    patient = models.ForeignKey(PATIENT, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey("careplans.CarePlan", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    partner = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    partner_kind = models.CharField(max_length=16, choices=PartnerKind.choices)
    expires_at = models.DateTimeField()
    revoked = models.BooleanField(default=False)
    shared_by = models.CharField(max_length=150)


class AfterHoursProtocol(OrgScopedModel):
    """The practice's after-hours protocol; the latest row is in force."""

    nurse_line_phone = models.CharField(max_length=40)
    instructions = models.TextField()
    office_open = models.TimeField(default="08:00")
    office_close = models.TimeField(default="17:00")
    response_business_days = models.PositiveSmallIntegerField(default=1)


class OnCallShift(OrgScopedModel):
    clinician = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    phone = models.CharField(max_length=40, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "starts_at"], name="oncall_start_idx")]


class AccessNotice(OrgScopedModel):
    """Evidence that the patient was told how to reach the team 24/7 (APCM element 3)."""

    patient = models.ForeignKey(PATIENT, on_delete=models.CASCADE, related_name="+")
    told_on = models.DateField()
    method = models.CharField(max_length=16, choices=NoticeMethod.choices)
    recorded_by = models.CharField(max_length=150)
    note = models.CharField(max_length=300, blank=True)


class SecureMessage(OrgScopedModel):
    patient = models.ForeignKey(PATIENT, on_delete=models.CASCADE, related_name="+")
    sender = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sender_name = models.CharField(max_length=150)
    sender_kind = models.CharField(max_length=16, choices=MessageSender.choices)
    body = models.TextField()
    sent_at = models.DateTimeField()
    urgent_terms = models.JSONField(default=list)
    after_hours = models.BooleanField(default=False)
    task_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "patient", "sent_at"], name="message_patient_idx")]


class AfterHoursContact(OrgScopedModel):
    """A contact outside office hours, written to the chart and followed up the next business morning."""

    patient = models.ForeignKey(PATIENT, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16, choices=ContactChannel.choices)
    occurred_at = models.DateTimeField()
    handled_by = models.CharField(max_length=150)
    summary = models.TextField()
    message = models.ForeignKey(SecureMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    followup_task_id = models.BigIntegerField(null=True, blank=True)
