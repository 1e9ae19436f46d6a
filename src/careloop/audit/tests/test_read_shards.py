"""Audit of read-only requests: concurrent writers, read shard chains (PostgreSQL), the SQLite write gate.

See docs/adr/0004-sharded-read-audit-chains.md.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from careloop.audit import rules
from careloop.audit.models import AuditChainHead, AuditEvent
from careloop.audit.selectors import verify_all_chains
from careloop.audit.services import _lock_free_read_shard, record_patient_reads
from careloop.audit.tests.factories import staff_actor, write_events
from careloop.clinics.tests.factories import make_org

pg_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="read shard chains are used on PostgreSQL")


def test_read_shard_chain_ids_keep_the_organization_and_do_not_collide() -> None:
    chains = rules.read_shard_chains(42)
    assert len(chains) == rules.READ_SHARDS == len(set(chains))
    assert all(c % rules.SHARD_STRIDE == 42 and c >= rules.SHARD_STRIDE for c in chains)
    assert not set(chains) & set(rules.read_shard_chains(43))
    assert not set(chains) & set(rules.read_shard_chains(0))


@pytest.mark.django_db(transaction=True)
def test_concurrent_read_audits_all_land_and_every_chain_verifies() -> None:
    org = make_org()
    write_events(org.pk, 2)  # business events on the organization's own chain
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def reader(n: int) -> None:
        try:
            start.wait()
            for i in range(5):
                record_patient_reads(actor=staff_actor(org.pk, user_id=n), action="task.listed",
                                     patient_ids=[1000 * n + i, 1000 * n + i + 500])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert AuditEvent.objects.filter(organization_id=org.pk, action="task.listed").count() == 8 * 5 * 2
    assert verify_all_chains() == (2 + 80, [])
    # One request's events stay together, in order, on one chain.
    for n in range(1, 9):
        rows = list(AuditEvent.objects.filter(actor_id=n).order_by("chain", "seq").values_list("chain", "seq"))
        for a, b in zip(rows[::2], rows[1::2], strict=True):
            assert b == (a[0], a[1] + 1)


@pytest.mark.django_db
def test_reads_inside_a_transaction_go_on_the_organization_chain() -> None:
    org = make_org()
    with transaction.atomic():
        record_patient_reads(actor=staff_actor(org.pk), action="patient.listed", patient_ids=[5, 6])
    assert list(AuditEvent.objects.order_by("seq").values_list("chain", "seq", "patient_id")) == [
        (org.pk, 1, 5), (org.pk, 2, 6)]


@pg_only
@pytest.mark.django_db(transaction=True)
def test_read_audits_use_a_shard_no_other_transaction_holds() -> None:
    org = make_org()
    record_patient_reads(actor=staff_actor(org.pk), action="patient.listed", patient_ids=[1])
    shards = rules.read_shard_chains(org.pk)
    assert AuditChainHead.objects.filter(chain__in=shards).count() == rules.READ_SHARDS  # created together
    assert AuditEvent.objects.get().chain == shards[0]
    held, release, done = threading.Event(), threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic():
                _lock_free_read_shard(org.pk)  # takes shard 1 and keeps it until release
                held.set()
                release.wait(10)
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)
    try:
        record_patient_reads(actor=staff_actor(org.pk), action="patient.listed", patient_ids=[2])  # no wait
    finally:
        release.set()
        thread.join()
    assert AuditEvent.objects.get(patient_id=2).chain == shards[1]
    assert verify_all_chains() == (2, [])


@pytest.mark.django_db
def test_verify_reports_a_missing_read_shard_head() -> None:
    org = make_org()
    shards = rules.read_shard_chains(org.pk)
    AuditChainHead.objects.bulk_create([AuditChainHead(chain=c) for c in shards])
    assert verify_all_chains() == (0, [])
    AuditChainHead.objects.filter(chain=shards[3]).delete()
    checked, problems = verify_all_chains()
    assert [(p.chain, p.kind) for p in problems] == [(shards[3], "deleted")]


@pg_only
@pytest.mark.django_db(transaction=True)
def test_a_removed_row_on_a_read_shard_is_detected() -> None:
    org = make_org()
    for pid in (1, 2, 3):
        record_patient_reads(actor=staff_actor(org.pk), action="patient.listed", patient_ids=[pid])
    victim = AuditEvent.objects.get(patient_id=2)
    with connection.cursor() as cur:  # what someone with database access could do, bypassing the trigger
        cur.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_change")
        cur.execute("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
        cur.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_no_change")
    checked, problems = verify_all_chains()
    assert checked == 2
    assert [(p.chain, p.seq, p.kind) for p in problems] == [(victim.chain, 2, "deleted")]
