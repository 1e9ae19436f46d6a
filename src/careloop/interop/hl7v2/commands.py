"""``careloop hl7 listen | send | ingest``: the command-line side of the HL7 v2 interface."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import orjson

HL7_SUFFIXES = (".hl7", ".txt", ".er7", ".msg")


def expand(paths: list[str]) -> list[Path]:
    """Files as given; folders walked for HL7 files (by name)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, _dirs, files in os.walk(path):
                found.extend(Path(root) / f for f in sorted(files) if f.lower().endswith(HL7_SUFFIXES))
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {raw}")
    return found


def ingest(*, organization_id: int, time_zone: str, paths: list[str], as_json: bool) -> int:
    from careloop.interop.hl7v2.inbox import Hl7Inbox

    try:
        files = expand(paths)
    except FileNotFoundError as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    inbox = Hl7Inbox(organization_id=organization_id, time_zone=time_zone)
    counts: dict[str, int] = {}
    for path in files:
        for result in inbox.ingest_file(path):
            counts[result.status] = counts.get(result.status, 0) + 1
            if as_json:
                sys.stdout.write(orjson.dumps(result.report()).decode() + "\n")
            else:
                h = result.header
                what = f"{h.message_type} {h.control_id}" if h else "(unreadable)"
                reason = f": {result.error}" if result.error else (f" ({result.note})" if result.note else "")
                print(f"{path}#{result.index} {what} -> {result.ack_code} {result.status}{reason}")
    inbox.wait_for_statistics()
    if not as_json:
        print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no messages")
    return 0


def split_file(path: Path) -> list[bytes]:
    from careloop.interop.hl7v2.parse import decode, normalize, split_messages

    return [c.text.encode("utf-8") + b"\r" for c in split_messages(normalize(decode(path.read_bytes())))]


def send(*, paths: list[str], host: str, port: int, tls: bool, tls_ca: str | None, tls_insecure: bool,
         as_json: bool, timeout: float) -> int:
    from careloop.interop.mllp.client import ack_summary, make_client_ssl_context, send_reliably

    try:
        batches = [(path, split_file(path)) for path in expand(paths)]
    except FileNotFoundError as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    ctx = make_client_ssl_context(tls_ca, verify=not tls_insecure) if tls else None
    failed = 0
    for path, messages in batches:
        if not messages:
            continue
        try:
            report = asyncio.run(send_reliably(messages, host, port, ssl_context=ctx, timeout=timeout,
                                               give_up_after=timeout))
        except ConnectionError as exc:
            print(f"careloop: {path}: {exc}", file=sys.stderr)
            return 3
        for i, ack in enumerate(report.acks, 1):
            code, control_id, text = ack_summary(ack)
            failed += code not in ("AA", "CA")
            if as_json:
                sys.stdout.write(orjson.dumps({"file": str(path), "index": i, "ack_code": code,
                                               "control_id": control_id, "text": text or None,
                                               "ack": ack.decode("utf-8", "replace")}).decode() + "\n")
            else:
                print(f"{path}#{i} {control_id} -> {code}{': ' + text if text else ''}")
    return 1 if failed else 0


def listen(*, organization_id: int, time_zone: str, host: str, port: int, tls_cert: str | None,
           tls_key: str | None, grace: float, transitions_worker: str = "process") -> int:
    from django.db import connections

    from careloop.interop.hl7v2.inbox import Hl7Inbox, MllpHandler
    from careloop.interop.mllp.server import make_server_ssl_context, run
    from careloop.transitions.tasks import EpisodeWorker

    if bool(tls_cert) != bool(tls_key):
        print("careloop: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    ctx = make_server_ssl_context(tls_cert, tls_key) if tls_cert and tls_key else None
    # Episodes and tasks for discharges are queued with each message and worked off by a background thread:
    # the ACK waits only for the message's own transaction. The worker starts with whatever a killed
    # listener left in the queue. "process": a child process (its own core and GIL), "thread": in this process.
    worker = EpisodeWorker(organization_id=organization_id, process=transitions_worker == "process", grace=grace)
    inbox = Hl7Inbox(organization_id=organization_id, time_zone=time_zone, transitions=worker.notify)
    recovered = inbox.recover_pending()
    connections.close_all()
    if recovered:
        print(f"recovered {recovered} message(s) stored before a restart", flush=True)
    worker.start()

    def ready(bound_host: str, bound_port: int) -> None:
        print(f"listening {bound_host} {bound_port}{' tls' if ctx else ''}", flush=True)

    try:
        return run(MllpHandler(inbox), host=host, port=port, ssl_context=ctx, grace=grace, ready=ready)
    finally:
        worker.stop(grace)
        if transitions_worker != "process":
            print(f"transitions worker: {worker.consumed} queued discharge(s) processed"
                  f"{f', {len(worker.failed)} failed' if worker.failed else ''}", file=sys.stderr, flush=True)


def review(*, organization_id: int, resolve: int | None, patient: int | None, new: bool, as_json: bool) -> int:
    """List open patient-match reviews, or resolve one (apply its held message to ``patient`` or a new one)."""
    from careloop.core.actor import Actor
    from careloop.core.errors import CareloopError
    from careloop.interop.hl7v2.review import resolve_match_review
    from careloop.registry.selectors import patient_match_reviews

    actor = Actor.system(organization_id, "careloop hl7 review")
    if resolve is None:
        rows = [{"review": r.pk, "message": r.message_id, "reason": r.reason, "patient_in_message": r.demographics,
                 "candidates": r.candidates} for r in patient_match_reviews(actor=actor)]
        for row in rows:
            print(orjson.dumps(row).decode() if as_json else
                  f"review {row['review']} (message {row['message']}): {row['reason']}; candidates "
                  + ", ".join(f"{c['patient_id']} {c['family']}, {c['given']} {c['birth_date']}" for c in
                              row["candidates"]))
        return 0
    if (patient is None) == (not new):
        print("careloop: give exactly one of --patient ID or --new", file=sys.stderr)
        return 2
    try:
        done = resolve_match_review(review_id=resolve, patient_id=patient, actor=actor)
    except CareloopError as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    print(f"review {resolve}: applied message(s) {done.applied_messages} to patient {done.patient_id}")
    return 0
