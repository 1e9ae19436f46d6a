"""Read the audit trail and verify its chains."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet

from careloop.audit import rules
from careloop.audit.models import AuditChainHead, AuditEvent


def patient_audit_trail(*, organization_id: int, patient_id: int) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.filter(organization_id=organization_id, patient_id=patient_id)
    return qs.order_by("at", "chain", "seq")


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
