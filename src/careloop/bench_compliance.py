"""APCM compliance at population scale: the billing run's evidence provider (capabilities, monthly activity) and
the month's element coverage, on N enrolled synthetic patients in a throwaway SQLite database, against the
ceiling of reading the month's time-entry rows once, measured in the same run.

    python -m careloop.bench_compliance --patients 100000 --json

Prints one JSON object (seconds, queries, ratio to the ceiling, process peak RSS).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

MONTH = "2026-03"
UTC = dt.UTC


def _build(n: int) -> int:
    from careloop.accounts.models import User
    from careloop.clinics.models import Organization, Practitioner
    from careloop.programs.models import DesignatedCareMember, Enrollment, ProgramConsent
    from careloop.registry.models import Patient
    from careloop.risk.models import PatientRisk
    from careloop.worklist.models import OutreachAttempt, TimeEntry

    org = Organization.objects.create(slug="bench-compliance", name="Bench clinic")
    user = User.objects.create(username="coord-bench", organization=org, role="coordinator")
    pr = Practitioner.objects.create(organization=org, family="Osler", given="W", npi="1234567893")
    b = 5_000
    Patient.objects.bulk_create([Patient(organization=org, family=f"F{i}", given="G", fhir_id=f"bench-{i}")
                                 for i in range(n)], batch_size=b)
    pids = list(Patient.objects.filter(organization=org).values_list("pk", flat=True))
    Enrollment.objects.bulk_create([
        Enrollment(organization=org, patient_id=p, program="APCM", start=dt.date(2026, 1, 1), billing_practitioner=pr,
                   initiating_visit="visit", initiating_visit_on=dt.date(2025, 6, 1), enrolled_by="bench")
        for p in pids], batch_size=b)
    disclosures = ["availability", "cost_sharing", "one_practitioner_per_month", "right_to_stop"]
    ProgramConsent.objects.bulk_create([
        ProgramConsent(organization=org, enrollment_id=e, patient_id=p, program="APCM", method="verbal",
                       disclosures=disclosures, obtained_by=user, obtained_at=dt.datetime(2025, 12, 20, tzinfo=UTC))
        for e, p in Enrollment.objects.filter(organization=org).values_list("pk", "patient_id")], batch_size=b)
    DesignatedCareMember.objects.bulk_create([DesignatedCareMember(organization=org, patient_id=p, user=user,
                                                                   since=dt.date(2026, 1, 1)) for p in pids],
                                             batch_size=b)
    activities = ("care_coordination", "medication_management", "outreach")
    active = [p for i, p in enumerate(pids) if i % 10]  # every 10th patient: no activity in the month
    TimeEntry.objects.bulk_create([
        TimeEntry(organization=org, patient_id=p, staff=user, staff_type="clinical_staff", minutes=10 + i % 30,
                  activity=activities[i % 3], program="APCM", service_date=dt.date(2026, 3, 1 + i % 28))
        for i, p in enumerate(active + active[: n // 2])], batch_size=b)
    OutreachAttempt.objects.bulk_create([
        OutreachAttempt(organization=org, patient_id=p, user=user, at=dt.datetime(2026, 3, 2 + i % 25, 15, tzinfo=UTC),
                        channel="phone", outcome="reached") for i, p in enumerate(active[::2])], batch_size=b)
    PatientRisk.objects.bulk_create([PatientRisk(organization=org, patient_id=p, as_of=dt.date(2026, 3, 1),
                                                 methodology_version="bench", tier="moderate") for p in pids],
                                    batch_size=b)
    return org.pk


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as q:
        t = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - t
    return out, seconds, len(q.captured_queries)


def run(n: int) -> dict[str, Any]:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    from careloop.compliance import rules, selectors
    from careloop.compliance.provider import ComplianceEvidence
    from careloop.registry.models import Patient
    from careloop.worklist.models import TimeEntry

    t = time.perf_counter()
    org = _build(n)
    build = time.perf_counter() - t
    pids = list(Patient.objects.filter(organization_id=org).values_list("pk", flat=True))
    first, last = rules.parse_month(MONTH)
    _, ceiling, _ = _timed(lambda: sum(1 for _ in TimeEntry.objects.filter(
        organization_id=org, service_date__gte=first, service_date__lte=last)
        .values_list("patient_id", "minutes").iterator(chunk_size=10_000)))
    provider = ComplianceEvidence()
    activity, act_s, act_q = _timed(lambda: provider.apcm_activity(org, pids, MONTH))
    _, cap_s, cap_q = _timed(lambda: provider.capabilities(org, MONTH))
    summary, cov_s, cov_q = _timed(lambda: selectors.coverage_summary(organization_id=org, month=MONTH, as_of=last))
    return {
        "benchmark": "compliance", "patients": n, "build_seconds": round(build, 1),
        "ceiling_read_time_entries_seconds": round(ceiling, 3),
        "apcm_activity_seconds": round(act_s, 3), "apcm_activity_queries": act_q,
        "apcm_activity_ratio_to_ceiling": round(act_s / max(ceiling, 1e-9), 2),
        "patients_with_activity": sum(activity.values()),
        "capabilities_seconds": round(cap_s, 4), "capabilities_queries": cap_q,
        "coverage_seconds": round(cov_s, 2), "coverage_queries": cov_q,
        "coverage_ratio_to_ceiling": round(cov_s / max(ceiling, 1e-9), 1),
        "coverage_patients": summary.patients,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m careloop.bench_compliance", description=__doc__)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--workdir", help="where to write the database (default: a temp folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="careloop-bench-compliance-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        db = work / "bench-compliance.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{db}"
        os.environ["CARELOOP_DATA_DIR"] = str(work)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.config.settings")
        result = run(args.patients)
    if args.json:
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
    else:
        for k, v in result.items():
            print(f"{k:36} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
