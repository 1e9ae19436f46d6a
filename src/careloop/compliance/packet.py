"""The evidence packet for one patient-month: what an auditor needs to see behind the month's claim
(cms-rules 8), gathered from the other apps, rendered as a PDF (reportlab) and as a FHIR R4 Bundle (collection).

``gather`` reads (organization-scoped; the caller audits the read); ``render_pdf`` and ``fhir_bundle`` only
format what ``gather`` returned, so both formats always say the same thing.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from django.apps import apps as django_apps
from django.db.models import Q

from careloop.access.models import AccessNotice, AfterHoursContact, SecureMessage
from careloop.careplans.models import CarePlan, CarePlanVersion
from careloop.compliance import rules, selectors
from careloop.compliance.choices import CapabilityKey, Element, PerformancePathway
from careloop.compliance.models import ClinicianPathway
from careloop.programs import selectors as programs
from careloop.programs.choices import Disclosure
from careloop.programs.consent_fhir import consent_resource
from careloop.programs.models import EligibilityDecision
from careloop.registry.models import Condition, Coverage, Patient
from careloop.risk.models import PatientRisk
from careloop.transitions.models import TransitionEpisode
from careloop.worklist.models import OutreachAttempt, TimeEntry

NONE_RECORDED = "none recorded"
NO_DECISION = "no billing decision recorded"
TCM_LOOKBACK_DAYS = 30


@dataclass
class PacketData:
    organization: dict[str, Any]
    month: str
    generated_at: dt.datetime
    generated_by: str
    patient: dict[str, Any]
    enrollments: list[dict[str, Any]] = field(default_factory=list)
    eligibility: dict[str, Any] | None = None
    care_plan: dict[str, Any] | None = None
    risk: dict[str, Any] | None = None
    conditions: list[dict[str, Any]] = field(default_factory=list)
    qmb: list[dict[str, Any]] = field(default_factory=list)
    time_entries: list[dict[str, Any]] = field(default_factory=list)
    time_totals: list[dict[str, Any]] = field(default_factory=list)
    outreach: list[dict[str, Any]] = field(default_factory=list)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    after_hours: list[dict[str, Any]] = field(default_factory=list)
    access_notices: list[dict[str, Any]] = field(default_factory=list)
    messages_in_month: int = 0
    designations: list[dict[str, Any]] = field(default_factory=list)
    pathways: list[dict[str, Any]] = field(default_factory=list)
    capabilities: list[dict[str, Any]] = field(default_factory=list)
    coverage: list[dict[str, str]] = field(default_factory=list)
    billing: dict[str, Any] | None = None
    attestation: dict[str, Any] | None = None


def _name(first: str | None, last: str | None, fallback: str = "") -> str:
    return f"{first or ''} {last or ''}".strip() or fallback


def _d(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.isoformat() if not isinstance(value, dt.datetime) else value.isoformat(timespec="minutes")


# ---------- gather ----------


def gather(*, organization_id: int, patient_id: int, month: str, generated_at: dt.datetime,
           generated_by: str) -> PacketData:
    org_row = selectors.organization(organization_id)
    w = selectors.month_window(organization_id, month)
    zone = w.zone
    p = Patient.objects.get(organization_id=organization_id, pk=patient_id)

    def local(v: dt.datetime | None) -> str:
        return v.astimezone(zone).isoformat(timespec="minutes") if v is not None else ""

    data = PacketData(
        organization={"name": org_row.name, "npi": org_row.npi, "tin": org_row.tin,
                      "practice_type": org_row.practice_type, "time_zone": org_row.time_zone},
        month=month, generated_at=generated_at, generated_by=generated_by,
        patient={"id": p.pk, "fhir_id": p.fhir_id, "name": _name(p.given, p.family), "family": p.family,
                 "given": p.given, "birth_date": _d(p.birth_date), "sex": p.sex, "mrn": p.mrn, "mbi": p.mbi},
    )
    # enrollments in force in the month, with their consent
    disclosure_labels = dict(Disclosure.choices)
    for e in programs.enrollments_for(organization_id=organization_id, patient_id=patient_id) \
            .filter(start__lte=w.last).filter(Q(end__isnull=True) | Q(end__gte=w.first)):
        consent = getattr(e, "consent", None)
        bp = e.billing_practitioner
        data.enrollments.append({
            "id": e.pk, "program": e.program, "start": _d(e.start), "end": _d(e.end),
            "practitioner": str(bp), "practitioner_id": bp.pk, "npi": bp.npi,
            "initiating_visit": e.initiating_visit, "initiating_visit_on": _d(e.initiating_visit_on),
            "consent": None if consent is None else {
                "id": consent.pk, "obtained_at": local(consent.obtained_at), "method": consent.method,
                "obtained_by": _name(consent.obtained_by.first_name, consent.obtained_by.last_name,
                                     consent.obtained_by.username),
                "disclosures": list(consent.disclosures),
                "disclosure_text": [disclosure_labels.get(d, d) for d in consent.disclosures],
                "evidence": consent.evidence,
            },
        })
    elig = EligibilityDecision.objects.filter(organization_id=organization_id, patient_id=patient_id, month=month,
                                              program="APCM").first()
    if elig is not None:
        data.eligibility = {"eligible": elig.eligible, "level": elig.level, "rule_ids": list(elig.rule_ids),
                            "ruleset": elig.ruleset, "computed_at": local(elig.computed_at)}
    # care plan version in force at the month's end
    version = CarePlanVersion.objects.filter(plan__organization_id=organization_id, plan__patient_id=patient_id,
                                             plan__status__in=selectors.LIVE_PLAN_STATUSES, created_at__lt=w.end) \
        .select_related("plan").order_by("-created_at", "-number").first()
    if version is not None:
        plan: CarePlan = version.plan
        data.care_plan = {
            "plan_id": plan.pk, "title": plan.title, "status": plan.status, "version": version.number,
            "created_at": local(version.created_at), "author": version.author_name, "reason": version.reason,
            "sections": sorted(selectors.plan_sections(version.document)),
            "goals": [g.get("text", "") for g in version.document.get("goals", [])][:10],
            "problems": [g.get("text", "") for g in version.document.get("problems", [])][:10],
            "last_reviewed_on": _d(plan.last_reviewed_on),
        }
    # risk and the chronic conditions behind the level
    r = PatientRisk.objects.filter(organization_id=organization_id, patient_id=patient_id).first()
    if r is not None:
        data.risk = {"tier": r.tier, "methodology_version": r.methodology_version, "as_of": _d(r.as_of),
                     "points": r.points, "explanation": r.explanation, "chronic_count": r.chronic_count,
                     "chronic_conditions": list(r.chronic_conditions), "hcc_score": r.hcc_score}
    for c in Condition.objects.filter(organization_id=organization_id, patient_id=patient_id) \
            .filter(Q(abatement__isnull=True) | Q(abatement__gte=w.first)) \
            .exclude(clinical_status__in=["resolved", "inactive", "entered-in-error"]).order_by("icd10", "pk"):
        data.conditions.append({"icd10": c.icd10, "display": c.display, "onset": _d(c.onset),
                                "clinical_status": c.clinical_status})
    for q in Coverage.objects.filter(organization_id=organization_id, patient_id=patient_id, kind="qmb") \
            .filter(Q(start__isnull=True) | Q(start__lte=w.last)).filter(Q(end__isnull=True) | Q(end__gte=w.first)) \
            .order_by("start", "pk"):
        data.qmb.append({"start": _d(q.start), "end": _d(q.end), "source": q.source, "status": q.status,
                         "evidence": q.evidence})
    # time log (voided entries shown and marked)
    totals: dict[tuple[str, str, str], int] = {}
    for t in TimeEntry.objects.filter(organization_id=organization_id, patient_id=patient_id,
                                      service_date__gte=w.first, service_date__lte=w.last) \
            .select_related("staff").order_by("service_date", "started_at", "pk"):
        staff = _name(t.staff.first_name, t.staff.last_name, t.staff.username)
        data.time_entries.append({
            "id": t.pk, "date": _d(t.service_date), "staff": staff, "staff_type": t.staff_type,
            "program": t.program, "activity": t.activity, "minutes": t.minutes, "interactive": t.interactive,
            "voided": t.voided, "void_reason": t.void_reason, "note": t.note,
        })
        if not t.voided:
            key = (staff, t.activity, t.program)
            totals[key] = totals.get(key, 0) + t.minutes
    data.time_totals = [{"staff": s, "activity": a, "program": pg, "minutes": m}
                        for (s, a, pg), m in sorted(totals.items())]
    for o in OutreachAttempt.objects.filter(organization_id=organization_id, patient_id=patient_id,
                                            at__gte=w.start, at__lt=w.end).select_related("user").order_by("at"):
        who = _name(o.user.first_name, o.user.last_name, o.user.username) if o.user else ""
        data.outreach.append({"at": local(o.at), "channel": o.channel, "outcome": o.outcome, "by": who,
                              "note": o.note})
    # transition episodes: discharged in the month or in the 30 days before (TCM period reaching into it)
    now = generated_at
    for ep in TransitionEpisode.objects.filter(organization_id=organization_id, patient_id=patient_id).filter(
            Q(discharged_at__gte=w.start - dt.timedelta(days=TCM_LOOKBACK_DAYS), discharged_at__lt=w.end)
            | Q(discharged_at__isnull=True, admitted_at__lt=w.end)).exclude(status="cancelled") \
            .order_by("discharged_at", "pk"):
        visit_due = ep.visit_due_moderate
        data.episodes.append({
            "id": ep.pk, "setting": ep.setting, "facility": ep.facility, "status": ep.status,
            "admitted_at": local(ep.admitted_at), "discharged_at": local(ep.discharged_at),
            "disposition": ep.disposition, "tcm_eligible": ep.tcm_eligible,
            "deadlines": [
                {"what": "Interactive contact (2 business days)", "due": local(ep.contact_due),
                 "done": local(ep.contact_at), "status": rules.deadline_status(ep.contact_due, ep.contact_at, now)},
                {"what": "APCM follow-up communication (7 days)", "due": local(ep.followup_due),
                 "done": local(ep.contact_at), "status": rules.deadline_status(ep.followup_due, ep.contact_at, now)},
                {"what": "Face-to-face visit (TCM, 14 days)", "due": local(visit_due), "done": local(ep.visit_at),
                 "status": rules.deadline_status(visit_due, ep.visit_at, now)},
                {"what": "Medication reconciliation", "due": local(ep.medrec_due), "done": local(ep.medrec_at),
                 "status": rules.deadline_status(ep.medrec_due, ep.medrec_at, now)},
            ],
        })
    for a in AfterHoursContact.objects.filter(organization_id=organization_id, patient_id=patient_id,
                                              occurred_at__gte=w.start, occurred_at__lt=w.end).order_by("occurred_at"):
        data.after_hours.append({"at": local(a.occurred_at), "channel": a.channel, "handled_by": a.handled_by,
                                 "summary": a.summary})
    for n in AccessNotice.objects.filter(organization_id=organization_id, patient_id=patient_id,
                                         told_on__lte=w.last).order_by("-told_on")[:5]:
        data.access_notices.append({"told_on": _d(n.told_on), "method": n.method, "recorded_by": n.recorded_by,
                                    "note": n.note})
    data.messages_in_month = SecureMessage.objects.filter(organization_id=organization_id, patient_id=patient_id,
                                                          sent_at__gte=w.start, sent_at__lt=w.end).count()
    for d in programs.designation_history(organization_id=organization_id, patient_id=patient_id) \
            .filter(since__lte=w.last).filter(Q(until__isnull=True) | Q(until__gte=w.first)):
        data.designations.append({"member": _name(d.user.first_name, d.user.last_name, d.user.username),
                                  "role": getattr(d.user, "role", ""), "since": _d(d.since), "until": _d(d.until)})
    practitioner_ids = {e["practitioner_id"] for e in data.enrollments}
    labels = dict(PerformancePathway.choices)
    for cp in ClinicianPathway.objects.filter(organization_id=organization_id, practitioner_id__in=practitioner_ids,
                                              performance_year=w.first.year).select_related("practitioner"):
        data.pathways.append({"practitioner": str(cp.practitioner), "npi": cp.practitioner.npi,
                              "year": cp.performance_year, "pathway": cp.pathway,
                              "label": labels.get(cp.pathway, cp.pathway), "evidence": cp.evidence})
    cap_labels = dict(CapabilityKey.choices)
    in_force = selectors.capabilities_in_force(organization_id=organization_id, month=month)
    for cap in rules.periods_in_month(selectors.capability_periods(organization_id=organization_id), month):
        data.capabilities.append({"key": cap.key, "label": cap_labels.get(cap.key, cap.key),
                                  "from": _d(cap.effective_from), "to": _d(cap.effective_to),
                                  "whole_month": cap.key in in_force, "evidence": cap.evidence})
    facts = selectors.patient_month_facts(organization_id=organization_id, month=month, patient_ids=[patient_id])
    if patient_id in facts:
        element_labels = dict(Element.choices)
        as_of = min(w.last, generated_at.astimezone(zone).date())
        for res in rules.element_coverage(facts[patient_id], capabilities=in_force, month=month, as_of=as_of):
            data.coverage.append({"element": res.element, "label": element_labels[res.element],
                                  "status": res.status, "reason": res.reason})
    att = selectors.attestation(organization_id=organization_id, patient_id=patient_id, month=month)
    if att is not None:
        data.attestation = {"statement": att.statement, "by": att.attested_by, "at": local(att.created_at)}
    data.billing = billing_trace(organization_id=organization_id, patient_id=patient_id, month=month)
    return data


def billing_trace(*, organization_id: int, patient_id: int, month: str) -> dict[str, Any] | None:
    """The billing decision for the patient-month (codes, units, rule ids with their text, denials, flags,
    corrections), or None when no run has decided it. Read through the billing app's selectors."""
    if not django_apps.is_installed("careloop.billing"):
        return None
    from careloop.billing import selectors as billing

    decision = billing.decision_for(organization_id=organization_id, patient_id=patient_id, month=month)
    if decision is None:
        return None
    body: dict[str, Any] = dict(decision.decision or {})
    lines: list[dict[str, Any]] = [
        {"code": ln.code, "units": ln.units, "status": ln.status, "practitioner": str(ln.practitioner or ""),
         "service_date": _d(ln.service_date), "rule_ids": list(ln.rule_ids), "reason": ln.reason,
         "diagnoses": list(ln.diagnoses), "allowed": str(ln.allowed_amount), "patient_share": str(ln.patient_share),
         "voided": ln.voided_at is not None, "void_reason": ln.void_reason}
        for ln in decision.lines.select_related("practitioner").order_by("voided_at", "code", "pk")
    ]
    corrections = [
        {"at": _d(c.at), "from_revision": c.from_revision, "to_revision": c.to_revision, "reason": c.reason}
        for c in billing.corrections(organization_id=organization_id, month=month, patient_id=patient_id)
    ]
    ids: set[str] = set()
    for line in lines:
        ids.update(str(x) for x in line["rule_ids"])
    for key in ("denied", "flags", "warnings"):
        ids.update(str(f.get("rule_id", "")) for f in body.get(key, []) or [] if isinstance(f, dict))
    for item in body.get("lines", []) or []:
        if isinstance(item, dict):
            ids.update(str(x) for x in item.get("rule_ids", []) or [])
    ids.discard("")
    texts = rule_texts(decision.ruleset)
    return {
        "ruleset": decision.ruleset, "revision": decision.revision, "computed_at": _d(decision.computed_at),
        "lines": lines, "denied": list(body.get("denied", []) or []), "flags": list(body.get("flags", []) or []),
        "warnings": list(body.get("warnings", []) or []), "corrections": corrections,
        "chronic_conditions": [str(c) for c in ((decision.facts or {}).get("patient") or {}).get(
            "chronic_conditions", []) or []],
        "rule_text": {i: texts.get(i, "(rule text not found in the ruleset)") for i in sorted(ids)},
    }


@functools.cache
def rule_texts(ruleset: str) -> dict[str, str]:
    """rule id -> text, from the billing rules engine's ruleset of that name ("cms-2026" or "cms-2026@<digest>";
    the text is the current file's for that year)."""
    m = re.fullmatch(r"cms-(\d{4})(@[0-9a-f]+)?", ruleset)
    if m is None:
        return {}
    from careloop.billing.rules import RulesetError, load_ruleset

    try:
        rs = load_ruleset(int(m.group(1)))
    except RulesetError:
        return {}
    return {rule_id: " ".join(rule.text.split()) for rule_id, rule in rs.rules.items()}


# ---------- PDF ----------


def _esc(text: object) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sections(d: PacketData) -> list[tuple[str, list[str] | list[list[str]]]]:
    """(heading, paragraphs or table rows with a header row). The PDF renders exactly this."""
    out: list[tuple[str, list[str] | list[list[str]]]] = []
    p = d.patient
    out.append(("Patient identity", [[ "Name", "Birth date", "Sex", "MRN", "MBI", "careloop id"],
                                     [p["name"], p["birth_date"], p["sex"], p["mrn"], p["mbi"], str(p["id"])]]))
    if d.coverage:
        out.append(("APCM element coverage for the month",
                    [["Element", "Status", "Evidence or gap"]]
                    + [[c["label"], c["status"].replace("_", " "), c["reason"]] for c in d.coverage]))
    rows: list[list[str]] = [["Program", "Period", "Billing practitioner", "Initiating visit", "Consent"]]
    for e in d.enrollments:
        c = e["consent"]
        consent = NONE_RECORDED if c is None else (
            f"{c['obtained_at']} ({c['method']}) by {c['obtained_by']}; told: {'; '.join(c['disclosure_text'])}"
            + (f"; evidence: {c['evidence']}" if c["evidence"] else ""))
        visit = e["initiating_visit"] + (f" on {e['initiating_visit_on']}" if e["initiating_visit_on"] else "")
        rows.append([e["program"], f"{e['start']} to {e['end'] or 'open'}", f"{e['practitioner']} NPI {e['npi']}",
                     visit, consent])
    out.append(("Enrollment, consent and initiating visit",
                rows if len(rows) > 1 else [f"No care-management enrollment in force in {d.month}."]))
    if d.attestation is not None:
        a = d.attestation
        out.append(("Monthly APCM attestation", [f"{a['at']} by {a['by']}: {a['statement']}"]))
    cp = d.care_plan
    out.append(("Care plan version in force", [f"{NONE_RECORDED.capitalize()}: no care plan version existed at the "
                                               f"end of {d.month}."] if cp is None else [
        f"{cp['title']} (plan {cp['plan_id']}, {cp['status']}), version {cp['version']} of {cp['created_at']} by "
        f"{cp['author']}: {cp['reason']}",
        f"Documented sections: {', '.join(cp['sections']) or 'none'}",
        f"Problems: {'; '.join(cp['problems']) or 'none'}",
        f"Goals: {'; '.join(cp['goals']) or 'none'}",
    ]))
    r = d.risk
    risk_lines = [f"No risk tier recorded ({NONE_RECORDED})."] if r is None else [
        f"Tier {r['tier']} ({r['points']} points) as of {r['as_of']}, methodology version {r['methodology_version']}",
        f"Chronic conditions counted: {r['chronic_count']} ({', '.join(map(str, r['chronic_conditions'])) or 'none'})",
        r["explanation"],
    ]
    if d.eligibility:
        e2 = d.eligibility
        risk_lines.append(f"APCM eligibility for {d.month}: {'eligible' if e2['eligible'] else 'not eligible'}, "
                          f"level {e2['level'] or '-'} (rules {', '.join(e2['rule_ids'])}; {e2['ruleset']})")
    out.append(("Risk tier and methodology", [x for x in risk_lines if x]))
    counted = set(d.billing["chronic_conditions"]) if d.billing is not None else None

    def counts(code: str) -> str:
        if counted is None:
            return "no billing decision"
        return "yes" if code.replace(".", "").upper() in counted else "no"

    out.append(("Chronic conditions supporting the level",
                [["ICD-10-CM", "Condition", "Onset", "Status", "Counted by the billing run"]]
                + [[c["icd10"], c["display"], c["onset"], c["clinical_status"], counts(c["icd10"])]
                   for c in d.conditions]
                if d.conditions else [f"No active conditions on record ({NONE_RECORDED})."]))
    out.append(("QMB evidence (G0558)",
                [["From", "To", "Source", "Evidence"]]
                + [[q["start"], q["end"] or "open", q["source"], q["evidence"]] for q in d.qmb]
                if d.qmb else [f"No QMB period covering {d.month}."]))
    out.append(("Time log by staff and activity",
                [["Date", "Staff", "Type", "Program", "Activity", "Min", "Interactive", "Void"]]
                + [[t["date"], t["staff"], t["staff_type"], t["program"], t["activity"], str(t["minutes"]),
                    "yes" if t["interactive"] else "", f"VOIDED: {t['void_reason']}" if t["voided"] else ""]
                   for t in d.time_entries] if d.time_entries else [f"No time entries in {d.month}."]))
    if d.time_totals:
        out.append(("Time totals (voided entries excluded)",
                    [["Staff", "Activity", "Program", "Minutes"]]
                    + [[t["staff"], t["activity"], t["program"], str(t["minutes"])] for t in d.time_totals]))
    out.append(("Contact attempts (outreach)",
                [["When", "Channel", "Outcome", "By", "Note"]]
                + [[o["at"], o["channel"], o["outcome"], o["by"], o["note"]] for o in d.outreach]
                if d.outreach else [f"No outreach attempts in {d.month}."]))
    ep_rows: list[list[str]] = [["Episode", "Deadline", "Due", "Done", "Status"]]
    for ep in d.episodes:
        label = (f"{ep['setting']} {ep['facility']}, admitted {ep['admitted_at'] or '?'}, discharged "
                 f"{ep['discharged_at'] or 'not yet'}")
        for dl in ep["deadlines"]:
            ep_rows.append([label, dl["what"], dl["due"], dl["done"], dl["status"]])
            label = ""
    out.append(("Transition episodes and deadlines",
                ep_rows if len(ep_rows) > 1 else [f"No transition episode touching {d.month}."]))
    access: list[list[str]] = [["When", "Kind", "By", "Summary"]]
    access += [[a["at"], f"after-hours {a['channel']}", a["handled_by"], a["summary"]] for a in d.after_hours]
    access += [[n["told_on"], f"24/7 access notice ({n['method']})", n["recorded_by"], n["note"]]
               for n in d.access_notices]
    access.append([d.month, "secure messages in the month", "", str(d.messages_in_month)])
    out.append(("24/7 access events", access))
    out.append(("Designated care-team member",
                [["Member", "Role", "Since", "Until"]]
                + [[x["member"], x["role"], x["since"], x["until"] or "current"] for x in d.designations]
                if d.designations else [f"No designated care-team member in {d.month} ({NONE_RECORDED})."]))
    out.append(("Performance-measurement pathway (APCM-011)",
                [["Practitioner", "NPI", "Year", "Pathway", "Evidence"]]
                + [[x["practitioner"], x["npi"], str(x["year"]), x["label"], x["evidence"]] for x in d.pathways]
                if d.pathways else [f"No pathway recorded for the billing practitioner for {d.month[:4]}."]))
    out.append(("Practice capabilities in force (APCM-012)",
                [["Capability", "From", "To", "Whole month", "Evidence"]]
                + [[c["label"], c["from"], c["to"] or "open", "yes" if c["whole_month"] else "no", c["evidence"]]
                   for c in d.capabilities] if d.capabilities else [f"No practice capability recorded for {d.month}."]))
    b = d.billing
    if b is None:
        out.append(("Billing rule trace", [f"{NO_DECISION.capitalize()} for {d.month}: the monthly billing run "
                                           "has not decided this patient-month."]))
    else:
        rows2: list[list[str]] = [["Code", "Units", "Status", "Practitioner", "Date", "Rules", "Reason"]]
        for ln in b["lines"]:
            status = "VOID: " + ln["void_reason"] if ln["voided"] else ln["status"]
            rows2.append([ln["code"], str(ln["units"]), status, ln["practitioner"], ln["service_date"],
                          ", ".join(ln["rule_ids"]), ln["reason"]])
        for kind in ("denied", "flags", "warnings"):
            for f in b[kind]:
                rows2.append([str(f.get("code", "")), "", kind, "", "", str(f.get("rule_id", "")),
                              str(f.get("reason", ""))])
        out.append((f"Billing rule trace (ruleset {b['ruleset']}, revision {b['revision']}, {b['computed_at']})",
                    rows2))
        if b["corrections"]:
            out.append(("Claim corrections", [["When", "From revision", "To revision", "Why"]]
                        + [[c["at"], str(c["from_revision"]), str(c["to_revision"]), c["reason"]]
                           for c in b["corrections"]]))
        if b["rule_text"]:
            out.append(("Rule text", [["Rule", "Text"]] + [[k, v] for k, v in sorted(b["rule_text"].items())]))
    return out


def column_widths(rows: list[list[str]], width: float) -> list[float]:
    """Share the page width by each column's longest text (capped, so one long note does not starve the rest)."""
    weights = [min(max(len(str(r[i])) for r in rows), 40) + 4 for i in range(len(rows[0]))]
    total = sum(weights)
    return [width * w / total for w in weights]


def render_pdf(d: PacketData) -> bytes:
    from reportlab.lib import colors  # type: ignore[import-untyped]
    from reportlab.lib.pagesizes import letter  # type: ignore[import-untyped]
    from reportlab.lib.styles import getSampleStyleSheet  # type: ignore[import-untyped]
    from reportlab.lib.units import inch  # type: ignore[import-untyped]
    from reportlab.platypus import (  # type: ignore[import-untyped]
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    styles = getSampleStyleSheet()
    cell = styles["BodyText"].clone("cell", fontSize=7.5, leading=9)
    generated = d.generated_at.astimezone(ZoneInfo(d.organization["time_zone"])).isoformat(timespec="seconds")
    title = f"APCM evidence packet: {d.patient['name']}, {d.month}"
    footer = f"{d.organization['name']} - {title} - generated {generated} by {d.generated_by}"

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(0.6 * inch, 0.45 * inch, footer[:150])
        canvas.drawRightString(letter[0] - 0.6 * inch, 0.45 * inch, f"Page {doc.page}")
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=letter, title=title, author="careloop", subject="APCM evidence packet",
                            leftMargin=0.6 * inch, rightMargin=0.6 * inch, topMargin=0.6 * inch,
                            bottomMargin=0.7 * inch)
    org = d.organization
    story: list[Any] = [
        Paragraph(_esc(title), styles["Title"]),
        Paragraph(_esc(f"Organization: {org['name']} (NPI {org['npi'] or '-'}, TIN {org['tin'] or '-'}, "
                       f"{org['practice_type']})"), styles["Normal"]),
        Paragraph(_esc(f"Service month: {d.month}. Generated {generated} by {d.generated_by}. Times are in "
                       f"{org['time_zone']}."), styles["Normal"]),
        Spacer(1, 8),
    ]
    width = letter[0] - 1.2 * inch
    for heading, body in sections(d):
        story.append(Paragraph(_esc(heading), styles["Heading2"]))
        if body and isinstance(body[0], list):
            rows = [[Paragraph(_esc(c), cell) for c in r] for r in body]
            table = Table(rows, repeatRows=1, hAlign="LEFT", colWidths=column_widths(body, width))
            table.setStyle(TableStyle([
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]))
            story.append(table)
        else:
            for para in body:
                story.append(Paragraph(_esc(para), styles["BodyText"]))
        story.append(Spacer(1, 6))
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buf.getvalue()


# ---------- FHIR R4 Bundle ----------

EXT = "https://careloop.dev/fhir/StructureDefinition"
CODE_SYSTEM = "https://careloop.dev/fhir/CodeSystem"


def _uuid(d: PacketData, *parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "careloop-packet/" + "/".join(
        str(x) for x in (d.organization["name"], d.patient["id"], d.month, *parts))))


def _text(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": f"{CODE_SYSTEM}/evidence-packet", "code": code, "display": display}],
            "text": display}


def _instant(value: str) -> str:
    """A local ISO datetime from the packet ('2026-03-10T09:00-05:00') -> FHIR dateTime with seconds."""
    if "T" not in value:
        return value
    return dt.datetime.fromisoformat(value).isoformat(timespec="seconds")


def fhir_bundle(d: PacketData) -> dict[str, Any]:
    pat = d.patient
    pref = {"reference": f"Patient/{pat['fhir_id']}", "display": pat["name"]}
    first, last = rules.parse_month(d.month)
    period = {"start": first.isoformat(), "end": last.isoformat()}
    entries: list[dict[str, Any]] = []

    def add(resource: dict[str, Any], full_url: str | None = None) -> None:
        rid = resource.setdefault("id", _uuid(d, resource["resourceType"], len(entries)))
        entries.append({"fullUrl": full_url or f"urn:uuid:{_uuid(d, 'entry', rid)}", "resource": resource})

    patient: dict[str, Any] = {"resourceType": "Patient", "id": pat["fhir_id"], "name": [
        {"family": pat["family"], "given": [pat["given"]] if pat["given"] else []}]}
    ids = []
    if pat["mrn"]:
        ids.append({"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                    "value": pat["mrn"]})
    if pat["mbi"]:
        ids.append({"system": "http://hl7.org/fhir/sid/us-mbi", "value": pat["mbi"]})
    if ids:
        patient["identifier"] = ids
    if pat["birth_date"]:
        patient["birthDate"] = pat["birth_date"]
    if pat["sex"] in ("male", "female", "other", "unknown"):
        patient["gender"] = pat["sex"]
    add(patient, f"urn:uuid:{_uuid(d, 'patient')}")
    org = d.organization
    add({"resourceType": "Organization", "id": _uuid(d, "organization"), "name": org["name"],
         **({"identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": org["npi"]}]} if org["npi"] else {})})
    for e in d.enrollments:
        c = e["consent"]
        if c is not None:
            add(consent_resource(
                consent_id=c["id"], patient_fhir_id=pat["fhir_id"], patient_name=pat["name"],
                organization_name=org["name"], program=e["program"], method=c["method"],
                disclosures=c["disclosures"], obtained_at=_instant(c["obtained_at"]), obtained_by=c["obtained_by"],
                start=e["start"], end=e["end"] or None, practitioner_npi=e["npi"], practitioner_name=e["practitioner"]))
    cp = d.care_plan
    if cp is not None:
        add({"resourceType": "CarePlan", "id": f"careloop-careplan-{cp['plan_id']}-v{cp['version']}",
             "status": "active" if cp["status"] == "active" else "completed", "intent": "plan", "subject": pref,
             "title": cp["title"], "created": _instant(cp["created_at"]),
             "description": f"Version {cp['version']} ({cp['reason']}); sections: {', '.join(cp['sections'])}",
             "author": {"display": cp["author"]}})
    r = d.risk
    if r is not None:
        add({"resourceType": "RiskAssessment", "status": "final", "subject": pref, "occurrenceDateTime": r["as_of"],
             "method": {"text": f"careloop risk methodology {r['methodology_version']}"},
             "prediction": [{"outcome": {"text": "Care-management risk tier"},
                             "qualitativeRisk": {"text": r["tier"]}}],
             "note": [{"text": f"{r['points']} points; {r['chronic_count']} chronic conditions. {r['explanation']}"}]})
    for c2 in d.conditions:
        add({"resourceType": "Condition", "subject": pref,
             "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                            "code": c2["clinical_status"] or "active"}]},
             "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": c2["icd10"],
                                  "display": c2["display"]}], "text": c2["display"] or c2["icd10"]},
             **({"onsetDateTime": c2["onset"]} if c2["onset"] else {})})
    for q in d.qmb:
        qp: dict[str, str] = {}
        if q["start"]:
            qp["start"] = q["start"]
        if q["end"]:
            qp["end"] = q["end"]
        add({"resourceType": "Coverage", "status": "active", "beneficiary": pref,
             "type": {"text": "Qualified Medicare Beneficiary (QMB)"},
             "payor": [{"display": "State Medicaid agency (QMB)"}], **({"period": qp} if qp else {}),
             "extension": [{"url": f"{EXT}/qmb-evidence", "valueString": f"{q['source']}: {q['evidence']}"}]})
    for t in d.time_entries:
        obs: dict[str, Any] = {
            "resourceType": "Observation", "status": "entered-in-error" if t["voided"] else "final",
            "code": _text("care-management-time", f"Care-management time: {t['activity']} ({t['program']})"),
            "subject": pref, "effectiveDateTime": t["date"], "performer": [{"display": t["staff"]}],
            "valueQuantity": {"value": t["minutes"], "unit": "min", "system": "http://unitsofmeasure.org",
                              "code": "min"},
            "component": [{"code": _text("staff-type", "Staff type"), "valueString": t["staff_type"]},
                          {"code": _text("interactive", "Real-time interactive"), "valueBoolean": t["interactive"]}],
        }
        if t["voided"]:
            obs["note"] = [{"text": f"Voided: {t['void_reason']}"}]
        add(obs)
    for o in d.outreach:
        com: dict[str, Any] = {"resourceType": "Communication",
                               "status": "completed" if o["outcome"] == "reached" else "not-done",
                               "category": [{"text": "outreach attempt"}], "subject": pref,
                               "sent": _instant(o["at"]), "medium": [{"text": o["channel"]}],
                               "sender": {"display": o["by"] or "care team"}}
        if o["outcome"] != "reached":
            com["statusReason"] = {"text": o["outcome"]}
        if o["note"]:
            com["note"] = [{"text": o["note"]}]
        add(com)
    for ep in d.episodes:
        klass = {"emergency": "EMER", "observation": "OBSENC"}.get(ep["setting"], "IMP")
        enc_id = f"careloop-episode-{ep['id']}"
        ep_period = {k: _instant(v) for k, v in (("start", ep["admitted_at"]), ("end", ep["discharged_at"])) if v}
        enc: dict[str, Any] = {"resourceType": "Encounter", "id": enc_id,
                               "status": "finished" if ep["discharged_at"] else "in-progress",
                               "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": klass},
                               "subject": pref, "serviceProvider": {"display": ep["facility"] or "facility"}}
        if ep_period:
            enc["period"] = ep_period
        if ep["disposition"]:
            enc["hospitalization"] = {"dischargeDisposition": {"text": ep["disposition"]}}
        add(enc)
        for dl in ep["deadlines"]:
            text = f"{dl['status']}; due {dl['due'] or '-'}; done {dl['done'] or '-'}"
            add({"resourceType": "Observation", "status": "final",
                 "code": _text("transition-deadline", dl["what"]), "subject": pref,
                 "focus": [{"reference": f"Encounter/{enc_id}"}], "effectivePeriod": period, "valueString": text})
    for a in d.after_hours:
        add({"resourceType": "Communication", "status": "completed", "category": [{"text": "after-hours contact"}],
             "subject": pref, "sent": _instant(a["at"]), "medium": [{"text": a["channel"]}],
             "recipient": [{"display": a["handled_by"]}], "payload": [{"contentString": a["summary"] or "-"}]})
    if d.designations:
        add({"resourceType": "CareTeam", "status": "active", "name": "Designated care-team member",
             "subject": pref, "participant": [
                 {"role": [{"text": f"designated member ({x['role']})"}], "member": {"display": x["member"]},
                  "period": {k: v for k, v in (("start", x["since"]), ("end", x["until"])) if v}}
                 for x in d.designations]})
    for pw in d.pathways:
        add({"resourceType": "Observation", "status": "final",
             "code": _text("apcm-performance-pathway", "APCM performance-measurement pathway"), "subject": pref,
             "effectivePeriod": period, "performer": [{"display": f"{pw['practitioner']} (NPI {pw['npi']})"}],
             "valueString": f"{pw['pathway']} ({pw['year']}): {pw['evidence']}"})
    for c3 in d.coverage:
        add({"resourceType": "Observation", "status": "final",
             "code": _text(f"apcm-element-{c3['element']}", f"APCM element: {c3['label']}"), "subject": pref,
             "effectivePeriod": period, "valueString": f"{c3['status']}: {c3['reason']}"})
    if d.attestation is not None:
        a = d.attestation
        add({"resourceType": "Observation", "status": "final",
             "code": _text("apcm-monthly-attestation", "APCM monthly attestation"), "subject": pref,
             "effectivePeriod": period, "issued": _instant(a["at"]), "performer": [{"display": a["by"]}],
             "valueString": a["statement"]})
    trace = orjson.dumps(d.billing or {"status": NO_DECISION}, option=orjson.OPT_SORT_KEYS)
    add({"resourceType": "DocumentReference", "status": "current", "type": {"text": "Billing rule trace"},
         "subject": pref, "date": d.generated_at.isoformat(timespec="seconds"),
         "description": NO_DECISION if d.billing is None else
         f"Billing decision for {d.month}: ruleset {d.billing['ruleset']}, revision {d.billing['revision']}",
         "content": [{"attachment": {"contentType": "application/json", "title": f"billing-trace-{d.month}.json",
                                     "data": base64.b64encode(trace).decode()}}],
         "context": {"period": period}})
    return {"resourceType": "Bundle", "id": _uuid(d, "bundle", d.generated_at.isoformat()), "type": "collection",
            "timestamp": d.generated_at.isoformat(timespec="seconds"),
            "meta": {"tag": [{"system": f"{CODE_SYSTEM}/evidence-packet", "code": "apcm-evidence-packet",
                              "display": f"APCM evidence packet {d.month}"}]},
            "entry": entries}


def render_fhir_json(d: PacketData) -> bytes:
    return orjson.dumps(fhir_bundle(d), option=orjson.OPT_INDENT_2)

