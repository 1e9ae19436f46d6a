"""`careloop bench quality`: measure evaluation throughput over a synthetic clinic, against an orjson-parse ceiling.

The synthetic generator writes one NDJSON file per resource type, patient by patient, so the files are read in
step and each patient's resources are grouped as they stream by (memory does not grow with the clinic). Every
patient is evaluated for every chosen measure; the figure is patients per second, end to end from the files,
beside the time to merely parse the same files.

Value sets: a folder of ValueSet expansions (``--valuesets``), or, without one, a deterministic stand-in that
puts about one code in eight seen in the data into each value set a measure needs (no licensed content).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from careloop.quality.engine.batch import batch_gc
from careloop.quality.engine.fhir import PatientData, concept_codes, reference_id
from careloop.quality.engine.period import MeasurementPeriod
from careloop.quality.engine.valuesets import ValueSetIndex
from careloop.quality.measures import REGISTRY, get_measure
from careloop.quality.measures.base import IP, Measure, MeasureResult
from careloop.quality.rules import evaluate_patient

PATIENT_LINKS = ("subject", "patient", "beneficiary", "for")


def _patient_of(resource: dict[str, Any]) -> str | None:
    for key in PATIENT_LINKS:
        if key in resource:
            return reference_id(resource[key])
    return None


ByteRange = tuple[int, int]  # byte offsets [start, end) in one NDJSON file; end -1 is the end of the file


def _lines(path: Path, span: ByteRange = (0, -1)) -> Iterator[dict[str, Any]]:
    start, end = span
    limit = end if end >= 0 else sys.maxsize
    with path.open("rb") as fh:
        if start:
            fh.seek(start)
        position = start
        for line in fh:
            if position >= limit:
                break
            position += len(line)
            if line.strip():
                yield orjson.loads(line)


_NO_LINK = object()
Run = tuple[str | None, list[dict[str, Any]]]  # consecutive resources of one patient (None: of no patient)


def _runs(path: Path, span: ByteRange = (0, -1)) -> Iterator[Run]:
    """The file's resources (or its byte range's) in runs of consecutive resources of the same patient (``None``:
    of no patient), as (patient id, resources). An empty resource ends the file. One generator per file and no
    per-line helper calls: this runs for every resource of the clinic."""
    start, end = span
    limit = end if end >= 0 else sys.maxsize
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    last_ref: object = _NO_LINK
    last_owner: str | None = None
    owner: str | None = None
    run_owner: str | None = None
    run: list[dict[str, Any]] | None = None
    with path.open("rb") as fh:
        if start:
            fh.seek(start)
        position = start
        for line in fh:
            if position >= limit:
                break
            position += len(line)
            try:
                resource = loads(line)
            except decode_error:
                if line.strip():
                    raise
                continue  # a blank line
            if not resource:
                break
            if "subject" in resource:  # PATIENT_LINKS, in order
                ref = resource["subject"]
            elif "patient" in resource:
                ref = resource["patient"]
            elif "beneficiary" in resource:
                ref = resource["beneficiary"]
            elif "for" in resource:
                ref = resource["for"]
            else:
                ref = _NO_LINK
            if ref is _NO_LINK:
                owner = None
            else:
                if isinstance(ref, dict):
                    ref = ref.get("reference")
                if ref != last_ref or not isinstance(ref, str):  # consecutive resources share their patient
                    last_ref, last_owner = ref, reference_id(ref)
                owner = last_owner
            if run is not None and owner == run_owner:
                run.append(resource)
            else:
                if run is not None:
                    yield run_owner, run
                run_owner, run = owner, [resource]
    if run is not None:
        yield run_owner, run


def patients_from_ndjson(folder: Path, spans: dict[str, ByteRange] | None = None) -> Iterator[list[dict[str, Any]]]:
    """Each patient's resources, read in step from per-type NDJSON files written patient by patient.
    Resources that belong to no patient (organizations, practitioners) are skipped. ``spans`` restricts each file
    (by name) to a byte range (see ``split_clinic``)."""
    whole: ByteRange = (0, -1)
    done: Run = (None, [])
    readers: list[tuple[Iterator[Run], list[Run]]] = []
    for path in sorted(folder.glob("*.ndjson")):
        if path.stem != "Patient":
            stream = _runs(path, spans.get(path.name, whole) if spans else whole)
            readers.append((stream, [next(stream, done)]))
    for patient in _lines(folder / "Patient.ndjson", spans.get("Patient.ndjson", whole) if spans else whole):
        pid = patient.get("id")
        resources = [patient]
        for stream, head in readers:
            owner, run = head[0]
            while run and owner in (pid, None):
                if owner == pid:
                    resources.extend(run)
                head[0] = next(stream, done)
                owner, run = head[0]
        yield resources


def _line_start(fh: Any, offset: int) -> int:
    """The offset of the first line that starts at or after ``offset``."""
    if offset <= 0:
        return 0
    fh.seek(offset - 1)
    fh.readline()
    return int(fh.tell())


def _owner_rank(fh: Any, offset: int, rank: dict[str, int]) -> int:
    """The rank (position in Patient.ndjson) of the patient owning the first patient resource from ``offset``
    (a line start) on; resources of no (known) patient are passed over; past the last one, a rank after all."""
    fh.seek(offset)
    for line in fh:
        if line.strip():
            owner = _patient_of(orjson.loads(line))
            if owner is not None and owner in rank:
                return rank[owner]
    return len(rank)


def _first_offset(path: Path, target: int, rank: dict[str, int]) -> int:
    """The first line of ``path`` from which on every patient resource belongs to a patient ranked ``target`` or
    later: a binary search over byte offsets, as the file is ordered by patient like Patient.ndjson."""
    with path.open("rb") as fh:
        lo, hi = 0, path.stat().st_size
        while lo < hi:
            mid = (lo + hi) // 2
            if _owner_rank(fh, _line_start(fh, mid), rank) >= target:
                hi = mid
            else:
                lo = mid + 1
        return _line_start(fh, lo)


def split_clinic(folder: Path, parts: int) -> list[dict[str, ByteRange]]:
    """Byte ranges of every NDJSON file for ``parts`` workers, each taking a contiguous block of patients, so that
    a worker reads (and parses) only its own patients' resources. Patient.ndjson is read once for the order of the
    patients; each other file is searched for the ``parts - 1`` boundaries (a few dozen probes each)."""
    offsets: list[int] = []
    rank: dict[str, int] = {}
    position = 0
    with (folder / "Patient.ndjson").open("rb") as fh:
        for line in fh:
            if line.strip():
                pid = orjson.loads(line).get("id")
                if isinstance(pid, str):
                    rank.setdefault(pid, len(offsets))
                offsets.append(position)
            position += len(line)
    total = len(offsets)
    targets = [total * k // parts for k in range(1, parts)]
    bounds: dict[str, list[int]] = {
        "Patient.ndjson": [0] + [offsets[t] if t < total else position for t in targets] + [-1]
    }
    for path in sorted(folder.glob("*.ndjson")):
        if path.stem != "Patient":
            bounds[path.name] = [0] + [_first_offset(path, t, rank) for t in targets] + [-1]
    return [{name: (b[k], b[k + 1]) for name, b in bounds.items()} for k in range(parts)]


def stand_in_valuesets(folder: Path, measures: list[Measure]) -> ValueSetIndex:
    codes: set[tuple[str, str]] = set()
    for patient in patients_from_ndjson(folder):
        data = PatientData(patient)
        for resource in patient[1:]:
            codes |= data.codes(resource) | concept_codes(resource.get("category"))
    urls = {u for m in measures for u in m.valuesets}

    def member(url: str, code: tuple[str, str]) -> bool:
        return hashlib.md5(f"{url}|{code[0]}|{code[1]}".encode()).digest()[0] % 8 == 0

    return ValueSetIndex({u: frozenset(c for c in codes if member(u, c)) for u in urls})


def evaluate_clinic(folder: Path, measures: list[Measure], period: MeasurementPeriod, valuesets: ValueSetIndex,
                    spans: dict[str, ByteRange] | None = None) -> tuple[int, dict[str, dict[str, int]]]:
    """Totals over the clinic's patients (with ``spans``, over one worker's share, see ``split_clinic``)."""
    totals: dict[str, dict[str, int]] = {m.id: {} for m in measures}
    patients = 0
    with batch_gc():
        for resources in patients_from_ndjson(folder, spans):
            patients += 1
            data = PatientData(resources)
            for measure in measures:
                result: MeasureResult = evaluate_patient(measure, data, period, valuesets)
                counts = totals[measure.id]
                populations = result.groups[0].populations
                if populations.get(IP) or not counts:  # outside the initial population every count is 0
                    for key, value in populations.items():
                        counts[key] = counts.get(key, 0) + value
    return patients, totals


def _merge(into: dict[str, dict[str, int]], other: dict[str, dict[str, int]]) -> None:
    for measure, counts in other.items():
        bucket = into.setdefault(measure, {})
        for key, value in counts.items():
            bucket[key] = bucket.get(key, 0) + value


def _worker(job: tuple[Path, list[str], str, ValueSetIndex, dict[str, ByteRange]]
            ) -> tuple[int, dict[str, dict[str, int]], float]:
    folder, ids, period, valuesets, spans = job
    cpu = time.process_time()
    patients, totals = evaluate_clinic(folder, [get_measure(m) for m in ids], MeasurementPeriod.parse(period),
                                       valuesets, spans)
    return patients, totals, time.process_time() - cpu


def evaluate_parallel(folder: Path, measures: list[Measure], period: str, valuesets: ValueSetIndex,
                      workers: int) -> tuple[int, dict[str, dict[str, int]], float]:
    """``evaluate_clinic`` split over ``workers`` processes (patients are independent; each worker reads only the
    byte ranges of its block of patients); returns patients, totals and the CPU seconds of the split plus the
    workers'."""
    cpu = time.process_time()
    if workers <= 1:
        patients, totals = evaluate_clinic(folder, measures, MeasurementPeriod.parse(period), valuesets)
        return patients, totals, time.process_time() - cpu
    import multiprocessing

    ids = [m.id for m in measures]
    jobs = [(folder, ids, period, valuesets, spans) for spans in split_clinic(folder, workers)]
    split_cpu = time.process_time() - cpu
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        outcomes = pool.map(_worker, jobs)
    merged: dict[str, dict[str, int]] = {m: {} for m in ids}
    for _, part_totals, _ in outcomes:
        _merge(merged, part_totals)
    return sum(o[0] for o in outcomes), merged, split_cpu + sum(o[2] for o in outcomes)


def bench_quality(args: argparse.Namespace) -> dict[str, Any]:
    from careloop.bench import parse_ceiling
    from careloop.synth.generator import generate

    measures = [get_measure(m) for m in args.measures.split(",")] if args.measures else [
        m for m in REGISTRY.values() if m.official_cases
    ]
    MeasurementPeriod.parse(args.period)  # a bad period fails before the clinic is generated
    with tempfile.TemporaryDirectory(prefix="careloop-bench-quality-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        data = work / "clinic"
        data.mkdir(parents=True, exist_ok=True)
        marker = data / f".generated-{args.patients}-{args.seed}"
        if not marker.exists():  # a --workdir from an earlier run with the same clinic is reused
            generate(patients=args.patients, seed=args.seed, out_dir=data)
            marker.touch()
        resources, ceiling_seconds = parse_ceiling(sorted(data.glob("*.ndjson")))
        observations, observation_scan_seconds = parse_ceiling(sorted(data.glob("Observation.ndjson")))
        if args.valuesets:
            valuesets = ValueSetIndex.from_folder(Path(args.valuesets))
            source = "folder"
        else:
            valuesets = stand_in_valuesets(data, measures)
            source = "stand-in"
        valuesets.require(u for m in measures for u in m.valuesets)
        workers = max(1, min(int(getattr(args, "workers", None) or os.cpu_count() or 1), os.cpu_count() or 1))
        start = time.perf_counter()
        patients, totals, cpu_seconds = evaluate_parallel(data, measures, args.period, valuesets, workers)
        seconds = time.perf_counter() - start
    import resource

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    scale = 100_000 / patients if patients else 0.0
    return {
        "benchmark": "quality",
        "patients": patients,
        "resources": resources,
        "measures": len(measures),
        "valuesets": source,
        "workers": workers,
        "evaluate_seconds": round(seconds, 2),
        "evaluate_cpu_seconds": round(cpu_seconds, 2),
        "patients_per_s": round(patients / seconds),
        "projected_100k_patients_s": round(seconds * scale, 1),
        "projected_100k_patients_cpu_s": round(cpu_seconds * scale, 1),
        "amortized_100k_patients_per_measure_cpu_s": round(cpu_seconds * scale / len(measures), 1),
        "ceiling_orjson_parse_seconds": round(ceiling_seconds, 2),
        "ratio_parse_to_evaluate": round(ceiling_seconds / seconds, 4),
        "observations": observations,
        "ceiling_observation_scan_seconds": round(observation_scan_seconds, 2),
        "ratio_evaluate_to_observation_scan": round(seconds / observation_scan_seconds, 1)
        if observation_scan_seconds else None,
        "peak_rss_mb": round(peak_mb, 1),
        "peak_worker_rss_mb": round(worker_peak_mb, 1),
        "source": "NDJSON files (the registry path, quality.population, is the same engine fed from FhirResource)",
        "totals": totals,
        "target": "100,000 patients x all measures in < 60 s wall clock",
    }
