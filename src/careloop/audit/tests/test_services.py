"""Audit events in the database: chained writes, append-only triggers, tamper detection.

(`careloop audit verify` is tested in tests/test_audit_cli.py: domain apps may not import the CLI.)
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import DatabaseError, connection, transaction

from careloop.audit.models import AuditChainHead, AuditEvent
from careloop.audit.rules import GENESIS, ChainProblem, row_hash
from careloop.audit.selectors import patient_audit_trail, verify_all_chains
from careloop.audit.services import EventSpec, record_event, record_events
from careloop.audit.tests.factories import staff_actor, tamperable_chain, write_events
from careloop.clinics.tests.factories import make_org


def _row(org_id: int, seq: int) -> AuditEvent:
    return AuditEvent.objects.get(chain=org_id, seq=seq)


def _sql(statement: str, params: list[object]) -> None:
    with connection.cursor() as cur:
        cur.execute(statement, params)


@pytest.fixture
def chain() -> int:
    """Five events on one organization's chain, triggers checked and then dropped (see ``tamperable_chain``)."""
    return tamperable_chain(5)


@pytest.mark.django_db
def test_record_event_chains_rows_per_organization() -> None:
    a, b = make_org(), make_org()
    with time_machine.travel(dt.datetime(2026, 3, 9, 14, 0, 0, 123456, tzinfo=dt.UTC), tick=False):
        write_events(a.pk, 2)
        write_events(b.pk, 1)
        write_events(a.pk, 1)
        record_event(actor=staff_actor(None), action="system.started")
    rows = list(AuditEvent.objects.order_by("pk").values_list("chain", "seq", "organization_id"))
    assert rows == [(a.pk, 1, a.pk), (a.pk, 2, a.pk), (b.pk, 1, b.pk), (a.pk, 3, a.pk), (0, 1, None)]
    first, second = _row(a.pk, 1), _row(a.pk, 2)
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash
    assert first.at == dt.datetime(2026, 3, 9, 14, 0, 0, 123456, tzinfo=dt.UTC)
    assert (first.actor_id, first.actor_username, first.role, first.source_ip) == (7, "nina", "nurse", "10.0.0.1")
    assert (first.action, first.patient_id, first.object_type, first.object_id, first.outcome, first.detail) == (
        "patient.chart_viewed", 42, "Patient", "42", "success", '{"i":0}')
    head = AuditChainHead.objects.get(chain=a.pk)
    assert (head.seq, head.last_hash) == (3, _row(a.pk, 3).hash)
    assert verify_all_chains() == (5, [])


@pytest.mark.django_db
def test_record_events_writes_a_batch_with_consecutive_seqs() -> None:
    org = make_org()
    record_events(actor=staff_actor(org.pk), events=[EventSpec("patient.listed", pid, "Patient", str(pid))
                                                     for pid in (3, 1, 2)])
    record_events(actor=staff_actor(org.pk), events=[])
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", "patient_id")) == [(1, 3), (2, 1), (3, 2)]
    assert verify_all_chains() == (3, [])


@pytest.mark.django_db
def test_detail_is_stored_as_sorted_json() -> None:
    org = make_org()
    record_event(actor=staff_actor(org.pk), action="x.changed", detail={"b": 2, "a": [1, "é"]})
    assert AuditEvent.objects.get().detail == '{"a":[1,"é"],"b":2}'


@pytest.mark.django_db
def test_audit_rows_roll_back_with_the_surrounding_transaction() -> None:
    org = make_org()
    write_events(org.pk, 2)
    with pytest.raises(RuntimeError), transaction.atomic():
        write_events(org.pk, 3)
        raise RuntimeError("the change failed")
    assert AuditEvent.objects.count() == 2
    assert AuditChainHead.objects.get(chain=org.pk).seq == 2
    write_events(org.pk, 1)
    assert verify_all_chains() == (3, [])


@pytest.mark.django_db
def test_patient_audit_trail_is_scoped_to_the_organization() -> None:
    a, b = make_org(), make_org()
    write_events(a.pk, 2, patient_id=42)
    write_events(a.pk, 1, patient_id=43)
    write_events(b.pk, 1, patient_id=42)
    trail = patient_audit_trail(organization_id=a.pk, patient_id=42)
    assert [(e.chain, e.seq) for e in trail] == [(a.pk, 1), (a.pk, 2)]


@pytest.mark.django_db
def test_modified_row_is_detected(chain: int) -> None:
    _sql("UPDATE audit_auditevent SET actor_username = %s WHERE chain = %s AND seq = %s", ["mallory", chain, 2])
    assert verify_all_chains() == (5, [ChainProblem(chain, 2, _row(chain, 2).pk, "modified",
                                                    "content does not match its hash")])


@pytest.mark.django_db
def test_deleted_middle_row_is_detected(chain: int) -> None:
    _sql("DELETE FROM audit_auditevent WHERE chain = %s AND seq = %s", [chain, 3])
    assert verify_all_chains() == (4, [ChainProblem(chain, 3, None, "deleted", "rows 3..3 are missing")])


@pytest.mark.django_db
def test_deleted_last_row_is_detected(chain: int) -> None:
    _sql("DELETE FROM audit_auditevent WHERE chain = %s AND seq = %s", [chain, 5])
    assert verify_all_chains() == (4, [ChainProblem(chain, 5, None, "truncated",
                                                    "chain head is at 5 but the last row is 4")])


@pytest.mark.django_db
def test_forged_row_appended_after_the_head_is_detected(chain: int) -> None:
    last = _row(chain, 5)
    values: dict[str, object] = {
        "chain": chain, "seq": 6, "organization_id": chain, "at": last.at.isoformat(), "actor_id": 1,
        "actor_username": "mallory", "role": "admin", "action": "patient.chart_viewed", "patient_id": 42,
        "object_type": "Patient", "object_id": "42", "source_ip": "", "outcome": "success", "detail": "{}",
    }
    AuditEvent.objects.create(**values, prev_hash=last.hash, hash=row_hash(values, last.hash))  # type: ignore[arg-type]
    assert verify_all_chains() == (6, [ChainProblem(chain, 6, None, "inserted", "rows after the chain head")])


@pytest.mark.django_db
def test_forged_row_in_place_of_a_deleted_one_is_detected(chain: int) -> None:
    victim = _row(chain, 3)
    _sql("DELETE FROM audit_auditevent WHERE chain = %s AND seq = %s", [chain, 3])
    values: dict[str, object] = {
        "chain": chain, "seq": 3, "organization_id": chain, "at": victim.at.isoformat(), "actor_id": 7,
        "actor_username": "nina", "role": "nurse", "action": "patient.chart_viewed", "patient_id": 999,
        "object_type": "Patient", "object_id": "999", "source_ip": "10.0.0.1", "outcome": "success",
        "detail": victim.detail,
    }
    AuditEvent.objects.create(**values, prev_hash=victim.prev_hash,  # type: ignore[arg-type]
                              hash=row_hash(values, victim.prev_hash))
    assert verify_all_chains() == (5, [ChainProblem(chain, 4, _row(chain, 4).pk, "inserted",
                                                    "does not link to the previous row's hash")])


@pytest.mark.django_db
def test_a_chain_head_without_rows_is_truncated(chain: int) -> None:
    _sql("DELETE FROM audit_auditevent WHERE chain = %s", [chain])
    assert verify_all_chains() == (0, [ChainProblem(chain, 1, None, "truncated",
                                                    "chain head is at 5 but the last row is 0")])


@pytest.mark.parametrize("round_", [1, 2])
@pytest.mark.django_db(transaction=True)
def test_append_only_outside_a_test_transaction_and_after_a_flush(round_: int) -> None:
    # Runs twice with real commits; the second round starts after the first one's flush, so it also checks
    # that the triggers survive the flush that ends every transactional test.
    org = make_org()
    write_events(org.pk, 2)
    with pytest.raises(DatabaseError, match="append-only"):
        AuditEvent.objects.filter(chain=org.pk).update(outcome="failure")
    with pytest.raises(DatabaseError, match="append-only"):
        AuditEvent.objects.all().delete()
    assert verify_all_chains() == (2, [])
