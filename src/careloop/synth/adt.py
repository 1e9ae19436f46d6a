"""HL7 v2.5.1 ADT messages for hospital stays and clinic registrations, written in chronological order.

Event sequences: ED visit A04 -> A03 (or A04 -> A01 when admitted, A04 -> A08 with patient class O for an
observation stay); admissions A01, sometimes A02 transfers and A08 updates, A03 at discharge; now and then
an A01 -> A11 cancelled admission or an A03 -> A13 cancelled discharge, and A08 demographic updates after a
patient moves. The clinic's own EHR sends A04 for a share of office visits.

Messages are produced one patient at a time, so they are spooled: sorted runs on disk, then a k-way merge
into ``adt/adt-00001.hl7`` ... (1,000 messages a file). Control ids are numbered in that final order, so
they are unique across the output and increase with time. Memory stays bounded for any number of patients.
"""

from __future__ import annotations

import heapq
import os
import re
from collections.abc import Iterator
from pathlib import Path

from careloop.synth.clinic import CLINIC_EHR_APP, CLINIC_FACILITY, HOSPITALS, LOCATIONS, PROVIDERS
from careloop.synth.codes import DISPOSITIONS
from careloop.synth.encounters import Stay, Visit
from careloop.synth.ids import hospital_mrn
from careloop.synth.population import PatientCtx
from careloop.synth.rand import one, ri
from careloop.synth.timeutil import hl7_date, hl7_ts, utc_seconds

MESSAGES_PER_FILE = 1000
STRUCTURE = {"A01": "ADT_A01", "A02": "ADT_A02", "A03": "ADT_A03", "A04": "ADT_A01", "A08": "ADT_A01",
             "A11": "ADT_A09", "A13": "ADT_A01"}
_SPECIAL = re.compile(r"[\\|^&~\r\n\t]")


def escape(text: str) -> str:
    """HL7 v2 escaping of the delimiters ``| ^ ~ \\ &`` (and of line breaks) inside a value."""
    if _SPECIAL.search(text) is None:
        return text
    out = text.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\").replace("&", "\\T\\")
    return out.replace("~", "\\R\\").replace("\r", "\\X0D\\").replace("\n", "\\X0A\\").replace("\t", "\\X09\\")


def unescape(text: str) -> str:
    out = text.replace("\\F\\", "|").replace("\\S\\", "^").replace("\\T\\", "&").replace("\\R\\", "~")
    out = out.replace("\\X0D\\", "\r").replace("\\X0A\\", "\n").replace("\\X09\\", "\t")
    return out.replace("\\E\\", "\\")


def _pid(ctx: PatientCtx, m: int, hospital: int | None, dead_at: int | None) -> str:
    addr = ctx.address_at(m)
    if hospital is None:
        ident = f"{ctx.mrn}^^^{CLINIC_FACILITY}^MR"
    else:
        ident = f"{hospital_mrn(ctx.seed, ctx.n, hospital)}^^^{HOSPITALS[hospital].facility}^MR"
    line2 = escape(addr.line[1]) if len(addr.line) > 1 else ""
    area, local = ctx.phone[1:4], ctx.phone[6:].replace("-", "")
    fields = [
        "PID", "1", "", f"{ident}~{ctx.mbi}^^^CMS^MB", "",
        f"{escape(ctx.family)}^{escape(ctx.given)}^{ctx.middle}^^^^L", "", hl7_date(ctx.birth_ord),
        "F" if ctx.female else "M", "", f"{ctx.race[0]}^{ctx.race[1]}^CDCREC",
        f"{escape(addr.line[0])}^{line2}^{escape(addr.city)}^{addr.state}^{addr.postal_code}^USA^H^^{addr.county}",
        "", f"{ctx.phone}^PRN^PH^^1^{area}^{local}", "", "", f"{ctx.marital[0]}^{ctx.marital[1]}^HL70002",
    ]
    if dead_at is not None:
        fields += [""] * 12 + [hl7_ts(dead_at), "Y"]
    return "|".join(fields)


def _pv1(klass: str, location: str, attending: str, visit: str, admit_ts: str, *, admit_type: str = "",
         prior: str = "", service: str = "", source: str = "", disposition: str = "", discharge_ts: str = "",
         patient_type: str = "") -> str:
    f = [""] * 46
    f[0], f[1], f[2], f[3], f[4], f[6], f[7] = "PV1", "1", klass, location, admit_type, prior, attending
    f[10], f[14], f[18], f[19] = service, source, patient_type, visit
    f[36], f[44], f[45] = disposition, admit_ts, discharge_ts
    while f and f[-1] == "":
        f.pop()
    return "|".join(f)


def _dg1(icd: str, display: str, ts: str, kind: str) -> str:
    return f"DG1|1||{icd}^{escape(display)}^I10C||{ts}|{kind}"


class Builder:
    """Builds one patient's messages as (sort key, MSH head up to MSH-10, rest) tuples."""

    def __init__(self, ctx: PatientCtx) -> None:
        self.ctx = ctx
        self.out: list[tuple[str, str, str]] = []
        moved = ctx.addresses[1][1] if len(ctx.addresses) > 1 else None
        self.pending_move = moved
        self._pids: dict[tuple[int, int, int | None], str] = {}

    def pid(self, m: int, hospital: int | None, dead_at: int | None, stale: bool = False) -> str:
        """The PID segment; ``stale`` keeps the address from before a move the registrar has not seen yet."""
        ctx = self.ctx
        moved = 1 if len(ctx.addresses) > 1 and m >= ctx.addresses[1][1] * 1440 and not stale else 0
        key = (-1 if hospital is None else hospital, moved, dead_at)
        seg = self._pids.get(key)
        if seg is None:
            seg = self._pids[key] = _pid(ctx, m if moved else ctx.addresses[0][1] * 1440, hospital, dead_at)
        return seg

    def _emit(self, m: int, trigger: str, app: str, facility: str, segments: list[str], sec: int) -> None:
        ts = hl7_ts(m, sec)
        key = f"{utc_seconds(m, sec):012d}{self.ctx.n:09d}{len(self.out):05d}"
        head = f"MSH|^~\\&|{app}|{facility}|CARELOOP|{CLINIC_FACILITY}|{ts}||ADT^{trigger}^{STRUCTURE[trigger]}|"
        evn = f"EVN|{trigger}|{ts}||||{hl7_ts(m)}"
        rest = "|P|2.5.1|||AL|NE|USA|UNICODE UTF-8\r" + evn + "\r" + "\r".join(segments) + "\r"
        self.out.append((key, head, rest))

    def stay(self, stay: Stay) -> None:
        ctx = self.ctx
        rng = ctx.rng
        hosp = HOSPITALS[stay.hospital]
        npi, family, given = hosp.attendings[stay.attending]
        attending = "^".join((npi, escape(family), escape(given), "", "", "", "MD", "", "", "", "", "", "NPI"))
        fac = hosp.facility
        visit = f"{stay.visit}^^^{fac}^VN"
        dx = stay.dx
        death = ctx.death_m if stay.disposition == "exp" else None
        ed_loc = f"ED^{ri(rng, 1, 32):02d}^^{fac}"
        rooms = {unit: f"{unit}^{ri(rng, 1, 40) + (100 if unit == 'ICU' else 400):d}^{one(rng, 'AB')}^{fac}"
                 for _, unit in stay.units}
        final = "I" if stay.kind == "IMP" else "O" if stay.kind == "OBS" else "E"
        arrive_ts = hl7_ts(stay.arrive_m)
        admit_ts = hl7_ts(stay.admit_m)
        service = "MED" if not stay.procedure else ("CAR" if stay.procedure == "pci" else "SUR")

        def send(m: int, trigger: str, klass: str, loc: str, kind: str, *, prior: str = "", dispo: str = "",
                 discharge: str = "", dead: int | None = None, admit: str = "", stale: bool = False) -> None:
            pv1 = _pv1(klass, loc, attending, visit, admit or (arrive_ts if klass == "E" else admit_ts),
                       admit_type="C" if not stay.via_ed else "E", prior=prior,
                       service=service if klass in ("I", "O") else "", source="7" if stay.via_ed else "2",
                       disposition=dispo, discharge_ts=discharge,
                       # an observation stay is an outpatient (O) visit the hospital marks with patient type OBS
                       patient_type="OBS" if stay.kind == "OBS" and klass == "O" else "")
            segs = [self.pid(m, stay.hospital, dead, stale), pv1, _dg1(dx.icd, dx.display, arrive_ts, kind)]
            self._emit(m, trigger, hosp.app, fac, segs, ri(rng, 0, 59))

        first_unit = stay.units[0][1]
        if stay.via_ed:
            stale = self._move_due(stay.arrive_m + 20)
            send(stay.arrive_m, "A04", "E", ed_loc, "W", stale=stale)
            if stale:
                self.pending_move = None
                send(stay.arrive_m + 20, "A08", "E", ed_loc, "W")
        if stay.kind == "IMP":
            stale = not stay.via_ed and self._move_due(stay.admit_m + 30)
            send(stay.admit_m, "A01", "I", rooms[first_unit], "A", admit=admit_ts, stale=stale)
            if stale:
                self.pending_move = None
                send(stay.admit_m + 30, "A08", "I", rooms[first_unit], "A")
        elif stay.kind == "OBS":
            send(stay.admit_m, "A08", "O", rooms[first_unit], "W")
        prev = rooms[first_unit]
        for m, unit in stay.units[1:]:
            send(m, "A02", final, rooms[unit], "W", prior=prev)
            prev = rooms[unit]
        if stay.update_m is not None:
            unit_at = [u for t, u in stay.units if t <= stay.update_m][-1]
            send(stay.update_m, "A08", final, rooms[unit_at], "W")
        if stay.cancel_admit is not None:
            a01, a11 = stay.cancel_admit
            floor = f"4W^{ri(rng, 401, 440)}^A^{fac}"
            send(a01, "A01", "I", floor, "A", admit=hl7_ts(a01))
            send(a11, "A11", "I", floor, "A", admit=hl7_ts(a01))
        if stay.end_m is None:
            return
        loc = prev if stay.kind != "ED" else ed_loc
        code = DISPOSITIONS[stay.disposition][2]
        if stay.cancel_discharge is not None:
            first, a13 = stay.cancel_discharge
            send(first, "A03", final, loc, "F", dispo=code, discharge=hl7_ts(first))
            send(a13, "A13", final, loc, "F")
        send(stay.end_m, "A03", final, loc, "F", dispo=code, discharge=hl7_ts(stay.end_m), dead=death)

    def visit(self, v: Visit) -> None:
        ctx = self.ctx
        rng = ctx.rng
        p = PROVIDERS[v.provider]
        attending = "^".join((p.npi, p.family, p.given, "", "", "", "MD", "", "", "", "", "", "NPI"))
        loc = f"{LOCATIONS[v.location][5]}^^^{CLINIC_FACILITY}"
        checkin = v.m - ri(rng, 5, 15)

        def send(m: int, trigger: str, stale: bool = False) -> None:
            pv1 = _pv1("O", loc, attending, f"{v.visit}^^^{CLINIC_FACILITY}^VN", hl7_ts(v.m), admit_type="R",
                       source="2")
            self._emit(m, trigger, CLINIC_EHR_APP, CLINIC_FACILITY, [self.pid(m, None, None, stale), pv1],
                       ri(rng, 0, 59))

        stale = self._move_due(checkin + 2)
        send(checkin, "A04", stale)
        if stale:
            self.pending_move = None
            send(checkin + 2, "A08")

    def _move_due(self, m: int) -> bool:
        """A patient who moved and whose new address reaches this feed for the first time at ``m``."""
        return self.pending_move is not None and self.pending_move * 1440 <= m < self.ctx.win.cutoff_m


class Spool:
    """Sorted runs on disk, merged into numbered files at the end."""

    def __init__(self, out_dir: Path, flush_at: int = 100_000) -> None:
        self.dir = out_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.flush_at = flush_at
        self.buffer: list[tuple[str, str, str]] = []
        self.runs: list[Path] = []

    def extend(self, messages: list[tuple[str, str, str]]) -> None:
        self.buffer.extend(messages)
        if len(self.buffer) >= self.flush_at:
            self._flush()

    def _flush(self) -> None:
        self.buffer.sort()
        path = self.dir / f".run-{len(self.runs):05d}.tmp"
        with path.open("wb") as fh:
            for key, head, rest in self.buffer:
                fh.write(f"{key}\t{head}\t{rest}\n".encode())
        self.runs.append(path)
        self.buffer = []

    @staticmethod
    def _read(path: Path) -> Iterator[tuple[str, str, str]]:
        with path.open("rb") as fh:
            for line in fh:
                key, head, rest = line[:-1].decode().split("\t", 2)
                yield key, head, rest

    def finish(self) -> tuple[int, list[str]]:
        """Write adt-NNNNN.hl7 files; returns (message count, file names)."""
        for old in self.dir.glob("adt-*.hl7"):
            old.unlink()
        if self.runs:
            if self.buffer:
                self._flush()
            merged: Iterator[tuple[str, str, str]] = heapq.merge(*(self._read(p) for p in self.runs))
        else:
            self.buffer.sort()
            merged = iter(self.buffer)
        count = 0
        names: list[str] = []
        fh = None
        try:
            for _, head, rest in merged:
                if count % MESSAGES_PER_FILE == 0:
                    if fh is not None:
                        fh.close()
                    name = f"adt-{count // MESSAGES_PER_FILE + 1:05d}.hl7"
                    names.append(name)
                    fh = (self.dir / name).open("wb")
                count += 1
                assert fh is not None
                fh.write(f"{head}{count:010d}{rest}\n".encode())
        finally:
            if fh is not None:
                fh.close()
            for path in self.runs:
                os.unlink(path)
        self.buffer = []
        return count, names
