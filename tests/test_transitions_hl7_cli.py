"""The ADT hook (A03 opens an episode after commit, A13 cancels it) and ``careloop transitions scan``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from careloop.cli import main
from careloop.clinics.tests.factories import make_org
from careloop.interop.hl7v2.inbox import Hl7Inbox
from careloop.interop.hl7v2.tests.factories import adt
from careloop.registry.tests.factories import make_patient
from careloop.transitions.models import TransitionEpisode
from careloop.transitions.tests.factories import make_stay
from careloop.worklist.models import CareTask

pytestmark = pytest.mark.django_db


def test_adt_discharge_opens_and_cancel_discharge_cancels_the_episode(
    django_capture_on_commit_callbacks: Any,
) -> None:
    org = make_org("hl7-tr")
    inbox = Hl7Inbox(organization_id=org.pk)
    with django_capture_on_commit_callbacks(execute=True):
        inbox.ingest_text(adt("A01", "T1") + adt("A03", "T2", discharge="20260105083000-0500"), source="test")
    ep = TransitionEpisode.objects.get()
    assert (ep.setting, ep.status) == ("inpatient", "open")
    assert ep.discharged_at == dt.datetime(2026, 1, 5, 13, 30, tzinfo=dt.UTC)
    assert ep.contact_due == dt.datetime(2026, 1, 8, 4, 59, 59, tzinfo=dt.UTC)  # Wed 7 Jan 23:59:59 New York
    assert CareTask.objects.filter(source_type="TransitionEpisode").count() == 4
    with django_capture_on_commit_callbacks(execute=True):
        inbox.ingest_text(adt("A03", "T2b", discharge="20260105083000-0500"), source="test")  # re-sent
    assert TransitionEpisode.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        inbox.ingest_text(adt("A13", "T3"), source="test")
    ep.refresh_from_db()
    assert (ep.status, ep.cancelled_reason) == ("cancelled", "discharge cancelled")
    assert set(CareTask.objects.values_list("status", flat=True)) == {"cancelled"}


def test_scan_command_opens_episodes_for_imported_encounters(capsys: pytest.CaptureFixture[str]) -> None:
    org = make_org("scan-org")
    p = make_patient(org, "Scan", "Sam")
    make_stay(p, start=dt.datetime(2026, 3, 1, tzinfo=dt.UTC), end=dt.datetime(2026, 3, 3, tzinfo=dt.UTC),
              source_kind="fhir")
    make_stay(p, start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), end=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
              class_code="EMER")
    assert main(["transitions", "scan", "--org", "scan-org", "--since", "2026-02-01"]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert out == [{"organization": "scan-org", "opened": 1, "queued": 0, "refreshed": 0, "failed": {}}]
    assert main(["transitions", "scan"]) == 0
    assert orjson.loads(capsys.readouterr().out)[0]["opened"] == 1
    assert TransitionEpisode.objects.count() == 2
