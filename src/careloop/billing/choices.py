"""Billing enums: claim-line status and the correction ledger's kinds."""

from django.db import models


class LineStatus(models.TextChoices):
    BILLABLE = "billable", "Billable"
    DENIED = "denied", "Denied by a rule"
    FLAGGED = "flagged", "Held for review"
    VOID = "void", "Voided (superseded by a correction)"


# Lines that are part of the month's current answer (a void line never is).
ACTIVE_STATUSES = (LineStatus.BILLABLE, LineStatus.DENIED, LineStatus.FLAGGED)


class Setting(models.TextChoices):
    NON_FACILITY = "non_facility", "Non-facility (office)"
    FACILITY = "facility", "Facility"


# Places of service billed at the facility rate (hospital outpatient/inpatient, provider-based clinic, SNF).
FACILITY_POS = frozenset({"19", "21", "22", "23", "31", "51", "52", "56", "61"})
