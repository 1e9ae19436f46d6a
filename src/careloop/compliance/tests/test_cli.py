"""`careloop compliance ...`: packet files (PDF by default, FHIR Bundle for .json), coverage JSON, recording
capabilities and pathways, and the capabilities exit code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import time_machine
from fhir.resources.R4B.bundle import Bundle

from careloop.audit.models import AuditEvent
from careloop.cli import main
from careloop.compliance.choices import CAPABILITY_KEYS
from careloop.compliance.models import ClinicianPathway
from careloop.compliance.tests.factories import MONTH, T0, enroll_apcm, full_evidence, make_clinic

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(T0, tick=False):
        yield


def test_packet_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = make_clinic()
    p, _ = enroll_apcm(c)
    full_evidence(c, p)
    pdf, js = tmp_path / "packet.pdf", tmp_path / "packet.json"
    assert main(["compliance", "packet", "--patient", str(p.pk), "--month", MONTH, "--out", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert main(["compliance", "packet", "--patient", str(p.pk), "--month", MONTH, "--out", str(js), "--json"]) == 0
    summary = orjson.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert (summary["format"], summary["bytes"]) == ("fhir", js.stat().st_size)
    Bundle.model_validate(orjson.loads(js.read_bytes()))
    assert AuditEvent.objects.filter(action="compliance.packet_generated", patient_id=p.pk).count() == 2
    assert main(["compliance", "packet", "--patient", "999999", "--month", MONTH, "--out", str(pdf)]) == 2


def test_record_capabilities_pathway_and_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    c = make_clinic()
    enroll_apcm(c)
    assert main(["compliance", "capabilities", "--month", MONTH]) == 1  # nothing recorded yet
    for key in CAPABILITY_KEYS:
        assert main(["compliance", "record", "--key", key, "--from", "2026-01-01", "--evidence", f"{key} policy"]) == 0
    assert main(["compliance", "record", "--key", "nope", "--from", "2026-01-01", "--evidence", "x"]) == 2
    assert main(["compliance", "capabilities", "--month", MONTH]) == 0
    assert main(["compliance", "pathway", "--npi", c.practitioner.npi, "--year", "2026", "--pathway", "REACH"]) == 0
    assert ClinicianPathway.objects.get(practitioner=c.practitioner).pathway == "REACH"
    capsys.readouterr()
    assert main(["compliance", "coverage", "--month", MONTH, "--json"]) == 0
    out = orjson.loads(capsys.readouterr().out)
    by = {e["element"]: e for e in out["elements"]}
    assert (out["patients"], by["consent"]["evidenced"], by["performance"]["evidenced"]) == (1, 1, 1)
    assert by["care_plan"]["missing"] == 1
