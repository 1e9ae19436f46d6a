"""Read the audit trail and verify its chains."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from django.db import connection

from careloop.audit import rules
from careloop.audit.models import AuditChainHead, AuditEvent

# SQLite: per-patient lookup of the read chains' events, kept in a file beside the database (derived data, filled in
# batches by services.index_read_events; docs/adr/0006-deferred-read-index.md). `mark` records, per read chain, the
# last seq indexed and that row's hash: a mark that no longer matches the chain (database restored or replaced)
# makes the chain's entries count as absent until they are rebuilt.
READ_INDEX_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entry (chain INTEGER NOT NULL, organization_id INTEGER, "
    "patient_id INTEGER NOT NULL, event_id INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS entry_patient ON entry (organization_id, patient_id, event_id)",
    "CREATE TABLE IF NOT EXISTS mark (chain INTEGER PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT NOT NULL)",
)


def sqlite_database_file() -> str | None:
    """The default database's file when it is a SQLite file (not in memory), else None."""
    if connection.vendor != "sqlite":
        return None
    name = str(connection.settings_dict["NAME"])
    if not name or name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
        return None
    return name


def read_index_path(database_file: str) -> Path:
    return Path(f"{database_file}-audit-read-index")


def _indexed_read_event_ids(
    database_file: str, organization_id: int, patient_id: int
) -> tuple[set[int], dict[int, int]]:
    """(event ids of the patient on the organization's read chains, {chain: seq indexed up to}) from the read
    index file, counting only chains whose mark still matches the chain."""
    path = read_index_path(database_file)
    if not path.exists():
        return set(), {}
    chains = rules.read_shard_chains(organization_id)
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return set(), {}
    try:
        marks = con.execute(
            f"SELECT chain, seq, hash FROM mark WHERE chain IN ({', '.join('?' * len(chains))})", chains  # noqa: S608 - placeholders only
        ).fetchall()
        valid = {
            int(chain): int(seq) for chain, seq, digest in marks
            if AuditEvent.objects.filter(chain=chain, seq=seq, hash=digest).exists()
        }
        if not valid:
            return set(), {}
        rows = con.execute(
            "SELECT chain, event_id FROM entry WHERE organization_id = ? AND patient_id = ?",
            [organization_id, patient_id],
        ).fetchall()
    except sqlite3.Error:  # an index file being created right now, or damaged: count it as absent
        return set(), {}
    finally:
        con.close()
    return {int(event_id) for chain, event_id in rows if int(chain) in valid}, valid


def patient_audit_trail(*, organization_id: int, patient_id: int) -> list[AuditEvent]:
    """Every audit event about the patient, oldest first.

    On SQLite the per-patient index covers the organization's own chain only; the read chains' events come from the
    read index file up to its marks, and after them from a range scan of each read chain (events not indexed yet).
    """
    qs = AuditEvent.objects.filter(organization_id=organization_id, patient_id=patient_id)
    database_file = sqlite_database_file()
    if database_file is None:
        return list(qs.order_by("at", "chain", "seq"))
    stride = rules.SHARD_STRIDE
    with connection.cursor() as cur:  # the literal bound matches the partial index's WHERE (migration 0003)
        cur.execute(
            f"SELECT id FROM audit_auditevent WHERE organization_id = %s AND patient_id = %s AND chain < {stride}",  # noqa: S608 - integer constant
            [organization_id, patient_id],
        )
        ids = {int(r[0]) for r in cur.fetchall()}
    indexed, marks = _indexed_read_event_ids(database_file, organization_id, patient_id)
    ids |= indexed
    for chain in rules.read_shard_chains(organization_id):
        ids.update(
            AuditEvent.objects.filter(chain=chain, seq__gt=marks.get(chain, 0), patient_id=patient_id)
            .values_list("id", flat=True)
        )
    ordered = sorted(ids)
    events = [e for lo in range(0, len(ordered), 5000) for e in qs.filter(id__in=ordered[lo : lo + 5000])]
    return sorted(events, key=lambda e: (e.at, e.chain, e.seq))


def _rows(chain: int) -> Iterator[rules.ChainRow]:
    qs = (
        AuditEvent.objects.filter(chain=chain)
        .order_by("seq", "id")
        .values_list(
            "id",
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
            "prev_hash",
            "hash",
        )
    )
    for r in qs.iterator(chunk_size=5000):
        yield rules.ChainRow(
            r[0], r[1], r[2], r[3], r[4].isoformat(), r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
            r[14], r[15], r[16],
        )


def verify_all_chains() -> tuple[int, list[rules.ChainProblem]]:
    """Return (rows checked, problems) across every chain, including chains whose head has no rows."""
    heads = {h.chain: h for h in AuditChainHead.objects.all()}
    chains = set(heads) | set(AuditEvent.objects.values_list("chain", flat=True).distinct())
    problems: list[rules.ChainProblem] = []
    checked = 0
    for chain in sorted(chains):
        head = heads.get(chain)
        counter = [0]

        def counted(c: int = chain, n: list[int] = counter) -> Iterator[rules.ChainRow]:
            for row in _rows(c):
                n[0] += 1
                yield row

        problems.extend(rules.verify_chain(chain, counted(), head.seq if head else 0, head.last_hash if head else None))
        checked += counter[0]
    problems.extend(_missing_read_shards(set(heads), chains))
    return checked, problems


def _missing_read_shards(heads: set[int], chains: set[int]) -> list[rules.ChainProblem]:
    """An organization's read-audit shard heads are created together: once any exists, all must (a missing one
    means a chain was removed with its head)."""
    problems = []
    for base in sorted({c % rules.SHARD_STRIDE for c in chains if c >= rules.SHARD_STRIDE}):
        for chain in rules.read_shard_chains(base):
            if chain not in heads:
                problems.append(
                    rules.ChainProblem(chain, None, None, "deleted", f"read-audit chain head {chain} is missing")
                )
    return problems
