"""Measure logic on our own case tables: birthdays and dates at the period's edges, hospice and palliative
exclusions, the population cascade, profile semantics. Stand-in value sets (see factories)."""

from __future__ import annotations

import pytest

from careloop.quality.engine.encounters import OFFICE_VISIT
from careloop.quality.engine.exclusions import HOSPICE_ENCOUNTER, PALLIATIVE_CARE_DIAGNOSIS
from careloop.quality.engine.qicore import LOINC
from careloop.quality.measures import REGISTRY, UnknownMeasure, get_measure
from careloop.quality.measures.base import GroupSpec, cascade
from careloop.quality.measures.cms122 import DIABETES, GLUCOSE_MANAGEMENT_INDICATOR, HBA1C_LAB_TEST
from careloop.quality.measures.cms165 import ESSENTIAL_HYPERTENSION
from careloop.quality.tests.factories import (
    QICORE,
    blood_pressure,
    code_for,
    condition,
    encounter,
    observation,
    patient,
    run,
)

LAB = QICORE + "qicore-observation-lab"
VISIT = encounter(code_for(OFFICE_VISIT), "2026-03-02T09:00:00.000+00:00", "2026-03-02T09:30:00.000+00:00")


def a1c(when: str, value: float | None, *, code: tuple[str, str] | None = None) -> dict[str, object]:
    quantity = {"value": value, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
    return observation(code or code_for(HBA1C_LAB_TEST), when, profile=LAB, category="laboratory",
                       value=quantity if value is not None else None)


def diabetic(birth: str, *extra: dict[str, object]) -> dict[str, int]:
    return run("CMS122", patient(birth), VISIT, condition(code_for(DIABETES), "2020-01-01"), *extra)


@pytest.mark.parametrize(
    ("birth", "in_population"),
    [("2008-12-31", 1), ("2009-01-01", 0), ("1951-01-01", 1), ("1950-12-31", 0)],
)
def test_cms122_age_18_to_75_at_the_end_of_the_period(birth: str, in_population: int) -> None:
    assert diabetic(birth)["initial_population"] == in_population


@pytest.mark.parametrize(
    ("readings", "poor_control"),
    [
        ([], 1),  # no assessment in the period: counted as poor control (inverse measure)
        ([("2026-12-31T23:59:00.000+00:00", 8.0)], 0),  # last moment of the period counts
        ([("2027-01-01T00:00:00.000+00:00", 8.0)], 1),  # the next day does not
        ([("2026-03-01T10:00:00.000+00:00", 7.0), ("2026-11-01T10:00:00.000+00:00", 9.5)], 1),  # most recent day
        ([("2026-11-01T08:00:00.000+00:00", 9.5), ("2026-11-01T15:00:00.000+00:00", 8.5)], 0),  # lowest that day
        ([("2026-11-01T08:00:00.000+00:00", 9.0)], 0),  # > 9.0, not >=
        ([("2026-11-01T08:00:00.000+00:00", None)], 1),  # without a result
    ],
)
def test_cms122_most_recent_glycemic_status(readings: list[tuple[str, float | None]], poor_control: int) -> None:
    counts = diabetic("1970-06-15", *[a1c(when, value) for when, value in readings])
    assert counts == {"initial_population": 1, "denominator": 1, "denominator_exclusion": 0,
                      "numerator": poor_control}


def test_cms122_glucose_management_indicator_counts_like_hba1c() -> None:
    assert diabetic("1970-06-15", a1c("2026-05-05T10:00:00.000+00:00", 9.4, code=GLUCOSE_MANAGEMENT_INDICATOR))[
        "numerator"
    ] == 1
    assert LOINC == GLUCOSE_MANAGEMENT_INDICATOR[0]


def test_cms122_diabetes_must_overlap_the_period_and_be_an_encounter_diagnosis() -> None:
    late = run("CMS122", patient("1970-06-15"), VISIT, condition(code_for(DIABETES), "2027-01-01"))
    problem_only = run("CMS122", patient("1970-06-15"), VISIT,
                       condition(code_for(DIABETES), "2020-01-01", category="problem-list-item"))
    refuted = run("CMS122", patient("1970-06-15"), VISIT,
                  condition(code_for(DIABETES), "2020-01-01", verification="refuted"))
    assert late["initial_population"] == problem_only["initial_population"] == refuted["initial_population"] == 0


@pytest.mark.parametrize(
    ("start", "end", "excluded"),
    [
        ("2025-12-31T10:00:00.000+00:00", "2026-01-01T09:00:00.000+00:00", 1),  # overlaps the first day
        ("2025-12-01T10:00:00.000+00:00", "2025-12-31T23:00:00.000+00:00", 0),  # ends the day before
        ("2026-12-31T23:00:00.000+00:00", "2027-01-02T09:00:00.000+00:00", 1),  # starts on the last day
    ],
)
def test_hospice_encounter_overlapping_the_period_excludes_and_suppresses_the_numerator(
    start: str, end: str, excluded: int
) -> None:
    counts = diabetic("1970-06-15", encounter(code_for(HOSPICE_ENCOUNTER), start, end))
    assert counts["denominator_exclusion"] == excluded
    assert counts["numerator"] == 1 - excluded  # no HbA1c: poor control unless excluded


@pytest.mark.parametrize(
    ("onset", "clinical", "abatement", "excluded"),
    [
        ("2026-12-31T12:00:00.000+00:00", "active", None, 1),
        ("2027-01-01T00:00:00.000+00:00", "active", None, 0),
        ("2024-05-01T00:00:00.000+00:00", "resolved", "2026-02-01T00:00:00.000+00:00", 1),
        ("2024-05-01T00:00:00.000+00:00", "resolved", "2025-12-30T00:00:00.000+00:00", 0),
        # inactive without an abatement date: it ended at some unknown time after its onset
        ("2024-05-01T00:00:00.000+00:00", "inactive", None, 0),
        ("2026-05-01T00:00:00.000+00:00", "inactive", None, 1),
    ],
)
def test_palliative_diagnosis_prevalence(onset: str, clinical: str, abatement: str | None, excluded: int) -> None:
    dx = condition(code_for(PALLIATIVE_CARE_DIAGNOSIS), onset, category="problem-list-item", clinical=clinical,
                   abatement=abatement)
    assert diabetic("1970-06-15", dx)["denominator_exclusion"] == excluded


@pytest.mark.parametrize(("onset", "in_population"), [("2026-06-30T23:00:00.000+00:00", 1),
                                                      ("2026-07-01T00:00:00.000+00:00", 0)])
def test_cms165_hypertension_in_the_first_six_months(onset: str, in_population: int) -> None:
    counts = run("CMS165", patient("1960-02-02"), VISIT,
                 condition(code_for(ESSENTIAL_HYPERTENSION), onset, category="problem-list-item"))
    assert counts["initial_population"] == in_population


@pytest.mark.parametrize(
    ("readings", "controlled"),
    [
        ([("2026-12-31T23:00:00.000+00:00", 139, 89)], 1),
        ([("2026-12-31T23:00:00.000+00:00", 140, 80)], 0),
        ([("2026-05-01T10:00:00.000+00:00", 150, 95), ("2026-09-01T10:00:00.000+00:00", 130, 80)], 1),
        ([("2026-09-01T08:00:00.000+00:00", 150, 85), ("2026-09-01T16:00:00.000+00:00", 135, 95)], 1),  # lowest of day
        ([("2026-09-01T08:00:00.000+00:00", 120, None)], 0),  # no diastolic
        ([("2027-01-01T00:00:00.000+00:00", 120, 70)], 0),
    ],
)
def test_cms165_most_recent_blood_pressure(readings: list[tuple[str, float, float | None]], controlled: int) -> None:
    counts = run("CMS165", patient("1960-02-02"), VISIT,
                 condition(code_for(ESSENTIAL_HYPERTENSION), "2019-01-01", category="problem-list-item"),
                 *[blood_pressure(when, s, d) for when, s, d in readings])
    assert counts["numerator"] == controlled


def test_cms165_declared_profile_wins_over_content() -> None:
    """A reading that declares another profile is not a blood-pressure panel, even coded as one (as in MADiE)."""
    simple = blood_pressure("2026-09-01T10:00:00.000+00:00", 120, 70, profile=QICORE + "qicore-simple-observation")
    counts = run("CMS165", patient("1960-02-02"), VISIT,
                 condition(code_for(ESSENTIAL_HYPERTENSION), "2019-01-01", category="problem-list-item"), simple)
    assert counts["numerator"] == 0


def test_cascade_orders_exclusion_numerator_and_exception() -> None:
    spec = GroupSpec("Group_1", ("initial_population", "denominator", "denominator_exclusion", "numerator",
                                 "denominator_exception"))
    ip = frozenset({"e1", "e2", "e3", "e4"})
    sets = cascade(spec, {"initial_population": ip, "denominator_exclusion": frozenset({"e1"}),
                          "numerator": frozenset({"e1", "e2"}), "denominator_exception": frozenset({"e2", "e3"}),
                          "numerator_exclusion": frozenset({"e2"})})
    assert sets == {"initial_population": ip, "denominator": ip, "denominator_exclusion": frozenset({"e1"}),
                    "numerator": frozenset({"e2"}), "denominator_exception": frozenset({"e3"})}


def test_registry_lookup() -> None:
    assert get_measure(" cms122 ") is REGISTRY["CMS122"]
    with pytest.raises(UnknownMeasure, match="CMS999"):
        get_measure("CMS999")
    assert {m.id for m in REGISTRY.values() if not m.official_cases} == {"AIS-FLU", "AIS-PNEUMO"}
