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

# Programs a patient is enrolled in (TCM is episode-based, never enrolled).
ENROLLABLE = frozenset(Program.values) - {Program.TCM}


class ConsentMethod(models.TextChoices):
    VERBAL = "verbal", "Verbal"
    WRITTEN = "written", "Written"


class Disclosure(models.TextChoices):
    """cms-rules.md 2.4: what the patient must be told before APCM (and CCM, 3.1) begins."""

    AVAILABILITY = "availability", "The service is available"
    ONE_PRACTITIONER = "one_practitioner_per_month", "Only one practitioner may furnish and bill it per month"
    RIGHT_TO_STOP = "right_to_stop", "The patient may stop at any time (effective at the end of the month)"
    COST_SHARING = "cost_sharing", "Cost sharing (deductible, coinsurance) may apply"


class DeviceKind(models.TextChoices):
    RPM = "rpm", "Physiologic (RPM)"
    RTM = "rtm", "Therapeutic (RTM)"


class InitiatingVisit(models.TextChoices):
    VISIT = "visit", "Seen by the practice"
    CARE_MANAGEMENT = "care-management", "Care-management exemption"
    MISSING = "missing", "Initiating visit needed"
