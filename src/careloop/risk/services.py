"""Write use-cases: the population refresh (full or incremental). One transaction per organization run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import polars as pl
from django.db import transaction
from django.db.models import Count, Q

from careloop.audit.services import EventSpec, record_event, record_events
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.db import insert_rows
from careloop.registry.models import (
    Condition,
    Coverage,
    Encounter,
    FhirResource,
    Medication,
    Observation,
    Patient,
)
from careloop.risk import hcc, population, rules, tables
from careloop.risk.choices import RunKind
from careloop.risk.methodology import Methodology, load_methodology
from careloop.risk.models import PatientRisk, RiskRun, RiskTierChange

BATCH = 20_000
# Rows committed by a transaction that began before a run's watermark can carry an earlier updated_at;
# the next incremental run looks back this far before the watermark (recomputing is idempotent).
WATERMARK_SLACK = dt.timedelta(minutes=5)

RISK_COLUMNS = [
    "organization",
    "patient",
    "run",
    "created_at",
    "updated_at",
    "as_of",
    "methodology_version",
    "tier",
    "points",
    "explanation",
    "chronic_count",
    "chronic_conditions",
    "ccw_categories",
    "charlson",
    "charlson_quan",
    "charlson_age_adjusted",
    "charlson_categories",
    "hcc_score",
    "hcc_percentile",
    "hccs",
    "hcc_segment",
    "ed_visits_12m",
    "admissions_12m",
    "readmissions_12m",
    "active_medications",
    "polypharmacy",
    "sdoh_needs",
    "bh_flags",
]
CHANGE_COLUMNS = [
    "organization",
    "patient",
    "run",
    "created_at",
    "updated_at",
    "from_tier",
    "to_tier",
    "changed_at",
    "as_of",
    "methodology_version",
    "explanation",
]


def changed_patient_ids(organization_id: int, since: dt.datetime, last_as_of: dt.date, as_of: dt.date) -> list[int]:
    """Patients whose data changed after ``since``, plus those whose time windows moved between the two dates
    (an encounter or screening leaving the 12-month window, a condition starting or abating, a birthday)."""
    org = Q(organization_id=organization_id)
    ids: set[int] = set()
    changed = org & Q(updated_at__gt=since)
    ids.update(Patient.objects.filter(changed).values_list("id", flat=True))
    for model in (Condition, Encounter, Medication, Observation, Coverage):
        ids.update(model.objects.filter(changed).values_list("patient_id", flat=True).distinct())
    ids.update(
        FhirResource.objects.filter(changed, patient__isnull=False).values_list("patient_id", flat=True).distinct()
    )
    if as_of != last_as_of:
        lo, hi = sorted((last_as_of, as_of))
        sig = tables.signals()
        win = dt.timedelta(days=sig.window_days)
        moved = [
            Encounter.objects.filter(
                org,
                start__gte=population.day_start(lo - win - dt.timedelta(days=31)),
                start__lt=population.day_start(hi - win + dt.timedelta(days=1)),
            ),
            Observation.objects.filter(
                org,
                effective_at__gte=population.day_start(lo - win),
                effective_at__lt=population.day_start(hi - win + dt.timedelta(days=1)),
            ),
            Condition.objects.filter(org).filter(
                Q(onset__range=(lo, hi)) | Q(abatement__range=(lo, hi)) | Q(recorded__range=(lo, hi))
            ),
            Medication.objects.filter(org, end__range=(lo, hi)),
            Coverage.objects.filter(org).filter(Q(start__range=(lo, hi)) | Q(end__range=(lo, hi))),
        ]
        for qs in moved:
            ids.update(qs.values_list("patient_id", flat=True).distinct())
        births = population.read_patients(organization_id, None).filter(pl.col("birth_date").is_not_null())
        aged = births.filter(population.age_expr(lo) != population.age_expr(hi))
        ids.update(aged.get_column("pid").to_list())
    return sorted(ids)


def _percentiles(organization_id: int, frame: pl.DataFrame, recomputed: Sequence[int] | None) -> pl.DataFrame:
    """HCC score percentile (share of the organization's scored patients below) for the frame's rows."""
    scores = frame.select("pid", "hcc_score")
    if recomputed is not None:
        kept = PatientRisk.objects.filter(organization_id=organization_id, hcc_score__isnull=False).exclude(
            patient_id__in=recomputed
        )
        others = pl.DataFrame(
            list(kept.values_list("patient_id", "hcc_score")),
            schema={"pid": pl.Int64, "hcc_score": pl.Float64},
            orient="row",
        )
        scores = pl.concat([scores, others])
    scored = scores.drop_nulls("hcc_score")
    n = scored.height
    # Share of scored patients strictly below: the top scorer of n sits at 100 - 100/n ("top 1%" needs n >= 100).
    ranked = scored.with_columns(
        ((pl.col("hcc_score").rank("min") - 1) / max(n, 1) * 100).round(1).alias("hcc_percentile")
    )
    return frame.join(ranked.select("pid", "hcc_percentile"), on="pid", how="left")


def _row_measures(row: dict[str, Any], labels: dict[str, str]) -> rules.Measures:
    flags = list(row["bh_screens"])
    if row["bh_dx"]:
        flags.append(labels["bh_dx"])
    return rules.Measures(
        hcc_score=row["hcc_score"],
        hccs=tuple(row["hccs"]),
        hcc_percentile=row["hcc_percentile"],
        charlson=row["charlson"],
        chronic_count=row["chronic_count"],
        ed_visits_12m=row["ed_visits_12m"],
        admissions_12m=row["admissions_12m"],
        readmissions_12m=row["readmissions_12m"],
        active_medications=row["active_medications"],
        sdoh_needs=tuple(row["sdoh_needs"]),
        bh_flags=tuple(flags),
        hcc_coefficients={},  # hccs arrive ranked by coefficient (population.hcc_scores)
        hcc_labels={h: hcc.label(h) for h in row["hccs"]},
    )


def _write_batch(
    org: int,
    run: RiskRun,
    batch: pl.DataFrame,
    old: dict[int, str],
    method: Methodology,
    as_of: dt.date,
    now: dt.datetime,
    actor: Actor,
) -> tuple[int, int]:
    labels = {"bh_dx": tables.signals().bh_dx_label}
    poly = tables.signals().polypharmacy_min
    risk_rows: list[tuple[Any, ...]] = []
    changes: list[tuple[Any, ...]] = []
    events: list[EventSpec] = []
    for row in batch.iter_rows(named=True):
        m = _row_measures(row, labels)
        t = rules.assign_tier(m, method)
        age_points = rules.charlson_age_points(row["age"])
        risk_rows.append(
            (
                org,
                row["pid"],
                run.pk,
                now,
                now,
                as_of,
                method.label,
                t.tier,
                t.points,
                t.explanation,
                row["chronic_count"],
                list(row["chronic_conditions"]),
                list(row["ccw_categories"]),
                row["charlson"],
                row["charlson_quan"],
                row["charlson"] + age_points,
                list(row["charlson_categories"]),
                row["hcc_score"],
                row["hcc_percentile"],
                sorted(row["hccs"], key=lambda h: (len(h), h)),
                row["hcc_segment"],
                row["ed_visits_12m"],
                row["admissions_12m"],
                row["readmissions_12m"],
                row["active_medications"],
                row["active_medications"] >= poly,
                list(row["sdoh_needs"]),
                list(m.bh_flags),
            )
        )
        before = old.get(row["pid"], "")
        if before != t.tier:
            changes.append((org, row["pid"], run.pk, now, now, before, t.tier, now, as_of, method.label, t.explanation))
            events.append(
                EventSpec(
                    "risk.tier_changed",
                    row["pid"],
                    "Patient",
                    str(row["pid"]),
                    detail={"from": before, "to": t.tier, "run": run.pk, "methodology": method.label},
                )
            )
    insert_rows(PatientRisk, RISK_COLUMNS, risk_rows)
    insert_rows(RiskTierChange, CHANGE_COLUMNS, changes)
    record_events(actor=actor, events=events, organization_id=org)
    return len(risk_rows), len(changes)


def refresh_risk(
    *,
    organization_id: int,
    actor: Actor,
    as_of: dt.date | None = None,
    incremental: bool = False,
    methodology_version: str | None = None,
) -> RiskRun:
    """Recompute risk for the organization's active patients (all, or only those whose data changed since the
    last run when ``incremental``), write PatientRisk rows and tier changes in bulk, audit the run."""
    method = load_methodology(methodology_version) if methodology_version else load_methodology()
    as_of = as_of or clock.today()
    started = clock.now()
    last = (
        RiskRun.objects.filter(organization_id=organization_id, finished_at__isnull=False)
        .order_by("-finished_at")
        .first()
    )
    subset: list[int] | None = None
    kind = RunKind.FULL
    if incremental and last is not None and last.methodology_version == method.label:
        kind = RunKind.INCREMENTAL
        subset = changed_patient_ids(organization_id, last.watermark - WATERMARK_SLACK, last.as_of, as_of)
    with transaction.atomic():
        run = RiskRun.objects.create(
            organization_id=organization_id,
            kind=kind,
            as_of=as_of,
            methodology_version=method.label,
            started_at=started,
            watermark=started,
            actor_username=actor.username,
        )
        frame = population.compute(organization_id, as_of, subset)
        frame = _percentiles(organization_id, frame, subset)
        existing = PatientRisk.objects.filter(organization_id=organization_id)
        if subset is not None:
            existing = existing.filter(patient_id__in=subset) if len(subset) < 30_000 else existing
        old = dict(existing.values_list("patient_id", "tier"))
        if subset is None:
            PatientRisk.objects.filter(organization_id=organization_id).delete()
        else:
            for i in range(0, len(subset), population.ID_CHUNK):
                PatientRisk.objects.filter(
                    organization_id=organization_id, patient_id__in=subset[i : i + population.ID_CHUNK]
                ).delete()
        now = clock.now()
        scored = changed = 0
        for batch in population.iter_batches(frame, BATCH):
            s, c = _write_batch(organization_id, run, batch, old, method, as_of, now, actor)
            scored, changed = scored + s, changed + c
        tiers = (
            dict(
                PatientRisk.objects.filter(organization_id=organization_id, run=run)
                .values("tier")
                .annotate(n=Count("id"))
                .values_list("tier", "n")
            )
            if scored
            else {}
        )
        run.finished_at = clock.now()
        run.patients_scored, run.tier_changes = scored, changed
        run.counts = {"tiers": tiers, "recomputed": scored, "considered": None if subset is None else len(subset)}
        run.save(update_fields=["finished_at", "patients_scored", "tier_changes", "counts", "updated_at"])
        record_event(
            actor=actor,
            action="risk.refreshed",
            object_type="RiskRun",
            object_id=str(run.pk),
            organization_id=organization_id,
            detail={
                "kind": kind,
                "as_of": as_of.isoformat(),
                "methodology": method.label,
                "patients": scored,
                "tier_changes": changed,
            },
        )
    return run
