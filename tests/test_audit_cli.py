"""`careloop audit verify` / `careloop audit export` and GET /api/audit/verify, before and after tampering.

(Lives here rather than in careloop/audit/tests because domain apps may not import the CLI.)
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from django.db import connection
from django.test import Client

from careloop import cli
from careloop.accounts.tests.factories import bearer, make_token, make_user
from careloop.audit.models import AuditEvent
from careloop.audit.tests.factories import tamperable_chain
from careloop.clinics.models import Organization


def _tamper(chain: int, seq: int) -> None:
    with connection.cursor() as cur:
        cur.execute("UPDATE audit_auditevent SET outcome = %s WHERE chain = %s AND seq = %s", ["failure", chain, seq])


@pytest.mark.django_db
def test_cli_audit_verify_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    chain = tamperable_chain(5)
    assert cli.main(["audit", "verify"]) == 0
    assert capsys.readouterr().out == "5 audit rows checked: OK\n"
    _tamper(chain, 4)
    assert cli.main(["audit", "verify"]) == 1
    assert capsys.readouterr().out == (f"chain {chain} seq 4: modified: content does not match its hash\n"
                                       "5 audit rows checked: 1 problem(s)\n")
    assert cli.main(["audit", "verify", "--json"]) == 1
    row_id = AuditEvent.objects.get(chain=chain, seq=4).pk
    assert orjson.loads(capsys.readouterr().out) == {"rows_checked": 5, "ok": False, "problems": [
        {"chain": chain, "seq": 4, "row_id": row_id, "kind": "modified", "message": "content does not match its hash"}]}


@pytest.mark.django_db
def test_cli_audit_verify_on_an_empty_database(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["audit", "verify"]) == 0
    assert capsys.readouterr().out == "0 audit rows checked: OK\n"


@pytest.mark.django_db
def test_api_audit_verify_reports_tampering() -> None:
    chain = tamperable_chain(5)
    headers = bearer(make_token(make_user(Organization.objects.get(pk=chain), "admin")))
    assert Client().get("/api/audit/verify", **headers).json() == {"rows_checked": 5, "ok": True, "problems": []}
    _tamper(chain, 2)
    body = Client().get("/api/audit/verify", **headers).json()
    assert body == {"rows_checked": 5, "ok": False, "problems": [
        {"chain": chain, "seq": 2, "row_id": AuditEvent.objects.get(chain=chain, seq=2).pk, "kind": "modified",
         "message": "content does not match its hash"}]}


@pytest.mark.django_db
def test_cli_audit_export_writes_the_patients_trail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from careloop.clinics.tests.factories import make_org
    from careloop.interop.fhir.tests import factories as fx
    from careloop.registry.models import Patient

    org = make_org()
    fx.import_json(org.pk, fx.bundle([fx.patient("p1"), fx.condition("c1", "urn:uuid:p1")]))
    patient = Patient.objects.get()
    out = tmp_path / "trail.json"
    assert cli.main(["audit", "export", "--patient", str(patient.pk), "--out", str(out)]) == 0
    bundle = orjson.loads(out.read_bytes())
    assert (bundle["resourceType"], bundle["type"], bundle["total"]) == ("Bundle", "collection", 1)
    event = bundle["entry"][0]["resource"]
    assert (event["subtype"][0]["code"], event["action"]) == ("registry.fhir_imported", "C")
    assert event["entity"][0]["what"]["identifier"]["value"] == str(patient.pk)
    assert cli.main(["audit", "export", "--patient", "999999"]) == 2
    assert capsys.readouterr().err == "careloop: no patient 999999\n"
