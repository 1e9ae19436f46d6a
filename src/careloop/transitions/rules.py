"""Transition-of-care rules (cms-rules 3.3 TCM, 2.6 APCM follow-up). Pure: no database, no clock.

Deadlines are clinic-local: the interactive contact is due by the end of the 2nd business day after the
discharge day (weekends and federal holidays excluded), the APCM follow-up communication within 7 calendar
days, and the TCM face-to-face visit by day 7 (99496, high MDM) or day 14 (99495, moderate MDM); the discharge
day is day 0. Medication reconciliation is due by the visit.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from careloop.core.clock import add_business_days

# Dispositions (HL7 table 0112 codes and FHIR discharge-disposition codes) after which no TCM clock starts:
# the patient went on to a facility (SNF), to hospice, or died. Coordination tasks are still created.
NO_TCM_DISPOSITIONS = frozenset({"03", "snf", "50", "51", "hosp", "20", "exp"})
SETTING_BY_CLASS = {"IMP": "inpatient", "OBSENC": "observation", "EMER": "emergency", "SNF": "snf"}
READMISSION_DAYS = 30
TASK_TYPES = ("post_discharge_contact", "followup_visit_scheduling", "medication_reconciliation", "care_plan_review")


def setting_for(class_code: str, facility: str = "") -> str | None:
    """The episode setting for an encounter class, or None when the encounter opens no episode."""
    if class_code == "IMP" and re.search(r"\b(snf|skilled nursing)\b", facility, re.IGNORECASE):
        return "snf"
    return SETTING_BY_CLASS.get(class_code)


def starts_tcm_clock(disposition: str) -> bool:
    return disposition.strip().lower() not in NO_TCM_DISPOSITIONS


@dataclass(frozen=True)
class Deadlines:
    contact_due: dt.datetime  # end of the 2nd business day after discharge
    followup_due: dt.datetime  # APCM follow-up communication: end of day 7
    visit_due_high: dt.datetime  # TCM 99496: end of day 7
    visit_due_moderate: dt.datetime  # TCM 99495: end of day 14
    medrec_due: dt.datetime  # by the visit (the later window)
    care_plan_due: dt.datetime  # with the visit


def _end_of(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), zone)


def contact_due_date(discharge_day: dt.date) -> dt.date:
    return add_business_days(discharge_day, 2)


def deadlines(discharged_at: dt.datetime, zone: ZoneInfo) -> Deadlines:
    day = discharged_at.astimezone(zone).date()
    d7 = _end_of(day + dt.timedelta(days=7), zone)
    d14 = _end_of(day + dt.timedelta(days=14), zone)
    return Deadlines(
        contact_due=_end_of(contact_due_date(day), zone), followup_due=d7, visit_due_high=d7,
        visit_due_moderate=d14, medrec_due=d14, care_plan_due=d14,
    )


def is_readmission(previous_discharge: dt.datetime | None, admit: dt.datetime | None) -> bool:
    if previous_discharge is None or admit is None:
        return False
    return dt.timedelta(0) <= admit - previous_discharge <= dt.timedelta(days=READMISSION_DAYS)


def remaining(due: dt.datetime, now: dt.datetime) -> str:
    """A countdown for the board: "2d 3h", "5h", or "overdue 1d"."""
    delta = due - now
    seconds = int(abs(delta.total_seconds()))
    days, hours = seconds // 86400, (seconds % 86400) // 3600
    text = f"{days}d {hours}h" if days else f"{hours}h"
    return f"overdue {text}" if delta.total_seconds() < 0 else text


# ---- medication reconciliation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Med:
    rxnorm: str
    display: str
    dosage: str = ""


@dataclass(frozen=True)
class MedLine:
    change: str  # new | changed | stopped | unchanged
    rxnorm: str
    display: str
    discharge_dosage: str
    clinic_dosage: str


def normalize(display: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9.]+", " ", display.lower()).split())


def _key(m: Med) -> str:
    return f"rx:{m.rxnorm}" if m.rxnorm else f"name:{normalize(m.display)}"


def reconcile(discharge: Iterable[Med], clinic: Iterable[Med]) -> list[MedLine]:
    """Compare the discharge list with the clinic's active list: match by RxNorm, else normalized display."""
    clinic_list = list(clinic)
    by_rx = {m.rxnorm: m for m in clinic_list if m.rxnorm}
    by_name = {normalize(m.display): m for m in clinic_list}
    used: set[str] = set()
    lines: list[MedLine] = []
    for d in discharge:
        c = by_rx.get(d.rxnorm) if d.rxnorm else None
        if c is None:
            c = by_name.get(normalize(d.display))
        if c is None:
            lines.append(MedLine("new", d.rxnorm, d.display, d.dosage, ""))
            continue
        used.add(_key(c))
        same = normalize(d.dosage) == normalize(c.dosage)
        lines.append(MedLine("unchanged" if same else "changed", d.rxnorm or c.rxnorm, d.display or c.display,
                             d.dosage, c.dosage))
    for c in clinic_list:
        if _key(c) not in used:
            lines.append(MedLine("stopped", c.rxnorm, c.display, "", c.dosage))
    order = {"new": 0, "changed": 1, "stopped": 2, "unchanged": 3}
    return sorted(lines, key=lambda ln: (order[ln.change], normalize(ln.display)))
