"""SQLite read index: the read chains' events found per patient through a file filled in batches, off the write
lock (docs/adr/0006-deferred-read-index.md)."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from django.db import connection, connections, transaction

from careloop.audit import rules
from careloop.audit.models import AuditChainHead, AuditEvent
from careloop.audit.selectors import patient_audit_trail, read_index_path, sqlite_database_file, verify_all_chains
from careloop.audit.services import index_read_events, record_event, record_patient_reads
from careloop.audit.tasks import index_read_events_until_caught_up
from careloop.audit.tests.factories import staff_actor
from careloop.clinics.tests.factories import make_org

sqlite_file_only = pytest.mark.skipif(
    "connection.vendor != 'sqlite'", reason="the read index file is the SQLite layout (PostgreSQL keeps one index)"
)


@pytest.fixture
def fresh_index() -> None:
    """Every test starts without an index file (tests share one database file per process)."""
    name = sqlite_database_file()
    if name is not None:
        for suffix in ("", "-wal", "-shm"):
            read_index_path(name).with_name(read_index_path(name).name + suffix).unlink(missing_ok=True)


def _trail_ids(org_id: int, patient_id: int) -> list[int]:
    return [e.pk for e in patient_audit_trail(organization_id=org_id, patient_id=patient_id)]


def _expected_ids(org_id: int, patient_id: int) -> list[int]:
    return list(AuditEvent.objects.filter(organization_id=org_id, patient_id=patient_id)
                .order_by("at", "chain", "seq").values_list("id", flat=True))


@sqlite_file_only
@pytest.mark.django_db
def test_the_sqlite_patient_index_leaves_out_the_read_chains() -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'audit_patient_idx'")
        sql = cur.fetchone()[0]
    assert f"WHERE chain < {rules.SHARD_STRIDE}" in sql


@sqlite_file_only
@pytest.mark.django_db(transaction=True)
def test_reads_go_on_the_first_read_chain_with_all_heads_and_verify(fresh_index: None) -> None:
    org = make_org()
    record_patient_reads(actor=staff_actor(org.pk), action="task.listed", patient_ids=[1, 2])
    chains = rules.read_shard_chains(org.pk)
    assert set(AuditEvent.objects.values_list("chain", flat=True)) == {chains[0]}
    assert AuditChainHead.objects.filter(chain__in=chains).count() == rules.READ_SHARDS
    assert verify_all_chains() == (2, [])


@pytest.mark.django_db(transaction=True)
def test_the_trail_holds_every_event_before_and_after_indexing(fresh_index: None) -> None:
    a, b = make_org(), make_org()
    with transaction.atomic():
        record_event(actor=staff_actor(a.pk), action="patient.chart_viewed", patient_id=2, object_type="Patient",
                     object_id="2")
    record_patient_reads(actor=staff_actor(a.pk), action="task.listed", patient_ids=[1, 2])
    record_patient_reads(actor=staff_actor(a.pk, user_id=8), action="task.listed", patient_ids=[2, 3])
    record_patient_reads(actor=staff_actor(b.pk), action="task.listed", patient_ids=[2])
    assert len(_trail_ids(a.pk, 2)) == 3
    assert _trail_ids(a.pk, 2) == _expected_ids(a.pk, 2)  # nothing indexed yet: found by the read chains' scan

    taken = index_read_events()
    if connection.vendor != "sqlite":
        assert taken == 0
        return
    assert taken == 5
    assert index_read_events() == 0  # nothing new
    assert _trail_ids(a.pk, 2) == _expected_ids(a.pk, 2)
    assert _trail_ids(b.pk, 2) == _expected_ids(b.pk, 2) and len(_trail_ids(b.pk, 2)) == 1

    record_patient_reads(actor=staff_actor(a.pk), action="task.listed", patient_ids=[2])  # after the mark
    assert len(_trail_ids(a.pk, 2)) == 4
    assert _trail_ids(a.pk, 2) == _expected_ids(a.pk, 2)
    with sqlite3.connect(read_index_path(sqlite_database_file() or "")) as con:
        entries = con.execute("SELECT count(*) FROM entry").fetchone()[0]
    assert entries == 5  # the index holds what was indexed, once


@sqlite_file_only
@pytest.mark.django_db(transaction=True)
def test_indexing_in_rounds_and_a_mark_that_no_longer_matches_is_rebuilt(fresh_index: None) -> None:
    org = make_org()
    for pid in range(1, 8):
        record_patient_reads(actor=staff_actor(org.pk), action="task.listed", patient_ids=[pid, 100])
    assert index_read_events_until_caught_up(limit=3) == 14
    assert _trail_ids(org.pk, 100) == _expected_ids(org.pk, 100) and len(_expected_ids(org.pk, 100)) == 7
    path = read_index_path(sqlite_database_file() or "")
    with sqlite3.connect(path) as con:  # the database was replaced by another one (a restore): marks do not match
        con.execute("UPDATE mark SET hash = 'not this chain'")
        con.execute("DELETE FROM entry WHERE patient_id = 100")
    assert _trail_ids(org.pk, 100) == _expected_ids(org.pk, 100)  # the stale index is ignored, not trusted
    assert index_read_events() == 14  # indexed again from the start
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM entry").fetchone()[0] == 14
    assert _trail_ids(org.pk, 100) == _expected_ids(org.pk, 100)


@sqlite_file_only
@pytest.mark.django_db(transaction=True)
def test_indexing_does_not_wait_for_the_database_write_lock(fresh_index: None) -> None:
    org = make_org()
    record_patient_reads(actor=staff_actor(org.pk), action="task.listed", patient_ids=[1])
    held, release = threading.Event(), threading.Event()

    def writer() -> None:
        try:
            with transaction.atomic():  # BEGIN IMMEDIATE: SQLite's write lock, held until release
                AuditChainHead.objects.filter(chain=0).exists()
                held.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    assert held.wait(10)
    try:
        assert index_read_events() == 1
        assert not release.is_set()  # it finished while the write lock was still held
    finally:
        release.set()
        thread.join()
