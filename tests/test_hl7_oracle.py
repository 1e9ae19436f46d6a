"""Every message of the HL7 v2 oracle (``../shared/oracles/hl7v2/<split>/index.json``) gives what the index says.

The index holds raw ER7 values read by the reference parser (python-hl7 0.4.5, BOM stripped); this test
compares them with ``careloop hl7 ingest --json`` objects (``Result.report()``). Messages the reference parser
rejects must be rejected (AE/AR) and quarantined. ``malformed/cases.json`` (when present): every ``reject`` case
must be rejected and quarantined; no case may crash. Each file is ingested into its own organization.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from careloop.clinics.tests.factories import make_org
from careloop.interop.hl7v2.inbox import Hl7Inbox
from careloop.registry.models import QuarantinedInput

ROOT = Path(__file__).resolve().parents[1]
ORACLE = ROOT.parent / "shared" / "oracles" / "hl7v2"
ABSENT = f"HL7 v2 oracle not found at {ORACLE} (public checkouts do not have ../shared)"


def _entries() -> list[Any]:
    if not ORACLE.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=ABSENT), id="absent")]
    found = []
    for index in sorted(ORACLE.glob("*/index.json")):
        for key, entry in json.loads(index.read_text()).items():
            found.append(pytest.param(entry, id=key))
    return found or [pytest.param(None, marks=pytest.mark.skip(reason=f"no index.json under {ORACLE}"), id="empty")]


def _cases() -> list[Any]:
    files = sorted(ORACLE.glob("*/malformed/cases.json")) if ORACLE.is_dir() else []
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no malformed/cases.json under {ORACLE}"),
                             id="absent")]
    return [pytest.param(case, id=str(case.get("id"))) for f in files for case in json.loads(f.read_text())]


def first(raw: str | None, comp: int = 0, rep: int = 0) -> str:
    if not raw:
        return ""
    reps = raw.split("~")
    parts = reps[rep].split("^") if rep < len(reps) else [""]
    return parts[comp].split("&")[0] if comp < len(parts) else ""


def moment(raw: str) -> dt.datetime:
    digits, offset = raw, ""
    for sign in "+-":
        if sign in raw:
            digits, offset = raw.split(sign)[0], sign + raw.split(sign)[1]
    digits = digits.split(".")[0].ljust(14, "0")
    at = dt.datetime.strptime(digits, "%Y%m%d%H%M%S")
    if offset:
        delta = dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
        at = at.replace(tzinfo=dt.timezone(-delta if offset[0] == "-" else delta))
    return at


def birth_date(raw: str) -> str | None:
    """ISO date of a raw PID-7, or None when it is not a real date (e.g. '196203520': day 52)."""
    try:
        return dt.datetime.strptime(raw[:8], "%Y%m%d").date().isoformat() if len(raw) >= 8 else None
    except ValueError:
        return None


def same_moment(out: str | None, raw: str | None) -> bool:
    if not raw:
        return out is None
    if out is None:
        return False
    expected, got = moment(raw), dt.datetime.fromisoformat(out)
    return got == expected if expected.tzinfo else got.replace(tzinfo=None) == expected


def check_message(report: dict[str, Any], e: dict[str, Any]) -> None:
    assert report["ack_code"] == "AA", report
    assert report["message_type"] == "^".join(e["MSH-9"].split("^")[:2])
    assert report["control_id"] == e["MSH-10"]
    assert report["version"] == first(e["MSH-12"])
    if e.get("PID-3"):
        p = report["patient"]
        values = [first(r) for r in e["PID-3"].split("~") if first(r)]
        assert [i["value"] for i in p["identifiers"]] == values
        assert p["family"] == first(e["PID-5"]) and p["given"] == first(e["PID-5"], 1)
        assert p["birth_date"] == birth_date(e.get("PID-7") or "")
        assert (p["sex"] or None) == (first(e.get("PID-8")) or None)
    if e.get("PV1-2") is not None or e.get("PV1-19") is not None:
        enc = report["encounter"]
        assert enc is not None
        assert enc["patient_class"] == (e.get("PV1-2") or None)
        assert enc["visit_number"] == (first(e.get("PV1-19")) or None)
        assert same_moment(enc["admit"], e.get("PV1-44")), (enc["admit"], e.get("PV1-44"))
        assert same_moment(enc["discharge"], e.get("PV1-45")), (enc["discharge"], e.get("PV1-45"))
    merged = [first(r) for r in (e.get("MRG-1") or "").split("~") if first(r)]
    assert report["merged_from"] == merged


@pytest.mark.oracle
@pytest.mark.django_db
@pytest.mark.parametrize("entry", _entries())
def test_oracle_message(entry: dict[str, Any]) -> None:
    org = make_org()
    results = Hl7Inbox(organization_id=org.pk, time_zone=org.time_zone).ingest_file(ORACLE / entry["file"])
    reports = [r.report() for r in results]
    assert reports, "no result for the file"
    assert all(r["file"] == str(ORACLE / entry["file"]) for r in reports)
    if str(entry.get("python_hl7_parse", "ok")).startswith("error"):
        assert all(r["ack_code"] in ("AE", "AR") and r["error"] for r in reports), reports
        assert QuarantinedInput.objects.filter(organization=org).count() == len(reports)
        return
    if entry.get("MSH-9"):
        assert len(reports) == 1, reports
        check_message(reports[0], entry)
    else:  # a file or batch of messages
        assert all(r["ack_code"] == "AA" for r in reports), reports


@pytest.mark.oracle
@pytest.mark.django_db
@pytest.mark.parametrize("case", _cases())
def test_oracle_malformed_case(case: dict[str, Any]) -> None:
    org = make_org()
    box = Hl7Inbox(organization_id=org.pk, time_zone=org.time_zone)
    message = case["message"]
    over_mllp = box.receive_frame(message.encode("utf-8"), source=f"case {case.get('id')}")
    from_file = box.ingest_text(message, source=f"case {case.get('id')}")
    if case.get("expected_behaviour") == "reject":
        for result in [over_mllp, *from_file]:
            assert result.ack_code in ("AE", "AR") and result.error, result.report()
        assert QuarantinedInput.objects.filter(organization=org).count() >= 1 + len(from_file)
