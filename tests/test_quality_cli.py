"""``careloop quality ...`` and ``careloop valuesets ...`` on our own fixture files (no oracle needed)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from careloop import cli
from careloop.quality.engine.encounters import OFFICE_VISIT
from careloop.quality.measures import get_measure
from careloop.quality.measures.cms122 import DIABETES
from careloop.quality.tests.factories import bundle, code_for, condition, encounter, patient

PERIOD = "2026-01-01:2026-12-31"


def write_valuesets(folder: Path, measure_id: str) -> Path:
    folder.mkdir()
    for url in get_measure(measure_id).valuesets:
        system, code = code_for(url)
        document = {"resourceType": "ValueSet", "url": url, "version": "1", "name": code,
                    "expansion": {"contains": [{"system": system, "code": code}]}}
        (folder / f"{code}.json").write_bytes(orjson.dumps(document))
    return folder


def write_patient(folder: Path, name: str, birth: str) -> Path:
    path = folder / name
    visit = encounter(code_for(OFFICE_VISIT), "2026-02-01T10:00:00.000+00:00")
    path.write_bytes(orjson.dumps(bundle(patient(birth), visit, condition(code_for(DIABETES), "2019-01-01"))))
    return path


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_eval_bundle_prints_one_json_line_per_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vs = write_valuesets(tmp_path / "vs", "CMS122")
    adult = write_patient(tmp_path, "adult.json", "1970-01-01")
    child = write_patient(tmp_path, "child.json", "2015-01-01")
    code = cli.main(["quality", "eval-bundle", "--measure", "cms122", "--period", PERIOD, "--valuesets", str(vs),
                     str(adult), str(child)])
    assert code == 0
    assert lines(capsys) == [
        {"file": str(adult), "groups": [{"id": "Group_1", "populations": {
            "initial_population": 1, "denominator": 1, "denominator_exclusion": 0, "numerator": 1}}]},
        {"file": str(child), "groups": [{"id": "Group_1", "populations": {
            "initial_population": 0, "denominator": 0, "denominator_exclusion": 0, "numerator": 0}}]},
    ]


def test_eval_bundle_reports_unreadable_files_and_bad_arguments(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    vs = write_valuesets(tmp_path / "vs", "CMS122")
    not_bundle = tmp_path / "patient.json"
    not_bundle.write_text('{"resourceType": "Patient"}')
    assert cli.main(["quality", "eval-bundle", "--measure", "CMS122", "--period", PERIOD, "--valuesets", str(vs),
                     str(not_bundle)]) == 1
    assert lines(capsys) == [{"file": str(not_bundle), "error": "not a FHIR Bundle"}]
    assert cli.main(["quality", "eval-bundle", "--measure", "CMS999", "--period", PERIOD, "--valuesets", str(vs),
                     str(not_bundle)]) == 2
    assert "unknown measure" in capsys.readouterr().err
    assert cli.main(["quality", "eval-bundle", "--measure", "CMS122", "--period", "2026", "--valuesets", str(vs),
                     str(not_bundle)]) == 2
    assert "measurement period" in capsys.readouterr().err


def test_eval_bundle_names_missing_value_sets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vs = write_valuesets(tmp_path / "vs", "CMS122")
    path = write_patient(tmp_path, "adult.json", "1970-01-01")
    assert cli.main(["quality", "eval-bundle", "--measure", "CMS165", "--period", PERIOD, "--valuesets", str(vs),
                     str(path)]) == 2
    assert "value sets not loaded" in capsys.readouterr().err


def test_measures_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["quality", "measures", "--json"]) == 0
    ids = [m["id"] for m in json.loads(capsys.readouterr().out)]
    assert ids[:3] == ["CMS122", "CMS165", "CMS130"] and "AIS-FLU" in ids


@pytest.mark.django_db
def test_valuesets_load_then_eval_from_the_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vs = write_valuesets(tmp_path / "vs", "CMS122")
    assert cli.main(["valuesets", "load", str(vs), "--json"]) == 0
    loaded = json.loads(capsys.readouterr().out)
    assert loaded["created"] == len(set(get_measure("CMS122").valuesets)) and loaded["unchanged"] == 0
    assert cli.main(["valuesets", "load", str(vs)]) == 0
    assert "0 created, 0 updated" in capsys.readouterr().out
    assert cli.main(["valuesets", "list", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == loaded["created"]
    path = write_patient(tmp_path, "adult.json", "1970-01-01")
    assert cli.main(["quality", "eval-bundle", "--measure", "CMS122", "--period", PERIOD, str(path)]) == 0
    assert lines(capsys)[0]["groups"] == [{"id": "Group_1", "populations": {
        "initial_population": 1, "denominator": 1, "denominator_exclusion": 0, "numerator": 1}}]


def test_bench_quality_runs_on_a_small_synthetic_clinic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bench", "quality", "--patients", "25", "--measures", "CMS122,CMS165", "--json",
                     "--workdir", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["patients"] == 25 and result["measures"] == 2 and result["valuesets"] == "stand-in"
    assert set(result["totals"]) == {"CMS122", "CMS165"}
    from careloop.bench_quality import patients_from_ndjson

    grouped = list(patients_from_ndjson(tmp_path / "clinic"))
    assert len(grouped) == 25
    assert all(r.get("resourceType") == "Patient" for r, *_ in grouped)


def test_bench_quality_two_workers_give_the_same_totals_as_one(tmp_path: Path) -> None:
    from careloop.bench_quality import evaluate_parallel, stand_in_valuesets
    from careloop.quality.measures import get_measure
    from careloop.synth.generator import generate

    folder = tmp_path / "clinic"
    folder.mkdir()
    generate(patients=40, seed=3, out_dir=folder)
    measures = [get_measure(m) for m in ("CMS122", "CMS165", "CMS2")]
    valuesets = stand_in_valuesets(folder, measures)
    one = evaluate_parallel(folder, measures, PERIOD, valuesets, workers=1)
    two = evaluate_parallel(folder, measures, PERIOD, valuesets, workers=2)
    assert one[0] == two[0] == 40
    assert one[1] == two[1]
    assert any(counts.get("initial_population") for counts in one[1].values())
