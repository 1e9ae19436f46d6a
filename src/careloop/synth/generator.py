"""Deterministic synthetic Medicare primary-care clinic: FHIR R4 bulk NDJSON plus HL7 v2 ADT.

``generate(patients=N, seed=S, out_dir=DIR)`` writes one NDJSON file per resource type, ``adt/adt-NNNNN.hl7``
and ``manifest.json``. Patients are generated and written one at a time (every patient has its own
``random.Random`` seeded from (seed, patient number)), so memory does not grow with N and patient n is the
same whatever N is. The output is byte-identical for the same (patients, seed, as_of): no wall clock, no
global random state, no uuid4.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from careloop.synth import adt, clinical, coverage, encounters, meds, population, resources
from careloop.synth.clinic import static_resources
from careloop.synth.timeutil import DAY, iso_date, iso_dt

DEFAULT_AS_OF = date(2026, 11, 15)
GENERATOR_VERSION = 1
RESOURCE_TYPES = (
    "Organization", "Location", "Practitioner", "Patient", "Coverage", "Condition", "Observation",
    "MedicationRequest", "Encounter", "Immunization", "Procedure", "AllergyIntolerance",
)
PROGRESS_EVERY = 500
_NL = orjson.OPT_APPEND_NEWLINE


@dataclass(frozen=True)
class SynthResult:
    patients: int
    resources: dict[str, int]
    adt_messages: int
    out_dir: Path


def window(as_of: date) -> population.Window:
    as_of_ord = as_of.toordinal()
    cutoff = as_of_ord * DAY
    return population.Window(as_of_ord, as_of_ord - population.HISTORY_DAYS, cutoff, iso_dt(cutoff))


class _Sink:
    def __init__(self, out_dir: Path) -> None:
        self.files: dict[str, BinaryIO] = {
            t: (out_dir / f"{t}.ndjson").open("wb", buffering=1 << 20) for t in RESOURCE_TYPES
        }
        self.counts = dict.fromkeys(RESOURCE_TYPES, 0)

    def write(self, rtype: str, resource: dict[str, Any]) -> None:
        self.files[rtype].write(orjson.dumps(resource, option=_NL))
        self.counts[rtype] += 1

    def write_all(self, rtype: str, items: Any) -> None:
        chunks = [orjson.dumps(resource, option=_NL) for resource in items]
        if chunks:
            self.files[rtype].write(b"".join(chunks))
            self.counts[rtype] += len(chunks)

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()


def _patient(seed: int, n: int, win: population.Window, sink: _Sink) -> list[tuple[str, str, str]]:
    ctx = population.build(seed, n, win)
    stays, visits = encounters.plan(ctx)
    planned = meds.plan(ctx)
    covs, kinds = coverage.resources(ctx)
    sink.write("Patient", population.patient_resource(ctx))
    sink.write_all("Coverage", covs)
    sink.write_all("Condition", resources.problem_list(ctx))
    for stay in stays:
        enc, dx = resources.stay_resources(ctx, stay)
        sink.write("Encounter", enc)
        sink.write("Condition", dx)
    for v in visits:
        out = resources.visit_resources(ctx, v)
        sink.write("Encounter", out[0])
        if len(out) > 1:
            sink.write("Condition", out[1])
    on_statin = any(pm.slot == "statin" and pm.stop_ord is None for pm in planned)
    dual = bool(kinds & {"qmb", "slmb", "full-dual", "medicaid"})
    lat = clinical.latent(ctx, on_statin, dual)
    sink.write_all("Observation", clinical.observations(ctx, visits, lat))
    sink.write_all("MedicationRequest", meds.resources(ctx, planned, visits))
    sink.write_all("AllergyIntolerance", meds.allergies(ctx, planned))
    sink.write_all("Immunization", clinical.immunizations(ctx))
    sink.write_all("Procedure", clinical.procedures(ctx, stays))
    builder = adt.Builder(ctx)
    events = sorted([(s.arrive_m, 0, i) for i, s in enumerate(stays)]
                    + [(v.m, 1, i) for i, v in enumerate(visits) if v.adt])
    for _, kind, i in events:
        if kind == 0:
            builder.stay(stays[i])
        else:
            builder.visit(visits[i])
    return builder.out


def generate(*, patients: int, seed: int, out_dir: Path, as_of: date = DEFAULT_AS_OF,
             progress: Callable[[int], None] | None = None) -> SynthResult:
    """Write a synthetic clinic of ``patients`` Medicare beneficiaries to ``out_dir``."""
    if patients < 0:
        raise ValueError("patients must be >= 0")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    win = window(as_of)
    sink = _Sink(out_dir)
    spool = adt.Spool(out_dir / "adt")
    try:
        for rtype, items in static_resources(win.last_updated).items():
            sink.write_all(rtype, items)
        done = 0
        for n in range(1, patients + 1):
            spool.extend(_patient(seed, n, win, sink))
            done += 1
            if progress is not None and done == PROGRESS_EVERY:
                progress(done)
                done = 0
        if progress is not None and done:
            progress(done)
    finally:
        sink.close()
    messages, files = spool.finish()
    manifest = {
        "generator": "careloop.synth", "version": GENERATOR_VERSION, "seed": seed, "patients": patients,
        "asOf": as_of.isoformat(), "historyStart": iso_date(win.start_ord), "transactionTime": win.last_updated,
        "output": [{"type": t, "url": f"{t}.ndjson", "count": sink.counts[t]} for t in RESOURCE_TYPES],
        "resources": sink.counts, "adt": {"messages": messages, "files": [f"adt/{f}" for f in files],
                                          "messagesPerFile": adt.MESSAGES_PER_FILE, "version": "2.5.1"},
    }
    (out_dir / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    return SynthResult(patients=patients, resources=dict(sink.counts), adt_messages=messages, out_dir=out_dir)
