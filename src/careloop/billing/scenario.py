"""Facts JSON (the scenario-file format, docs/billing-scenarios.md) -> the typed Scenario the rules run on.

The monthly run builds facts as plain JSON (cheap to hash and to store with the decision), then converts them
here. Pure: no database."""

from __future__ import annotations

import datetime as dt
from typing import Any

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


def _d(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _req(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def _claim(c: dict[str, Any]) -> OtherClaim:
    return OtherClaim(c["code"], c.get("practitioner") or "", _req(c["date"]), int(c.get("units") or 1))


def scenario_from_facts(f: dict[str, Any]) -> Scenario:
    pr = f.get("practice") or {}
    caps = pr.get("capabilities")
    practice = Practice(
        type=pr.get("type", "physician"), tin=pr.get("tin", ""), strict=bool(pr.get("strict", False)),
        capabilities=None if caps is None else tuple(
            Capability(c["key"], _req(c["effective_from"]), _d(c.get("effective_to")), c.get("evidence", ""))
            for c in caps),
    )
    p = f.get("patient") or {}
    patient = PatientFacts(
        chronic_conditions=tuple(p.get("chronic_conditions") or ()),
        qmb_periods=tuple((_req(a), _d(b)) for a, b in p.get("qmb_periods") or ()),
        bh_diagnosis=bool(p.get("bh_diagnosis", False)),
        last_visit_by_practice=_d(p.get("last_visit_by_practice")),
        last_care_management=_d(p.get("last_care_management")),
        established=bool(p.get("established", True)),
        part_b_start=_d(p.get("part_b_start")),
        pcm_condition=p.get("pcm_condition"),
        mdm=p.get("mdm"),
        care_plan_established_or_revised=bool(p.get("care_plan_established_or_revised", False)),
        apcm_monthly_activity=p.get("apcm_monthly_activity"),
    )
    return Scenario(
        month=f["month"],
        practice=practice,
        patient=patient,
        enrollments=tuple(
            Enrollment(e["program"], e.get("practitioner") or "", _d(e.get("consent_date")), _req(e["start"]),
                       _d(e.get("end")),
                       None if e.get("consent_disclosures") is None else tuple(e["consent_disclosures"]),
                       _d(e.get("initiating_visit")), bool(e.get("bh_addon", True)))
            for e in f.get("enrollments") or ()),
        time_entries=tuple(
            TimeEntry(t.get("practitioner") or "", t["staff_type"], t["program"], int(t["minutes"]), _req(t["date"]),
                      bool(t.get("interactive", False)))
            for t in f.get("time_entries") or ()),
        device_days=tuple(
            DeviceDays(d["program"], int(d["days"]), _req(d["period_start"]), d.get("category", "physiologic"),
                       d.get("practitioner"), bool(d.get("setup", False)), _d(d.get("episode_start")))
            for d in f.get("device_days") or ()),
        episodes=tuple(
            Episode(e["setting"], _req(e["discharge"]), _d(e.get("contact")),
                    tuple(_req(a) for a in e.get("attempts") or ()), _d(e.get("visit")), e.get("mdm"),
                    e.get("practitioner"), e.get("discharged_to", "community"), _d(e.get("medrec")))
            for e in f.get("episodes") or ()),
        other_claims=tuple(_claim(c) for c in f.get("other_claims") or ()),
        practitioners=tuple(
            Practitioner(str(p["id"]), p.get("npi", ""), p.get("tin", ""), bool(p.get("qp", False)),
                         p.get("apcm_perf_pathway"))
            for p in f.get("practitioners") or ()),
        visits=tuple(_claim(c) for c in f.get("visits") or ()),
    )
