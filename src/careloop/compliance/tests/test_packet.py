"""The evidence packet: the PDF holds the key sections (text read back from the PDF's own content streams, not
through reportlab), the FHIR Bundle validates with fhir.resources (R4B classes), voided time is marked, and the
billing trace is shown when a run decided the month ("no billing decision recorded" otherwise)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import time_machine
from fhir.resources.R4B.bundle import Bundle

from careloop.billing.models import BillingRun, ClaimLine, PatientMonthDecision
from careloop.compliance import packet, services
from careloop.compliance.tests.factories import (
    MONTH,
    T0,
    UTC,
    discharge,
    enroll_apcm,
    full_evidence,
    make_clinic,
    record_all_capabilities,
)

pytestmark = pytest.mark.django_db
ORACLE = Path(__file__).resolve().parents[5] / "shared" / "oracles" / "fhir-examples"


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(T0, tick=False):
        yield


def pdf_text(data: bytes) -> str:
    """Every string drawn by a text operator, from the page content streams (ASCII85 and Flate filters undone
    with the standard library)."""
    assert data.startswith(b"%PDF-")
    chunks: list[str] = []
    for m in re.finditer(rb"<<([^<>]*)>>\s*stream\r?\n(.*?)endstream", data, re.S):
        head, raw = m.group(1), m.group(2).strip()
        if b"ASCII85Decode" in head:
            raw = base64.a85decode(raw.removesuffix(b"~>"))
        if b"FlateDecode" in head:
            raw = zlib.decompress(raw)
        for s in re.findall(rb"\(((?:[^()\\]|\\.)*)\)\s*Tj", raw, re.S):
            chunks.append(s.replace(b"\\(", b"(").replace(b"\\)", b")").replace(b"\\\\", b"\\")
                          .decode("latin-1"))
    return " ".join(" ".join(chunks).split())  # wrapped table cells read as one line


def _patient_month() -> tuple[Any, Any]:
    c = make_clinic("packet-clinic")
    record_all_capabilities(c)
    p, _ = enroll_apcm(c, "Quill", "Ada")
    full_evidence(c, p)
    discharge(c, p, discharged=dt.datetime(2026, 3, 3, 16, tzinfo=UTC),
              contact=dt.datetime(2026, 3, 4, 15, tzinfo=UTC))
    return c, p


def test_pdf_has_the_sections_an_auditor_needs() -> None:
    c, p = _patient_month()
    out = services.evidence_packet(actor=c.actor("leader"), patient_id=p.pk, month=MONTH)
    assert (out.content_type, out.filename) == ("application/pdf", f"evidence-packet-{p.pk}-{MONTH}.pdf")
    text = pdf_text(out.content)
    for heading in ["APCM evidence packet: Ada Quill, 2026-03", "Patient identity", "APCM element coverage",
                    "Enrollment, consent and initiating visit", "Care plan version in force",
                    "Risk tier and methodology", "Chronic conditions supporting the level", "QMB evidence (G0558)",
                    "Time log by staff and activity", "Contact attempts (outreach)",
                    "Transition episodes and deadlines", "24/7 access events", "Designated care-team member",
                    "Performance-measurement pathway", "Practice capabilities in force", "Billing rule trace",
                    "Page 1"]:
        assert heading in text, heading
    assert "No billing decision recorded for 2026-03" in text
    assert "VOIDED: entered twice" in text
    assert "tier-1.0" in text and "E119" in text and "MVP" in text
    assert c.org.name in text


def test_pdf_says_none_recorded_when_there_is_no_care_plan() -> None:
    c = make_clinic()
    p, _ = enroll_apcm(c, "Plain")
    text = pdf_text(services.evidence_packet(actor=c.actor("admin"), patient_id=p.pk, month=MONTH).content)
    assert "None recorded: no care plan version existed at the end of 2026-03." in text
    assert "No time entries in 2026-03." in text


def test_fhir_bundle_validates_and_carries_the_evidence() -> None:
    c, p = _patient_month()
    services.attest_month(actor=c.actor("provider"), patient_id=p.pk, month=MONTH, statement="elements available")
    out = services.evidence_packet(actor=c.actor("billing"), patient_id=p.pk, month=MONTH, fmt="fhir")
    bundle = orjson.loads(out.content)
    Bundle.model_validate(bundle)  # raises on an invalid resource
    codes = [e["resource"].get("code", {}).get("coding", [{}])[0].get("code") for e in bundle["entry"]]
    assert "apcm-monthly-attestation" in codes
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert bundle["type"] == "collection"
    assert types[:3] == ["Patient", "Organization", "Consent"]
    for rtype in ("CarePlan", "RiskAssessment", "Condition", "Coverage", "Communication", "Encounter", "CareTeam",
                  "DocumentReference"):
        assert rtype in types, rtype
    time_obs = [e["resource"] for e in bundle["entry"]
                if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "care-management-time"]
    assert sorted((o["status"], o["valueQuantity"]["value"]) for o in time_obs) == [
        ("entered-in-error", 12), ("final", 15)]
    deadlines = [e["resource"]["valueString"] for e in bundle["entry"]
                 if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "transition-deadline"]
    assert deadlines[1].startswith("met;")  # 7-day follow-up: contacted the next day
    trace = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DocumentReference")
    assert json.loads(base64.b64decode(trace["content"][0]["attachment"]["data"])) == {
        "status": "no billing decision recorded"}
    assert len({e["fullUrl"] for e in bundle["entry"]}) == len(bundle["entry"])


@pytest.mark.oracle
@pytest.mark.skipif(not ORACLE.exists(), reason="../shared/oracles/fhir-examples is absent (public checkout)")
def test_fhir_bundle_validates_against_the_r4_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ORACLE / "validation" / "fhir.schema.r4.json").read_text())
    c, p = _patient_month()
    bundle = orjson.loads(services.evidence_packet(actor=c.actor("billing"), patient_id=p.pk, month=MONTH,
                                                   fmt="fhir").content)
    errors = sorted(jsonschema.Draft6Validator(schema).iter_errors(bundle), key=lambda e: list(e.absolute_path))
    assert [f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors] == []


def test_billing_trace_with_rule_text_when_the_run_decided_the_month() -> None:
    c, p = _patient_month()
    run = BillingRun.objects.create(organization=c.org, month=MONTH, ruleset="cms-2026", started_at=T0,
                                    actor_username="tests")
    decision = PatientMonthDecision.objects.create(
        organization=c.org, patient=p, month=MONTH, ruleset="cms-2026@0123456789ab", facts_hash="x" * 64, run=run,
        computed_at=T0,
        facts={"patient": {"chronic_conditions": ["E119"]}},
        decision={"lines": [{"code": "G0558", "units": 1, "rule_ids": ["APCM-004", "APCM-006"]}],
                  "denied": [{"code": "99490", "rule_id": "APCM-008", "reason": "CCM bundled into APCM"}],
                  "flags": [{"code": "G0558", "rule_id": "APCM-012", "reason": "capability missing"}]})
    ClaimLine.objects.create(organization=c.org, patient=p, month=MONTH, decision=decision, code="G0558", units=1,
                             practitioner=c.practitioner, service_date=dt.date(2026, 3, 31),
                             rule_ids=["APCM-004", "APCM-006"], status="billable")
    data = packet.gather(organization_id=c.org.pk, patient_id=p.pk, month=MONTH, generated_at=T0,
                         generated_by="tests")
    assert data.billing is not None
    assert [(ln["code"], ln["status"]) for ln in data.billing["lines"]] == [("G0558", "billable")]
    assert data.billing["rule_text"]["APCM-008"].startswith("IF any APCM_BASE is billed")
    assert set(data.billing["rule_text"]) == {"APCM-004", "APCM-006", "APCM-008", "APCM-012"}
    conditions = dict(packet.sections(data))["Chronic conditions supporting the level"]
    assert [(r[0], r[-1]) for r in conditions[1:]] == [("E119", "yes"), ("I10", "no")]  # type: ignore[index]
    text = pdf_text(packet.render_pdf(data))
    assert "Billing rule trace (ruleset cms-2026@0123456789ab, revision 1" in text
    assert "CCM bundled into APCM" in text and "G0558" in text
    bundle = packet.fhir_bundle(data)
    Bundle.model_validate(bundle)
    doc = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DocumentReference")
    assert json.loads(base64.b64decode(doc["content"][0]["attachment"]["data"]))["lines"][0]["code"] == "G0558"


def test_missed_seven_day_follow_up_is_shown_as_missed() -> None:
    c = make_clinic()
    p, _ = enroll_apcm(c, "Late")
    discharge(c, p, discharged=dt.datetime(2026, 3, 1, 16, tzinfo=UTC), contact=None)
    data = packet.gather(organization_id=c.org.pk, patient_id=p.pk, month=MONTH,
                         generated_at=dt.datetime(2026, 3, 20, tzinfo=UTC), generated_by="tests")
    statuses = {d["what"]: d["status"] for d in data.episodes[0]["deadlines"]}
    assert statuses["APCM follow-up communication (7 days)"] == "missed"
    assert {c2["element"]: c2["status"] for c2 in data.coverage}["transitions"] == "missing"
