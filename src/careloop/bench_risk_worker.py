"""Subprocess for `careloop bench risk`: ``generate N SEED`` fills a fresh database set-based;
``refresh`` measures the group-by ceiling, a full refresh, then an incremental one. JSON on stdout."""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
import time
from typing import Any

import orjson

AS_OF = dt.date(2026, 3, 15)
# (ICD-10-CM, share of patients): a Medicare primary-care mix.
CONDITIONS = [
    ("I10", 0.55),
    ("E785", 0.45),
    ("E119", 0.22),
    ("E1122", 0.06),
    ("N183", 0.10),
    ("N184", 0.03),
    ("I5022", 0.08),
    ("J449", 0.10),
    ("F329", 0.12),
    ("F331", 0.04),
    ("I480", 0.09),
    ("M170", 0.15),
    ("E039", 0.12),
    ("E6601", 0.04),
    ("G309", 0.03),
    ("F0390", 0.03),
    ("I252", 0.07),
    ("K219", 0.20),
    ("M810", 0.08),
    ("C61", 0.03),
    ("C509", 0.03),
    ("F411", 0.07),
    ("J45909", 0.05),
    ("I639", 0.02),
]
SNOMED = ["38341003", "55822004", "44054006", "49436004", "64859006"]


def _generate(patients: int, seed: int) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import transaction

    from careloop.clinics.models import Organization
    from careloop.core import clock
    from careloop.core.db import insert_rows
    from careloop.registry.models import Condition, Coverage, Encounter, Medication, Observation, Patient

    call_command("migrate", interactive=False, verbosity=0)
    org = Organization.objects.create(name="Bench clinic", slug="bench")
    rng = random.Random(seed)
    now = clock.now() - dt.timedelta(days=1)  # loaded yesterday: older than any refresh watermark
    utc = dt.UTC
    counts = {"patients": 0, "conditions": 0, "encounters": 0, "medications": 0, "observations": 0}
    step = 50_000
    for first in range(0, patients, step):
        n = min(step, patients - first)
        with transaction.atomic():
            insert_rows(
                Patient,
                ["organization", "created_at", "updated_at", "family", "given", "search_name", "birth_date", "sex"],
                [
                    (
                        org.pk,
                        now,
                        now,
                        f"Fam{first + i}",
                        "Pat",
                        f"fam{first + i} pat",
                        dt.date(1930 + rng.randrange(0, 66), rng.randrange(1, 13), rng.randrange(1, 29)),
                        "female" if rng.random() < 0.55 else "male",
                    )
                    for i in range(n)
                ],
            )
            pids = list(Patient.objects.filter(organization=org).order_by("-id").values_list("id", flat=True)[:n])
            cond: list[tuple[Any, ...]] = []
            enc: list[tuple[Any, ...]] = []
            med: list[tuple[Any, ...]] = []
            obs: list[tuple[Any, ...]] = []
            cov: list[tuple[Any, ...]] = []
            for pid in pids:
                for code, share in CONDITIONS:
                    if rng.random() < share:
                        onset = AS_OF - dt.timedelta(days=rng.randrange(30, 4000))
                        status = "active" if rng.random() < 0.93 else "resolved"
                        cond.append((org.pk, pid, now, now, code, "", status, onset))
                if rng.random() < 0.15:
                    cond.append((org.pk, pid, now, now, "", rng.choice(SNOMED), "active", None))
                for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 4))):
                    day = AS_OF - dt.timedelta(days=rng.randrange(0, 500))
                    start = dt.datetime(day.year, day.month, day.day, 14, tzinfo=utc)
                    enc.append((org.pk, pid, now, now, "EMER", "finished", start, start + dt.timedelta(hours=5)))
                if rng.random() < 0.12:
                    for _ in range(rng.choice((1, 1, 2))):
                        day = AS_OF - dt.timedelta(days=rng.randrange(0, 400))
                        start = dt.datetime(day.year, day.month, day.day, 9, tzinfo=utc)
                        enc.append(
                            (
                                org.pk,
                                pid,
                                now,
                                now,
                                "IMP",
                                "finished",
                                start,
                                start + dt.timedelta(days=rng.randrange(1, 8)),
                            )
                        )
                for k in range(rng.randrange(0, 3)):
                    day = AS_OF - dt.timedelta(days=rng.randrange(0, 700))
                    start = dt.datetime(day.year, day.month, day.day, 10, tzinfo=utc)
                    enc.append((org.pk, pid, now, now, "AMB", "finished", start, start + dt.timedelta(minutes=20 + k)))
                med += [
                    (org.pk, pid, now, now, "request", str(10_000 + rng.randrange(400)), "active", "")
                    for _ in range(rng.randrange(0, 14))
                ]
                if rng.random() < 0.3:
                    day = AS_OF - dt.timedelta(days=rng.randrange(0, 300))
                    at = dt.datetime(day.year, day.month, day.day, 11, tzinfo=utc)
                    obs.append((org.pk, pid, now, now, "44261-6", "final", at, float(rng.randrange(0, 27)), "", ""))
                    if rng.random() < 0.5:
                        answer = rng.choice((("LA28397-0", "Often true"), ("LA28398-8", "Never true")))
                        obs.append((org.pk, pid, now, now, "88122-7", "final", at, None, *answer))
                if rng.random() < 0.12:
                    cov.append((org.pk, pid, now, now, rng.choice(("qmb", "full-dual", "slmb"))))
            base = ["organization", "patient", "created_at", "updated_at"]
            insert_rows(Condition, [*base, "icd10", "snomed", "clinical_status", "onset"], cond)
            insert_rows(Encounter, [*base, "class_code", "status", "start", "end"], enc)
            insert_rows(Medication, [*base, "kind", "rxnorm", "status", "display"], med)
            insert_rows(
                Observation, [*base, "code", "status", "effective_at", "value_num", "value_code", "value_text"], obs
            )
            insert_rows(Coverage, [*base, "kind"], cov)
        counts["patients"] += n
        counts["conditions"] += len(cond)
        counts["encounters"] += len(enc)
        counts["medications"] += len(med)
        counts["observations"] += len(obs)
    return counts


def _refresh() -> dict[str, Any]:
    from django.db import connection

    from careloop.bench import peak_rss_kib
    from careloop.clinics.models import Organization
    from careloop.core.actor import Actor
    from careloop.registry.models import Condition, Patient
    from careloop.risk.services import refresh_risk

    org = Organization.objects.get(slug="bench")
    actor = Actor.system(org.pk, "bench")
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT patient_id, COUNT(*), COUNT(DISTINCT icd10) FROM registry_condition WHERE organization_id = %s "
            "GROUP BY patient_id",
            [org.pk],
        )
        groups = len(cursor.fetchall())
    ceiling = time.perf_counter() - t0
    rss_before = peak_rss_kib()
    t0 = time.perf_counter()
    full = refresh_risk(organization_id=org.pk, actor=actor, as_of=AS_OF)
    full_seconds = time.perf_counter() - t0
    rss_full = peak_rss_kib()
    # 1% of patients get a new diagnosis; the incremental run should recompute only them.
    ids = list(Patient.objects.filter(organization=org).values_list("id", flat=True)[::100])
    from django.utils import timezone

    from careloop.core.db import insert_rows

    now = timezone.now()
    insert_rows(
        Condition,
        ["organization", "patient", "created_at", "updated_at", "icd10", "clinical_status"],
        [(org.pk, pid, now, now, "I5022", "active") for pid in ids],
    )
    t0 = time.perf_counter()
    inc = refresh_risk(organization_id=org.pk, actor=actor, as_of=AS_OF, incremental=True)
    inc_seconds = time.perf_counter() - t0
    return {
        "ceiling_groupby_seconds": ceiling,
        "ceiling_groups": groups,
        "full_seconds": full_seconds,
        "full_patients": full.patients_scored,
        "full_tier_changes": full.tier_changes,
        "tiers": full.counts.get("tiers", {}),
        "incremental_seconds": inc_seconds,
        "incremental_patients": inc.patients_scored,
        "incremental_changed_input": len(ids),
        "rss_before_refresh_kib": rss_before,
        "peak_rss_kib": rss_full,
        "peak_rss_with_incremental_kib": peak_rss_kib(),
    }


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.config.settings")
    import django

    django.setup()
    t0 = time.perf_counter()
    if sys.argv[1] == "generate":
        out: dict[str, Any] = _generate(int(sys.argv[2]), int(sys.argv[3]))
    else:
        out = _refresh()
    out["seconds"] = time.perf_counter() - t0
    sys.stdout.write(orjson.dumps(out).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
