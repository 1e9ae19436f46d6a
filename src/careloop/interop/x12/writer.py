"""X12 5010 837P (005010X222A1) writer for monthly care-management claims. Pure: takes the billing app's
claims and the envelope parties, returns text.

One interchange, one functional group, one transaction set. Loops written:
  1000A submitter (NM1*41, PER), 1000B receiver (NM1*40), 2000A/2010AA billing provider (HL*20; NM1*85 with
  the organization NPI, N3/N4, REF*EI TIN), 2000B/2010BA subscriber (HL*22; SBR*P*18 Medicare Part B "MB";
  NM1*IL with the MBI, N3/N4, DMG), 2010BB payer (NM1*PR), 2300 claim (CLM with the place of service, HI with
  ABK principal + ABF other ICD-10-CM diagnoses, max 12), 2310B rendering provider (NM1*82), 2400 lines (LX,
  SV1 HC:code, charge, UN units, diagnosis pointers, DTP*472 date of service).
The patient is the subscriber (Medicare), so there is no 2000C patient loop.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from careloop.billing.selectors import PatientClaim

IMPLEMENTATION = "005010X222A1"
_BAD = re.compile(r"[^A-Z0-9 !\"&'()+,\-./;?=%@#]")  # outside the basic set (+ a few extended) or a separator


def clean(value: object, size: int | None = None) -> str:
    """An element value in the X12 basic character set: accents folded (DÍAZ -> DIAZ), no separators, upper
    case, trimmed to ``size``."""
    text = _clean(str(value or ""))
    return text[:size] if size else text


@lru_cache(maxsize=1 << 16)
def _clean(value: str) -> str:
    folded = value if value.isascii() else unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return " ".join(_BAD.sub(" ", folded.upper()).split())  # only spaces are left: strip and collapse them


def money(value: Decimal) -> str:
    text = f"{value.quantize(Decimal('0.01')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class Party:
    name: str
    id: str  # ETIN for submitter / receiver; NPI for the billing provider


@dataclass(frozen=True)
class BillingProvider:
    name: str
    npi: str
    tin: str
    address_line: str
    city: str
    state: str
    postal_code: str  # 9 digits (5010 requires ZIP+4 for the billing provider)


@dataclass(frozen=True)
class Envelope:
    submitter: Party
    receiver: Party
    contact_name: str
    contact_phone: str
    payer_name: str
    payer_id: str
    control_number: int  # ISA13 / GS06 / ST02 base
    created: dt.datetime
    production: bool = False  # ISA15: P or T


class ClaimError(ValueError):
    """A claim that cannot be written (missing MBI, NPI...): the export reports it instead of writing bad X12."""


def _zip(value: str, *, nine: bool) -> str:
    digits = re.sub(r"[^0-9]", "", value or "")
    if nine and len(digits) == 5:
        digits += "9998"  # ZIP+4 unknown: CMS accepts the 9998 suffix for a PO-box-less address is UNCONFIRMED
    return digits[:9]


def claim_problems(claim: PatientClaim) -> list[str]:
    problems = []
    if not re.fullmatch(r"[1-9][A-Z0-9]{10}", (claim.mbi or "").upper()):
        problems.append("no valid Medicare Beneficiary Identifier (MBI)")
    if not claim.rendering_npi or not re.fullmatch(r"[0-9]{10}", claim.rendering_npi):
        problems.append("no billing practitioner NPI")
    if not claim.diagnoses:
        problems.append("no ICD-10-CM diagnosis to point to")
    if not claim.family:
        problems.append("no patient family name")
    if claim.birth_date is None:
        problems.append("no birth date")
    return problems


MAX_CLAIMS_PER_ST = 5_000  # the usual Medicare/clearinghouse limit of CLM segments per transaction set


def claims_per_set(claims: int, *, parts: int = 1, limit: int = MAX_CLAIMS_PER_ST) -> int:
    """Claims per transaction set so that no set exceeds ``limit`` and the sets are of equal size, their number a
    multiple of ``parts`` (the validation workers) when there is more than one set: 28,798 claims, 2 parts ->
    6 sets of 4,800 (not 5 x 5,000 + 3,798, which leaves one worker 1,200 claims behind)."""
    if claims <= limit:
        return max(claims, 1)
    sets = -(-claims // limit)
    sets = -(-sets // parts) * parts
    return -(-claims // sets)


@dataclass(frozen=True)
class Written:
    """The interchange text; ``header`` (ISA, GS), ``sets`` (each ST..SE) and ``trailer`` (GE, IEA) are its parts,
    so each transaction set can be validated on its own (in parallel) inside the same envelope."""

    text: str
    header: str
    sets: tuple[str, ...]
    trailer: str
    claims: int
    skipped: tuple[tuple[PatientClaim, tuple[str, ...]], ...]

    def standalone(self, i: int) -> str:
        """Transaction set ``i`` alone in the same ISA/GS envelope (GE01 = 1)."""
        return self.subset([i])

    def subset(self, indices: Sequence[int]) -> str:
        """Transaction sets ``indices`` (in that order) in the same ISA/GS envelope (GE01 = their number)."""
        group = self.header.split("~")[1].split("*")[6]
        isa13 = self.header.split("~")[0].split("*")[13]
        body = "".join(self.sets[i] for i in indices)
        return f"{self.header}{body}GE*{len(indices)}*{group}~\nIEA*1*{isa13}~\n"


def write_837p(claims: Iterable[PatientClaim], *, provider: BillingProvider, envelope: Envelope,
               max_claims_per_st: int = MAX_CLAIMS_PER_ST) -> Written:
    """The 837P interchange (one GS, one ST per ``max_claims_per_st`` claims) and the claims left out."""
    created = envelope.created
    ctl = f"{envelope.control_number % 1_000_000_000:09d}"
    group = str(envelope.control_number % 1_000_000_000)
    header = [
        "ISA*00*" + " " * 10 + "*00*" + " " * 10 + f"*ZZ*{clean(envelope.submitter.id, 15):<15}"
        f"*ZZ*{clean(envelope.receiver.id, 15):<15}*{created:%y%m%d}*{created:%H%M}*^*00501*{ctl}*0*"
        f"{'P' if envelope.production else 'T'}*:",
        f"GS*HC*{clean(envelope.submitter.id, 15)}*{clean(envelope.receiver.id, 15)}*{created:%Y%m%d}"
        f"*{created:%H%M}*{group}*X*{IMPLEMENTATION}",
    ]
    phone = re.sub(r"[^0-9]", "", envelope.contact_phone) or "0000000000"
    provider_loop = [
        f"NM1*41*2*{clean(envelope.submitter.name, 60)}*****46*{clean(envelope.submitter.id, 80)}",
        f"PER*IC*{clean(envelope.contact_name, 60) or 'BILLING'}*TE*{phone}",
        f"NM1*40*2*{clean(envelope.receiver.name, 60)}*****46*{clean(envelope.receiver.id, 80)}",
        "HL*1**20*1",
        f"NM1*85*2*{clean(provider.name, 60)}*****XX*{provider.npi}",
        f"N3*{clean(provider.address_line, 55) or 'ADDRESS UNKNOWN'}",
        f"N4*{clean(provider.city, 30) or 'UNKNOWN'}*{clean(provider.state, 2) or 'XX'}*"
        f"{_zip(provider.postal_code, nine=True) or '000009998'}",
        f"REF*EI*{re.sub(r'[^0-9]', '', provider.tin)}",
    ]
    sets: list[str] = []
    body: list[str] = []
    hl = in_set = written = 0
    skipped: list[tuple[PatientClaim, tuple[str, ...]]] = []

    def close() -> None:
        st_ctl = f"{len(sets) + 1:04d}"
        body.insert(0, f"BHT*0019*00*{ctl}{len(sets) + 1:04d}*{created:%Y%m%d}*{created:%H%M}*CH")
        body.insert(0, f"ST*837*{st_ctl}*{IMPLEMENTATION}")
        body.append(f"SE*{len(body) + 1}*{st_ctl}")
        sets.append("~\n".join(body) + "~\n")

    for claim in claims:
        problems = claim_problems(claim)
        if problems:
            skipped.append((claim, tuple(problems)))
            continue
        if in_set == max_claims_per_st:
            close()
            body, in_set, hl = [], 0, 0
        if in_set == 0:
            body.extend(provider_loop)
            hl = 1
        hl += 1
        in_set += 1
        written += 1
        body.append(f"HL*{hl}*1*22*0")
        body.append("SBR*P*18*******MB")
        body.append(f"NM1*IL*1*{clean(claim.family, 60)}*{clean(claim.given, 35)}****MI*{claim.mbi.upper()}")
        if claim.address_line and claim.city and claim.state:
            body.append(f"N3*{clean(claim.address_line, 55)}")
            body.append(f"N4*{clean(claim.city, 30)}*{clean(claim.state, 2)}*{_zip(claim.postal_code, nine=False)}")
        sex = {"female": "F", "male": "M", "f": "F", "m": "M"}.get((claim.sex or "").lower(), "U")
        assert claim.birth_date is not None
        body.append(f"DMG*D8*{claim.birth_date:%Y%m%d}*{sex}")
        body.append(f"NM1*PR*2*{clean(envelope.payer_name, 60)}*****PI*{clean(envelope.payer_id, 80)}")
        pos = claim.services[0].place_of_service or "11"
        account = clean(f"{claim.patient_id}-{claim.month.replace('-', '')}-{claim.rendering_npi[-4:]}", 38)
        body.append(f"CLM*{account}*{money(claim.total)}***{pos}:B:1*Y*A*Y*Y")
        dx = list(claim.diagnoses[:12])
        body.append("HI*" + "*".join(f"{'ABK' if i == 0 else 'ABF'}:{code}" for i, code in enumerate(dx)))
        body.append(f"NM1*82*1*{clean(claim.rendering_family, 60)}*{clean(claim.rendering_given, 35)}****XX*"
                    f"{claim.rendering_npi}")
        for n, svc in enumerate(claim.services, start=1):
            pointers = [str(dx.index(c) + 1) for c in svc.diagnoses if c in dx][:4] or ["1"]
            line_pos = "" if svc.place_of_service == pos else svc.place_of_service
            body.append(f"LX*{n}")
            body.append(f"SV1*HC:{clean(svc.code, 48)}*{money(svc.charge)}*UN*{svc.units}*{line_pos}**"
                        + ":".join(pointers))
            body.append(f"DTP*472*D8*{svc.service_date:%Y%m%d}")
    if in_set:
        close()
    head = "~\n".join(header) + "~\n"
    trailer = f"GE*{len(sets)}*{group}~\nIEA*1*{ctl}~\n"
    return Written(head + "".join(sets) + trailer, head, tuple(sets), trailer, written, tuple(skipped))
