"""Organizations (the tenant), locations, practitioners and care teams."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from careloop.clinics.choices import PracticeType
from careloop.core.models import OrgScopedModel, TimeStampedModel


class Organization(TimeStampedModel):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    npi = models.CharField(max_length=10, blank=True)
    tin = models.CharField(max_length=9, blank=True)
    practice_type = models.CharField(max_length=16, choices=PracticeType.choices, default=PracticeType.PHYSICIAN)
    time_zone = models.CharField(max_length=64, default="America/New_York")
    require_mfa_for_staff = models.BooleanField(default=False)
    after_hours_phone = models.CharField(max_length=32, blank=True)

    def __str__(self) -> str:
        return self.name


class Location(OrgScopedModel):
    name = models.CharField(max_length=200)
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    place_of_service = models.CharField(max_length=2, default="11")

    def __str__(self) -> str:
        return self.name


class Practitioner(OrgScopedModel):
    family = models.CharField(max_length=100)
    given = models.CharField(max_length=100)
    credentials = models.CharField(max_length=32, blank=True)
    npi = models.CharField(max_length=10)
    tin = models.CharField(max_length=9, blank=True)
    specialty = models.CharField(max_length=100, blank=True)
    is_billing_practitioner = models.BooleanField(default=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="practitioner"
    )
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "npi"], name="uniq_practitioner_npi")]

    def __str__(self) -> str:
        suffix = f", {self.credentials}" if self.credentials else ""
        return f"{self.given} {self.family}{suffix}"


class CareTeam(OrgScopedModel):
    name = models.CharField(max_length=200)
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.SET_NULL)
    lead_practitioner = models.ForeignKey(Practitioner, null=True, blank=True, on_delete=models.SET_NULL)

    def __str__(self) -> str:
        return self.name


class CareTeamMember(OrgScopedModel):
    team = models.ForeignKey(CareTeam, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships")
    role = models.CharField(max_length=32)
    fte = models.DecimalField(max_digits=3, decimal_places=2, default=1)
    capacity = models.PositiveIntegerField(default=60, help_text="Complex patients this member can carry")
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="uniq_team_member")]
