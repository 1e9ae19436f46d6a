"""Read the audit trail and verify its chains."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet

from careloop.audit import rules
from careloop.audit.models import AuditChainHead, AuditEvent


def patient_audit_trail(*, organization_id: int, patient_id: int) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(organization_id=organization_id, patient_id=patient_id).order_by("chain", "seq")


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
    return checked, problems
