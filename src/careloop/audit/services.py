"""Write audit events inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson
from django.db import transaction

from careloop.audit import rules
from careloop.audit.models import AuditChainHead, AuditEvent
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.db import insert_rows


@dataclass(frozen=True)
class EventSpec:
    action: str
    patient_id: int | None = None
    object_type: str = ""
    object_id: str = ""
    outcome: str = "success"
    detail: dict[str, object] | None = None


_COLUMNS = [
    "chain", "seq", "organization_id", "at", "actor_id", "actor_username", "role", "action", "patient_id",
    "object_type", "object_id", "source_ip", "outcome", "detail",
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
    """Append events to the organization's chain. Joins the caller's transaction (or opens one)."""
    if not events:
        return
    org_id = organization_id if organization_id is not None else actor.organization_id
    chain = org_id or 0
    now = clock.now()
    at = now.isoformat()
    with transaction.atomic():
        head, _ = AuditChainHead.objects.get_or_create(chain=chain)
        head = AuditChainHead.objects.select_for_update().get(pk=head.pk)
        seq, prev = head.seq, head.last_hash
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
            row[3] = now  # hashed as its ISO text, stored as a timestamp
            rows.append(tuple(row))
            prev = digest
        insert_rows(AuditEvent, [*_COLUMNS, "prev_hash", "hash"], rows)
        AuditChainHead.objects.filter(pk=head.pk).update(seq=seq, last_hash=prev)


def record_patient_reads(
    *, actor: Actor, action: str, patient_ids: Iterable[int], object_type: str = "Patient"
) -> None:
    record_events(
        actor=actor,
        events=[
            EventSpec(action=action, patient_id=pid, object_type=object_type, object_id=str(pid)) for pid in patient_ids
        ],
    )
