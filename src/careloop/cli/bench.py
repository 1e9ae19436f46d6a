"""`careloop bench ...` (see bench/RESULTS.md)."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_bench(args: argparse.Namespace) -> int:
    from careloop.bench import run_bench

    return run_bench(args)



def register(sub: Any) -> None:
    bench = sub.add_parser("bench", help="benchmarks (see bench/RESULTS.md)")
    bsub = bench.add_subparsers(dest="bench_command", required=True)
    p = bsub.add_parser("import", help="FHIR import throughput vs an orjson-parse ceiling")
    p.add_argument("--patients", type=int, default=10000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    p.add_argument("--workdir", help="where to write the generated files and database (default: a temp folder)")
    p.set_defaults(fn=cmd_bench)
    p = bsub.add_parser("quality", help="measure evaluation throughput vs an orjson-parse ceiling")
    p.add_argument("--patients", type=int, default=10000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--measures", help="comma-separated measure ids (default: every eCQM)")
    p.add_argument("--period", default="2026-01-01:2026-12-31")
    p.add_argument("--valuesets", help="folder of ValueSet JSON files (default: a stand-in built from the data)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--workdir", help="where to write the generated files (default: a temp folder)")
    p.add_argument("--workers", type=int, help="evaluation processes (default and at most: the CPU count)")
    p.set_defaults(fn=cmd_bench)
    p = bsub.add_parser("adt", help="ADT over MLLP end to end vs a bare frame-and-ACK ceiling; --kill-test")
    p.add_argument("--messages", type=int, default=10000)
    p.add_argument("--senders", type=int, default=8)
    p.add_argument("--database-url", help="PostgreSQL URL to use instead of a throwaway SQLite file")
    p.add_argument("--kill-test", action="store_true", help="SIGKILL and restart the listener while sending")
    p.add_argument("--mix", choices=["admit-discharge", "admit-transfer"], default="admit-discharge",
                   help="A01+A03 per stay (discharges start transition episodes) or A01+A02 (no discharge)")
    p.add_argument("--kills", type=int, default=4)
    p.add_argument("--transitions-worker", choices=["process", "thread"], default="process",
                   help="the listener's transitions worker (episodes and tasks after the ACK)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--workdir", help="where to put the database (default: a temp folder)")
    p.set_defaults(fn=cmd_bench)
    p = bsub.add_parser("worklist", help="GET /api/worklist/queue latency vs an authenticated-ping ceiling")
    p.add_argument("--patients", type=int, default=100000)
    p.add_argument("--tasks", type=int, default=1000000)
    p.add_argument("--coordinators", type=int, default=20)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=4000, help="requests per endpoint (bounded also by --seconds)")
    p.add_argument("--seconds", type=float, default=120.0, help="time limit per endpoint")
    p.add_argument("--server-workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--interface", choices=["asgi", "wsgi"], default="wsgi",
                   help="wsgi: what `careloop serve` runs (uvicorn's thread pool, persistent connections); asgi")
    p.add_argument("--database-url", help="PostgreSQL URL to use instead of a throwaway SQLite file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--workdir", help="where to put the database (default: a temp folder)")
    p.add_argument("--reuse", action="store_true",
                   help="with --workdir: reuse the database built by an earlier run with the same sizes")
    p.set_defaults(fn=cmd_bench)
    p = bsub.add_parser("billing", help="monthly billing run + 837P export vs reading the time entries once")
    p.add_argument("--patients", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-validate", action="store_true", help="skip the pyx12 validation of the 837P")
    p.add_argument("--database-url", help="PostgreSQL URL to use instead of a throwaway SQLite file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--workdir", help="where to write the database (default: a temp folder)")
    p.set_defaults(fn=cmd_bench)
    p = bsub.add_parser("risk", help="full risk refresh on synthetic patients vs a one-group-by ceiling")
    p.add_argument("--patients", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    p.add_argument("--workdir", help="where to write the database (default: a temp folder)")
    p.set_defaults(fn=cmd_bench)
