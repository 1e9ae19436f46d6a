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
                    valuesets: ValueSetIndex) -> tuple[int, dict[str, dict[str, int]]]:
    totals: dict[str, dict[str, int]] = {m.id: {} for m in measures}
    patients = 0
    for resources in patients_from_ndjson(folder):
        patients += 1
        data = PatientData(resources)
        for measure in measures:
            result: MeasureResult = evaluate_patient(measure, data, period, valuesets)
            counts = totals[measure.id]
            for key, value in result.groups[0].populations.items():
                counts[key] = counts.get(key, 0) + value
    return patients, totals


def bench_quality(args: argparse.Namespace) -> dict[str, Any]:
    from careloop.bench import parse_ceiling
    from careloop.synth.generator import generate

    measures = [get_measure(m) for m in args.measures.split(",")] if args.measures else [
        m for m in REGISTRY.values() if m.official_cases
    ]
    period = MeasurementPeriod.parse(args.period)
    with tempfile.TemporaryDirectory(prefix="careloop-bench-quality-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        data = work / "clinic"
        data.mkdir(parents=True, exist_ok=True)
        generate(patients=args.patients, seed=args.seed, out_dir=data)
        resources, ceiling_seconds = parse_ceiling(sorted(data.glob("*.ndjson")))
        observations, observation_scan_seconds = parse_ceiling(sorted(data.glob("Observation.ndjson")))
        if args.valuesets:
            valuesets = ValueSetIndex.from_folder(Path(args.valuesets))
            source = "folder"
        else:
            valuesets = stand_in_valuesets(data, measures)
            source = "stand-in"
        valuesets.require(u for m in measures for u in m.valuesets)
        start, cpu_start = time.perf_counter(), time.process_time()
        patients, totals = evaluate_clinic(data, measures, period, valuesets)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    import resource

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    scale = 100_000 / patients if patients else 0.0
    return {
        "benchmark": "quality",
        "patients": patients,
        "resources": resources,
        "measures": len(measures),
        "valuesets": source,
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
        "peak_rss_mb": round(peak_mb, 1),
        "source": "NDJSON files (the registry path, quality.population, is the same engine fed from FhirResource)",
        "totals": totals,
        "target": "100,000 patients in < 60 s for one measure, end to end",
    }
