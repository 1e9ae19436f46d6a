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
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from careloop.quality.engine.fhir import PatientData, concept_codes, reference_id
from careloop.quality.engine.period import MeasurementPeriod
from careloop.quality.engine.valuesets import ValueSetIndex
from careloop.quality.measures import REGISTRY, get_measure
from careloop.quality.measures.base import Measure, MeasureResult
from careloop.quality.rules import evaluate_patient

PATIENT_LINKS = ("subject", "patient", "beneficiary", "for")


def _patient_of(resource: dict[str, Any]) -> str | None:
    for key in PATIENT_LINKS:
        if key in resource:
            return reference_id(resource[key])
    return None


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)


def _linked(path: Path) -> Iterator[tuple[str | None, dict[str, Any]]]:
    for resource in _lines(path):
        yield _patient_of(resource), resource


def patients_from_ndjson(folder: Path) -> Iterator[list[dict[str, Any]]]:
    """Each patient's resources, read in step from per-type NDJSON files written patient by patient.
    Resources that belong to no patient (organizations, practitioners) are skipped."""
    done: tuple[str | None, dict[str, Any]] = (None, {})
    readers: list[tuple[Iterator[tuple[str | None, dict[str, Any]]], list[tuple[str | None, dict[str, Any]]]]] = []
    for path in sorted(folder.glob("*.ndjson")):
        if path.stem != "Patient":
            stream = _linked(path)
            readers.append((stream, [next(stream, done)]))
    for patient in _lines(folder / "Patient.ndjson"):
        pid = patient.get("id")
        resources = [patient]
        for stream, head in readers:
            owner, resource = head[0]
            while resource and owner in (pid, None):
                if owner == pid:
                    resources.append(resource)
                head[0] = next(stream, done)
                owner, resource = head[0]
        yield resources


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


def evaluate_clinic(folder: Path, measures: list[Measure], period: MeasurementPeriod,
                    valuesets: ValueSetIndex, part: int = 0, parts: int = 1) -> tuple[int, dict[str, dict[str, int]]]:
    """Totals over the clinic's patients; with ``parts`` > 1, only patient number ``i`` with ``i % parts == part``
    (the others are read past, not evaluated), so that ``parts`` processes share the clinic."""
    totals: dict[str, dict[str, int]] = {m.id: {} for m in measures}
    patients = 0
    for index, resources in enumerate(patients_from_ndjson(folder)):
        if index % parts != part:
            continue
        patients += 1
        data = PatientData(resources)
        for measure in measures:
            result: MeasureResult = evaluate_patient(measure, data, period, valuesets)
            counts = totals[measure.id]
            for key, value in result.groups[0].populations.items():
                counts[key] = counts.get(key, 0) + value
    return patients, totals


def _merge(into: dict[str, dict[str, int]], other: dict[str, dict[str, int]]) -> None:
    for measure, counts in other.items():
        bucket = into.setdefault(measure, {})
        for key, value in counts.items():
            bucket[key] = bucket.get(key, 0) + value


def _worker(job: tuple[Path, list[str], str, ValueSetIndex, int, int]) -> tuple[int, dict[str, dict[str, int]], float]:
    folder, ids, period, valuesets, part, parts = job
    cpu = time.process_time()
    patients, totals = evaluate_clinic(folder, [get_measure(m) for m in ids], MeasurementPeriod.parse(period),
                                       valuesets, part, parts)
    return patients, totals, time.process_time() - cpu


def evaluate_parallel(folder: Path, measures: list[Measure], period: str, valuesets: ValueSetIndex,
                      workers: int) -> tuple[int, dict[str, dict[str, int]], float]:
    """``evaluate_clinic`` split over ``workers`` processes (patients are independent); returns patients, totals
    and the CPU seconds summed over the workers."""
    if workers <= 1:
        cpu = time.process_time()
        patients, totals = evaluate_clinic(folder, measures, MeasurementPeriod.parse(period), valuesets)
        return patients, totals, time.process_time() - cpu
    import multiprocessing

    ids = [m.id for m in measures]
    jobs = [(folder, ids, period, valuesets, part, workers) for part in range(workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        outcomes = pool.map(_worker, jobs)
    merged: dict[str, dict[str, int]] = {m: {} for m in ids}
    for _, part_totals, _ in outcomes:
        _merge(merged, part_totals)
    return sum(o[0] for o in outcomes), merged, sum(o[2] for o in outcomes)


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
        workers = max(1, min(int(getattr(args, "workers", None) or 1), os.cpu_count() or 1))
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
