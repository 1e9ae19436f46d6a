"""Write audit events inside the caller's transaction."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import orjson
from django.db import connection, transaction

from careloop.audit import rules
from careloop.audit.models import AuditChainHead, AuditEvent
from careloop.audit.selectors import READ_INDEX_SCHEMA, read_index_path, sqlite_database_file
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


def merge_events(app: str, *, merged_id: int, surviving_id: int, moved: dict[str, int]) -> list[EventSpec]:
    """The two events of a patient merge in ``app`` (``<app>.patient_merged`` on the merged patient,
    ``<app>.patient_merge_received`` on the survivor), saying what moved: each app that moves rows writes them."""
    return [
        EventSpec(f"{app}.patient_merged", merged_id, "Patient", str(merged_id),
                  detail={"into": surviving_id, "moved": moved}),
        EventSpec(f"{app}.patient_merge_received", surviving_id, "Patient", str(surviving_id),
                  detail={"from": merged_id, "moved": moved}),
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


@dataclass(frozen=True)
class _Prepared:
    """Events ready to append, everything but their place in a chain: the stored values from organization_id to
    detail (``rules.BODY_KEYS``, the time as the database stores it) and the hashed body of each."""

    organization_id: int | None
    rows: list[tuple[list[object], bytes]]


def _prepare(actor: Actor, events: Sequence[EventSpec], organization_id: int | None) -> _Prepared:
    org_id = organization_id if organization_id is not None else actor.organization_id
    now = clock.now()
    at, at_db = now.isoformat(), connection.ops.adapt_datetimefield_value(now)
    rows: list[tuple[list[object], bytes]] = []
    for spec in events:
        values: dict[str, object] = {
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
        body = rules.row_body(values)  # the time is hashed as its ISO text and stored as a timestamp
        stored = list(values.values())
        stored[1] = at_db
        rows.append((stored, body))
    return _Prepared(org_id, rows)


def _append(actor: Actor, events: Sequence[EventSpec], organization_id: int | None, *, read_shards: bool) -> None:
    if events:
        _write(_prepare(actor, events, organization_id), read_shards=read_shards)


def _write(prepared: _Prepared, *, read_shards: bool) -> None:
    """Append prepared events to their chain: lock the head, hash them in order, one INSERT, advance the head."""
    org_id = prepared.organization_id
    # No savepoint: an audit failure must fail the caller's whole transaction anyway.
    with transaction.atomic(savepoint=False):
        if read_shards and connection.vendor == "postgresql":
            head_id, chain, seq, prev = _lock_free_read_shard(org_id or 0)
        elif read_shards:  # SQLite: the write lock is taken; the organization's first read chain
            head_id, chain, seq, prev = _first_read_chain_head(org_id or 0)
        else:
            chain = org_id or 0
            head_id, seq, prev = _lock_head(chain)
        rows: list[tuple[object, ...]] = []
        for stored, body in prepared.rows:
            seq += 1
            digest = rules.chained_hash(chain, seq, body, prev)
            rows.append((chain, seq, *stored, prev, digest))
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


def _create_heads(cur: Any, chains: list[int]) -> None:
    """Create the heads of ``chains`` that do not exist yet (an organization's read chains come together)."""
    values = ", ".join(["(%s, 0, %s)"] * len(chains))
    cur.execute(
        f"INSERT INTO {_HEAD_TABLE} (chain, seq, last_hash) VALUES {values} ON CONFLICT (chain) DO NOTHING",  # noqa: S608 - model metadata
        [v for c in chains for v in (c, rules.GENESIS)],
    )


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
                _create_heads(cur, chains)
                cur.execute(pick, [chains])
                row = cur.fetchone()
        if row is None:
            chain = chains[threading.get_ident() % len(chains)]
            cur.execute(f"SELECT id, chain, seq, last_hash FROM {_HEAD_TABLE} WHERE chain = %s FOR UPDATE", [chain])  # noqa: S608 - model metadata
            row = cur.fetchone()
    return int(row[0]), int(row[1]), int(row[2]), str(row[3])


def _first_read_chain_head(organization_chain: int) -> tuple[int, int, int, str]:
    """SQLite (one writer at a time): (head id, chain, seq, last_hash) of the organization's first read chain,
    creating all its read chain heads on first use (``verify`` expects them together)."""
    chains = rules.read_shard_chains(organization_chain)
    select = f"SELECT id, chain, seq, last_hash FROM {_HEAD_TABLE} WHERE chain = %s"  # noqa: S608 - model metadata
    with connection.cursor() as cur:
        cur.execute(select, [chains[0]])
        row = cur.fetchone()
        if row is None:
            _create_heads(cur, chains)
            cur.execute(select, [chains[0]])
            row = cur.fetchone()
    return int(row[0]), int(row[1]), int(row[2]), str(row[3])


# ---- SQLite read index (docs/adr/0006-deferred-read-index.md) ---------------------------------------------------

_INDEX_LOCK = threading.Lock()


def index_read_events(*, limit: int = 20_000) -> int:
    """SQLite: copy the (organization, patient, event id) of read-chain events not yet indexed into the read index
    file beside the database, at most ``limit`` events per chain, sorted by patient. Returns how many events were
    taken. A no-op (0) on other databases, in-memory databases, and while another process is indexing.

    Runs in its own connections, off the request path: it never takes the database's write lock (the events are
    read from a read-only attachment), only the index file's. Each chain's entries and its mark (last seq indexed and
    that row's hash) are committed together; a mark that no longer matches the chain (database restored or
    replaced) drops the chain's entries and indexes it again from the start.
    """
    database_file = sqlite_database_file()
    if database_file is None:
        return 0
    path = read_index_path(database_file)
    with _INDEX_LOCK, open(f"{path}.lock", "a") as lock_file:
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0
        con = sqlite3.connect(str(path), isolation_level=None, timeout=60)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            for statement in READ_INDEX_SCHEMA:
                con.execute(statement)
            source = Path(database_file).resolve().as_uri() + "?mode=ro"
            con.execute("ATTACH DATABASE ? AS m", [source])
            chains = [int(r[0]) for r in con.execute(
                f"SELECT chain FROM m.{_HEAD_TABLE} WHERE chain >= ? ORDER BY chain", [rules.SHARD_STRIDE])]  # noqa: S608 - model metadata
            return sum(_index_chain(con, chain, limit) for chain in chains)
        finally:
            con.close()
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)


def _index_chain(con: sqlite3.Connection, chain: int, limit: int) -> int:
    events = f"m.{_EVENT_TABLE}"
    con.execute("BEGIN")  # deferred: writes only the index file; reads the database from one snapshot
    try:
        mark = con.execute("SELECT seq, hash FROM mark WHERE chain = ?", [chain]).fetchone()
        seq = 0
        if mark is not None:
            same = con.execute(f"SELECT 1 FROM {events} WHERE chain = ? AND seq = ? AND hash = ?",  # noqa: S608 - model metadata
                               [chain, mark[0], mark[1]]).fetchone()
            if same is not None:
                seq = int(mark[0])
            else:
                con.execute("DELETE FROM entry WHERE chain = ?", [chain])
                con.execute("DELETE FROM mark WHERE chain = ?", [chain])
        last = con.execute(
            f"SELECT seq, hash FROM {events} WHERE chain = ? AND seq > ? AND seq <= ? ORDER BY seq DESC LIMIT 1",  # noqa: S608 - model metadata
            [chain, seq, seq + limit],
        ).fetchone()
        if last is not None:
            con.execute(
                f"INSERT INTO entry (chain, organization_id, patient_id, event_id) SELECT chain, organization_id, "  # noqa: S608 - model metadata
                f"patient_id, id FROM {events} WHERE chain = ? AND seq > ? AND seq <= ? AND patient_id IS NOT NULL "
                "ORDER BY organization_id, patient_id, id",
                [chain, seq, last[0]],
            )
            con.execute("INSERT INTO mark (chain, seq, hash) VALUES (?, ?, ?) "
                        "ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                        [chain, last[0], last[1]])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(last[0]) - seq if last is not None else 0


_GATE = threading.Lock()
_GATE_FILES: dict[str, tuple[int, TextIO | None]] = {}


def _sqlite_gate_name() -> str | None:
    """The SQLite database file the write gate serializes, or None where there is nothing to gate (other
    databases, inside a transaction, in-memory databases)."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return None
    name = str(connection.settings_dict["NAME"])
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return name


@contextmanager
def _file_lock(name: str) -> Iterator[None]:
    """Exclusive ``flock`` of ``<database>.writer-lock`` (the writers of other processes). Hold ``_GATE``."""
    pid, handle = _GATE_FILES.get(name, (0, None))
    if handle is None or pid != os.getpid():  # a forked child needs its own open file (flock is per open)
        handle = open(f"{name}.writer-lock", "a")  # noqa: SIM115 - kept open for the process's life
        _GATE_FILES[name] = (os.getpid(), handle)
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def sqlite_write_gate() -> Iterator[None]:
    """On SQLite, outside a transaction: queue for the database's single writer before BEGIN IMMEDIATE.

    SQLite lets one writer in at a time and makes the others wait in its busy handler, which sleeps with back-off
    (1, 2, 5, 10 ... 100 ms) instead of queueing, so under concurrent writes most of a short write's latency is
    sleep. This gate makes writers wait on a process lock, then on an exclusive ``flock`` of a file beside the
    database (other server processes), both of which wake the next waiter as soon as the holder is done. A no-op
    on other databases and inside a transaction (the write lock, if any, is already taken).
    """
    name = _sqlite_gate_name()
    if name is None:
        yield
        return
    with _GATE, _file_lock(name):
        yield


class ReadAuditFailed(RuntimeError):
    """The read audit written together with this request's (group commit) failed: nothing of it was stored."""


@dataclass
class _PendingReads:
    prepared: _Prepared
    done: bool = False
    error: BaseException | None = None


_PENDING_LOCK = threading.Lock()
_PENDING: dict[str, list[_PendingReads]] = {}


def _group_commit_reads(name: str, actor: Actor, events: list[EventSpec]) -> None:
    """SQLite, outside a transaction: write this request's read events together with those of the other threads
    of the process that are waiting for the writer (group commit), in one transaction, and return once they are
    committed.

    Each thread queues its events, then takes the process gate. The first to get it writes every queued batch (its
    own and those queued meanwhile) under the file lock, each batch as its own run of consecutive ``seq`` on the
    organization's chain, and commits once; the threads whose batches it wrote find them done when they get the
    gate and return without writing. One BEGIN IMMEDIATE, head update and COMMIT (and one copy of each index page
    dirtied by several batches) per group instead of per request. If the transaction fails, nothing of the group
    is stored and every request of the group fails.
    """
    item = _PendingReads(_prepare(actor, events, None))  # all but hashing, before queueing for the writer
    with _PENDING_LOCK:
        _PENDING.setdefault(name, []).append(item)
    with _GATE:
        if not item.done:
            with _file_lock(name):
                with _PENDING_LOCK:
                    batch = _PENDING.pop(name, [])
                try:
                    with transaction.atomic():
                        for pending in batch:
                            _write(pending.prepared, read_shards=True)
                except BaseException as exc:
                    for pending in batch:
                        pending.error = exc
                    raise
                finally:
                    for pending in batch:
                        pending.done = True
    if item.error is not None:
        raise ReadAuditFailed("the read audit of this request could not be written") from item.error


def record_patient_reads(
    *, actor: Actor, action: str, patient_ids: Iterable[int], object_type: str = "Patient"
) -> None:
    """One event per patient read. Inside a transaction: on the organization's chain, like any event. Outside one
    (a read-only request): in their own short transaction, on a free read shard chain of the organization
    (PostgreSQL), or on SQLite group-committed with the read audits of the process's other waiting requests
    (:func:`_group_commit_reads`)."""
    events = [
        EventSpec(action=action, patient_id=pid, object_type=object_type, object_id=str(pid)) for pid in patient_ids
    ]
    if not events:
        return
    if connection.in_atomic_block:
        record_events(actor=actor, events=events)
        return
    name = _sqlite_gate_name()
    if name is not None:
        _group_commit_reads(name, actor, events)
        return
    with sqlite_write_gate(), transaction.atomic():
        _append(actor, events, None, read_shards=True)
