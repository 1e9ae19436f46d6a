"""Measure results against the eCQM test cases in ../shared/oracles/ecqm (skipped when it is absent).

Each ``dev/<CMS>/<case>/`` holds a patient Bundle and ``expected.json`` (MADiE's expected populations per
group). Every case must match, except the disputed ones (MADiE and the CQF engine disagree on them): those are
reported in the test output, not gated. Only measures that match every non-disputed case are listed here.
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest

from careloop import cli
from careloop.quality.engine.period import MeasurementPeriod
from careloop.quality.engine.valuesets import ValueSetIndex
from careloop.quality.measures import get_measure
from careloop.quality.rules import evaluate_bundle

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ORACLE = SHARED / "oracles" / "ecqm"
pytestmark = [
    pytest.mark.oracle,
    pytest.mark.skipif(not (ORACLE / "dev").is_dir(), reason=f"eCQM oracles not present at {ORACLE} (public checkout)"),
]

DONE = ("CMS122", "CMS165", "CMS130", "CMS125", "CMS138", "CMS69", "CMS2", "CMS131", "CMS22", "CMS139", "CMS156",
        "CMS159", "CMS951", "CMS50")
CODE_TO_KEY = {
    "initial-population": "initial_population", "denominator": "denominator",
    "denominator-exclusion": "denominator_exclusion", "denominator-exception": "denominator_exception",
    "numerator": "numerator", "numerator-exclusion": "numerator_exclusion",
}


@cache
def valuesets() -> ValueSetIndex:
    return ValueSetIndex.from_folder(ORACLE / "valuesets")


def cases(measure: str) -> list[tuple[Path, dict[str, Any]]]:
    return [(p.parent, json.loads(p.read_text())) for p in sorted((ORACLE / "dev" / measure).glob("*/expected.json"))]


def period(expected: dict[str, Any]) -> MeasurementPeriod:
    return MeasurementPeriod.parse(f"{expected['period']['start']}:{expected['period']['end']}")


@pytest.mark.parametrize("measure_id", DONE)
def test_every_non_disputed_dev_case_matches(measure_id: str) -> None:
    measure = get_measure(measure_id)
    found = cases(measure_id)
    assert found, f"no dev cases for {measure_id}"
    mismatches, disputed = [], []
    for folder, expected in found:
        bundle = orjson.loads((folder / "bundle.json").read_bytes())
        got = evaluate_bundle(measure, bundle, period(expected), valuesets()).as_json()
        want = [{"id": g["id"], "populations": g["populations"]} for g in expected["groups"]]
        if got != want:
            line = f"{folder.name} {expected['title']}: got {got} want {want}"
            (disputed if expected["cqf_engine_disagrees"] else mismatches).append(line)
    if disputed:
        warnings.warn(f"{measure_id}: {len(disputed)} disputed case(s) differ: " + "; ".join(disputed), stacklevel=1)
    assert mismatches == []


def test_cms125_strata_match_the_measure_reports() -> None:
    """CMS125's MeasureReports carry consistent stratum counts (CMS130's and CMS159's exports are garbled)."""
    measure = get_measure("CMS125")
    for folder, expected in cases("CMS125"):
        report = json.loads(next(folder.glob("MeasureReport-*.json")).read_text())
        result = evaluate_bundle(measure, orjson.loads((folder / "bundle.json").read_bytes()), period(expected),
                                 valuesets())
        for group, report_group in zip(result.groups, report["group"], strict=True):
            for stratifier in report_group["stratifier"]:
                true = next(s for s in stratifier["stratum"] if s["value"]["text"] == "true")
                want = {CODE_TO_KEY[p["code"]["coding"][0]["code"]]: p["count"] for p in true["population"]}
                assert group.strata[stratifier["id"]] == want, folder.name


def test_measure_value_sets_cover_the_published_dependencies() -> None:
    """Every value set a measure depends on (its valuesets.json, minus the SDE payer set) is declared."""
    payer = "http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.114222.4.11.3591"
    for measure_id in DONE:
        published = {v["url"] for v in json.loads((ORACLE / "dev" / measure_id / "valuesets.json").read_text())}
        assert published - {payer} == set(get_measure(measure_id).valuesets), measure_id


def test_cli_eval_bundle_over_a_case_folder(capsys: pytest.CaptureFixture[str]) -> None:
    folder = ORACLE / "dev" / "CMS122"
    code = cli.main(["quality", "eval-bundle", "--measure", "CMS122", "--period", "2026-01-01:2026-12-31",
                     "--valuesets", str(ORACLE / "valuesets"), str(folder)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    expected = {str(p / "bundle.json"): e["groups"] for p, e in cases("CMS122")}
    assert {line["file"]: line["groups"] for line in lines} == expected
