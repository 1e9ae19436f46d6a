"""FHIR R4 import: Bundles (transaction, batch, collection, searchset), bulk NDJSON, or folders of them.

Streams its input (one NDJSON line or one Bundle at a time), validates each resource, upserts in batches of
a few thousand inside one transaction each, and quarantines whatever it rejects with the reason. The result
is counts per resource type: created, updated, unchanged, rejected.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from django.db import connection

from careloop.core.actor import Actor
from careloop.core.db import bulk_write_session, convert_row
from careloop.interop.fhir.mapping import Record, Rejected, Resolver, to_record
from careloop.registry.models import new_fhir_ids
from careloop.registry.services import TYPED_COLUMNS, FhirRow, apply_fhir_batch, quarantine, typed_converters

BATCH_SIZE = 5000
# Files: larger transactions, fewer commits and fewer rewrites of the index pages random keys scatter over.
BULK_BATCH_SIZE = 20000
_ABS_REF = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
_URN = ("urn:uuid:", "urn:oid:")


@dataclass
class ImportSummary:
    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    rejections: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for rtype in sorted(self.counts):
            c = self.counts[rtype]
            out[rtype] = {k: int(c.get(k, 0)) for k in ("created", "updated", "unchanged", "rejected")}
        return out

    def merge(self, other: dict[str, Counter[str]]) -> None:
        for rtype, c in other.items():
            self.counts[rtype].update(c)

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())


@dataclass
class Reject:
    """Input that failed validation before reaching the database, with where it came from and why."""

    source_name: str
    location: str
    reason: str
    resource_type: str
    raw: bytes


Parsed = FhirRow | Reject


def _relative_resolver(ref: str) -> tuple[str, str] | None:
    if ref.startswith("#") or "?" in ref:
        return None  # contained or conditional reference
    if ref.startswith(_URN):
        raise Rejected(f"dangling reference {ref!r}: not a fullUrl in this Bundle")
    m = _ABS_REF.search(ref)
    return (m.group(1), m.group(2)) if m else None


def _bundle_resolver(full_urls: dict[str, tuple[str, str]]) -> Resolver:
    def resolve(ref: str) -> tuple[str, str] | None:
        if ref in full_urls:
            return full_urls[ref]
        return _relative_resolver(ref)

    return resolve


# ---- parsing: pure functions, safe to run in worker processes ---------------------------------------


def _one(
    resource: Any,
    resolver: Resolver,
    source_name: str,
    location: str,
    raw: bytes | None,
    vendor: str,
    fallback_id: str | None = None,
) -> Parsed:
    try:
        record = to_record(resource, resolver, fallback_id=fallback_id)
    except Rejected as exc:
        rtype = resource.get("resourceType") if isinstance(resource, dict) else None
        return Reject(
            source_name,
            location,
            str(exc),
            rtype if isinstance(rtype, str) else "",
            raw if raw is not None else orjson.dumps(resource),
        )
    return _row(record, source_name, location, vendor)


def _row(record: Record, source_name: str, location: str, vendor: str) -> FhirRow:
    """The record as the writer binds it: typed values in the registry's column order, converted for ``vendor``."""
    rtype = record.resource_type
    columns = TYPED_COLUMNS.get(rtype)
    fields = record.fields
    values = convert_row([fields[c] for c in columns], typed_converters(rtype, vendor)) if columns else ()
    identifiers = tuple((i["system"], i["value"], i["type_code"], i["assigner"]) for i in record.identifiers)
    return (rtype, record.source_id, record.version_id, record.content_hash, record.body, record.patient_source_id,
            _next_fhir_id(), values, identifiers, source_name, location)


_ID_POOL: list[str] = []


def _next_fhir_id() -> str:
    if not _ID_POOL:
        _ID_POOL.extend(reversed(new_fhir_ids(4096)))
    return _ID_POOL.pop()


def parse_line(line: bytes, source_name: str, location: str, vendor: str) -> list[Parsed]:
    """One NDJSON line: a resource, or a whole Bundle written on one line."""
    try:
        resource = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return [Reject(source_name, location, f"malformed JSON: {exc}", "", line)]
    if isinstance(resource, dict) and resource.get("resourceType") == "Bundle":
        return parse_document(resource, source_name, line, vendor)
    return [_one(resource, _relative_resolver, source_name, location, line, vendor)]


def parse_lines(lines: list[bytes], source_name: str, first_lineno: int, vendor: str) -> list[Parsed]:
    out: list[Parsed] = []
    for offset, line in enumerate(lines):
        if line.strip():
            out.extend(parse_line(line, source_name, f"line {first_lineno + offset}", vendor))
    return out


def parse_bytes(data: bytes, source_name: str, vendor: str) -> list[Parsed]:
    """A JSON document (Bundle or single resource) or, failing that, NDJSON."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        lines = data.splitlines()
        if sum(1 for ln in lines if ln.strip()) > 1:
            return parse_lines(lines, source_name, 1, vendor)
        return [Reject(source_name, "document", f"malformed JSON: {exc}", "", data)]
    return parse_document(doc, source_name, data, vendor)


def parse_document(doc: Any, source_name: str, raw: bytes, vendor: str) -> list[Parsed]:
    if not isinstance(doc, dict):
        return [Reject(source_name, "document", "a FHIR document must be a JSON object", "", raw)]
    if doc.get("resourceType") != "Bundle":
        return [_one(doc, _relative_resolver, source_name, "document", raw, vendor)]
    entries = doc.get("entry") or []
    if not isinstance(entries, list):
        return [Reject(source_name, "Bundle.entry", "Bundle.entry must be a list", "Bundle", raw)]
    full_urls: dict[str, tuple[str, str]] = {}
    fallback: dict[int, str] = {}
    for idx, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        res = entry.get("resource")
        url = entry.get("fullUrl")
        if isinstance(res, dict) and isinstance(res.get("resourceType"), str):
            rid = res.get("id")
            if not rid and isinstance(url, str) and url.startswith("urn:uuid:"):
                rid = url[len("urn:uuid:") :]
                fallback[idx] = rid
            if isinstance(url, str) and isinstance(rid, str):
                full_urls[url] = (res["resourceType"], rid)
    resolver = _bundle_resolver(full_urls)
    out: list[Parsed] = []
    for idx, entry in enumerate(entries):
        location = f"entry[{idx}]"
        if not isinstance(entry, dict) or "resource" not in entry:
            out.append(Reject(source_name, location, "Bundle entry has no resource", "", orjson.dumps(entry)))
            continue
        request = entry.get("request") or {}
        if isinstance(request, dict) and request.get("method") == "DELETE":
            out.append(
                Reject(source_name, location, "DELETE entries are not applied by import", "", orjson.dumps(entry))
            )
            continue
        out.append(_one(entry["resource"], resolver, source_name, location, None, vendor, fallback.get(idx)))
    return out


def _parse_unit(unit: tuple[str, str, int, Any], vendor: str) -> tuple[int, list[Parsed]]:
    """Worker entry point: ("lines", name, first line number, [bytes]) or ("file", name, 0, path)."""
    kind, name, first, payload = unit
    if kind == "lines":
        return sum(len(x) for x in payload), parse_lines(payload, name, first, vendor)
    data = Path(payload).read_bytes()
    return len(data), parse_bytes(data, name, vendor)


def _split(parsed: list[Parsed]) -> tuple[list[FhirRow], list[Reject]]:
    rows: list[FhirRow] = []
    rejects: list[Reject] = []
    for item in parsed:
        if isinstance(item, Reject):
            rejects.append(item)
        else:
            rows.append(item)
    return rows, rejects


def _units(paths: list[Path], lines_per_unit: int) -> Iterator[tuple[str, str, int, Any]]:
    for path in paths:
        if _is_ndjson(path):
            with path.open("rb") as fh:
                chunk: list[bytes] = []
                first = 1
                for lineno, line in enumerate(fh, 1):
                    chunk.append(line)
                    if len(chunk) >= lines_per_unit:
                        yield "lines", path.name, first, chunk
                        chunk, first = [], lineno + 1
                if chunk:
                    yield "lines", path.name, first, chunk
        else:
            yield "file", path.name, 0, str(path)


PARALLEL_MIN_BYTES = 8 * 1024 * 1024
# Parsing costs about what writing does; two parse processes let the scheduler give the writer's share of idle
# time to parsing (and keep the writer fed on a busy machine). Input order is kept whatever the number.
PARSE_WORKERS = int(os.environ.get("CARELOOP_IMPORT_PARSE_WORKERS", "2"))


LINES_PER_UNIT = 2000


def _parse_worker(
    paths: list[str], conn: Any, vendor: str, units_per_message: int = 1, worker: int = 0, workers: int = 1
) -> None:
    """Child process ``worker`` of ``workers``: parse messages ``worker``, ``worker + workers``, ... (a message is
    ``units_per_message`` consecutive units of the input) and send each as ("ok", bytes read, rows, rejects).

    Messages as large as the writer's transactions: a send blocks until the writer reads, so with small messages
    a parse process could run only a little ahead and would sit idle while the writer commits a batch.
    """
    import pickle

    _ID_POOL.clear()  # ids left from before the fork are the parent's to hand out
    try:
        rows: list[FhirRow] = []
        rejects: list[Reject] = []
        nbytes = 0
        pending = False
        for index, unit in enumerate(_units([Path(p) for p in paths], LINES_PER_UNIT)):
            if (index // units_per_message) % workers != worker:
                continue  # another parse process's message
            size, parsed = _parse_unit(unit, vendor)
            more_rows, more_rejects = _split(parsed)
            rows.extend(more_rows)
            rejects.extend(more_rejects)
            nbytes += size
            pending = True
            if (index + 1) % units_per_message == 0:
                conn.send_bytes(pickle.dumps(("ok", nbytes, rows, rejects), protocol=pickle.HIGHEST_PROTOCOL))
                rows, rejects, nbytes, pending = [], [], 0, False
        if pending:
            conn.send_bytes(pickle.dumps(("ok", nbytes, rows, rejects), protocol=pickle.HIGHEST_PROTOCOL))
        conn.send_bytes(b"")
    except BrokenPipeError:
        pass  # the writer stopped (an error there); nothing left to do
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
        conn.send_bytes(pickle.dumps(("error", 0, f"{type(exc).__name__}: {exc}", [])))
    finally:
        conn.close()


class FhirImporter:
    def __init__(
        self,
        *,
        organization_id: int,
        source_system: str,
        actor: Actor,
        channel: str = "fhir-file",
        batch_size: int | None = None,
        progress: Callable[[int], None] | None = None,
        workers: int | None = None,
    ) -> None:
        self.organization_id = organization_id
        self.source_system = source_system
        self.actor = actor
        self.channel = channel
        self.batch_size = batch_size or BATCH_SIZE
        self._bulk_batch_size = batch_size or BULK_BATCH_SIZE
        self.progress = progress
        self.workers = workers
        self.summary = ImportSummary()
        self._pending: list[FhirRow] = []
        self.vendor = connection.vendor

    # ---- inputs -------------------------------------------------------------------------------------
    def import_paths(self, paths: list[Path]) -> ImportSummary:
        files = expand_paths(paths)
        # Parse processes beside this one, which writes, when there is a second core (0 = parse here).
        workers = self.workers if self.workers is not None else PARSE_WORKERS if (os.cpu_count() or 1) > 1 else 0
        batch_size, self.batch_size = self.batch_size, self._bulk_batch_size
        try:
            with bulk_write_session():
                if workers > 0 and sum(p.stat().st_size for p in files) >= PARALLEL_MIN_BYTES:
                    self._import_parallel(files, workers)
                else:
                    for path in files:
                        with path.open("rb") as fh:
                            self.import_stream(fh, path.name, ndjson=_is_ndjson(path))
                self.flush()
        finally:
            self.batch_size = batch_size
        return self.summary

    def _import_parallel(self, files: list[Path], workers: int) -> None:
        """Parse and validate in a child process (pure code, no database) while this process writes.

        The child reads the files itself and sends parsed batches (rows ready to bind) down a pipe; this process
        only unpickles and writes. The child parses the next batch while this one is written and then waits on
        the pipe, so parsing runs at most one batch ahead: memory stays flat whatever the input size, and input
        order is kept (Patient files before the resources that point at them). No helper threads: they would
        contend with the writer for the GIL.
        """
        import multiprocessing
        import pickle

        ctx = multiprocessing.get_context("fork")
        units_per_message = max(1, self.batch_size // LINES_PER_UNIT)
        receivers, children = [], []
        for worker in range(workers):
            receiver, sender = ctx.Pipe(duplex=False)
            child = ctx.Process(
                target=_parse_worker,
                args=([str(p) for p in files], sender, self.vendor, units_per_message, worker, workers),
                daemon=True,
            )
            child.start()
            sender.close()
            receivers.append(receiver)
            children.append(child)
        try:
            # Message m comes from process m % workers: reading them in turn keeps the input order.
            for m in itertools.count():
                try:
                    message = receivers[m % workers].recv_bytes()
                except EOFError:
                    raise RuntimeError("the FHIR parse process ended unexpectedly") from None
                if not message:
                    break  # no message m, so none after it
                kind, nbytes, rows, rejects = pickle.loads(message)  # noqa: S301 - from our own child process
                if kind == "error":
                    raise RuntimeError(f"the FHIR parse process failed: {rows}")
                for reject in rejects:
                    self.accept(reject)
                self.accept_rows(rows)
                if self.progress:
                    self.progress(nbytes)
        finally:
            for receiver in receivers:
                receiver.close()
            for child in children:
                if child.is_alive():
                    child.terminate()
                child.join()

    def import_stream(self, fh: IO[bytes], source_name: str, *, ndjson: bool | None = None) -> None:
        if ndjson:
            for lineno, line in enumerate(fh, 1):
                if self.progress:
                    self.progress(len(line))
                if line.strip():
                    self.import_line(line, source_name, f"line {lineno}")
        else:
            data = fh.read()
            if self.progress:
                self.progress(len(data))
            self.import_bytes(data, source_name)

    def import_bytes(self, data: bytes, source_name: str) -> None:
        for item in parse_bytes(data, source_name, self.vendor):
            self.accept(item)

    def import_line(self, line: bytes, source_name: str, location: str) -> None:
        for item in parse_line(line, source_name, location, self.vendor):
            self.accept(item)

    # ---- processing ---------------------------------------------------------------------------------
    def accept(self, item: Parsed) -> None:
        if isinstance(item, Reject):
            self._reject_raw(item.raw, item.source_name, item.location, item.reason, item.resource_type)
            return
        self._pending.append(item)
        if len(self._pending) >= self.batch_size:
            self.flush()

    def accept_rows(self, rows: list[FhirRow]) -> None:
        pending = self._pending
        room = self.batch_size - len(pending)
        while len(rows) >= room:
            pending.extend(rows[:room])
            rows = rows[room:]
            self.flush()
            pending, room = self._pending, self.batch_size
        pending.extend(rows)

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        result = apply_fhir_batch(
            organization_id=self.organization_id,
            source_system=self.source_system,
            records=pending,
            actor=self.actor,
        )
        self.summary.merge(result.counts)
        for row, reason in result.rejected:
            self._quarantine(row[4].encode(), row[9], row[10], reason, row[0])

    def _reject_raw(self, raw: bytes, source_name: str, location: str, reason: str, rtype: str) -> None:
        self.summary.counts[rtype or "unknown"]["rejected"] += 1
        self._quarantine(raw, source_name, location, reason, rtype)

    def _quarantine(self, raw: bytes, source_name: str, location: str, reason: str, rtype: str) -> None:
        self.summary.rejections.append(
            {"source": source_name, "location": location, "reason": reason, "resource_type": rtype}
        )
        quarantine(
            organization_id=self.organization_id,
            channel=self.channel,
            source_name=source_name,
            location=location,
            reason=reason,
            raw=raw.decode("utf-8", "replace"),
            resource_type=rtype,
        )


def _is_ndjson(path: Path) -> bool:
    return path.name.endswith((".ndjson", ".jsonl"))


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given; folders walked for .json/.ndjson files. Patient files first, then the rest by name."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            for root, _dirs, files in os.walk(path):
                for name in files:
                    if name.endswith((".json", ".ndjson", ".jsonl")) and name != "manifest.json":
                        found.append(Path(root) / name)
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")

    def order(p: Path) -> tuple[int, str]:
        stem = p.name.split(".")[0]
        rank = 0 if stem == "Patient" else 1 if stem in {"Organization", "Practitioner", "Location"} else 2
        return rank, str(p)

    return sorted(found, key=order)


def total_bytes(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in expand_paths(paths))


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()
