"""Validate X12 with the pyx12 Python API (``x12n_document``), not its CLI (whose exit codes are wrong).

A file is accepted when pyx12 returns success and its 999 acknowledgment has no IK3/IK4 (segment/element
errors), every IK5 is ``A`` and AK9 is ``A``."""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyx12.error_handler
import pyx12.params
import pyx12.x12n_document


@dataclass(frozen=True)
class Validation:
    accepted: bool
    ack: str  # the 999 (or 997) pyx12 wrote
    errors: tuple[str, ...] = field(default=())  # the IK3/IK4/IK5/AK9 segments that are not acceptances
    exception: str = ""

    def as_json(self) -> dict[str, object]:
        return {"accepted": self.accepted, "errors": list(self.errors), "exception": self.exception}


def validate_x12(source: str | Path) -> Validation:
    """Validate X12 text (or a file path) against pyx12's maps; never raises on bad input."""
    text = Path(source).read_text() if isinstance(source, Path) else source
    params = pyx12.params.ParamsBase()
    ack = io.StringIO()
    # pyx12 logs every error at ERROR level on the root logger; the 999 carries them, so keep the console quiet
    logger = logging.getLogger("pyx12")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        ok = pyx12.x12n_document.x12n_document(params, io.StringIO(text), ack, None)
    except Exception as exc:  # noqa: BLE001 - pyx12 raises anything (IndexError, EngineError) on malformed input
        return Validation(False, ack.getvalue(), (), f"{type(exc).__name__}: {exc}")
    finally:
        logger.setLevel(level)
    out = ack.getvalue()
    term = "~"
    segs = [s.strip() for s in out.split(term) if s.strip()]
    errors = tuple(
        s for s in segs
        if s.startswith(("IK3", "IK4", "AK3", "AK4"))
        or (s.startswith(("IK5", "AK5", "AK9")) and s.split("*")[1:2] != ["A"])
    )
    has_status = any(s.startswith(("IK5", "AK5", "AK9")) for s in segs)
    return Validation(bool(ok) and not errors and has_status, out, errors)


def validate_sets(texts: Sequence[str], *, workers: int | None = None) -> list[Validation]:
    """Validate several standalone interchanges, in parallel processes when there is more than one."""
    if len(texts) <= 1:
        return [validate_x12(t) for t in texts]
    n = max(1, min(len(texts), workers or os.cpu_count() or 1))
    if n == 1:
        return [validate_x12(t) for t in texts]
    with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(validate_x12, texts))


def validation_workers(sets: int) -> int:
    """Processes to validate ``sets`` transaction sets with: one per CPU, at most one per set."""
    return max(1, min(sets, os.cpu_count() or 1))


def partition(sizes: Sequence[int], parts: int) -> list[list[int]]:
    """Indices of ``sizes`` in ``parts`` groups of about equal total (largest first, to the lightest group); each
    group in index order. Empty groups are dropped."""
    groups: list[list[int]] = [[] for _ in range(max(1, parts))]
    load = [0] * len(groups)
    for i in sorted(range(len(sizes)), key=lambda k: -sizes[k]):
        g = load.index(min(load))
        groups[g].append(i)
        load[g] += sizes[i]
    return [sorted(g) for g in groups if g]
