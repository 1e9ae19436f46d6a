"""QMB periods from outside: X12 271 eligibility responses and CSV rosters. Pure parsing, no database.

271 (HETS, 005010X279A1): the separators come from the ISA segment. Each subscriber (NM1*IL with the MBI in
NM109, qualifier MI) carries EB benefit segments; a QMB period is an active EB (EB01 not "6"/"7" inactive or
"V" cannot process) whose plan description (EB05) or a following MSG names QMB ("QMB" or "QUALIFIED
MEDICARE BENEFICIARY"). Its dates come from the DTP segments that follow it (qualifiers 290, 291, 292, 307,
346, 347; D8 or RD8). cms-rules 2.11: the response is keyed on the MBI; the MBI does not encode QMB.
No public HETS 271 sample was available; the layout follows the X279A1 implementation guide.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass

from careloop.registry.choices import CoverageSource

MBI = re.compile(r"^[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9]"
                 r"[AC-HJKMNP-RT-Y]{2}[0-9]{2}$")
QMB_TEXT = re.compile(r"\bQMB\b|QUALIFIED MEDICARE BENEFICIARY", re.IGNORECASE)
INACTIVE_EB01 = frozenset({"6", "7", "8", "V"})
DATE_QUALIFIERS = frozenset({"290", "291", "292", "307", "346", "347"})
SOURCES = {
    "state": CoverageSource.STATE_MEDICAID, "state-medicaid": CoverageSource.STATE_MEDICAID,
    "medicaid": CoverageSource.STATE_MEDICAID, "271": CoverageSource.X12_271, "hets": CoverageSource.X12_271,
    "x12-271": CoverageSource.X12_271, "csv": CoverageSource.CSV, "roster": CoverageSource.CSV,
    "manual": CoverageSource.MANUAL,
}


@dataclass(frozen=True)
class QmbRecord:
    mbi: str
    start: dt.date | None
    end: dt.date | None
    source: str
    evidence: str
    location: str


@dataclass(frozen=True)
class Rejected:
    location: str
    reason: str
    raw: str


def normalize_mbi(raw: str) -> str:
    return raw.strip().replace("-", "").upper()


def _d8(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%Y%m%d").date()  # noqa: DTZ007 - a calendar date


def _dates(fmt: str, value: str) -> tuple[dt.date | None, dt.date | None]:
    if fmt == "RD8" and "-" in value:
        a, b = value.split("-", 1)
        return _d8(a), _d8(b)
    return _d8(value), None


def parse_271(text: str) -> tuple[list[QmbRecord], list[Rejected]]:
    """QMB periods found in a 271 response (one record per QMB EB), and the subscribers rejected."""
    text = text.lstrip("\ufeff").strip()
    if not text.startswith("ISA") or len(text) < 106:
        return [], [Rejected("ISA", "not an X12 interchange (no ISA segment)", text[:500])]
    elem, comp_term = text[3], text[105]
    segments = [s.strip("\r\n ") for s in text.split(comp_term) if s.strip("\r\n ")]
    if not any(s.split(elem)[0] == "ST" and s.split(elem)[1:2] == ["271"] for s in segments):
        return [], [Rejected("ST", "not a 271 eligibility response", text[:500])]
    records: list[QmbRecord] = []
    rejected: list[Rejected] = []
    mbi = ""
    current: dict[str, object] | None = None

    def flush() -> None:
        nonlocal current
        if current is not None and current["qmb"]:
            if not MBI.match(mbi):
                rejected.append(Rejected(str(current["loc"]), f"invalid or missing MBI {mbi!r}", str(current["raw"])))
            else:
                records.append(QmbRecord(mbi, current["start"], current["end"],  # type: ignore[arg-type]
                                         CoverageSource.X12_271, str(current["raw"]), str(current["loc"])))
        current = None

    for n, seg in enumerate(segments, start=1):
        e = seg.split(elem)
        tag = e[0]
        if tag == "NM1" and len(e) > 1 and e[1] == "IL":
            flush()
            mbi = normalize_mbi(e[9]) if len(e) > 9 and (e[8] if len(e) > 8 else "") == "MI" else ""
        elif tag == "EB":
            flush()
            eb01 = e[1] if len(e) > 1 else ""
            desc = e[5] if len(e) > 5 else ""
            current = {"qmb": eb01 not in INACTIVE_EB01 and bool(QMB_TEXT.search(desc)), "active": eb01 not in
                       INACTIVE_EB01, "start": None, "end": None, "raw": seg, "loc": f"segment {n}"}
        elif tag == "MSG" and current is not None and current["active"] and len(e) > 1 and QMB_TEXT.search(e[1]):
            current["qmb"] = True
            current["raw"] = f"{current['raw']}~{seg}"
        elif tag == "DTP" and current is not None and len(e) > 3 and e[1] in DATE_QUALIFIERS:
            try:
                current["start"], current["end"] = _dates(e[2], e[3])
                current["raw"] = f"{current['raw']}~{seg}"
            except ValueError:
                rejected.append(Rejected(f"segment {n}", f"bad date {e[3]!r}", seg))
        elif tag in ("HL", "SE", "LS", "LE"):
            if tag != "LS":
                flush()
    flush()
    return records, rejected


def parse_csv(text: str, default_source: str = CoverageSource.CSV) -> tuple[list[QmbRecord], list[Rejected]]:
    """Roster rows ``mbi,qmb_start,qmb_end,source`` (dates YYYY-MM-DD, end may be blank; source: state-medicaid,
    x12-271, csv or manual; blank = csv)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    need = {"mbi", "qmb_start", "qmb_end"}
    if reader.fieldnames is None or not need <= {f.strip().lower() for f in reader.fieldnames}:
        return [], [Rejected("header", "the header must be mbi,qmb_start,qmb_end,source", text[:500])]
    records: list[QmbRecord] = []
    rejected: list[Rejected] = []
    for n, row in enumerate(reader, start=2):
        r = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        raw = ",".join(r.get(k, "") for k in ("mbi", "qmb_start", "qmb_end", "source"))
        mbi = normalize_mbi(r["mbi"])
        src = SOURCES.get(r.get("source", "").lower() or default_source)
        try:
            start = dt.date.fromisoformat(r["qmb_start"]) if r["qmb_start"] else None
            end = dt.date.fromisoformat(r["qmb_end"]) if r["qmb_end"] else None
        except ValueError:
            rejected.append(Rejected(f"line {n}", "dates must be YYYY-MM-DD", raw))
            continue
        if not MBI.match(mbi):
            rejected.append(Rejected(f"line {n}", f"invalid MBI {r['mbi']!r}", raw))
        elif src is None:
            rejected.append(Rejected(f"line {n}", f"unknown source {r.get('source')!r}", raw))
        elif start is None:
            rejected.append(Rejected(f"line {n}", "qmb_start is required", raw))
        elif end is not None and end < start:
            rejected.append(Rejected(f"line {n}", "qmb_end is before qmb_start", raw))
        else:
            records.append(QmbRecord(mbi, start, end, src, raw, f"line {n}"))
    return records, rejected
