"""Coverage write use-cases added by the programs issue: QMB periods (cms-rules 2.11).

A separate module because ``registry/services.py`` is at the 500-line limit; same conventions (the caller
owns permission checks; writes are idempotent; audit rows in the same transaction).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction

from careloop.audit.services import EventSpec, record_events
from careloop.core.actor import Actor
from careloop.registry.choices import CoverageKind
from careloop.registry.models import Coverage


@dataclass(frozen=True)
class QmbPeriodIn:
    patient_id: int
    start: dt.date | None
    end: dt.date | None
    source: str
    evidence: str = ""


@dataclass
class SaveCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def save_qmb_periods(*, organization_id: int, periods: Sequence[QmbPeriodIn], actor: Actor) -> SaveCounts:
    """Store QMB periods as Coverage(kind="qmb"), keyed by (patient, source, start): a re-import of the same
    period changes nothing; a new end date for the same start updates the row. One audit row per change."""
    counts = SaveCounts()
    events: list[EventSpec] = []
    with transaction.atomic():
        for p in periods:
            row = (
                Coverage.objects.select_for_update()
                .filter(organization_id=organization_id, patient_id=p.patient_id, kind=CoverageKind.QMB,
                        source=p.source, start=p.start)
                .exclude(status__in=["cancelled", "entered-in-error"])
                .first()
            )
            if row is None:
                row = Coverage.objects.create(
                    organization_id=organization_id, patient_id=p.patient_id, kind=CoverageKind.QMB,
                    payor="State Medicaid (QMB)", start=p.start, end=p.end, source=p.source, evidence=p.evidence,
                )
                counts.created += 1
                action = "coverage.qmb_recorded"
            elif row.end != p.end:
                row.end = p.end
                row.evidence = p.evidence or row.evidence
                row.save(update_fields=["end", "evidence", "updated_at"])
                counts.updated += 1
                action = "coverage.qmb_updated"
            else:
                counts.unchanged += 1
                continue
            events.append(EventSpec(action, p.patient_id, "Coverage", str(row.pk), detail={
                "source": p.source, "start": p.start and p.start.isoformat(), "end": p.end and p.end.isoformat()}))
        record_events(actor=actor, events=events, organization_id=organization_id)
    return counts
