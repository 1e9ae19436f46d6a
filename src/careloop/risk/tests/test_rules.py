"""Pure rules as tables of cases: normalisation, CCW grouping, the as-of count, Charlson, the tier."""

from __future__ import annotations

import datetime as dt

import pytest

from careloop.risk import rules, tables
from careloop.risk.methodology import load_methodology, methodology_from
from careloop.risk.rules import ConditionFact as Fact

D = dt.date(2026, 3, 15)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("E11.9", "E119"), ("e11.22", "E1122"), (" i50. 22 ", "I5022"), ("Z68.41", "Z6841"), ("", "")],
)
def test_normalize_icd10(raw: str, expected: str) -> None:
    assert rules.normalize_icd10(raw) == expected


CFG = tables.count_config()


@pytest.mark.parametrize(
    ("fact", "counts"),
    [
        (Fact("I10", clinical_status="active"), True),
        (Fact("I10", clinical_status=""), True),  # status not stated
        (Fact("I10", clinical_status="recurrence"), True),
        (Fact("I10", clinical_status="resolved"), False),  # resolved, no date: cannot know when
        (Fact("I10", clinical_status="inactive"), False),
        (Fact("I10", clinical_status="remission"), False),
        (Fact("I10", onset=D), True),  # onset on the date
        (Fact("I10", onset=D + dt.timedelta(days=1)), False),  # onset after the date
        (Fact("I10", recorded=D + dt.timedelta(days=1)), False),  # no onset: recorded date decides
        (Fact("I10", onset=D - dt.timedelta(days=9), recorded=D + dt.timedelta(days=1)), True),  # onset wins
        (Fact("I10", clinical_status="resolved", abatement=D), True),  # abated on the date: still in force
        (Fact("I10", clinical_status="resolved", abatement=D - dt.timedelta(days=1)), False),  # abated before
        (Fact("I10", clinical_status="resolved", abatement=D + dt.timedelta(days=30)), True),  # abated later
        (Fact("I10", verification_status="refuted"), False),
        (Fact("I10", verification_status="entered-in-error"), False),
        (Fact("I10", verification_status="provisional"), True),
    ],
)
def test_in_force_as_of(fact: Fact, counts: bool) -> None:
    assert rules.in_force(fact, D, CFG) is counts


@pytest.mark.parametrize(
    ("codes", "snomed", "keys"),
    [
        (["E11.9"], [], {"diabetes"}),
        (["I10", "E785"], [], {"hypertension", "hyperlipidemia"}),
        (["E1122"], [], {"diabetes", "chronic_kidney_disease"}),
        (["I639"], [], {"stroke_tia"}),
        (["I639", "S065X0A"], [], set()),  # CCW excludes stroke when a listed head-injury code is present
        (["R75"], [], set()),  # R75 (inconclusive HIV test) needs a second HIV code
        (["R75", "B20"], [], {"hiv_aids"}),
        (["G35D"], [], {"multiple_sclerosis"}),  # FY2026 child of a category CMS lists (G35)
        (["E7841"], [], {"hyperlipidemia"}),  # FY2019 child of E78.4
        (["Z00.00"], [], set()),
        ([], ["38341003", "49436004"], {"hypertension", "atrial_fibrillation"}),
        ([], ["999999999"], set()),
    ],
)
def test_ccw_keys(codes: list[str], snomed: list[str], keys: set[str]) -> None:
    assert rules.ccw_keys(codes, snomed) == keys


def test_chronic_count_counts_overlapping_categories_once_and_skips_episodes() -> None:
    facts = [Fact("F329"), Fact("F319"), Fact("G309"), Fact("F0390"), Fact("I2109"), Fact("J189"), Fact("I10")]
    # depression + bipolar -> one; Alzheimer's + dementia -> one; AMI and pneumonia do not count; hypertension.
    assert rules.counted_conditions(rules.ccw_keys(f.icd10 for f in facts)) == [
        "dementia",
        "depression_and_bipolar",
        "hypertension",
    ]
    assert rules.chronic_count(facts, D) == 3


def test_chronic_count_as_of_a_date() -> None:
    facts = [
        Fact("I10", onset=dt.date(2020, 1, 1)),
        Fact("E119", onset=dt.date(2026, 3, 16)),
        Fact("J449", clinical_status="resolved", abatement=dt.date(2026, 3, 1)),
        Fact(snomed="55822004"),
        Fact("N184", snomed="38341003"),  # ICD-10-CM wins over the SNOMED concept on the same row
    ]
    assert rules.chronic_count(facts, D) == 3  # hypertension, hyperlipidemia, CKD
    assert rules.chronic_count(facts, dt.date(2026, 2, 1)) == 4  # COPD not yet abated
    assert rules.chronic_count(facts, dt.date(2026, 4, 1)) == 4  # diabetes has started


def test_count_config_is_data() -> None:
    cfg = tables.count_config_from(
        {
            "version": "x",
            "not_counted": ["hypertension"],
            "count_as_one": {},
            "active_statuses": ["active"],
            "excluded_verification": [],
        }
    )
    assert rules.counted_conditions({"hypertension", "diabetes"}, cfg) == ["diabetes"]
    with pytest.raises(ValueError, match="unknown CCW keys"):
        tables.count_config_from(
            {"version": "x", "not_counted": ["nope"], "active_statuses": [], "excluded_verification": []}
        )


@pytest.mark.parametrize(
    ("codes", "age", "cats", "charlson", "quan", "adj"),
    [
        ([], 45, (), 0, 0, 0),
        (["E119", "E1122"], 66, ("diab", "diabwc"), 2, 1, 4),  # hierarchy: complicated replaces uncomplicated
        (["K703", "I850"], 55, ("mld", "msld"), 3, 4, 4),
        (["C50.9", "C79.51"], 62, ("canc", "metacanc"), 6, 6, 8),
        (["I252"], 70, ("ami",), 1, 0, 4),
        (["e11.9"], 80, ("diab",), 1, 0, 5),  # normalised before matching
        (["B20", "I5022"], None, ("aids", "chf"), 7, 4, 7),  # no age: no age points
    ],
)
def test_charlson(codes: list[str], age: int | None, cats: tuple[str, ...], charlson: int, quan: int, adj: int) -> None:
    r = rules.charlson(codes, age)
    assert (r.categories, r.score_charlson, r.score_quan, r.age_adjusted_score_charlson) == (cats, charlson, quan, adj)


@pytest.mark.parametrize(
    ("stays", "expected"),
    [
        ([], 0),
        ([(dt.date(2026, 1, 1), dt.date(2026, 1, 5)), (dt.date(2026, 2, 4), dt.date(2026, 2, 6))], 1),  # 30 days
        ([(dt.date(2026, 1, 1), dt.date(2026, 1, 5)), (dt.date(2026, 2, 5), dt.date(2026, 2, 6))], 0),  # 31 days
        ([(dt.date(2025, 2, 20), dt.date(2025, 3, 1)), (dt.date(2025, 3, 20), None)], 1),  # index before window
        ([(dt.date(2025, 1, 1), dt.date(2025, 1, 3)), (dt.date(2025, 1, 10), None)], 0),  # readmit before window
    ],
)
def test_readmissions(stays: list[tuple[dt.date, dt.date | None]], expected: int) -> None:
    assert rules.readmissions(stays, dt.date(2025, 3, 15), 30) == expected


M = load_methodology("1")


@pytest.mark.parametrize(
    ("measures", "tier", "points"),
    [
        (rules.Measures(), "low", 0),
        (rules.Measures(chronic_count=2, charlson=2), "low", 2),
        (rules.Measures(chronic_count=4, ed_visits_12m=1), "moderate", 3),
        (rules.Measures(hcc_score=1.5, chronic_count=4, ed_visits_12m=2), "rising", 6),
        (rules.Measures(readmissions_12m=1), "rising", 2),  # floor
        (rules.Measures(admissions_12m=2), "rising", 3),  # floor
        (rules.Measures(hcc_score=3.2), "high", 4),  # floor
        (rules.Measures(hcc_score=2.1, charlson=5, ed_visits_12m=4), "rising", 9),
        (rules.Measures(hcc_score=2.5, charlson=5, ed_visits_12m=4, sdoh_needs=("food insecurity",)), "high", 10),
    ],
)
def test_tier_table(measures: rules.Measures, tier: str, points: int) -> None:
    result = rules.assign_tier(measures, M)
    assert (result.tier, result.points) == (tier, points)


def test_explanation_reads_like_the_clinic_talks() -> None:
    m = rules.Measures(
        hcc_score=2.14,
        hccs=("226", "327"),
        hcc_percentile=95.2,
        hcc_coefficients={"226": 0.36, "327": 0.514},
        ed_visits_12m=3,
        charlson=5,
        chronic_count=4,
        sdoh_needs=("food insecurity",),
        bh_flags=("PHQ-9 14",),
    )
    r = rules.assign_tier(m, M)
    assert (r.tier, r.points) == ("high", 12)
    assert r.explanation == (
        "high: HCC 2.1, top 5%; CKD 4 with CHF; Charlson 5; 3 ED visits in 12 months; 4 chronic conditions; "
        "food insecurity"
    )


def test_methodology_weights_and_cut_points_are_data() -> None:
    raw = {
        "id": "t",
        "version": "9",
        "effective": "2026-01-01",
        "title": "t",
        "components": [
            {
                "key": "ed",
                "label": "ED",
                "measure": "ed_visits_12m",
                "bands": [{"min": 1, "points": 5}],
                "reason": "{value:.0f} ED",
            }
        ],
        "tiers": [
            {"tier": "high", "min_points": 5},
            {"tier": "rising", "min_points": 3},
            {"tier": "moderate", "min_points": 1},
            {"tier": "low", "min_points": 0},
        ],
    }
    m = methodology_from(raw)
    assert rules.assign_tier(rules.Measures(ed_visits_12m=1), m).explanation == "high: 1 ED"
    with pytest.raises(ValueError, match="tiers must be exactly"):
        methodology_from({**raw, "tiers": raw["tiers"][:3]})
    with pytest.raises(ValueError, match="no risk methodology version"):
        load_methodology("404")
