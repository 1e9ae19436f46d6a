"""Adult immunization status (influenza, pneumococcal): our own cases, from the measure specification."""

from __future__ import annotations

import pytest

from careloop.quality.engine.encounters import OFFICE_VISIT
from careloop.quality.engine.exclusions import HOSPICE_ENCOUNTER
from careloop.quality.measures.ais_flu import ANAPHYLAXIS_INFLUENZA_VACCINE, INFLUENZA_VACCINATION, INFLUENZA_VACCINE
from careloop.quality.measures.ais_pneumo import PNEUMOCOCCAL_VACCINE, PNEUMOCOCCAL_VACCINE_ADMINISTERED
from careloop.quality.tests.factories import (
    code_for,
    condition,
    encounter,
    immunization,
    patient,
    procedure,
    run,
)

VISIT = encounter(code_for(OFFICE_VISIT), "2026-10-02T09:00:00.000+00:00", "2026-10-02T09:20:00.000+00:00")


def flu(birth: str = "1970-04-04", *extra: dict[str, object], **kw: str) -> dict[str, int]:
    return run("AIS-FLU", patient(birth, **kw), VISIT, *extra)


@pytest.mark.parametrize(("birth", "in_population"), [("2007-01-01", 1), ("2007-01-02", 0)])
def test_flu_adults_19_at_the_start_of_the_period(birth: str, in_population: int) -> None:
    assert flu(birth)["initial_population"] == in_population


def test_flu_needs_a_qualifying_visit() -> None:
    assert run("AIS-FLU", patient("1970-04-04"))["initial_population"] == 0


@pytest.mark.parametrize(
    ("given", "status", "vaccinated"),
    [
        ("2025-07-01T08:00:00.000+00:00", "completed", 1),  # first day of the season
        ("2025-06-30T22:00:00.000+00:00", "completed", 0),
        ("2026-06-30T23:59:00.000+00:00", "completed", 1),  # last day of the season
        ("2026-07-01T00:00:00.000+00:00", "completed", 0),  # next season (counts for next year's report)
        ("2025-10-15T08:00:00.000+00:00", "not-done", 0),
        ("2025-10-15", "completed", 1),  # a date without a time
    ],
)
def test_flu_vaccine_in_the_season_july_to_june(given: str, status: str, vaccinated: int) -> None:
    counts = flu("1970-04-04", immunization(code_for(INFLUENZA_VACCINE), given, status=status))
    assert counts == {"initial_population": 1, "denominator": 1, "denominator_exclusion": 0, "numerator": vaccinated}


def test_flu_administration_procedure_and_anaphylaxis_count() -> None:
    assert flu("1970-04-04", procedure(code_for(INFLUENZA_VACCINATION), "2025-11-01T10:00:00.000+00:00"))[
        "numerator"
    ] == 1
    allergy = condition(ANAPHYLAXIS_INFLUENZA_VACCINE, "2015-01-01", category="problem-list-item")
    assert flu("1970-04-04", allergy)["numerator"] == 1


def test_flu_exclusions_hospice_and_death_in_the_period() -> None:
    hospice = encounter(code_for(HOSPICE_ENCOUNTER), "2026-11-01T00:00:00.000+00:00", "2026-11-20T00:00:00.000+00:00")
    assert flu("1970-04-04", hospice)["denominator_exclusion"] == 1
    assert flu("1970-04-04", deceased="2026-12-01")["denominator_exclusion"] == 1
    assert flu("1970-04-04", deceased="2027-01-05")["denominator_exclusion"] == 0


def pneumo(birth: str, *extra: dict[str, object]) -> dict[str, int]:
    return run("AIS-PNEUMO", patient(birth), VISIT, *extra)


@pytest.mark.parametrize(("birth", "in_population"), [("1960-01-01", 1), ("1960-01-02", 0)])
def test_pneumo_adults_66_at_the_start_of_the_period(birth: str, in_population: int) -> None:
    assert pneumo(birth)["initial_population"] == in_population


@pytest.mark.parametrize(
    ("given", "vaccinated"),
    [
        ("1978-05-09T10:00:00.000+00:00", 0),  # the day before the 19th birthday
        ("1978-05-10T10:00:00.000+00:00", 1),  # on the 19th birthday
        ("2026-12-31T20:00:00.000+00:00", 1),
        ("2027-01-01T10:00:00.000+00:00", 0),
    ],
)
def test_pneumo_any_dose_from_the_19th_birthday_to_the_end_of_the_period(given: str, vaccinated: int) -> None:
    assert pneumo("1959-05-10", immunization(code_for(PNEUMOCOCCAL_VACCINE), given))["numerator"] == vaccinated


def test_pneumo_administration_procedure_counts() -> None:
    given = procedure(code_for(PNEUMOCOCCAL_VACCINE_ADMINISTERED), "2019-03-03T10:00:00.000+00:00")
    assert pneumo("1950-01-01", given)["numerator"] == 1
