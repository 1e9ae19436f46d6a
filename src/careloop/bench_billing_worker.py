"""Subprocess for `careloop bench billing`: ``generate N SEED`` fills a fresh database set-based with enrolled
patients (APCM, CCM, RPM) with consent, chronic conditions, QMB periods, time entries and device days; ``run``
measures the ceiling (reading the month's time-entry rows once), the monthly billing run, a re-run (idempotent:
nothing changes) and the 837P export with its pyx12 validation. JSON on stdout."""

from __future__ import annotations

import datetime as dt
import os
import random
import resource
import secrets
import sys
import time
from typing import Any

import orjson

MONTH = "2026-03"
FIRST, LAST = dt.date(2026, 3, 1), dt.date(2026, 3, 31)
CHRONIC = ["I10", "E119", "N183", "I5022", "J449", "E785", "I480", "M170", "G309", "F329"]
MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"


def _mbi(n: int) -> str:
    # 1 digit 1-9, letter, alnum, digit, letter, alnum, digit, letter, letter, digit, digit (CMS MBI layout)
    letters = MBI_LETTERS
    return (f"{1 + n % 9}{letters[n % 20]}{n // 20 % 10}{n // 200 % 10}{letters[n // 7 % 20]}"
            f"{n // 2000 % 10}{n // 20000 % 10}{letters[n // 3 % 20]}{letters[n // 11 % 20]}{n // 13 % 10}{n % 10}")


def _npi(n: int) -> str:
    base = f"1{n:08d}"
    digits = [int(c) for c in "80840" + base]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return base + str((10 - total % 10) % 10)


def _generate(patients: int, seed: int) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import transaction

    from careloop.accounts.services import create_user
    from careloop.billing.models import BillingSettings
    from careloop.clinics.models import Organization, Practitioner
    from careloop.core import clock
    from careloop.core.db import insert_rows
    from careloop.programs.models import DeviceDayCount, Enrollment, ProgramConsent
    from careloop.registry.models import Condition, Coverage, Patient
    from careloop.worklist.models import TimeEntry

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    org = Organization.objects.create(name="Bench clinic", slug="bench", npi="1234567893", tin="123456789")
    BillingSettings.objects.create(organization=org, address_line="1 Main St", city="Springfield", state="IL",
                                   postal_code="627010001")
    pracs = [Practitioner.objects.create(organization=org, family=f"Doc{i}", given="Bench", npi=_npi(i + 1))
             for i in range(10)]
    staff = create_user(organization=org, username="bench.nurse", password=secrets.token_urlsafe(16), role="nurse")
    rng = random.Random(seed)
    now = clock.now() - dt.timedelta(days=1)
    counts = {"patients": 0, "conditions": 0, "enrollments": 0, "time_entries": 0, "device_days": 0, "qmb": 0}
    step = 20_000
    for first in range(0, patients, step):
        n = min(step, patients - first)
        with transaction.atomic():
            insert_rows(Patient, ["organization", "created_at", "updated_at", "family", "given", "search_name",
                                  "birth_date", "sex", "mbi", "address_line", "city", "state", "postal_code"],
                        [(org.pk, now, now, f"Fam{first + i}", "Pat", f"fam{first + i} pat",
                          dt.date(1930 + rng.randrange(0, 30), rng.randrange(1, 13), rng.randrange(1, 29)),
                          "female" if rng.random() < 0.55 else "male", _mbi(first + i), f"{i} Elm St",
                          "Springfield", "IL", "62701") for i in range(n)])
            pids = list(Patient.objects.filter(organization=org).order_by("-id").values_list("id", flat=True)[:n])
            pids.reverse()
            base = ["organization", "patient", "created_at", "updated_at"]
            cond, enr, cov = [], [], []
            plan: list[tuple[int, str, int]] = []
            for k, pid in enumerate(pids):
                for code in rng.sample(CHRONIC, rng.choice((1, 2, 2, 3, 4))):
                    cond.append((org.pk, pid, now, now, code, "active", dt.date(2020, 1, 1)))
                if rng.random() < 0.1:
                    cov.append((org.pk, pid, now, now, "qmb", dt.date(2025, 1, 1), "state-medicaid"))
                r = rng.random()
                program = "APCM" if r < 0.6 else ("CCM" if r < 0.9 else "RPM")
                prac = pracs[(first + k) % len(pracs)].pk
                enr.append((org.pk, pid, now, now, program, dt.date(2026, 1, 1), prac, "visit",
                            dt.date(2025, 12, 1), "bench"))
                plan.append((pid, program, prac))
            insert_rows(Condition, [*base, "icd10", "clinical_status", "onset"], cond)
            insert_rows(Coverage, [*base, "kind", "start", "source"], cov)
            insert_rows(Enrollment, [*base, "program", "start", "billing_practitioner", "initiating_visit",
                                     "initiating_visit_on", "enrolled_by"], enr)
            eids = dict(Enrollment.objects.filter(organization=org, patient_id__in=pids).values_list("patient_id",
                                                                                                     "id"))
            consent_at = dt.datetime(2025, 12, 20, 15, tzinfo=dt.UTC)
            insert_rows(ProgramConsent, ["organization", "enrollment", "patient", "program", "method", "disclosures",
                                         "obtained_by", "obtained_at", "created_at", "updated_at"],
                        [(org.pk, eids[pid], pid, program, "verbal",
                          ["availability", "one_practitioner_per_month", "right_to_stop", "cost_sharing"], staff.pk,
                          consent_at, now, now) for pid, program, _p in plan])
            times, days = [], []
            for pid, program, _p in plan:
                if program == "APCM" and rng.random() < 0.5:
                    times.append((org.pk, pid, now, now, staff.pk, "clinical_staff", 10, "care_coordination",
                                  "APCM", False, FIRST + dt.timedelta(days=rng.randrange(0, 31))))
                if program in ("CCM", "RPM"):
                    for _ in range(rng.choice((1, 2, 2, 3))):
                        times.append((org.pk, pid, now, now, staff.pk, "clinical_staff", rng.randrange(5, 30),
                                      "care_coordination", "CCM" if program == "CCM" else "RPM", rng.random() < 0.5,
                                      FIRST + dt.timedelta(days=rng.randrange(0, 31))))
                if program == "RPM":
                    for d in sorted(rng.sample(range(31), rng.choice((1, 8, 15, 16, 20, 28)))):
                        days.append((org.pk, pid, now, now, "rpm", FIRST + dt.timedelta(days=d), 2, "device"))
            insert_rows(TimeEntry, [*base, "staff", "staff_type", "minutes", "activity", "program", "interactive",
                                    "service_date"], times)
            insert_rows(DeviceDayCount, [*base, "kind", "day", "readings", "source"], days)
        counts["patients"] += n
        counts["conditions"] += len(cond)
        counts["enrollments"] += len(enr)
        counts["time_entries"] += len(times)
        counts["device_days"] += len(days)
        counts["qmb"] += len(cov)
    return {**counts, "seconds": time.perf_counter() - started}


def _peak_kib() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _cpu() -> float:
    """CPU seconds (user + system) of this process and its finished children (validation workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _run(validate: bool) -> dict[str, Any]:
    from careloop.billing_commands import run_month
    from careloop.clinics.models import Organization
    from careloop.core.actor import Actor
    from careloop.core.db import refresh_planner_statistics
    from careloop.interop.x12.claims import build_837p
    from careloop.worklist.models import TimeEntry

    org = Organization.objects.get(slug="bench")
    refresh_planner_statistics([TimeEntry])
    actor = Actor.system(org.pk, "careloop bench billing")
    t = time.perf_counter()
    rows = list(TimeEntry.objects.filter(organization_id=org.pk, service_date__gte=FIRST, service_date__lte=LAST,
                                         voided=False).values_list("patient_id", "staff_type", "program", "minutes",
                                                                   "service_date", "interactive"))
    ceiling = time.perf_counter() - t
    del rows
    t, c = time.perf_counter(), _cpu()
    counts = run_month(org, MONTH, actor, show_progress=False)
    run_s, run_cpu = time.perf_counter() - t, _cpu() - c
    peak_run = _peak_kib()
    t = time.perf_counter()
    again = run_month(org, MONTH, actor, show_progress=False)
    rerun_s = time.perf_counter() - t
    t, c = time.perf_counter(), _cpu()
    x12 = build_837p(organization=org, month=MONTH, actor=actor, validate=validate)
    export_s, export_cpu = time.perf_counter() - t, _cpu() - c
    return {
        "ceiling_seconds": ceiling, "time_entry_rows": counts_rows(org.pk), "run_seconds": run_s,
        "rerun_seconds": rerun_s, "export_seconds": export_s, "run_cpu_seconds": run_cpu,
        "export_cpu_seconds": export_cpu, "export_write_seconds": x12.seconds_write,
        "export_validate_seconds": x12.seconds_validate, "peak_rss_kib_run": peak_run, "peak_rss_kib": _peak_kib(),
        "counts": counts.as_json(), "rerun": {"decided": again.decided, "unchanged": again.unchanged,
                                             "corrections": again.corrections},
        "claims": x12.claims, "claim_lines": x12.lines, "skipped": len(x12.skipped),
        "pyx12_accepted": x12.validation.accepted if validate else None,
        "pyx12_errors": list(x12.validation.errors[:5]), "x12_bytes": len(x12.text),
    }


def counts_rows(org_id: int) -> int:
    from careloop.worklist.models import TimeEntry

    return TimeEntry.objects.filter(organization_id=org_id, service_date__gte=FIRST, service_date__lte=LAST).count()


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.config.settings")
    import django

    django.setup()
    if sys.argv[1] == "generate":
        out = _generate(int(sys.argv[2]), int(sys.argv[3]))
    else:
        out = _run(validate=sys.argv[2] == "1")
    sys.stdout.write(orjson.dumps(out).decode() + "\n")


if __name__ == "__main__":
    main()
