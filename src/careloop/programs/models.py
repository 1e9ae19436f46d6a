"""Program rows: the designated care-team member, eligibility decisions, enrollments with consent, device days."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from careloop.core.models import OrgScopedModel
from careloop.programs.choices import ConsentMethod, DeviceKind, Program


class DesignatedCareMember(OrgScopedModel):
    """The patient's designated member of the care team over a period of days (clinic-local dates).

    ``until`` is the last day of the designation (inclusive) or null while it is current. At most one current
    designation per patient (a partial unique constraint); history is kept by closing rows, never deleting.
    """

    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="designated_patients")
    since = models.DateField()
    until = models.DateField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "patient"], condition=Q(until__isnull=True), name="uniq_current_designation"
            ),
            models.CheckConstraint(
                condition=Q(until__isnull=True) | Q(until__gte=models.F("since")), name="designation_until_after_since"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "patient", "since"], name="designation_patient_idx"),
            models.Index(fields=["organization", "user", "until"], name="designation_user_idx"),
        ]


class EligibilityDecision(OrgScopedModel):
    """One patient-month-program eligibility decision with the rule ids and the facts used (recomputed set-based
    by ``careloop programs eligibility --month YYYY-MM``; a recompute replaces the month's rows)."""

    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    month = models.CharField(max_length=7, help_text="YYYY-MM")
    program = models.CharField(max_length=8, choices=Program.choices)
    eligible = models.BooleanField(default=False)
    level = models.CharField(max_length=8, blank=True, help_text="APCM code G0556/G0557/G0558")
    rule_ids = models.JSONField(default=list, blank=True)
    facts = models.JSONField(default=dict, blank=True)
    signals = models.JSONField(default=list, blank=True)
    ruleset = models.CharField(max_length=40)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "patient", "month", "program"], name="uniq_eligibility")
        ]
        indexes = [models.Index(fields=["organization", "month", "program", "eligible"], name="eligibility_month_idx")]


class Enrollment(OrgScopedModel):
    """A patient's enrollment in a care-management program. ``end`` is the last day (inclusive); disenrollment
    takes effect at the end of the calendar month it is requested in."""

    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    program = models.CharField(max_length=8, choices=Program.choices)
    start = models.DateField()
    end = models.DateField(null=True, blank=True)
    billing_practitioner = models.ForeignKey("clinics.Practitioner", on_delete=models.PROTECT, related_name="+")
    designation = models.ForeignKey(
        DesignatedCareMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    initiating_visit = models.CharField(max_length=24, default="missing", help_text="visit | care-management | missing")
    initiating_visit_on = models.DateField(null=True, blank=True)
    end_requested_on = models.DateField(null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)
    enrolled_by = models.CharField(max_length=150)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "patient", "program"], condition=Q(end__isnull=True),
                name="uniq_open_enrollment",
            ),
            models.CheckConstraint(condition=Q(end__isnull=True) | Q(end__gte=models.F("start")),
                                   name="enrollment_end_after_start"),
        ]
        indexes = [models.Index(fields=["organization", "program", "end"], name="enrollment_program_idx")]


class ProgramConsent(OrgScopedModel):
    """The consent behind an enrollment: method, the disclosures made, who obtained it and when."""

    enrollment = models.OneToOneField(Enrollment, on_delete=models.CASCADE, related_name="consent")
    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    program = models.CharField(max_length=8, choices=Program.choices)
    method = models.CharField(max_length=8, choices=ConsentMethod.choices)
    disclosures = models.JSONField(default=list)
    obtained_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    obtained_at = models.DateTimeField()
    evidence = models.TextField(blank=True)


class DeviceDayCount(OrgScopedModel):
    """Days with remote-monitoring data (RPM physiologic, RTM therapeutic). Manual entry until a device feed
    populates it; one row per patient, kind and day."""

    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=4, choices=DeviceKind.choices)
    day = models.DateField()
    readings = models.PositiveIntegerField(default=1)
    source = models.CharField(max_length=16, default="manual")
    entered_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "patient", "kind", "day"], name="uniq_device_day")
        ]
