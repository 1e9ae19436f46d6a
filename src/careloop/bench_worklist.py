"""`careloop bench worklist`: GET /api/worklist/queue latency under 16 concurrent clients, against the ceiling of
a trivial authenticated route (GET /api/worklist/ping) measured in the same run.

1. ``build`` (a subprocess): a throwaway database (a SQLite file in a temp folder, or the PostgreSQL database
   named by ``--database-url``, dropped and created again; its name must contain "bench"), migrated, with
   ``--patients`` patients and ``--tasks`` tasks written set-based (``core.db.insert_rows``), 20 coordinators
   and a bearer token each.
2. ``careloop serve --workers N`` serves the app in a subprocess on a free loopback port (uvicorn's WSGI interface:
   a fixed thread pool, persistent database connections; N processes with their own ``SO_REUSEPORT`` sockets);
   ``--interface asgi`` runs uvicorn's ASGI interface for comparison (a new thread and database connection per
   request). ``server_cpu_ms_per_request`` is the
   server processes' own CPU time per request (what other load on the machine does not inflate much).
3. Python threads with keep-alive ``http.client`` connections send a fixed number of requests to each route
   (bounded by ``--seconds`` too), rotating the coordinators' tokens and the queue filters.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from careloop.serve import HTTP_PROTOCOL

TASK_TYPES = ["enrollment_call", "monthly_checkin", "post_discharge_contact", "followup_visit_scheduling",
              "medication_reconciliation", "care_plan_review", "referral_followup", "care_gap_closure",
              "screening_followup", "prior_authorization", "message_response", "other"]
PROGRAMS = ["APCM", "CCM", "PCM", "BHI", "CoCM", "RPM", "RTM", "TCM"]
STATUSES = ["requested"] * 4 + ["ready"] * 2 + ["in-progress"] * 2 + ["on-hold", "completed", "completed",
                                                                       "cancelled"]


def _emit(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for key, value in result.items():
            print(f"{key:32} {value}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _load(port: int, paths: list[str], tokens: list[str], clients: int, total: int, seconds: float) -> dict[str, Any]:
    """Send ``total`` GETs over ``clients`` keep-alive connections (stop early after ``seconds``)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    deadline = time.perf_counter() + seconds
    counter = iter(range(total))
    lock = threading.Lock()

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {tokens[n % len(tokens)]}", "Connection": "keep-alive"}
        while time.perf_counter() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            path = paths[i % len(paths)]
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok = False
            latencies[n].append(time.perf_counter() - t0)
            if not ok:
                errors[n] += 1
        conn.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    flat = [x for lat in latencies for x in lat]
    return {"requests": len(flat), "errors": sum(errors), "seconds": round(wall, 2),
            "requests_per_s": round(len(flat) / wall, 1) if wall else 0.0,
            "p50_ms": round(_pct(flat, 0.50) * 1000, 2), "p95_ms": round(_pct(flat, 0.95) * 1000, 2),
            "p99_ms": round(_pct(flat, 0.99) * 1000, 2)}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its descendants (Linux /proc; 0.0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, stack = 0.0, [pid]
    while stack:
        p = stack.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError, IndexError):
            continue
    return total


def _measured(server_pid: int, run: Any) -> dict[str, Any]:
    """``run()``'s result plus the server's CPU milliseconds per request (whatever else runs on the machine)."""
    before = _cpu_seconds(server_pid)
    out: dict[str, Any] = run()
    used = _cpu_seconds(server_pid) - before
    out["server_cpu_ms_per_request"] = round(used * 1000 / out["requests"], 2) if out["requests"] else None
    return out


def _listeners(port: int) -> int:
    """Listening TCP sockets on ``port`` (Linux /proc/net/tcp; -1 elsewhere)."""
    try:
        rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return -1
    local = f":{port:04X}"
    return sum(1 for row in rows if row.split()[1].endswith(local) and row.split()[3] == "0A")


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0, listeners: int = 1) -> None:
    """Until the server answers /api/health and ``listeners`` processes listen on the port (all workers up, so
    that the clients' connections are spread over all of them)."""
    end = time.time() + timeout
    while 0 <= _listeners(port) < listeners and time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        time.sleep(0.2)
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def bench_worklist(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="careloop-bench-wl-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        url = args.database_url or f"sqlite:///{work / 'bench.sqlite3'}"
        saved = work / f"build-{'pg' if args.database_url else 'sqlite'}-{args.patients}-{args.tasks}.json"
        reuse = bool(getattr(args, "reuse", False) and args.workdir and saved.exists())
        if not args.database_url and not reuse:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{work / 'bench.sqlite3'}{suffix}").unlink(missing_ok=True)
        # Under ASGI every request runs in a new thread, so persistent (thread-local) connections would pile up
        # until PostgreSQL refuses more: the server closes its connection after each request. Under WSGI a fixed
        # pool of threads serves the requests: each keeps its connection (no connect + PRAGMAs/backend start-up
        # per request).
        max_age = os.environ.get("CARELOOP_CONN_MAX_AGE", "0" if args.interface == "asgi" else "60")
        env = dict(os.environ, DATABASE_URL=url, CARELOOP_DATA_DIR=str(work), CARELOOP_LOG_LEVEL="ERROR",
                   CARELOOP_CONN_MAX_AGE=max_age)
        if reuse:
            built = orjson.loads(saved.read_bytes())
        else:
            proc = subprocess.run(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "careloop.bench_worklist", "build", str(args.patients), str(args.tasks),
                 str(args.coordinators)],
                env=env, capture_output=True, text=True, check=False,
            )
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return proc.returncode
            built = orjson.loads(proc.stdout.strip().splitlines()[-1])
            if args.workdir:
                saved.write_bytes(orjson.dumps(built))
        port = _free_port()
        if args.interface == "asgi":
            command = [sys.executable, "-m", "uvicorn", "careloop.config.asgi:application", "--host", "127.0.0.1",
                       "--port", str(port), "--workers", str(args.server_workers), "--log-level", "warning",
                       "--lifespan", "off", "--no-access-log", "--http", HTTP_PROTOCOL]
        else:  # what `careloop serve` runs
            command = [sys.executable, "-m", "careloop.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                       "--workers", str(args.server_workers)]
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603 - our own interpreter
        try:
            _wait_ready(port, server, listeners=args.server_workers if args.interface == "wsgi" else 1)
            tokens = built["tokens"]
            due = built["due_before"]
            queue_paths = ["/api/worklist/queue?limit=50", "/api/worklist/queue?limit=50&type=monthly_checkin",
                           "/api/worklist/queue?limit=50&program=CCM",
                           f"/api/worklist/queue?limit=50&due_before={due}"]
            _load(port, ["/api/worklist/ping", *queue_paths], tokens, args.clients, 200, 30)  # warm-up
            ping = _measured(server.pid, lambda: _load(port, ["/api/worklist/ping"], tokens, args.clients,
                                                       args.requests, args.seconds))
            queue = _measured(server.pid, lambda: _load(port, queue_paths, tokens, args.clients, args.requests,
                                                        args.seconds))
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        result = {
            "benchmark": "worklist",
            "database": "postgresql" if url.startswith("postgres") else "sqlite",
            "patients": args.patients,
            "tasks": args.tasks,
            "coordinators": args.coordinators,
            "clients": args.clients,
            "server_workers": args.server_workers,
            "server_interface": args.interface,
            "server_conn_max_age": int(max_age),
            "build_seconds": built["seconds"],
            "reused_build": reuse,
            "queue": queue,
            "ping_ceiling": ping,
            "ratio_p50": round(queue["p50_ms"] / ping["p50_ms"], 2) if ping["p50_ms"] else None,
            "ratio_p95": round(queue["p95_ms"] / ping["p95_ms"], 2) if ping["p95_ms"] else None,
            "target": "queue p95 < 100 ms",
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }
        _emit(result, args.json)
    return 0 if queue["errors"] == 0 and ping["errors"] == 0 else 1


# ---- the build subprocess -----------------------------------------------------------------------------------

def _recreate_postgres_database(url: str) -> None:
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    name = str(cfg["NAME"])
    if "bench" not in name:
        raise SystemExit(f"careloop bench: refusing to drop database {name!r} (its name must contain 'bench')")
    conn = psycopg.connect(host=cfg.get("HOST") or None, port=cfg.get("PORT") or None, user=cfg.get("USER") or None,
                           password=cfg.get("PASSWORD") or None, dbname="postgres", autocommit=True)
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def build(patients: int, tasks: int, coordinators: int) -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        _recreate_postgres_database(url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.config.settings")
    import django

    django.setup()
    import datetime as dt

    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import override_settings

    from careloop.accounts.services import create_user, issue_api_token
    from careloop.clinics.models import Organization
    from careloop.core import clock
    from careloop.core.db import insert_rows
    from careloop.registry.models import Patient
    from careloop.worklist.models import CareTask

    start = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    org = Organization.objects.create(name="Bench clinic", slug="bench")
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        users = [create_user(organization=org, username=f"coord{i:02d}", password=uuid.uuid4().hex,
                             role="coordinator") for i in range(coordinators)]
    tokens = [issue_api_token(user=u, name="bench") for u in users]
    rng = random.Random(7)  # noqa: S311 - synthetic data
    now = clock.now()
    batch = 50_000
    with transaction.atomic():
        for lo in range(0, patients, batch):
            insert_rows(
                Patient, ["organization", "fhir_id", "family", "given", "search_name", "created_at", "updated_at"],
                [(org.pk, uuid.uuid4().hex, f"Family{i}", f"Given{i}", f"family{i} given{i}", now, now)
                 for i in range(lo, min(patients, lo + batch))],
            )
    first_pid = Patient.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True).first() or 0
    user_ids = [u.pk for u in users]
    why = ["Urgency +20: due within a week", "Risk +12: moderate risk tier", "Value +12: monthly time"]
    columns = ["organization", "patient", "task_type", "reason", "dedupe_key", "status", "in_queue", "due_at",
               "priority", "priority_explanation", "risk_tier", "program", "assigned_role", "assigned_user",
               "created_by", "created_at", "updated_at"]
    for lo in range(0, tasks, batch):
        rows = []
        for i in range(lo, min(tasks, lo + batch)):
            status = STATUSES[rng.randrange(len(STATUSES))]
            kind = TASK_TYPES[rng.randrange(len(TASK_TYPES))]
            rows.append((
                org.pk, first_pid + rng.randrange(patients), kind, f"{kind} for bench patient", f"bench:{i}", status,
                status in ("requested", "ready", "in-progress"),
                now + dt.timedelta(minutes=rng.randrange(-20000, 60000)),
                rng.randrange(101), why, "moderate", PROGRAMS[rng.randrange(len(PROGRAMS))], "coordinator",
                None if rng.random() < 0.03 else user_ids[rng.randrange(len(user_ids))], "bench", now, now,
            ))
        with transaction.atomic():
            insert_rows(CareTask, columns, rows)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return {"seconds": round(time.perf_counter() - start, 1), "tokens": tokens,
            "due_before": (now + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S")}


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "build":
        out = build(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        sys.stdout.write(orjson.dumps(out).decode() + "\n")
        return 0
    print("usage: python -m careloop.bench_worklist build PATIENTS TASKS COORDINATORS", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
