"""`careloop bench adt`: ADT over MLLP end to end (listener subprocess: store, parse, match, encounter, ACK after
commit; its transitions worker then opens the discharges' episodes and tasks) with N concurrent senders over
loopback, against the ceiling of the same senders and a bare MLLP server that only frames and ACKs, measured in
the same run. The end-to-end rate counts until the last episode exists and the transitions queue is empty.
``--kill-test``: SIGKILL and restart the listener while the senders push every message (resending what was not
acknowledged), then count that each message, episode and task was applied exactly once.

``python -m careloop.bench_adt counts SLUG`` (internal) prints the database counts for an organization;
``... wait SLUG EPISODES`` waits (after a line on stdin) for the transitions queue to empty.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from careloop.interop.mllp.client import ack_summary, send_reliably
from careloop.interop.mllp.server import event_loop_factory

ORG = "bench-adt"


def build_messages(n: int, seed: int = 5, prefix: str = "", second: str = "A03") -> list[list[bytes]]:
    """``n`` messages: an A01 then an A03 (or ``second``, e.g. A02) per stay, one stay per patient."""
    rng = random.Random(seed)
    stays: list[list[bytes]] = []
    for i in range(n // 2):
        mrn, visit = f"B{prefix}{i:07d}", f"V{prefix}{i:07d}"
        dob = f"19{rng.randint(25, 60)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        admit = f"202601{rng.randint(1, 20):02d}{rng.randint(0, 23):02d}{rng.randint(0, 59):02d}00-0500"
        discharge = f"202601{rng.randint(21, 28):02d}1000-0500"
        pid = (f"PID|1||{mrn}^^^GENHOSP^MR||PATIENT{prefix}{i}^GIVEN{i}^Q||{dob}|{rng.choice('FM')}|||"
               "1 MAIN ST^^TOWN^OH^44000")
        pv1 = ("PV1|1|I|4W^4{0:02d}^A^GENHOSP||||1234^SMITH^JOHN^^^DR|||MED|||||||||{1}^^^GENHOSP^VN"
               + "|" * 17 + "{2}" + "|" * 8 + "{3}|{4}")
        end_of_stay = (discharge, "01") if second == "A03" else ("", "")
        for event, control, end, disp in (("A01", f"{visit}-1", "", ""), (second, f"{visit}-2", *end_of_stay)):
            msh = f"MSH|^~\\&|HIS|GENHOSP|CARELOOP|CLINIC|20260105083000-0500||ADT^{event}^ADT_A01|{control}|P|2.5.1"
            segs = [msh, f"EVN|{event}|20260105083000-0500", pid,
                    pv1.format(i % 50, visit, disp, admit, end), "DG1|1||I50.9^Heart failure^I10||||A"]
            stays.append(["\r".join(segs).encode() + b"\r"])
    return stays


def _senders(stays: list[list[bytes]], n: int) -> list[list[bytes]]:
    out: list[list[bytes]] = [[] for _ in range(n)]
    for i in range(0, len(stays), 2):  # both messages of a stay go through the same sender, in order
        out[(i // 2) % n].extend(stays[i] + stays[i + 1])
    return out


async def _run_senders(groups: list[list[bytes]], port: int, timeout: float = 30.0) -> tuple[float, list[float], int]:
    bad = 0

    def check(_i: int, ack: bytes) -> None:
        nonlocal bad
        bad += ack_summary(ack)[0] != "AA"

    start = time.perf_counter()
    reports = await asyncio.gather(*(
        send_reliably(g, "127.0.0.1", port, timeout=timeout, give_up_after=300, on_ack=check) for g in groups
    ))
    elapsed = time.perf_counter() - start
    return elapsed, [lat for r in reports for lat in r.latencies], bad


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cmd: list[str], env: dict[str, str], stderr: Any = subprocess.DEVNULL,
           said: list[str] | None = None) -> tuple[subprocess.Popen[str], int]:
    """Start a listener; wait for its ``listening HOST PORT`` line (earlier lines go to ``said``)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)  # noqa: S603
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("listening "):
            return proc, int(line.split()[2])
        if said is not None:
            said.append(line.strip())
    raise RuntimeError(f"{cmd} exited before listening (code {proc.wait()})")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc), 0.0 when unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _cli(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "careloop.cli", *args], env=env, capture_output=True,  # noqa: S603
                          text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"careloop {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def _counts(env: dict[str, str], slug: str) -> dict[str, int]:
    proc = subprocess.run([sys.executable, "-m", "careloop.bench_adt", "counts", slug], env=env,  # noqa: S603
                          capture_output=True, text=True, check=True)
    return dict(orjson.loads(proc.stdout.strip().splitlines()[-1]))


def _waiter(env: dict[str, str], slug: str, episodes: int) -> subprocess.Popen[str]:
    """A process that, once told (a line on stdin), polls the database until the transitions queue is empty and
    ``episodes`` episodes exist, then prints the wall-clock time (Django is set up before, off the clock)."""
    proc = subprocess.Popen([sys.executable, "-m", "careloop.bench_adt", "wait", slug, str(episodes)],  # noqa: S603
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError("bench waiter did not start")
    return proc


def _wait_applied(proc: subprocess.Popen[str]) -> float:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()
    line = proc.stdout.readline().strip()
    proc.wait(10)
    return float(line)


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else (values[0] if values else 0.0)


def bench_adt(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="careloop-bench-adt-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        db = work / "bench-adt.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        url = args.database_url or f"sqlite:///{db}"
        env = dict(os.environ, DATABASE_URL=url, CARELOOP_DATA_DIR=str(work), PYTHONUNBUFFERED="1")
        slug = f"{ORG}-{int(time.time())}"
        _cli(env, "migrate")
        _cli(env, "org", "create", "--name", "ADT benchmark", "--slug", slug)
        stays = build_messages(args.messages, second="A03" if args.mix == "admit-discharge" else "A02")
        groups = _senders(stays, args.senders)
        total = sum(len(g) for g in groups)
        worker = getattr(args, "transitions_worker", "process")
        listen = [sys.executable, "-m", "careloop.cli", "hl7", "listen", "--org", slug, "--transitions-worker", worker]
        result: dict[str, Any] = {"benchmark": "adt-kill-test" if args.kill_test else "adt", "messages": total,
                                  "senders": args.senders, "database": url.split(":", 1)[0],
                                  "transitions_worker": worker}
        if args.kill_test:
            result.update(_kill_test(groups, listen, env, args.kills))
        else:
            bare, bare_port = _start([sys.executable, "-m", "careloop.interop.mllp.bare", "--port", "0"], env)
            try:
                c_elapsed, c_lat, _ = asyncio.run(_run_senders(groups, bare_port), loop_factory=event_loop_factory())
            finally:
                _stop(bare)
            log = (work / "listener.log").open("w")
            closed = total // 2 if args.mix == "admit-discharge" else 0
            waiter = _waiter(env, slug, closed)
            proc, port = _start([*listen, "--port", "0"], env, stderr=log)
            try:
                cpu0 = _cpu_seconds(proc.pid)
                t0 = time.time()
                elapsed, lat, bad = asyncio.run(_run_senders(groups, port), loop_factory=event_loop_factory())
                applied = _wait_applied(waiter) - t0  # the transitions worker's queue worked off too
                cpu = _cpu_seconds(proc.pid) - cpu0
            finally:
                if waiter.poll() is None:
                    waiter.kill()
                _stop(proc)
                log.close()
            served = [line for line in (work / "listener.log").read_text().splitlines() if line.startswith("mllp:")]
            rate, ceiling = total / elapsed, total / c_elapsed
            result.update({
                "acked_msgs_per_s": round(rate),
                "end_to_end_msgs_per_s": round(total / max(applied, elapsed)),
                "episodes_done_after_last_ack_s": round(max(0.0, applied - elapsed), 2),
                "ack_latency_p50_ms": round(_percentile(lat, 50) * 1000, 2),
                "ack_latency_p99_ms": round(_percentile(lat, 99) * 1000, 2),
                "ceiling_bare_mllp_msgs_per_s": round(ceiling),
                "ceiling_p50_ms": round(_percentile(c_lat, 50) * 1000, 2),
                "ceiling_p99_ms": round(_percentile(c_lat, 99) * 1000, 2),
                "ratio_to_ceiling": round(rate / ceiling, 4),
                "end_to_end_ratio_to_ceiling": round(total / max(applied, elapsed) / ceiling, 4), "non_aa_acks": bad,
                "listener_cpu_ms_per_msg": round(cpu / total * 1000, 3),
                "listener_summary": served[-1] if served else "",
                "load_average_1m": round(os.getloadavg()[0], 2),
            })
        counts = _counts(env, slug)
        result["counts"] = counts
        closed = total // 2 if args.mix == "admit-discharge" else 0
        result["mix"] = args.mix
        tasks_per_episode = 4  # contact, visit scheduling, medication reconciliation, care-plan review
        result["exactly_once"] = (counts["accepted"] == total and counts["encounters"] == total // 2
                                  and counts["finished_encounters"] == closed and counts["received"] == 0
                                  and counts["episodes"] == closed and counts["queued"] == 0
                                  and counts["transition_tasks"] == closed * tasks_per_episode)
        result["target"] = ">= 1,000 msg/s and >= 50% of the bare-MLLP ceiling; kill test: exactly once"
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n" if args.json else
                         "\n".join(f"{k:32} {v}" for k, v in result.items()) + "\n")
        return 0 if result["exactly_once"] else 1


def _kill_test(groups: list[list[bytes]], listen: list[str], env: dict[str, str], kills: int) -> dict[str, Any]:
    port = _free_port()
    cmd = [*listen, "--port", str(port)]
    said: list[str] = []
    state: dict[str, Any] = {"proc": _start(cmd, env, said=said)[0], "kills": 0}
    total = sum(len(g) for g in groups)
    acked = [0]

    def count(_i: int, _ack: bytes) -> None:
        acked[0] += 1

    async def killer() -> None:
        for k in range(kills):
            threshold = total * (k + 1) // (kills + 1)
            while acked[0] < threshold:
                await asyncio.sleep(0.01)
            state["proc"].kill()  # SIGKILL: no chance to finish anything
            state["proc"].wait()
            state["kills"] += 1
            await asyncio.sleep(0.2)
            state["proc"] = (await asyncio.to_thread(_start, cmd, env, subprocess.DEVNULL, said))[0]

    async def main() -> tuple[float, int]:
        start = time.perf_counter()
        kill_task = asyncio.create_task(killer())
        reports = await asyncio.gather(*(
            send_reliably(g, "127.0.0.1", port, timeout=10, give_up_after=300, on_ack=count) for g in groups
        ))
        await kill_task
        return time.perf_counter() - start, sum(r.resends for r in reports)

    try:
        elapsed, resends = asyncio.run(main(), loop_factory=event_loop_factory())
    finally:
        _stop(state["proc"])
    recovered = sum(int(line.split()[1]) for line in said if line.startswith("recovered "))
    return {"kills": state["kills"], "acked": acked[0], "resend_attempts": resends,
            "recovered_at_restart": recovered, "seconds": round(elapsed, 1)}


def _print_counts(slug: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.config.settings")
    import django

    django.setup()
    from django.db.models import Count

    from careloop.clinics.models import Organization
    from careloop.registry.models import Encounter, RawHl7Message
    from careloop.transitions.models import PendingEpisodeSync, TransitionEpisode
    from careloop.worklist.models import CareTask

    org = Organization.objects.get(slug=slug)
    by_status = dict(RawHl7Message.objects.filter(organization=org).values_list("status").annotate(n=Count("pk")))
    accepted = RawHl7Message.objects.filter(organization=org, status="accepted")
    counts = {
        "raw_messages": sum(by_status.values()), **{s: by_status.get(s, 0) for s in
                                                   ("accepted", "duplicate", "received", "rejected", "review")},
        "distinct_accepted_control_ids": accepted.values("control_id").distinct().count(),
        "encounters": Encounter.objects.filter(organization=org).count(),
        "finished_encounters": Encounter.objects.filter(organization=org, status="finished").count(),
        "episodes": TransitionEpisode.objects.filter(organization=org).count(),
        "transition_tasks": CareTask.objects.filter(organization=org, source_type="TransitionEpisode").count(),
        "distinct_transition_task_keys": CareTask.objects.filter(organization=org, source_type="TransitionEpisode")
        .values("dedupe_key").distinct().count(),
        "queued": PendingEpisodeSync.objects.filter(organization=org).count(),
    }
    print(orjson.dumps(counts).decode())


def _wait(slug: str, episodes: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.config.settings")
    import django

    django.setup()
    from careloop.clinics.models import Organization
    from careloop.transitions.models import PendingEpisodeSync, TransitionEpisode

    org = Organization.objects.get(slug=slug)
    print("ready", flush=True)
    sys.stdin.readline()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if (not PendingEpisodeSync.objects.filter(organization=org).exists()
                and TransitionEpisode.objects.filter(organization=org).count() >= episodes):
            break
        time.sleep(0.02)
    print(time.time(), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "counts":
        _print_counts(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "wait":
        _wait(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit("usage: python -m careloop.bench_adt counts ORG_SLUG | wait ORG_SLUG EPISODES")
