"""`careloop bench ...`: benchmarks that report a figure and, measured in the same run, its ceiling.

Absolute times on shared machines are noise; the ratio to a ceiling measured on the same files in the same
run is what we track (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson


def run_bench(args: argparse.Namespace) -> int:
    if args.bench_command == "import":
        return bench_import(args)
    if args.bench_command == "quality":
        from careloop.bench_quality import bench_quality

        _emit(bench_quality(args), args.json)
        return 0
    if args.bench_command == "worklist":
        from careloop.bench_worklist import bench_worklist

        return bench_worklist(args)
    if args.bench_command == "risk":
        from careloop.bench_risk import bench_risk

        return bench_risk(args)
    if args.bench_command == "billing":
        from careloop.bench_billing import bench_billing

        return bench_billing(args)
    if args.bench_command == "adt":
        from careloop.bench_adt import bench_adt

        return bench_adt(args)
    raise SystemExit(f"unknown benchmark {args.bench_command}")


def _emit(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for key, value in result.items():
            print(f"{key:32} {value}")


def parse_ceiling(paths: list[Path]) -> tuple[int, float]:
    """Resources and seconds to read and parse every NDJSON line with orjson alone."""
    count = 0
    start = time.perf_counter()
    for path in paths:
        with path.open("rb") as fh:
            for line in fh:
                if line.strip():
                    orjson.loads(line)
                    count += 1
    return count, time.perf_counter() - start


def bench_import(args: argparse.Namespace) -> int:
    from careloop.synth.generator import generate

    with tempfile.TemporaryDirectory(prefix="careloop-bench-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        data = work / "clinic"
        t0 = time.perf_counter()
        generate(patients=args.patients, seed=args.seed, out_dir=data)
        gen_seconds = time.perf_counter() - t0
        files = sorted(data.glob("*.ndjson"))
        resources, ceiling_seconds = parse_ceiling(files)
        db = work / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        env = dict(os.environ, DATABASE_URL=f"sqlite:///{db}", CARELOOP_DATA_DIR=str(work))
        proc = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "careloop.bench_import_worker", str(data)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        worker = orjson.loads(proc.stdout.strip().splitlines()[-1])
        imported = worker["resources"]
        rate = imported / worker["seconds"]
        ceiling = resources / ceiling_seconds
        result = {
            "benchmark": "import",
            "patients": args.patients,
            "resources": imported,
            "generate_seconds": round(gen_seconds, 2),
            "import_seconds": round(worker["seconds"], 2),
            "import_resources_per_s": round(rate),
            "ceiling_orjson_parse_resources_per_s": round(ceiling),
            "ratio_to_ceiling": round(rate / ceiling, 4),
            "import_peak_rss_mib": round(worker["peak_rss_kib"] / 1024, 1),
            # CPU seconds of the two import processes: on a shared machine, what the import itself costs.
            "import_writer_cpu_seconds": round(worker["writer_cpu_seconds"], 1),
            "import_parser_cpu_seconds": round(worker["parser_cpu_seconds"], 1),
            "rejected": worker["rejected"],
            "database": "sqlite",
            "target": ">= 20,000 resources/s; peak memory < 1 GiB",
        }
        _emit(result, args.json)
    return 0


def peak_rss_kib() -> int:
    """Peak resident memory of this process or any child it waited for (the import's parse process)."""
    return int(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
