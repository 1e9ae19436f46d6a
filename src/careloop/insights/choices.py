"""Insights enums: the sections of the revenue CSV."""

from django.db import models


class CsvSection(models.TextChoices):
    PROGRAM = "program", "One program (and APCM level)"
    TOTAL = "total", "All programs"
    CURRENT = "current", "The month as it is: actual revenue, FTE, staffing need"
    SCENARIO = "scenario", "An enrollment projection"
