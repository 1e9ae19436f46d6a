"""Scenario files (docs/billing-scenarios.md) -> typed facts. Every error names the field path and the reason."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any, TypeVar

from careloop.billing.rules.facts import (
    Capability,
    DeviceDays,
    Enrollment,
    Episode,
    OtherClaim,
    PatientFacts,
    Practice,
    Practitioner,
    Scenario,
    TimeEntry,
)

T = TypeVar("T")

PROGRAMS = {"APCM": "APCM", "CCM": "CCM", "PCM": "PCM", "BHI": "BHI", "COCM": "CoCM", "RPM": "RPM", "RTM": "RTM",
            "TCM": "TCM", "CO_CM": "CoCM"}
PRACTICE_TYPES = {
    "physician": "physician", "physician_practice": "physician", "practice": "physician", "group": "physician",
    "rhc": "rhc", "rural_health_clinic": "rhc", "fqhc": "fqhc", "federally_qualified_health_center": "fqhc",
}
STAFF_TYPES = {
    "clinical_staff": "clinical_staff", "clinical": "clinical_staff", "staff": "clinical_staff",
    "nurse": "clinical_staff", "rn": "clinical_staff", "lpn": "clinical_staff", "ma": "clinical_staff",
    "medical_assistant": "clinical_staff", "care_manager": "clinical_staff",
    "billing_practitioner": "billing_practitioner", "practitioner": "billing_practitioner",
    "physician": "billing_practitioner", "qhp": "billing_practitioner", "npp": "billing_practitioner",
    "provider": "billing_practitioner", "billing_provider": "billing_practitioner", "md": "billing_practitioner",
    "do": "billing_practitioner", "np": "billing_practitioner", "pa": "billing_practitioner",
    "bh_care_manager": "bh_care_manager", "behavioral_health_care_manager": "bh_care_manager",
    "non_clinical": "non_clinical", "nonclinical": "non_clinical", "non_clinical_staff": "non_clinical",
    "admin": "non_clinical", "administrative": "non_clinical", "front_desk": "non_clinical",
}
MDM_LEVELS = {"straightforward": "straightforward", "minimal": "straightforward", "low": "low",
              "moderate": "moderate", "mod": "moderate", "high": "high"}
RTM_CATEGORIES = {"respiratory": "respiratory", "resp": "respiratory", "msk": "msk", "musculoskeletal": "msk",
                  "cbt": "cbt", "cognitive_behavioral_therapy": "cbt", "physiologic": "physiologic"}
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class ScenarioError(ValueError):
    """Bad scenario input. ``errors`` holds (field path, reason) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{path}: {reason}" for path, reason in errors))


def _key(value: str) -> str:
    return re.sub(r"[\s\-/]+", "_", value.strip().lower())


class _Reader:
    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []
        self.warnings: list[str] = []

    def fail(self, path: str, reason: str) -> None:
        self.errors.append((path, reason))

    def obj(self, value: Any, path: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"expected an object, got {type(value).__name__}")
            return {}
        return value

    def lst(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"expected a list, got {type(value).__name__}")
            return []
        return value

    def date(self, value: Any, path: str, required: bool = False) -> dt.date | None:
        if value is None:
            if required:
                self.fail(path, "required (an ISO date YYYY-MM-DD)")
            return None
        if not isinstance(value, str):
            self.fail(path, f"expected an ISO date string YYYY-MM-DD, got {value!r}")
            return None
        try:
            return dt.date.fromisoformat(value[:10] if value[10:11] == "T" else value)
        except ValueError:
            self.fail(path, f"not a valid ISO date YYYY-MM-DD: {value!r}")
            return None

    def text(self, value: Any, path: str, required: bool = False, default: str = "") -> str:
        if value is None:
            if required:
                self.fail(path, "required")
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.fail(path, f"expected a string, got {value!r}")
            return default
        out = str(value).strip()
        if required and not out:
            self.fail(path, "must not be empty")
        return out

    def boolean(self, value: Any, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {value!r}")
            return default
        return value

    def integer(self, value: Any, path: str, lo: int, hi: int, required: bool = True, default: int = 0) -> int:
        if value is None:
            if required:
                self.fail(path, "required (an integer)")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                self.fail(path, f"expected an integer, got {value!r}")
                return default
        if not lo <= value <= hi:
            self.fail(path, f"must be between {lo} and {hi}, got {value}")
            return default
        return int(value)

    def choice(self, value: Any, path: str, mapping: dict[str, str], default: str | None = None) -> str:
        if value is None:
            if default is None:
                self.fail(path, f"required (one of {', '.join(sorted(set(mapping.values())))})")
                return ""
            return default
        key = _key(value) if isinstance(value, str) else None
        lookup = {_key(k): v for k, v in mapping.items()}
        if key is None or key not in lookup:
            self.fail(path, f"unknown value {value!r} (one of {', '.join(sorted(set(mapping.values())))})")
            return default or ""
        return lookup[key]

    def items(self, raw: dict[str, Any], key: str, fn: Callable[[dict[str, Any], str], T],
              programs: dict[str, str] | None = None) -> tuple[T, ...]:
        """Read a list of objects. With ``programs``: an item whose (present, string) ``program`` is not one of them
        is ignored with a warning (INPUT-001) instead of failing the whole file - a program careloop does not bill
        (CHI, PIN, ACP, ...) must not stop the evaluation of the rest of the month."""
        out: list[T] = []
        lookup = {_key(k) for k in programs} if programs else set()
        for i, item in enumerate(self.lst(raw.get(key), key)):
            path = f"{key}[{i}]"
            if not isinstance(item, dict):
                self.fail(path, f"expected an object, got {type(item).__name__}")
                continue
            prog = item.get("program")
            if programs and isinstance(prog, str) and prog.strip() and _key(prog) not in lookup:
                self.warnings.append(
                    f"{path}.program: unknown program {prog!r} ignored (known: "
                    f"{', '.join(sorted(set(programs.values())))})")
                continue
            out.append(fn(item, path))
        return tuple(out)


def scenario_from_json(raw: Any) -> Scenario:
    """Build a Scenario from the parsed JSON of a scenario file; raise ScenarioError listing every bad field."""
    r = _Reader()
    if not isinstance(raw, dict):
        raise ScenarioError([("$", f"expected a JSON object, got {type(raw).__name__}")])
    month = raw.get("month")
    if not isinstance(month, str) or not MONTH_RE.match(month):
        r.fail("month", f"required, in the form YYYY-MM, got {month!r}")
        month = "1970-01"

    pr = r.obj(raw.get("practice"), "practice")
    caps: tuple[Capability, ...] | None = None
    if pr.get("capabilities") is not None:
        caps_list: list[Capability] = []
        for i, c in enumerate(r.lst(pr.get("capabilities"), "practice.capabilities")):
            path = f"practice.capabilities[{i}]"
            c = r.obj(c, path)
            frm = r.date(c.get("effective_from"), f"{path}.effective_from", required=True)
            caps_list.append(Capability(
                key=r.text(c.get("key"), f"{path}.key", required=True), effective_from=frm or dt.date.min,
                effective_to=r.date(c.get("effective_to"), f"{path}.effective_to"),
                evidence=r.text(c.get("evidence"), f"{path}.evidence"),
            ))
        caps = tuple(caps_list)
    practice = Practice(
        type=r.choice(pr.get("type"), "practice.type", PRACTICE_TYPES, default="physician"),
        tin=r.text(pr.get("tin"), "practice.tin"),
        strict=r.boolean(pr.get("strict"), "practice.strict", False),
        capabilities=caps,
    )

    pa = r.obj(raw.get("patient"), "patient")
    conditions = tuple(
        r.text(c, f"patient.chronic_conditions[{i}]", required=True)
        for i, c in enumerate(r.lst(pa.get("chronic_conditions"), "patient.chronic_conditions"))
    )
    qmb: list[tuple[dt.date, dt.date | None]] = []
    for i, per in enumerate(r.lst(pa.get("qmb_periods"), "patient.qmb_periods")):
        path = f"patient.qmb_periods[{i}]"
        if isinstance(per, dict):
            per = [per.get("start"), per.get("end")]
        if not isinstance(per, list) or len(per) != 2:
            r.fail(path, "expected [start, end|null]")
            continue
        start = r.date(per[0], f"{path}[0]", required=True)
        end = r.date(per[1], f"{path}[1]")
        if start and end and end < start:
            r.fail(path, f"end {end} is before start {start}")
        elif start:
            qmb.append((start, end))
    mdm = pa.get("mdm")
    patient = PatientFacts(
        chronic_conditions=conditions,
        qmb_periods=tuple(qmb),
        bh_diagnosis=r.boolean(pa.get("bh_diagnosis"), "patient.bh_diagnosis", False),
        last_visit_by_practice=r.date(pa.get("last_visit_by_practice"), "patient.last_visit_by_practice"),
        last_care_management=r.date(pa.get("last_care_management"), "patient.last_care_management"),
        established=r.boolean(pa.get("established"), "patient.established", True),
        part_b_start=r.date(pa.get("part_b_start"), "patient.part_b_start"),
        pcm_condition=r.text(pa.get("pcm_condition"), "patient.pcm_condition") or None,
        mdm=r.choice(mdm, "patient.mdm", MDM_LEVELS) if mdm is not None else None,
        care_plan_established_or_revised=r.boolean(
            pa.get("care_plan_established_or_revised"), "patient.care_plan_established_or_revised", False),
        apcm_monthly_activity=(None if pa.get("apcm_monthly_activity") is None else r.boolean(
            pa.get("apcm_monthly_activity"), "patient.apcm_monthly_activity", True)),
    )

    def enrollment(e: dict[str, Any], path: str) -> Enrollment:
        start = r.date(e.get("start"), f"{path}.start", required=True) or dt.date.min
        end = r.date(e.get("end"), f"{path}.end")
        if end and end < start:
            r.fail(f"{path}.end", f"{end} is before start {start}")
        disc = e.get("consent_disclosures")
        disclosures = None if disc is None else tuple(
            r.text(d, f"{path}.consent_disclosures[{i}]", required=True)
            for i, d in enumerate(r.lst(disc, f"{path}.consent_disclosures"))
        )
        return Enrollment(
            program=r.choice(e.get("program"), f"{path}.program", PROGRAMS),
            practitioner=r.text(e.get("practitioner"), f"{path}.practitioner", required=True),
            consent_date=r.date(e.get("consent_date"), f"{path}.consent_date"),
            start=start, end=end, consent_disclosures=disclosures,
            initiating_visit=r.date(e.get("initiating_visit"), f"{path}.initiating_visit"),
            bh_addon=r.boolean(e.get("bh_addon"), f"{path}.bh_addon", True),
            addon_requested=e.get("bh_addon") is True,
        )

    def time_entry(t: dict[str, Any], path: str) -> TimeEntry:
        return TimeEntry(
            practitioner=r.text(t.get("practitioner"), f"{path}.practitioner", required=True),
            staff_type=r.choice(t.get("staff_type"), f"{path}.staff_type", STAFF_TYPES, default="clinical_staff"),
            program=r.choice(t.get("program"), f"{path}.program", PROGRAMS),
            minutes=r.integer(t.get("minutes"), f"{path}.minutes", 0, 24 * 60),
            date=r.date(t.get("date"), f"{path}.date", required=True) or dt.date.min,
            interactive=r.boolean(t.get("interactive"), f"{path}.interactive", False),
        )

    def device(d: dict[str, Any], path: str) -> DeviceDays:
        program = r.choice(d.get("program"), f"{path}.program", {"RPM": "RPM", "RTM": "RTM"})
        cat_raw = d.get("category")
        category = "physiologic" if program == "RPM" else ""
        if cat_raw is not None:
            category = r.choice(cat_raw, f"{path}.category", RTM_CATEGORIES, default=category)
        return DeviceDays(
            program=program,
            days=r.integer(d.get("days"), f"{path}.days", 0, 30),
            period_start=r.date(d.get("period_start"), f"{path}.period_start", required=True) or dt.date.min,
            category=category,
            practitioner=r.text(d.get("practitioner"), f"{path}.practitioner") or None,
            setup=r.boolean(d.get("setup"), f"{path}.setup", False),
            episode_start=r.date(d.get("episode_start"), f"{path}.episode_start"),
        )

    def episode(e: dict[str, Any], path: str) -> Episode:
        attempts = tuple(
            a for a in (r.date(x, f"{path}.attempts[{i}]", required=True)
                        for i, x in enumerate(r.lst(e.get("attempts"), f"{path}.attempts")))
            if a is not None
        )
        emdm = e.get("mdm")
        discharge = r.date(e.get("discharge"), f"{path}.discharge", required=True) or dt.date.min
        ep = Episode(
            setting=_key(r.text(e.get("setting"), f"{path}.setting", default="inpatient")),
            discharge=discharge,
            contact=r.date(e.get("contact"), f"{path}.contact"),
            attempts=attempts,
            visit=r.date(e.get("visit"), f"{path}.visit"),
            mdm=r.choice(emdm, f"{path}.mdm", MDM_LEVELS) if emdm is not None else None,
            practitioner=r.text(e.get("practitioner"), f"{path}.practitioner") or None,
            discharged_to=_key(r.text(e.get("discharged_to"), f"{path}.discharged_to", default="community")),
            medrec=r.date(e.get("medrec"), f"{path}.medrec"),
        )
        if ep.visit and ep.visit < discharge:
            r.fail(f"{path}.visit", f"{ep.visit} is before the discharge {discharge}")
        return ep

    def claim(c: dict[str, Any], path: str) -> OtherClaim:
        return OtherClaim(
            code=r.text(c.get("code"), f"{path}.code", required=True).upper(),
            practitioner=r.text(c.get("practitioner"), f"{path}.practitioner"),
            date=r.date(c.get("date"), f"{path}.date", required=True) or dt.date.min,
            units=r.integer(c.get("units"), f"{path}.units", 1, 99, required=False, default=1),
        )

    def practitioner(p: dict[str, Any], path: str) -> Practitioner:
        return Practitioner(
            id=r.text(p.get("id"), f"{path}.id", required=True),
            npi=r.text(p.get("npi"), f"{path}.npi"),
            tin=r.text(p.get("tin"), f"{path}.tin"),
            qp=r.boolean(p.get("qp"), f"{path}.qp", False),
            apcm_perf_pathway=r.text(p.get("apcm_perf_pathway"), f"{path}.apcm_perf_pathway") or None,
        )

    scenario = Scenario(
        month=month,
        practice=practice,
        patient=patient,
        enrollments=r.items(raw, "enrollments", enrollment, PROGRAMS),
        time_entries=r.items(raw, "time_entries", time_entry, PROGRAMS),
        device_days=r.items(raw, "device_days", device, {"RPM": "RPM", "RTM": "RTM"}),
        episodes=r.items(raw, "episodes", episode),
        other_claims=r.items(raw, "other_claims", claim),
        practitioners=r.items(raw, "practitioners", practitioner),
        visits=r.items(raw, "visits", claim),
        input_warnings=tuple(r.warnings),
    )
    if r.errors:
        raise ScenarioError(r.errors)
    return scenario
