"""Care gaps from measure populations: pure functions, no database.

A normal measure (higher is better) has an open gap for each patient in the denominator who is not excluded, not
excepted and not in the numerator; the numerator is a closed gap. An inverse measure (lower is better, CMS122
HbA1c > 9%, CMS156 high-risk medications) has an open gap for each patient in its numerator, and a closed gap for
the rest of its (non-excluded) denominator. Episode-based measures count episodes; a gap is open while any episode
in the denominator is unmet.

The engine returns counts, not the resources that met a criterion; the evidence of a closed gap is therefore the
measure, group, period and counts (cheap and honest), not resource ids.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from careloop.quality.measures.base import DENEX, DENEXCEP, DENOM, NUMER, NUMEX, Measure

# What is missing, and what would close the gap, per measure (the measure title stands in for the others).
GAP_TEXT: dict[str, tuple[str, str]] = {
    "CMS122": ("Most recent glycemic status (HbA1c/GMI) is > 9% or missing",
               "Document a glycemic status assessment of 9% or less before the period ends"),
    "CMS125": ("No mammogram in the 27 months before the period ends", "Order and complete a screening mammogram"),
    "CMS130": ("No colorectal cancer screening within its look-back",
               "Colonoscopy, FIT/FIT-DNA, CT colonography or flexible sigmoidoscopy"),
    "CMS131": ("No retinal or dilated eye exam", "Refer for a diabetic eye exam and record the result"),
    "CMS138": ("Tobacco use not screened, or user without cessation intervention",
               "Screen for tobacco use; counsel or prescribe cessation treatment if a user"),
    "CMS139": ("No falls risk screening", "Screen for future fall risk at a visit"),
    "CMS156": ("Two or more high-risk medications ordered for an older adult",
               "Review medications and deprescribe high-risk drugs"),
    "CMS159": ("Depression (PHQ-9 > 9) not in remission at twelve months", "Follow-up PHQ-9 below 5 in the window"),
    "CMS165": ("Most recent blood pressure is not below 140/90, or missing",
               "Record a blood pressure below 140/90 at a visit"),
    "CMS2": ("No depression screening, or positive screen without follow-up plan",
             "Screen with a standardized tool; document a follow-up plan if positive"),
    "CMS22": ("High blood pressure reading without screening or follow-up documented",
              "Record BP and document the recommended follow-up"),
    "CMS50": ("Specialist report not received for a referral", "Obtain the consultant report and close the loop"),
    "CMS69": ("BMI not documented, or abnormal BMI without follow-up plan",
              "Record BMI; document a follow-up plan if outside normal parameters"),
    "CMS951": ("No kidney health evaluation (eGFR and uACR)", "Order eGFR and urine albumin-creatinine ratio"),
}


@dataclass(frozen=True)
class Gap:
    measure: str
    group: str
    status: str  # "open" | "closed"
    missing: str
    closes_by: str
    due: dt.date | None
    evidence: dict[str, object]


def gap_key(measure: str, group: str) -> str:
    """The gap's measure key: the measure id, with the group when it is not the first (CMS138 has three)."""
    return measure if group in ("Group_1", "") else f"{measure}/{group}"


def derive_gap(measure: Measure, group: str, populations: Mapping[str, int], period_last: dt.date) -> Gap | None:
    """The gap (open or closed) a patient's populations imply for one group, or None outside the denominator."""
    denom = populations.get(DENOM, 0)
    eligible = denom - populations.get(DENEX, 0) - populations.get(DENEXCEP, 0)
    numer = populations.get(NUMER, 0) - populations.get(NUMEX, 0)
    if denom <= 0 or eligible <= 0:
        return None
    missing, closes = GAP_TEXT.get(measure.id, (f"{measure.title}: not met", f"Meet {measure.title}"))
    evidence: dict[str, object] = {"measure": measure.id, "group": group, "populations": dict(populations)}
    is_open = numer > 0 if measure.inverse else numer < eligible
    if is_open:
        return Gap(measure.id, group, "open", missing, closes, period_last, evidence)
    return Gap(measure.id, group, "closed", "", "", None, evidence)
