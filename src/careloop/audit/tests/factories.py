"""Plain helpers for audit tests: synthetic hash chains and events written through ``record_event``."""

from __future__ import annotations

import dataclasses

import pytest
from django.db import DatabaseError, connection, transaction

from careloop.audit.models import AuditEvent
from careloop.audit.rules import GENESIS, ChainRow, row_hash
from careloop.audit.selectors import verify_all_chains
from careloop.audit.services import record_event
from careloop.clinics.tests.factories import make_org
from careloop.core.actor import Actor


def chain_rows(n: int, chain: int = 1) -> list[ChainRow]:
    """``n`` correctly chained rows (ids equal their seq)."""
    rows: list[ChainRow] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        values: dict[str, object] = {
            "chain": chain, "seq": seq, "organization_id": chain, "at": f"2026-03-09T14:00:{seq:02d}+00:00",
            "actor_id": 7, "actor_username": "nina", "role": "nurse", "action": "patient.chart_viewed",
            "patient_id": 100 + seq, "object_type": "Patient", "object_id": str(100 + seq),
            "source_ip": "10.0.0.1", "outcome": "success", "detail": "{}",
        }
        digest = row_hash(values, prev)
        rows.append(ChainRow(id=seq, prev_hash=prev, hash=digest, **values))  # type: ignore[arg-type]
        prev = digest
    return rows


def rehashed(row: ChainRow, **changes: object) -> ChainRow:
    """``row`` with ``changes`` and a hash recomputed over them (what a careful forger would do)."""
    changed = dataclasses.replace(row, **changes)  # type: ignore[arg-type]
    return dataclasses.replace(changed, hash=row_hash(changed, changed.prev_hash))


def staff_actor(organization_id: int | None, user_id: int = 7, username: str = "nina", role: str = "nurse") -> Actor:
    return Actor(user_id=user_id, username=username, role=role, organization_id=organization_id,
                 source_ip="10.0.0.1")


def write_events(organization_id: int | None, n: int, *, patient_id: int | None = 42) -> None:
    actor = staff_actor(organization_id)
    for i in range(n):
        record_event(actor=actor, action="patient.chart_viewed", patient_id=patient_id, object_type="Patient",
                     object_id=str(patient_id), detail={"i": i})


def drop_append_only_triggers() -> None:
    """Remove the database triggers that refuse UPDATE/DELETE (inside the test transaction)."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("DROP TRIGGER audit_event_no_change ON audit_auditevent")
        else:
            cur.execute("DROP TRIGGER audit_event_no_update")
            cur.execute("DROP TRIGGER audit_event_no_delete")


def tamperable_chain(n: int = 5) -> int:
    """A new organization whose chain holds ``n`` intact events. Checks that the database refuses UPDATE and
    DELETE on audit rows, then drops those triggers (inside the test transaction, so they come back after the
    test) so that the caller can tamper with raw SQL. Returns the chain id (the organization id)."""
    org = make_org()
    write_events(org.pk, n)
    assert verify_all_chains() == (n, [])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(chain=org.pk, seq=2).update(action="patient.listed")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.get(chain=org.pk, seq=n).delete()
    assert AuditEvent.objects.filter(chain=org.pk).count() == n
    drop_append_only_triggers()
    return org.pk
