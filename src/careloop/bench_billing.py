"""`careloop bench billing`: the monthly billing run and the 837P export for N enrolled synthetic patients in a
throwaway database, against the ceiling of reading the month's time-entry rows once, measured in the same run."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson


def _worker(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "careloop.bench_billing_worker", *args],
        env=env, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"careloop bench billing: worker {args[0]} failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = orjson.loads(proc.stdout.strip().splitlines()[-1])
    return result


def bench_billing(args: argparse.Namespace) -> int:
    from careloop.bench import _emit

    with tempfile.TemporaryDirectory(prefix="careloop-bench-billing-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.database_url:
            env = dict(os.environ, DATABASE_URL=args.database_url, CARELOOP_DATA_DIR=str(work))
            database = "postgresql"
        else:
            db = work / "bench-billing.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            env = dict(os.environ, DATABASE_URL=f"sqlite:///{db}", CARELOOP_DATA_DIR=str(work))
            database = "sqlite"
        gen = _worker(["generate", str(args.patients), str(args.seed)], env)
        load_before = os.getloadavg()
        run = _worker(["run", "0" if args.no_validate else "1"], env)
        load_after = os.getloadavg()
    total = run["run_seconds"] + run["export_seconds"]
    result = {
        "benchmark": "billing",
        "database": database,
        "patients": gen["patients"],
        "time_entry_rows": run["time_entry_rows"],
        "device_day_rows": gen["device_days"],
        "generate_seconds": round(gen["seconds"], 1),
        "ceiling_read_time_entries_seconds": round(run["ceiling_seconds"], 3),
        "run_seconds": round(run["run_seconds"], 1),
        "run_peak_rss_mib": round(run["peak_rss_kib_run"] / 1024, 1),
        "rerun_seconds": round(run["rerun_seconds"], 1),
        "rerun": run["rerun"],
        "export_837p_seconds": round(run["export_seconds"], 1),
        "export_write_seconds": round(run["export_write_seconds"], 1),
        "export_pyx12_validate_seconds": round(run["export_validate_seconds"], 1),
        "run_plus_export_seconds": round(total, 1),
        # CPU seconds (this process + its worker processes): what the machine's other load does not change much
        "run_cpu_seconds": round(run["run_cpu_seconds"], 1),
        "export_cpu_seconds": round(run["export_cpu_seconds"], 1),
        "load_average_1min_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "cpus": os.cpu_count(),
        "ratio_run_to_ceiling": round(run["run_seconds"] / max(run["ceiling_seconds"], 1e-9), 1),
        "peak_rss_mib": round(run["peak_rss_kib"] / 1024, 1),
        "claims": run["claims"],
        "claim_lines": run["claim_lines"],
        "claims_skipped": run["skipped"],
        "pyx12_accepted": run["pyx12_accepted"],
        "pyx12_errors": run["pyx12_errors"],
        "x12_mib": round(run["x12_bytes"] / 2**20, 1),
        "counts": run["counts"],
        "target": "monthly run + 837P export for 100,000 enrolled patients < 120 s",
    }
    _emit(result, args.json)
    return 0
