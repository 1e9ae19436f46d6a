"""The ``careloop hl7`` commands: ingest --json in-process; listen/send as real processes (their own SQLite file),
including TLS and a graceful stop on SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from careloop.cli import main
from careloop.clinics.tests.factories import make_org
from careloop.interop.hl7v2.tests.factories import adt
from careloop.interop.mllp.tests.helpers import self_signed_cert
from careloop.registry.models import Encounter


@pytest.mark.django_db
def test_ingest_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_org("cli-org")
    f = tmp_path / "feed.hl7"
    f.write_text(adt("A01", "J1").replace("\r", "\n") + adt("A03", "J2", discharge="20260105083000-0500")
                 )
    assert main(["hl7", "ingest", str(f), "--json", "--org", "cli-org"]) == 0
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(x["message_type"], x["control_id"], x["ack_code"], x["status"]) for x in lines] == [
        ("ADT^A01", "J1", "AA", "accepted"), ("ADT^A03", "J2", "AA", "accepted")]
    second = lines[1]
    assert second["encounter"] == {"patient_class": "I", "admit": "2026-01-01T12:00:00-05:00",
                                   "discharge": "2026-01-05T08:30:00-05:00", "visit_number": "V1"}
    assert second["patient"] == {"identifiers": [{"value": "MRN1", "assigner": "GENHOSP", "type": "MR"}],
                                 "family": "DOE", "given": "JANE", "birth_date": "1948-03-12", "sex": "F"}
    assert second["error"] is None and second["merged_from"] == [] and second["version"] == "2.5.1"
    assert Encounter.objects.get().status == "finished"


@pytest.mark.django_db
def test_review_lists_and_resolves_held_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import datetime as dt

    from careloop.registry.models import PatientMatchReview
    from careloop.registry.tests.factories import make_patient

    org = make_org("rev-org")
    p = make_patient(org, "Doe", "Janet", birth_date=dt.date(1948, 3, 12), sex="female")
    f = tmp_path / "held.hl7"
    f.write_text(adt("A03", "R1", mrn="H-1", discharge="20260105083000-0500"))
    main(["hl7", "ingest", str(f), "--org", "rev-org"])
    review = PatientMatchReview.objects.get()
    capsys.readouterr()
    assert main(["hl7", "review", "--org", "rev-org", "--json"]) == 0
    [listed] = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed["review"] == review.pk and [c["patient_id"] for c in listed["candidates"]] == [p.pk]
    assert main(["hl7", "review", "--org", "rev-org", "--resolve", str(review.pk)]) == 2  # --patient or --new
    assert main(["hl7", "review", "--org", "rev-org", "--resolve", str(review.pk), "--patient", str(p.pk)]) == 0
    assert Encounter.objects.get().patient_id == p.pk


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hl7cli")
    env = _env(folder)
    for args in (["migrate"], ["org", "create", "--name", "CLI", "--slug", "cli"]):
        subprocess.run([sys.executable, "-m", "careloop.cli", *args], env=env, check=True, capture_output=True)
    return folder / "db.sqlite3"


def _env(folder: Path) -> dict[str, str]:
    return dict(os.environ, DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}", CARELOOP_DATA_DIR=str(folder))


@pytest.fixture
def workdir(tmp_path: Path, template_db: Path) -> Iterator[Path]:
    shutil.copy(template_db, tmp_path / "db.sqlite3")
    yield tmp_path


def _listen(folder: Path, *extra: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "careloop.cli", "hl7", "listen", "--port", "0", *extra],
        env=_env(folder), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("listening "):
            return proc, int(line.split()[2])
    raise AssertionError(f"listener did not start: {proc.communicate()[1]}")


def _send(folder: Path, port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    feed = folder / "feed.hl7"
    feed.write_text(adt("A01", "S1") + adt("A03", "S2", discharge="20260105083000-0500") + adt("A01", "S1"))
    return subprocess.run([sys.executable, "-m", "careloop.cli", "hl7", "send", str(feed), "--port", str(port),  # noqa: S603
                           *extra], env=_env(folder), capture_output=True, text=True, timeout=120, check=False)


def _rows(folder: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(folder / "db.sqlite3") as db:
        return db.execute("SELECT control_id, status FROM registry_rawhl7message ORDER BY id").fetchall()


def test_listen_send_and_stop_on_sigterm(workdir: Path) -> None:
    proc, port = _listen(workdir)
    try:
        sent = _send(workdir, port)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert sent.returncode == 0, sent.stderr
    assert [line.split(" -> ")[1] for line in sent.stdout.splitlines()] == ["AA", "AA", "AA"]
    assert proc.returncode == 0 and "mllp: stopped; 3 messages" in err
    assert _rows(workdir) == [("S1", "accepted"), ("S2", "accepted"), ("S1", "duplicate")]


def test_listen_and_send_over_tls(workdir: Path) -> None:
    cert, key = self_signed_cert(workdir)
    proc, port = _listen(workdir, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        sent = _send(workdir, port, "--tls-ca", str(cert), "--json")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert sent.returncode == 0, sent.stderr
    assert [orjson.loads(line)["ack_code"] for line in sent.stdout.splitlines()] == ["AA", "AA", "AA"]
    assert [s for _, s in _rows(workdir)] == ["accepted", "accepted", "duplicate"]
