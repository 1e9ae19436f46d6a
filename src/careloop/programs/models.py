"""Program rows. This issue adds only the designated care-team member (APCM/CCM continuity of care);
eligibility, enrollment and consent come with the programs issue."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from careloop.core.models import OrgScopedModel


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
