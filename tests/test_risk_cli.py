"""`careloop risk score|methodology|refresh` end to end through the command's main()."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from careloop.cli import main
from careloop.clinics.tests.factories import make_org
from careloop.risk.models import PatientRisk
from careloop.risk.tests import factories as f


def test_score_profiles_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = tmp_path / "one.json"
    one.write_text(
        json.dumps(
            {
                "id": "p1",
                "age": 72,
                "sex": "M",
                "codes": ["E11.22", "n18.4", "I50.22"],
                "snomed": ["49436004"],
                "dual_status": "full",
                "ed_visits": 3,
                "sdoh": ["food_insecurity"],
                "phq9": 12,
            }
        )
    )
    many = tmp_path / "many.json"
    many.write_text(json.dumps([{"age": 40, "codes": []}, {"id": "x", "age": 66, "sex": "F", "codes": ["I10"]}]))
    assert main(["risk", "score", str(one), str(many), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["methodology"] == "careloop-risk-v1"
    assert list(out["vectors"]) == ["p1", "many[0]", "x"]
    p1 = out["vectors"]["p1"]
    assert p1["codes"] == ["E1122", "N184", "I5022"]
    assert (p1["categories"], p1["score_charlson"], p1["age_adjusted_score_quan"]) == (
        ["chf", "diabwc", "rend"],
        5.0,
        7.0,
    )
    assert (p1["segment"], p1["hccs"]) == ("CFA, orec=0", ["37", "226", "327"])
    assert p1["ccw_categories"] == ["atrial_fibrillation", "chronic_kidney_disease", "diabetes", "heart_failure"]
    assert p1["chronic_condition_count"] == 4
    assert p1["sdoh_needs"] == ["food insecurity"]
    assert p1["bh_flags"] == ["PHQ-9 12"]
    assert p1["tier"] == "high"
    assert out["vectors"]["many[0]"]["errors"] == ["CMS-HCC not scored: needs age and sex (M/F)"]
    assert out["vectors"]["many[0]"]["risk_score"] is None


def test_score_rejects_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"age": "old", "codes": []}))
    assert main(["risk", "score", str(bad)]) == 2
    assert "age must be a number" in capsys.readouterr().err
    bad.write_text("{not json")
    assert main(["risk", "score", str(bad)]) == 2


def test_methodology_document_md_and_pdf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["risk", "methodology", "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("# careloop composite risk tier, methodology v1")
    assert "## Tiers" in md and "| rising | 6 |" in md
    pdf = tmp_path / "m.pdf"
    assert main(["risk", "methodology", "--format", "pdf", "--out", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF")


@pytest.mark.django_db
def test_refresh_command(capsys: pytest.CaptureFixture[str]) -> None:
    org = make_org("clinic")
    f.condition(f.patient(org, "One"), "I10")
    assert main(["risk", "refresh", "--org", "clinic", "--as-of", "2026-03-15", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [(r["organization"], r["kind"], r["patients_scored"]) for r in runs] == [("clinic", "full", 1)]
    assert main(["risk", "refresh", "--incremental", "--as-of", "2026-03-15"]) == 0
    assert "incremental run" in capsys.readouterr().out
    assert PatientRisk.objects.get().as_of == dt.date(2026, 3, 15)
