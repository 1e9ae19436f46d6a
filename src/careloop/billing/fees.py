"""Fee schedules: CMS PFS relative values x GPCIs x conversion factor (cms-rules 3.11, PRICE-001), and the
shipped CY2026 national table. Pure functions over text and numbers; the DB table is written by
``services.load_fee_schedule`` and read by ``selectors.fee_table``.

Allowed amount = [(work RVU x work GPCI) + (PE RVU x PE GPCI) + (MP RVU x MP GPCI)] x CF, with the non-facility
PE RVU in an office and the facility PE RVU in a facility setting; CF 33.5675 for a qualifying APM participant
(QP) and 33.4009 otherwise (CY2026). Patient share: 20% coinsurance of the allowed amount, nothing for a QMB
patient (cms-rules 2.8/2.11). The Part B deductible is not modelled (the practice does not know how much of it
is met); the share is the coinsurance only.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources

from careloop.core.errors import ValidationFailed

# (non-QP, QP) conversion factors per CY (cms-rules 3.11 [S5]; 2025 had a single CF).
CONVERSION_FACTORS: dict[int, tuple[Decimal, Decimal]] = {
    2025: (Decimal("32.3465"), Decimal("32.3465")),
    2026: (Decimal("33.4009"), Decimal("33.5675")),
}
COINSURANCE = Decimal("0.20")
CENT = Decimal("0.01")
DEFAULT_TABLE = "fees-cy2026-national.csv"
DEFAULT_SOURCE = "CY2026 national (cms-rules.md sections 1-3; CMS PFS RVU file, July 2026 release)"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Rvu:
    code: str
    modifier: str
    work: Decimal
    pe_nf: Decimal
    pe_f: Decimal
    mp: Decimal
    cf: Decimal | None = None
    status: str = ""


@dataclass(frozen=True)
class Gpci:
    locality: str
    name: str
    work: Decimal
    pe: Decimal
    mp: Decimal


@dataclass(frozen=True)
class Fee:
    """Allowed amounts for one code: non-facility / facility, non-QP / QP. None = no amount (contractor-priced)."""

    code: str
    nf: Decimal | None
    f: Decimal | None
    nf_qp: Decimal | None
    f_qp: Decimal | None
    source: str = ""

    def allowed(self, *, facility: bool, qp: bool) -> Decimal | None:
        if facility:
            value = self.f_qp if qp else self.f
            if value is None:  # facility not given: the non-facility amount (same for device/preventive codes)
                value = self.nf_qp if qp else self.nf
            return value
        return self.nf_qp if qp else self.nf


def conversion_factor(year: int, *, qp: bool) -> Decimal:
    if year not in CONVERSION_FACTORS:
        raise ValidationFailed(f"no conversion factor for CY{year}", field_errors={"year": "unknown year"})
    non_qp, qp_cf = CONVERSION_FACTORS[year]
    return qp_cf if qp else non_qp


def price(rvu: Rvu, gpci: Gpci, cf: Decimal, *, facility: bool) -> Decimal:
    """PRICE-001: the locality allowed amount for ``rvu`` in the given setting, in cents."""
    pe = rvu.pe_f if facility else rvu.pe_nf
    return cents((rvu.work * gpci.work + pe * gpci.pe + rvu.mp * gpci.mp) * cf)


def patient_share(allowed: Decimal, *, qmb: bool) -> Decimal:
    """20% coinsurance; nothing for a QMB patient (no Medicare provider may bill them cost sharing)."""
    return Decimal("0.00") if qmb else cents(allowed * COINSURANCE)


# ---------- file parsing ----------


def _key(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", name.upper())


def _dec(value: str, what: str, line: int) -> Decimal:
    text = (value or "").strip().replace("$", "").replace(",", "")
    if not text:
        return Decimal(0)
    try:
        return Decimal(text)
    except ArithmeticError as exc:
        raise ValidationFailed(f"line {line}: {what} {value!r} is not a number") from exc


def _header(rows: list[list[str]], must: str) -> int:
    for i, row in enumerate(rows[:40]):
        if any(_key(c) == must or _key(c).startswith(must) for c in row):
            return i
    raise ValidationFailed(f"no header row with a {must} column in the first 40 lines")


def _column(header: list[str], test: object, what: str) -> int:
    for i, name in enumerate(header):
        if test(_key(name)):  # type: ignore[operator]
            return i
    raise ValidationFailed(f"no {what} column (header: {', '.join(h for h in header if h)})")


def parse_rvu_csv(text: str) -> dict[tuple[str, str], Rvu]:
    """The PPRRVU file (CSV as CMS publishes it, title lines before the header, or a plain CSV): columns HCPCS,
    MOD, WORK RVU, NON-FAC PE RVU, FACILITY PE RVU, MP RVU and (optional) CONV FACTOR, STATUS."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    h = _header(rows, "HCPCS")
    header = rows[h]
    c_code = _column(header, lambda k: k.startswith("HCPCS"), "HCPCS")
    c_mod = _column(header, lambda k: k in ("MOD", "MODIFIER"), "MOD")
    c_work = _column(header, lambda k: "WORK" in k, "work RVU")
    c_nf = _column(header, lambda k: "PE" in k and ("NONFAC" in k or k.endswith("NF") or "NFRVU" in k), "PE NF RVU")
    c_f = _column(header, lambda k: "PE" in k and "NONFAC" not in k and "NF" not in k.replace("NONFAC", "")
                   and ("FAC" in k or k.endswith("F") or "PEFRVU" in k), "PE F RVU")
    c_mp = _column(header, lambda k: k.startswith("MP") or "MALPRACTICE" in k or k == "RVUMP", "MP RVU")
    c_cf = next((i for i, n in enumerate(header) if _key(n) in ("CONVFACTOR", "CF", "CONVERSIONFACTOR")), None)
    c_status = next((i for i, n in enumerate(header) if _key(n) in ("STATUS", "STATUSCODE", "PROCSTAT")), None)
    out: dict[tuple[str, str], Rvu] = {}
    for n, row in enumerate(rows[h + 1 :], start=h + 2):
        if not row or not row[c_code].strip():
            continue
        code = row[c_code].strip().upper()
        mod = row[c_mod].strip().upper() if c_mod < len(row) else ""
        cf = _dec(row[c_cf], "CF", n) if c_cf is not None and c_cf < len(row) and row[c_cf].strip() else None
        out[(code, mod)] = Rvu(
            code, mod, _dec(row[c_work], "work RVU", n), _dec(row[c_nf], "PE NF RVU", n),
            _dec(row[c_f], "PE F RVU", n), _dec(row[c_mp], "MP RVU", n), cf,
            row[c_status].strip().upper() if c_status is not None and c_status < len(row) else "",
        )
    if not out:
        raise ValidationFailed("the RVU file has no code rows")
    return out


def parse_gpci_csv(text: str) -> list[Gpci]:
    """The GPCI file: locality number and name, PW (work), PE and MP GPCI columns."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    h = _header(rows, "LOCALITY")
    header = rows[h]
    keys = [_key(c) for c in header]
    c_loc = next((i for i, k in enumerate(keys) if k in ("LOCALITY", "LOCALITYNUMBER", "LOCALITYNO")), None)
    if c_loc is None:
        c_loc = _column(header, lambda k: k.startswith("LOCALITY") and "NAME" not in k, "locality")
    c_name = next((i for i, k in enumerate(keys) if "NAME" in k), None)
    c_mac = next((i for i, k in enumerate(keys) if k.startswith("MAC") or "CONTRACTOR" in k), None)
    c_work = _column(header, lambda k: "PW" in k or "WORKGPCI" in k, "PW GPCI")
    c_pe = _column(header, lambda k: "PEGPCI" in k or k.endswith("PE") or ("PE" in k and "GPCI" in k), "PE GPCI")
    c_mp = _column(header, lambda k: "MPGPCI" in k or k.endswith("MP") or ("MP" in k and "GPCI" in k), "MP GPCI")
    out: list[Gpci] = []
    for n, row in enumerate(rows[h + 1 :], start=h + 2):
        if len(row) <= max(c_loc, c_work, c_pe, c_mp) or not row[c_loc].strip():
            continue
        loc = row[c_loc].strip()
        if c_mac is not None and row[c_mac].strip():
            loc = f"{row[c_mac].strip()}-{loc}"
        out.append(Gpci(loc, row[c_name].strip() if c_name is not None else "", _dec(row[c_work], "PW GPCI", n),
                        _dec(row[c_pe], "PE GPCI", n), _dec(row[c_mp], "MP GPCI", n)))
    return out


def find_locality(gpcis: list[Gpci], locality: str) -> Gpci:
    """``locality``: 'MAC-NN', the locality number alone when unique, or the locality name."""
    want = locality.strip().upper()
    exact = [g for g in gpcis if g.locality.upper() == want]
    if not exact:
        exact = [g for g in gpcis if g.locality.split("-")[-1].upper() == want or g.name.upper() == want]
    if len(exact) != 1:
        known = ", ".join(f"{g.locality} {g.name}".strip() for g in gpcis[:12])
        found = "several" if exact else "no"
        raise ValidationFailed(f"{found} GPCI locality matches {locality!r} (some: {known})",
                               field_errors={"locality": "not found" if not exact else "ambiguous"})
    return exact[0]


def fees_from_files(rvus: dict[tuple[str, str], Rvu], gpci: Gpci, year: int, source: str) -> list[Fee]:
    """One Fee per code without a modifier (care-management codes are billed without one). The RVU file's own
    CF is used for the non-QP amount when it carries one; the QP amount uses the QP CF for the year."""
    cf, cf_qp = conversion_factor(year, qp=False), conversion_factor(year, qp=True)
    out: list[Fee] = []
    for (code, mod), r in sorted(rvus.items()):
        if mod:
            continue
        if r.status == "C":
            out.append(Fee(code, None, None, None, None, source))
            continue
        base = r.cf if r.cf else cf
        out.append(Fee(code, price(r, gpci, base, facility=False), price(r, gpci, base, facility=True),
                       price(r, gpci, cf_qp, facility=False), price(r, gpci, cf_qp, facility=True), source))
    return out


@cache
def default_table() -> dict[str, Fee]:
    """The shipped CY2026 national amounts (GPCI 1.000). A QP amount not given there is the non-QP amount
    scaled by the CF ratio; a facility amount not given is the non-facility amount."""
    text = resources.files("careloop.billing").joinpath("data", DEFAULT_TABLE).read_text()
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    ratio = CONVERSION_FACTORS[2026][1] / CONVERSION_FACTORS[2026][0]
    out: dict[str, Fee] = {}
    for row in csv.DictReader(lines):

        def amount(name: str, row: dict[str, str] = row) -> Decimal | None:
            return Decimal(row[name]) if row[name] else None

        nf, f = amount("nf"), amount("f")
        nf_qp = amount("nf_qp") or (cents(nf * ratio) if nf is not None else None)
        f_qp = amount("f_qp") or (cents(f * ratio) if f is not None else None)
        out[row["code"]] = Fee(row["code"], nf, f, nf_qp, f_qp, DEFAULT_SOURCE)
    return out
