"""Base models shared by every domain app. No domain logic here."""

from __future__ import annotations

from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class OrgScopedModel(TimeStampedModel):
    """A row that belongs to one organization (the tenant). Every PHI row derives from this."""

    organization = models.ForeignKey("clinics.Organization", on_delete=models.PROTECT, related_name="+")

    class Meta:
        abstract = True
