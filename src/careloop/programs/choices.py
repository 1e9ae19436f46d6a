"""Care-management programs. The program list is shared by time entries, tasks and (later) enrollment."""

from django.db import models


class Program(models.TextChoices):
    APCM = "APCM", "Advanced Primary Care Management"
    CCM = "CCM", "Chronic Care Management"
    PCM = "PCM", "Principal Care Management"
    BHI = "BHI", "Behavioral Health Integration"
    COCM = "CoCM", "Psychiatric Collaborative Care"
    RPM = "RPM", "Remote Physiologic Monitoring"
    RTM = "RTM", "Remote Therapeutic Monitoring"
    TCM = "TCM", "Transitional Care Management"


PROGRAM_CODES = frozenset(Program.values)
