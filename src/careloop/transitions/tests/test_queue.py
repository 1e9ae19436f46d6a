"""The transitions queue: ADT discharges queue their episode work in the message's transaction; the worker
(thread in the listener, inline for ``hl7 ingest``, ``transitions scan``) applies it once, after the commit."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from careloop.clinics.tests.factories import make_org
from careloop.interop.hl7v2.inbox import Hl7Inbox
from careloop.interop.hl7v2.tests.factories import adt
from careloop.registry.models import Encounter
from careloop.transitions import services
from careloop.transitions.models import PendingEpisodeSync, TransitionEpisode
from careloop.transitions.tasks import EpisodeWorker
from careloop.worklist.models import CareTask

pytestmark = pytest.mark.django_db


def deferred(org_id: int) -> tuple[Hl7Inbox, list[int]]:
    woken: list[int] = []
    return Hl7Inbox(organization_id=org_id, transitions=lambda: woken.append(1)), woken


def ingest(inbox: Hl7Inbox, *messages: str) -> None:
    for m in messages:
        assert inbox.receive_frame(m.encode(), source="test").ack_code == "AA"


def test_discharge_is_queued_with_the_message_and_applied_once_by_the_worker() -> None:
    org = make_org()
    inbox, woken = deferred(org.pk)
    ingest(inbox, adt("A01", "1"), adt("A03", "2", discharge="20260105083000-0500", disposition="01"))
    assert woken  # the worker was told after the commit
    assert TransitionEpisode.objects.count() == 0 and CareTask.objects.count() == 0  # not on the ACK path
    assert list(PendingEpisodeSync.objects.values_list("encounter_id", flat=True)) == [Encounter.objects.get().pk]
    first = services.process_pending(organization_id=org.pk)
    assert (first.consumed, first.episodes) == (1, 1)
    ep = TransitionEpisode.objects.get()
    # 2026-01-05 is a Monday: contact by the end of Wednesday (clinic time), TCM visit by day 7 / 14
    assert ep.contact_due is not None and ep.contact_due.date() in (dt.date(2026, 1, 7), dt.date(2026, 1, 8))
    assert sorted(CareTask.objects.values_list("task_type", flat=True)) == [
        "care_plan_review", "followup_visit_scheduling", "medication_reconciliation", "post_discharge_contact"]
    assert PendingEpisodeSync.objects.count() == 0
    # the same encounter queued again (a resent or updated discharge) changes nothing
    PendingEpisodeSync.objects.create(organization_id=org.pk, encounter_id=ep.encounter_id)
    again = services.process_pending(organization_id=org.pk)
    assert again.consumed == 1 and TransitionEpisode.objects.count() == 1 and CareTask.objects.count() == 4


def test_a_failing_batch_leaves_its_rows_queued_with_the_error_and_applies_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    org = make_org()
    inbox, _ = deferred(org.pk)
    ingest(inbox, adt("A03", "1", discharge="20260105083000-0500"))

    def boom(**_kw: object) -> None:
        raise RuntimeError("worklist unavailable")

    monkeypatch.setattr(services.worklist, "create_tasks_bulk", boom)
    result = services.process_pending(organization_id=org.pk)
    assert result.consumed == 0 and "worklist unavailable" in next(iter(result.failed.values()))
    row = PendingEpisodeSync.objects.get()
    assert row.attempts == 1 and "worklist unavailable" in row.last_error
    assert TransitionEpisode.objects.count() == 0  # rolled back with the failed attempt
    monkeypatch.undo()
    assert services.drain(organization_id=org.pk).consumed == 1
    assert TransitionEpisode.objects.count() == 1 and CareTask.objects.count() == 4


def test_cancelled_discharge_and_readmission_in_one_batch() -> None:
    org = make_org()
    inbox, _ = deferred(org.pk)
    ingest(inbox,
           adt("A03", "1", visit="V1", admit="20260101120000-0500", discharge="20260105083000-0500"),
           adt("A03", "2", visit="V2", admit="20260110120000-0500", discharge="20260112083000-0500"),
           adt("A03", "3", visit="V3", admit="20260115120000-0500", discharge="20260116083000-0500"),
           adt("A13", "4", visit="V3", admit="20260115120000-0500"))
    assert services.process_pending(organization_id=org.pk).consumed == 4
    first, second = TransitionEpisode.objects.order_by("admitted_at")
    assert second.readmission_of_id == first.pk  # readmitted within 30 days, both in the same batch
    # A13 undid the third discharge before the worker ran: no episode, no tasks for that stay
    assert Encounter.objects.get(visit_number="V3").status == "in-progress"
    assert CareTask.objects.count() == 8


def test_ingest_without_a_worker_applies_the_queue_before_returning() -> None:
    org = make_org()
    inbox = Hl7Inbox(organization_id=org.pk)
    ingest(inbox, adt("A03", "1", discharge="20260105083000-0500"))
    assert PendingEpisodeSync.objects.count() == 0 and TransitionEpisode.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_worker_thread_applies_what_is_queued_and_stops_cleanly() -> None:
    org = make_org()
    worker = EpisodeWorker(organization_id=org.pk, idle=0.05).start()
    try:
        inbox = Hl7Inbox(organization_id=org.pk, transitions=worker.notify)
        ingest(inbox, adt("A01", "1"), adt("A03", "2", discharge="20260105083000-0500"))
        deadline = time.monotonic() + 20
        while TransitionEpisode.objects.count() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop(grace=10)
    assert TransitionEpisode.objects.count() == 1 and CareTask.objects.count() == 4
    assert PendingEpisodeSync.objects.count() == 0 and worker.consumed == 1


def test_a40_merge_moves_the_merged_patients_episodes_to_the_survivor() -> None:
    from careloop.audit.models import AuditEvent
    from careloop.registry.models import Patient

    org = make_org()
    inbox = Hl7Inbox(organization_id=org.pk)
    ingest(inbox, adt("A03", "1", mrn="OLD", visit="V1", discharge="20260105083000-0500"),
           adt("A01", "2", mrn="NEW", dob="19480313", visit="V2"))
    old = Patient.objects.get(identifiers__value="OLD")
    new = Patient.objects.get(identifiers__value="NEW")
    ep = TransitionEpisode.objects.get()
    assert ep.patient_id == old.pk
    ingest(inbox, adt("A40", "3", mrn="NEW", prior="OLD", pv1=False))
    ep.refresh_from_db()
    assert ep.patient_id == new.pk
    event = AuditEvent.objects.get(action="transition.patient_merged")
    assert (event.patient_id, event.object_id) == (new.pk, str(ep.pk))
