"""audit.rules: the pure hash-chain verifier on synthetic rows."""

from __future__ import annotations

import dataclasses

import pytest

from careloop.audit.rules import GENESIS, ChainProblem, chained_hash, row_body, row_hash, verify_chain
from careloop.audit.tests.factories import chain_rows, rehashed


def _verify(rows, head_seq=5, head_hash=None):  # type: ignore[no-untyped-def]
    full = chain_rows(5)
    return verify_chain(1, rows, head_seq, full[-1].hash if head_hash is None else head_hash)


def test_row_hash_is_deterministic_and_covers_the_previous_hash() -> None:
    row = chain_rows(1)[0]
    assert row_hash(row, GENESIS) == row.hash
    assert len(row.hash) == 64
    assert row_hash(row, "1" * 64) != row.hash
    as_dict = {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
    assert row_hash(as_dict, GENESIS) == row.hash


def test_every_field_is_covered_by_the_hash() -> None:
    row = chain_rows(1)[0]
    changes = {"chain": 2, "seq": 2, "organization_id": 2, "at": "2026-03-09T14:00:02+00:00", "actor_id": 8,
               "actor_username": "x", "role": "admin", "action": "patient.updated", "patient_id": 1,
               "object_type": "User", "object_id": "1", "source_ip": "10.0.0.2", "outcome": "failure",
               "detail": '{"a":1}'}
    for name, value in changes.items():
        assert row_hash(dataclasses.replace(row, **{name: value}), GENESIS) != row.hash, name


def test_intact_chain_has_no_problems() -> None:
    rows = chain_rows(5)
    assert verify_chain(1, rows, 5, rows[-1].hash) == []
    assert verify_chain(1, rows, None, None) == []
    assert verify_chain(1, [], 0, GENESIS) == []


def test_modified_row() -> None:
    rows = chain_rows(5)
    rows[2] = dataclasses.replace(rows[2], action="patient.deleted")
    assert _verify(rows) == [ChainProblem(1, 3, 3, "modified", "content does not match its hash")]


def test_modified_and_rehashed_row_breaks_the_next_link() -> None:
    rows = chain_rows(5)
    rows[2] = rehashed(rows[2], patient_id=999)
    assert _verify(rows) == [ChainProblem(1, 4, 4, "inserted", "does not link to the previous row's hash")]


def test_modified_and_rehashed_last_row_does_not_match_the_head() -> None:
    rows = chain_rows(5)
    original_last = rows[4].hash
    rows[4] = rehashed(rows[4], outcome="failure")
    assert verify_chain(1, rows, 5, original_last) == [
        ChainProblem(1, 5, None, "modified", "last row does not match the chain head")
    ]


def test_deleted_middle_row() -> None:
    rows = chain_rows(5)
    del rows[2]
    assert _verify(rows) == [ChainProblem(1, 3, None, "deleted", "rows 3..3 are missing")]


def test_deleted_several_rows_and_the_first_row() -> None:
    rows = chain_rows(5)
    assert _verify(rows[:1] + rows[3:]) == [ChainProblem(1, 2, None, "deleted", "rows 2..3 are missing")]
    assert _verify(rows[1:]) == [ChainProblem(1, 1, None, "deleted", "rows 1..1 are missing")]


def test_truncated_chain() -> None:
    rows = chain_rows(5)
    assert _verify(rows[:4]) == [ChainProblem(1, 5, None, "truncated", "chain head is at 5 but the last row is 4")]
    assert _verify(rows[:2]) == [ChainProblem(1, 3, None, "truncated", "chain head is at 5 but the last row is 2")]
    assert _verify([]) == [ChainProblem(1, 1, None, "truncated", "chain head is at 5 but the last row is 0")]


def test_inserted_duplicate_sequence_number() -> None:
    rows = chain_rows(5)
    forged = dataclasses.replace(rehashed(rows[2], action="patient.listed"), id=99)
    rows.insert(3, forged)
    assert _verify(rows) == [ChainProblem(1, 3, 99, "inserted", "duplicate sequence number 3")]


def test_inserted_row_after_the_head() -> None:
    rows = chain_rows(6)
    # Row 6 is perfectly chained, but the head says the chain ends at 5.
    assert verify_chain(1, rows, 5, rows[4].hash) == [ChainProblem(1, 6, None, "inserted", "rows after the chain head")]


def test_forged_row_replacing_a_real_one() -> None:
    rows = chain_rows(5)
    forged = rehashed(rows[2], actor_username="mallory", id=77)
    rows[2] = forged
    assert _verify(rows) == [ChainProblem(1, 4, 4, "inserted", "does not link to the previous row's hash")]


def test_forged_genesis_row() -> None:
    rows = chain_rows(5)
    rows[0] = rehashed(rows[0], prev_hash="f" * 64)
    assert _verify(rows) == [
        ChainProblem(1, 1, 1, "inserted", "does not link to the previous row's hash"),
        ChainProblem(1, 2, 2, "inserted", "does not link to the previous row's hash"),
    ]


def test_several_problems_in_one_chain_are_all_reported() -> None:
    rows = chain_rows(5)
    rows[0] = dataclasses.replace(rows[0], detail='{"x":1}')
    del rows[2]  # seq 3
    rows = rows[:-1]  # seq 5
    assert _verify(rows) == [
        ChainProblem(1, 1, 1, "modified", "content does not match its hash"),
        ChainProblem(1, 3, None, "deleted", "rows 3..3 are missing"),
        ChainProblem(1, 5, None, "truncated", "chain head is at 5 but the last row is 4"),
    ]


@pytest.mark.parametrize("detail", ["{}", '{"a":"quote \\" and \\\\ and é ✓","n":[1,2.5,null]}'])
@pytest.mark.parametrize("patient_id", [None, 0, 123456789012])
def test_chained_hash_from_a_row_body_equals_row_hash(detail: str, patient_id: int | None) -> None:
    values: dict[str, object] = {
        "chain": 3 * (1 << 40) + 7, "seq": 42, "organization_id": 7, "at": "2026-11-29T09:00:00.123456+00:00",
        "actor_id": None, "actor_username": "nína \"o'k\"", "role": "coordinator", "action": "task.listed",
        "patient_id": patient_id, "object_type": "Patient", "object_id": str(patient_id), "source_ip": "::1",
        "outcome": "success", "detail": detail,
    }
    prev = "ab" * 32
    assert chained_hash(3 * (1 << 40) + 7, 42, row_body(values), prev) == row_hash(values, prev)
