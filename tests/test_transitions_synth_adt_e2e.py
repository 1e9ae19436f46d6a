"""Acceptance (issue 5): the synthetic clinic's ADT stream (``careloop synth``), sent over MLLP with
``careloop hl7 send`` to a running listener (with its transitions worker), shows up on the transitions board
with the right deadlines. The clinic's patients are imported first (FHIR Patient resources only: the
hospital stays come from the ADT feed), so the hospitals' messages are matched to them by MBI."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from careloop.accounts.tests.factories import make_user
from careloop.cli import main
from careloop.clinics.tests.factories import make_org
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.interop.fhir.importer import FhirImporter
from careloop.interop.hl7v2.inbox import Hl7Inbox, MllpHandler
from careloop.interop.mllp.tests.helpers import ServerThread
from careloop.registry.models import Encounter, Patient, RawHl7Message
from careloop.synth.clinic import CLINIC_FACILITY
from careloop.synth.generator import generate
from careloop.transitions import views_data
from careloop.transitions.models import PendingEpisodeSync, TransitionEpisode
from careloop.transitions.tasks import EpisodeWorker
from careloop.worklist.models import CareTask

pytestmark = pytest.mark.django_db(transaction=True)
ZONE = "America/New_York"
AS_OF = dt.date(2026, 11, 15)
NO_TCM = {"03", "50", "51", "20"}  # SNF, hospice (home / facility), expired: HL7 table 0112


@dataclass
class Stay:
    facility: str
    visit: str
    klass: str = ""
    discharged: str = ""  # PV1-45 as sent, "" while not discharged
    disposition: str = ""
    patient_mbi: str = ""
    patient_type: str = ""  # PV1-18: "OBS" marks an observation stay on an outpatient (O) visit


def hl7_time(ts: str) -> dt.datetime:
    """YYYYMMDDHHMM[SS]+-ZZZZ, as the synthetic feed writes it."""
    body, sign, off = ts[:-5], ts[-5], ts[-4:]
    at = dt.datetime.strptime(body.ljust(14, "0"), "%Y%m%d%H%M%S")
    offset = dt.timedelta(hours=int(off[:2]), minutes=int(off[2:])) * (1 if sign == "+" else -1)
    return at.replace(tzinfo=dt.timezone(offset))


def expected_stays(adt_dir: Path) -> tuple[int, dict[tuple[str, str], Stay]]:
    """Replay the feed by hand: the last state of every hospital stay (the test's own reading of the files)."""
    stays: dict[tuple[str, str], Stay] = {}
    count = 0
    for path in sorted(adt_dir.glob("*.hl7")):
        for message in path.read_text().replace("\n", "\r").split("\rMSH|"):
            count += 1
            segs = {s[:3]: s.split("|") for s in ("MSH|" + message.removeprefix("MSH|")).split("\r") if s}
            msh, pv1, pid = segs["MSH"], segs.get("PV1"), segs.get("PID")
            event, facility = msh[8].split("^")[1], msh[3]
            if pv1 is None or facility == CLINIC_FACILITY or event not in ("A01", "A02", "A03", "A04", "A08",
                                                                            "A11", "A13"):
                continue
            key = (facility, pv1[19].split("^")[0])
            stay = stays.setdefault(key, Stay(*key))
            stay.klass = pv1[2]
            stay.patient_type = pv1[18] if len(pv1) > 18 else ""
            stay.patient_mbi = next(i.split("^")[0] for i in pid[3].split("~") if i.endswith("^MB")) if pid else ""
            if event == "A03":
                stay.discharged, stay.disposition = pv1[45], pv1[36]
            elif event in ("A11", "A13"):
                stay.discharged = ""
    return count, stays


def contact_due(discharged: dt.datetime) -> dt.datetime:
    """End of the 2nd business day after the (clinic-local) discharge day; weekends and federal holidays off."""
    zone = ZoneInfo(ZONE)
    day, left = discharged.astimezone(zone).date(), 2
    while left:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and day not in clock.federal_holidays(day.year):
            left -= 1
    return dt.datetime.combine(day, dt.time(23, 59, 59), zone)


def test_synthetic_adt_stream_over_mllp_lands_on_the_board_with_its_deadlines(tmp_path: Path) -> None:
    generate(patients=25, seed=11, out_dir=tmp_path, as_of=AS_OF)
    org = make_org("synth-adt", time_zone=ZONE)
    summary = FhirImporter(organization_id=org.pk, source_system="synth",
                           actor=Actor.system(org.pk, "test")).import_paths([tmp_path / "Patient.ndjson"])
    assert summary.rejections == [] and Patient.objects.filter(organization=org).count() == 25

    worker = EpisodeWorker(organization_id=org.pk, idle=0.1, linger=0.05).start()
    try:
        inbox = Hl7Inbox(organization_id=org.pk, time_zone=ZONE, transitions=worker.notify)
        with ServerThread(MllpHandler(inbox), workers=2) as srv:
            assert main(["hl7", "send", str(tmp_path / "adt"), "--host", "127.0.0.1", "--port", str(srv.port),
                         "--timeout", "60"]) == 0  # every message acknowledged AA
    finally:
        worker.stop(grace=60)
    assert PendingEpisodeSync.objects.count() == 0
    assert RawHl7Message.objects.filter(organization=org).exclude(status="accepted").count() == 0
    # the hospitals' MRNs are new to the clinic: every stay was matched to an imported patient by MBI
    assert Patient.objects.filter(organization=org).count() == 25

    sent, stays = expected_stays(tmp_path / "adt")
    assert RawHl7Message.objects.filter(organization=org).count() == sent
    discharged = {k: s for k, s in stays.items()
                  if s.discharged and (s.klass in ("I", "E") or (s.klass, s.patient_type) == ("O", "OBS"))}
    assert len(discharged) >= 10, "the synthetic clinic should have several hospital discharges"
    episodes = {(e.encounter.facility, e.encounter.visit_number): e
                for e in TransitionEpisode.objects.filter(organization=org).select_related("encounter", "patient")}
    for key, stay in discharged.items():
        ep = episodes.get(key)
        assert ep is not None, f"no episode for discharged stay {key}"
        assert ep.status != "cancelled"
        assert ep.setting == {"I": "inpatient", "E": "emergency", "O": "observation"}[stay.klass]
        assert ep.discharged_at == hl7_time(stay.discharged)
        assert ep.patient.mbi == stay.patient_mbi
        if stay.disposition in NO_TCM:
            assert (ep.tcm_eligible, ep.contact_due) == (False, None)
        else:
            assert ep.tcm_eligible and ep.contact_due == contact_due(ep.discharged_at), key
            local_day = ep.discharged_at.astimezone(ZoneInfo(ZONE)).date()
            assert ep.visit_due_high.astimezone(ZoneInfo(ZONE)).date() == local_day + dt.timedelta(days=7)
            assert ep.visit_due_moderate.astimezone(ZoneInfo(ZONE)).date() == local_day + dt.timedelta(days=14)
            contact = CareTask.objects.get(organization=org, task_type="post_discharge_contact",
                                           source_id=str(ep.pk))
            assert contact.deadline_at == ep.contact_due
    # stays discharged and then cancelled (A13, A11) opened nothing that is still open
    undone = {k for k, s in stays.items() if not s.discharged}
    assert all(episodes[k].status == "cancelled" for k in undone if k in episodes)

    # the board, the day after the latest discharge: every open episode is in a column, with its countdown
    latest = max(hl7_time(s.discharged) for s in discharged.values())
    with time_machine.travel(latest + dt.timedelta(hours=12), tick=False):
        board = views_data.board(organization_id=org.pk, actor=Actor.system(org.pk, "test"))
        shown = {r["id"]: r for col in ("awaiting_contact", "overdue", "in_followup") for r in board[col]}
        open_eps = [e for e in episodes.values() if e.status == "open"]
        assert open_eps and {e.pk for e in open_eps} <= shown.keys()
        for e in open_eps:
            assert shown[e.pk]["contact_due"] == e.contact_due
        newest = next(e for e in episodes.values() if e.discharged_at == latest)
        if newest.tcm_eligible and not newest.contact_done:
            assert newest.pk in {r["id"] for r in board["awaiting_contact"]}
            assert shown[newest.pk]["countdown"] and not shown[newest.pk]["overdue"]
        assert {r["encounter_id"] for r in board["in_hospital"]} >= {
            e.pk for e in Encounter.objects.filter(organization=org, class_code__in=("IMP", "EMER"),
                                                   status="in-progress", end__isnull=True)}
        client = Client()
        client.force_login(make_user(org, "coordinator"))
        page = client.get("/transitions/")
        assert page.status_code == 200
        html = page.content.decode()
        for e in open_eps[:10]:
            assert e.patient.family in html
