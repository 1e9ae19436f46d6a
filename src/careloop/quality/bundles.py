"""Evaluate measures over standalone FHIR Bundle files (one patient per Bundle), for ``careloop quality
eval-bundle`` and the benchmark. Reads files; no database."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from careloop.quality.engine.period import MeasurementPeriod
from careloop.quality.engine.valuesets import ValueSetIndex
from careloop.quality.measures.base import Measure
from careloop.quality.rules import evaluate_bundle


def bundle_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The files named, with folders expanded to the ``*.json`` files under them (sorted)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.json") if p.is_file())
        else:
            yield path


def _is_bundle(document: object) -> bool:
    return isinstance(document, dict) and document.get("resourceType") == "Bundle"


def evaluate_files(
    measure: Measure,
    paths: Iterable[Path],
    period: MeasurementPeriod,
    valuesets: ValueSetIndex,
    *,
    with_strata: bool = False,
    skip_non_bundles: bool = False,
) -> Iterator[dict[str, Any]]:
    """One result per Bundle file: ``{"file", "groups"}``, or ``{"file", "error"}`` when it cannot be read.
    Inside folders, JSON files that are not Bundles (``expected.json``...) are skipped."""
    valuesets.require(measure.valuesets)
    for path in paths:
        try:
            document = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            yield {"file": str(path), "error": f"cannot read: {exc}"}
            continue
        if not _is_bundle(document):
            if not skip_non_bundles:
                yield {"file": str(path), "error": "not a FHIR Bundle"}
            continue
        result = evaluate_bundle(measure, document, period, valuesets)
        yield {"file": str(path), "groups": result.as_json(with_strata)}
