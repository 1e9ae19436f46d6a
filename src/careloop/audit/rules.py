"""Pure hash-chain arithmetic for audit rows."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

GENESIS = "0" * 64

# Read-audit shard chains of an organization (see services and docs/adr/0004-sharded-read-audit-chains.md):
# chain id of shard k (1..READ_SHARDS) = k * SHARD_STRIDE + the organization's chain id.
READ_SHARDS = 16
SHARD_STRIDE = 1 << 40


def read_shard_chains(organization_chain: int) -> list[int]:
    return [k * SHARD_STRIDE + organization_chain for k in range(1, READ_SHARDS + 1)]


@dataclass(frozen=True)
class ChainRow:
    id: int
    chain: int
    seq: int
    organization_id: int | None
    at: str
    actor_id: int | None
    actor_username: str
    role: str
    action: str
    patient_id: int | None
    object_type: str
    object_id: str
    source_ip: str
    outcome: str
    detail: str
    prev_hash: str
    hash: str


def row_hash(row: ChainRow | dict[str, object], prev_hash: str) -> str:
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    payload = orjson.dumps(
        [
            get("chain"),
            get("seq"),
            get("organization_id"),
            get("at"),
            get("actor_id"),
            get("actor_username"),
            get("role"),
            get("action"),
            get("patient_id"),
            get("object_type"),
            get("object_id"),
            get("source_ip"),
            get("outcome"),
            get("detail"),
            prev_hash,
        ]
    )
    return hashlib.sha256(payload).hexdigest()


BODY_KEYS = ("organization_id", "at", "actor_id", "actor_username", "role", "action", "patient_id", "object_type",
             "object_id", "source_ip", "outcome", "detail")


def row_body(values: dict[str, object]) -> bytes:
    """The part of a row's hash input between (chain, seq) and the previous hash: what can be serialized before the
    row's place in its chain is known."""
    return orjson.dumps([values[k] for k in BODY_KEYS])[1:-1]


def chained_hash(chain: int, seq: int, body: bytes, prev_hash: str) -> str:
    """``row_hash`` of a row from its ``row_body``: the same bytes (orjson writes a list as ``[a,b,...]`` without
    spaces and an int in decimal; the hashes are hex), so a verifier using ``row_hash`` agrees."""
    return hashlib.sha256(b"[%d,%d,%s,\"%s\"]" % (chain, seq, body, prev_hash.encode())).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    chain: int
    seq: int | None
    row_id: int | None
    kind: str  # modified | inserted | deleted | truncated
    message: str


def verify_chain(
    chain: int, rows: Iterable[ChainRow], head_seq: int | None, head_hash: str | None
) -> list[ChainProblem]:
    """Walk one chain in ``seq`` order and report every break.

    - a row whose hash does not match its content: modified;
    - a row whose ``prev_hash`` does not match the previous row, or a repeated ``seq``: inserted;
    - a gap in ``seq``: deleted;
    - the last row is not the chain head: rows deleted from the end (truncated).
    """
    problems: list[ChainProblem] = []
    expected_seq = 1
    prev_hash = GENESIS
    last_seq = 0
    for row in rows:
        if row.seq < expected_seq:
            problems.append(ChainProblem(chain, row.seq, row.id, "inserted", f"duplicate sequence number {row.seq}"))
            continue
        if row.seq > expected_seq:
            problems.append(
                ChainProblem(chain, expected_seq, None, "deleted", f"rows {expected_seq}..{row.seq - 1} are missing")
            )
        recomputed = row_hash(row, row.prev_hash)
        if recomputed != row.hash:
            problems.append(ChainProblem(chain, row.seq, row.id, "modified", "content does not match its hash"))
        elif row.prev_hash != prev_hash and row.seq == expected_seq:
            problems.append(
                ChainProblem(chain, row.seq, row.id, "inserted", "does not link to the previous row's hash")
            )
        elif row.prev_hash != prev_hash:
            pass  # already reported as a gap
        prev_hash = row.hash
        expected_seq = row.seq + 1
        last_seq = row.seq
    if head_seq is not None and head_seq != last_seq:
        if head_seq > last_seq:
            problems.append(
                ChainProblem(
                    chain,
                    last_seq + 1,
                    None,
                    "truncated",
                    f"chain head is at {head_seq} but the last row is {last_seq}",
                )
            )
        else:
            problems.append(ChainProblem(chain, head_seq + 1, None, "inserted", "rows after the chain head"))
    elif head_hash is not None and last_seq and head_hash != prev_hash:
        problems.append(ChainProblem(chain, last_seq, None, "modified", "last row does not match the chain head"))
    return problems
