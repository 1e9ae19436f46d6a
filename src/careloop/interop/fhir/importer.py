"""FHIR R4 import: Bundles (transaction, batch, collection, searchset), bulk NDJSON, or folders of them.

Streams its input (one NDJSON line or one Bundle at a time), validates each resource, upserts in batches of
a few thousand inside one transaction each, and quarantines whatever it rejects with the reason. The result
is counts per resource type: created, updated, unchanged, rejected.
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from careloop.core.actor import Actor
from careloop.interop.fhir.mapping import Record, Rejected, Resolver, to_record
from careloop.registry.services import apply_fhir_batch, quarantine

BATCH_SIZE = 2000
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
class _Item:
    source_name: str
    location: str
    resource: Any
    resolver: Resolver
    fallback_id: str | None = None
    raw: bytes | None = None


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


class FhirImporter:
    def __init__(
        self,
        *,
        organization_id: int,
        source_system: str,
        actor: Actor,
        channel: str = "fhir-file",
        batch_size: int = BATCH_SIZE,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.organization_id = organization_id
        self.source_system = source_system
        self.actor = actor
        self.channel = channel
        self.batch_size = batch_size
        self.progress = progress
        self.summary = ImportSummary()
        self._pending: list[tuple[Record, _Item]] = []

    # ---- inputs -------------------------------------------------------------------------------------
    def import_paths(self, paths: list[Path]) -> ImportSummary:
        for path in expand_paths(paths):
            with path.open("rb") as fh:
                self.import_stream(fh, path.name, ndjson=_is_ndjson(path))
        self.flush()
        return self.summary

    def import_stream(self, fh: IO[bytes], source_name: str, *, ndjson: bool | None = None) -> None:
        if ndjson:
            for lineno, line in enumerate(fh, 1):
                if self.progress:
                    self.progress(len(line))
                if not line.strip():
                    continue
                self.import_line(line, source_name, f"line {lineno}")
        else:
            data = fh.read()
            if self.progress:
                self.progress(len(data))
            self.import_bytes(data, source_name)

    def import_bytes(self, data: bytes, source_name: str) -> None:
        """A JSON document (Bundle or single resource) or, failing that, NDJSON."""
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            lines = [ln for ln in data.splitlines() if ln.strip()]
            if len(lines) > 1:
                for lineno, line in enumerate(data.splitlines(), 1):
                    if line.strip():
                        self.import_line(line, source_name, f"line {lineno}")
                return
            self._reject_raw(data, source_name, "document", f"malformed JSON: {exc}", "")
            return
        self._accept_document(doc, source_name, data)

    def import_line(self, line: bytes, source_name: str, location: str) -> None:
        try:
            resource = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            self._reject_raw(line, source_name, location, f"malformed JSON: {exc}", "")
            return
        if isinstance(resource, dict) and resource.get("resourceType") == "Bundle":
            self._accept_document(resource, source_name, line)
            return
        self._add(_Item(source_name, location, resource, _relative_resolver, raw=line))

    def _accept_document(self, doc: Any, source_name: str, raw: bytes) -> None:
        if not isinstance(doc, dict):
            self._reject_raw(raw, source_name, "document", "a FHIR document must be a JSON object", "")
            return
        if doc.get("resourceType") != "Bundle":
            self._add(_Item(source_name, "document", doc, _relative_resolver, raw=raw))
            return
        entries = doc.get("entry") or []
        if not isinstance(entries, list):
            self._reject_raw(raw, source_name, "Bundle.entry", "Bundle.entry must be a list", "Bundle")
            return
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
        for idx, entry in enumerate(entries):
            location = f"entry[{idx}]"
            if not isinstance(entry, dict) or "resource" not in entry:
                self._reject_raw(orjson.dumps(entry), source_name, location, "Bundle entry has no resource", "")
                continue
            request = entry.get("request") or {}
            if isinstance(request, dict) and request.get("method") == "DELETE":
                self._reject_raw(
                    orjson.dumps(entry), source_name, location, "DELETE entries are not applied by import", ""
                )
                continue
            self._add(_Item(source_name, location, entry["resource"], resolver, fallback.get(idx)))

    # ---- processing ---------------------------------------------------------------------------------
    def _add(self, item: _Item) -> None:
        try:
            record = to_record(item.resource, item.resolver, fallback_id=item.fallback_id)
        except Rejected as exc:
            rtype = item.resource.get("resourceType") if isinstance(item.resource, dict) else None
            raw = item.raw if item.raw is not None else orjson.dumps(item.resource)
            self._reject_raw(raw, item.source_name, item.location, str(exc), rtype if isinstance(rtype, str) else "")
            return
        self._pending.append((record, item))
        if len(self._pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        result = apply_fhir_batch(
            organization_id=self.organization_id,
            source_system=self.source_system,
            records=[rec for rec, _ in pending],
            actor=self.actor,
        )
        self.summary.merge(result.counts)
        if result.rejected:
            where = {id(rec): item for rec, item in pending}
            for rec, reason in result.rejected:
                item = where.get(id(rec))
                self._quarantine(
                    rec.body.encode(),
                    item.source_name if item else "",
                    item.location if item else "",
                    reason,
                    rec.resource_type,
                )

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
