"""`careloop billing evaluate SCENARIO.json [--json]`: output shape, table, exit 2 on bad input, no database.

The command is exercised through its own registration (careloop.billing.rules.cli.register, the function careloop.cli
calls) and end to end through the installed `careloop` entry point in a subprocess (billing may not import
careloop.cli: layering contract)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from careloop.billing.rules.cli import register

GOLDEN = Path(__file__).parent / "golden"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="careloop")
    sub = parser.add_subparsers(dest="command", required=True)
    billing = sub.add_parser("billing").add_subparsers(dest="billing_command", required=True)
    register(billing)
    args = parser.parse_args(argv)
    return int(args.fn(args))


def _golden(name: str) -> Path:
    return next(GOLDEN.glob(f"*_{name}.json"))


def test_evaluate_json(capsys: pytest.CaptureFixture[str]) -> None:
    path = _golden("apcm_ccm_same_practitioner")
    assert main(["billing", "evaluate", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(ln["code"], ln["units"], ln["practitioner"]) for ln in out["lines"]] == [("G0557", 1, "P1")]
    assert "APCM-003" in out["lines"][0]["rule_ids"]
    assert [(d["code"], d["rule_id"]) for d in out["denied"]] == [("99490", "APCM-008")]
    assert out["denied"][0]["reason"] and out["flags"] == []


def test_evaluate_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["billing", "evaluate", str(_golden("ccm_80_minutes_unit_cap_flag"))]) == 0
    out = capsys.readouterr().out
    assert "99490" in out and "99439" in out and "flags (review):" in out and "CCM-007" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"month": "2026-03", "enrollments": [{"program": "APCM", "practitioner": "P1", "start": "soon"}]}',
         "enrollments[0].start: not a valid ISO date"),
        ('{"month": "1990-01"}', "no billing ruleset for 1990"),
    ],
)
def test_bad_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(content)
    assert main(["billing", "evaluate", str(path), "--json"]) == 2
    err = capsys.readouterr().err
    assert message in err


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["billing", "evaluate", str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def _careloop(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("careloop", path=str(Path(sys.executable).parent))
    assert exe is not None
    # a database URL nobody listens on: the command must not need a database or migrations
    env = dict(os.environ, DATABASE_URL="postgres://nobody@127.0.0.1:1/no_such_db")
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=120)


def test_entry_point_runs_without_a_database() -> None:
    proc = _careloop("billing", "evaluate", str(_golden("tcm_99496_high_day_7")), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [(ln["code"], ln["units"], ln["practitioner"]) for ln in out["lines"]] == [("99496", 1, "P1")]
    assert out["denied"] == [] and out["flags"] == []


def test_entry_point_bad_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"month": "2026-03", "time_entries": [{"program": "CCM"}]}')
    proc = _careloop("billing", "evaluate", str(path))
    assert proc.returncode == 2
    assert "time_entries[0].practitioner: required" in proc.stderr
