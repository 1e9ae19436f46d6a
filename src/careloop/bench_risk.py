"""`careloop bench risk`: full population risk refresh on synthetic patients in a throwaway SQLite database,
against the ceiling of one GROUP BY over the same condition rows, measured in the same run."""

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
        [sys.executable, "-m", "careloop.bench_risk_worker", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"careloop bench risk: worker {args[0]} failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = orjson.loads(proc.stdout.strip().splitlines()[-1])
    return result


def bench_risk(args: argparse.Namespace) -> int:
    from careloop.bench import _emit

    with tempfile.TemporaryDirectory(prefix="careloop-bench-risk-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        db = work / "bench-risk.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        env = dict(os.environ, DATABASE_URL=f"sqlite:///{db}", CARELOOP_DATA_DIR=str(work))
        gen = _worker(["generate", str(args.patients), str(args.seed)], env)
        run = _worker(["refresh"], env)
        size = sum(Path(f"{db}{s}").stat().st_size for s in ("", "-wal") if Path(f"{db}{s}").exists())
    result = {
        "benchmark": "risk",
        "patients": args.patients,
        "condition_rows": gen["conditions"],
        "encounter_rows": gen["encounters"],
        "medication_rows": gen["medications"],
        "observation_rows": gen["observations"],
        "generate_seconds": round(gen["seconds"], 2),
        "ceiling_groupby_seconds": round(run["ceiling_groupby_seconds"], 3),
        "full_refresh_seconds": round(run["full_seconds"], 2),
        "ratio_full_to_ceiling": round(run["full_seconds"] / max(run["ceiling_groupby_seconds"], 1e-9), 1),
        "full_patients_scored": run["full_patients"],
        "full_tier_changes": run["full_tier_changes"],
        "tiers": run["tiers"],
        "incremental_changed_patients": run["incremental_changed_input"],
        "incremental_patients_scored": run["incremental_patients"],
        "incremental_refresh_seconds": round(run["incremental_seconds"], 2),
        "refresh_peak_rss_mib": round(run["peak_rss_kib"] / 1024, 1),
        "database_mib": round(size / 2**20, 1),
        "database": "sqlite",
        "target": "100,000 patients < 60 s; peak memory < 4 GiB at 1,000,000",
    }
    _emit(result, args.json)
    return 0
