"""Write audit events inside the caller's transaction."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

import orjson
from django.db import connection, transaction

from careloop.audit import rules
from careloop.audit.models import AuditChainHead, AuditEvent
from careloop.core import clock
from careloop.core.actor import Actor


@dataclass(frozen=True)
class EventSpec:
    action: str
    patient_id: int | None = None
    object_type: str = ""
    object_id: str = ""
    outcome: str = "success"
    detail: dict[str, object] | None = None


_COLUMNS = [
    "chain",
    "seq",
    "organization_id",
    "at",
    "actor_id",
    "actor_username",
    "role",
    "action",
    "patient_id",
    "object_type",
    "object_id",
    "source_ip",
    "outcome",
    "detail",
]


def record_event(
    *,
    actor: Actor,
    action: str,
    patient_id: int | None = None,
    object_type: str = "",
    object_id: str = "",
    outcome: str = "success",
    detail: dict[str, object] | None = None,
    organization_id: int | None = None,
) -> None:
    record_events(
        actor=actor,
        events=[EventSpec(action, patient_id, object_type, object_id, outcome, detail)],
        organization_id=organization_id,
    )


def record_events(*, actor: Actor, events: Sequence[EventSpec], organization_id: int | None = None) -> None:
    """Append events to the organization's chain. Joins the caller's transaction (or opens one).

    Three statements whatever the number of events: lock the chain head, one multi-row INSERT, advance the head
    (plus creating the head on a chain's first event). The head stays locked until the caller's transaction ends:
    keep transactions that audit short.
    """
    _append(actor, events, organization_id, read_shards=False)


def _append(actor: Actor, events: Sequence[EventSpec], organization_id: int | None, *, read_shards: bool) -> None:
    if not events:
        return
    org_id = organization_id if organization_id is not None else actor.organization_id
    now = clock.now()
    at = now.isoformat()
    # No savepoint: an audit failure must fail the caller's whole transaction anyway.
    with transaction.atomic(savepoint=False):
        if read_shards and connection.vendor == "postgresql":
            head_id, chain, seq, prev = _lock_free_read_shard(org_id or 0)
        else:
            chain = org_id or 0
            head_id, seq, prev = _lock_head(chain)
        at_db = connection.ops.adapt_datetimefield_value(now)
        rows: list[tuple[object, ...]] = []
        for spec in events:
            seq += 1
            values: dict[str, object] = {
                "chain": chain,
                "seq": seq,
                "organization_id": org_id,
                "at": at,
                "actor_id": actor.user_id,
                "actor_username": actor.username,
                "role": actor.role,
                "action": spec.action,
                "patient_id": spec.patient_id,
                "object_type": spec.object_type,
                "object_id": spec.object_id,
                "source_ip": actor.source_ip,
                "outcome": spec.outcome,
                "detail": orjson.dumps(spec.detail or {}, option=orjson.OPT_SORT_KEYS).decode(),
            }
            digest = rules.row_hash(values, prev)
            row = [*values.values(), prev, digest]
            row[3] = at_db  # hashed as its ISO text, stored as a timestamp
            rows.append(tuple(row))
            prev = digest
        with connection.cursor() as cur:
            _insert_events(cur, rows)
            cur.execute(f"UPDATE {_HEAD_TABLE} SET seq = %s, last_hash = %s WHERE id = %s", [seq, prev, head_id])  # noqa: S608 - table name from model metadata


_EVENT_TABLE = AuditEvent._meta.db_table
_EVENT_COLUMNS = [*_COLUMNS, "prev_hash", "hash"]


def _insert_events(cur: Any, rows: list[tuple[object, ...]]) -> None:
    """One round trip, one short statement to plan. PostgreSQL: the rows as one JSON parameter expanded by
    ``json_populate_recordset`` (a statement of fixed text, which psycopg's client-side binding parses once and
    caches, where a multi-row VALUES list of ~800 placeholders is parsed again on every call). SQLite: multi-row
    INSERT statements."""
    qn = connection.ops.quote_name
    cols = ", ".join(qn(c) for c in _EVENT_COLUMNS)
    if connection.vendor == "postgresql":
        payload = orjson.dumps([dict(zip(_EVENT_COLUMNS, row, strict=True)) for row in rows]).decode()
        table = qn(_EVENT_TABLE)
        cur.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM json_populate_recordset(NULL::{table}, %s)",  # noqa: S608 - model metadata
            [payload],
        )
        return
    width = len(_EVENT_COLUMNS)
    one = "(" + ", ".join(["%s"] * width) + ")"
    per = max(1, min(500, (connection.features.max_query_params or 999) // width))
    for lo in range(0, len(rows), per):
        chunk = rows[lo : lo + per]
        sql = f"INSERT INTO {qn(_EVENT_TABLE)} ({cols}) VALUES {', '.join([one] * len(chunk))}"  # noqa: S608 - model metadata, values bound
        cur.execute(sql, [v for row in chunk for v in row])


_HEAD_TABLE = AuditChainHead._meta.db_table


def _lock_head(chain: int) -> tuple[int, int, str]:
    """(id, seq, last_hash) of the chain head, locked until the transaction ends (PostgreSQL: a row lock;
    SQLite: the write lock its IMMEDIATE transactions take at BEGIN). Creates the head on first use."""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    select = f"SELECT id, seq, last_hash FROM {_HEAD_TABLE} WHERE chain = %s{lock}"  # noqa: S608 - model metadata
    with connection.cursor() as cur:
        cur.execute(select, [chain])
        row = cur.fetchone()
        if row is None:
            cur.execute(
                f"INSERT INTO {_HEAD_TABLE} (chain, seq, last_hash) VALUES (%s, 0, %s) ON CONFLICT (chain) DO NOTHING",  # noqa: S608 - model metadata
                [chain, rules.GENESIS],
            )
            cur.execute(select, [chain])
            row = cur.fetchone()
    return int(row[0]), int(row[1]), str(row[2])


# Read-audit chains (PostgreSQL). Audit events written inside a business transaction go on the organization's
# chain (chain id = organization id). The events of read-only requests (patients listed or viewed) are written
# in their own short transaction on one of READ_SHARDS more chains of the organization, whichever head is free
# (SKIP LOCKED), so concurrent readers do not queue on one row lock. Chain id of read shard k (1..READ_SHARDS) =
# k * SHARD_STRIDE + organization id (rules.read_shard_chains); every chain is verified on its own, and
# `verify_all_chains` also reports a missing shard head (they are created together). See docs/adr/.
def _lock_free_read_shard(organization_chain: int) -> tuple[int, int, int, str]:
    """(head id, chain, seq, last_hash) of a read shard head of the organization that no other transaction holds,
    now locked by this one; creates the organization's shard heads on first use; if every shard is taken, waits
    for one chosen by thread."""
    chains = rules.read_shard_chains(organization_chain)
    pick = (
        f"SELECT id, chain, seq, last_hash FROM {_HEAD_TABLE} WHERE chain = ANY(%s) "  # noqa: S608 - model metadata
        "ORDER BY chain LIMIT 1 FOR UPDATE SKIP LOCKED"
    )
    with connection.cursor() as cur:
        cur.execute(pick, [chains])
        row = cur.fetchone()
        if row is None:
            cur.execute(f"SELECT count(*) FROM {_HEAD_TABLE} WHERE chain = ANY(%s)", [chains])  # noqa: S608 - model metadata
            if cur.fetchone()[0] < len(chains):
                values = ", ".join(["(%s, 0, %s)"] * len(chains))
                cur.execute(
                    f"INSERT INTO {_HEAD_TABLE} (chain, seq, last_hash) VALUES {values} ON CONFLICT (chain) DO NOTHING",  # noqa: S608 - model metadata
                    [v for c in chains for v in (c, rules.GENESIS)],
                )
                cur.execute(pick, [chains])
                row = cur.fetchone()
        if row is None:
            chain = chains[threading.get_ident() % len(chains)]
            cur.execute(f"SELECT id, chain, seq, last_hash FROM {_HEAD_TABLE} WHERE chain = %s FOR UPDATE", [chain])  # noqa: S608 - model metadata
            row = cur.fetchone()
    return int(row[0]), int(row[1]), int(row[2]), str(row[3])


_GATE = threading.Lock()
_GATE_FILES: dict[str, tuple[int, TextIO | None]] = {}


@contextmanager
def sqlite_write_gate() -> Iterator[None]:
    """On SQLite, outside a transaction: queue for the database's single writer before BEGIN IMMEDIATE.

    SQLite lets one writer in at a time and makes the others wait in its busy handler, which sleeps with back-off
    (1, 2, 5, 10 ... 100 ms) instead of queueing, so under concurrent writes most of a short write's latency is
    sleep. This gate makes writers wait on a process lock, then on an exclusive ``flock`` of a file beside the
    database (other server processes), both of which wake the next waiter as soon as the holder is done. A no-op
    on other databases and inside a transaction (the write lock, if any, is already taken).
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    name = str(connection.settings_dict["NAME"])
    with _GATE:
        if not name or name == ":memory:" or name.startswith("file:"):
            yield
            return
        pid, handle = _GATE_FILES.get(name, (0, None))
        if handle is None or pid != os.getpid():  # a forked child needs its own open file (flock is per open)
            handle = open(f"{name}.writer-lock", "a")  # noqa: SIM115 - kept open for the process's life
            _GATE_FILES[name] = (os.getpid(), handle)
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def record_patient_reads(
    *, actor: Actor, action: str, patient_ids: Iterable[int], object_type: str = "Patient"
) -> None:
    """One event per patient read. Inside a transaction: on the organization's chain, like any event. Outside one
    (a read-only request): in their own short transaction, on a free read shard chain of the organization
    (PostgreSQL) or queued for SQLite's single writer by :func:`sqlite_write_gate`."""
    events = [
        EventSpec(action=action, patient_id=pid, object_type=object_type, object_id=str(pid)) for pid in patient_ids
    ]
    if not events:
        return
    if connection.in_atomic_block:
        record_events(actor=actor, events=events)
        return
    with sqlite_write_gate(), transaction.atomic():
        _append(actor, events, None, read_shards=True)
