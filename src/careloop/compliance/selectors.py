"""Compliance reads, scoped to the organization: capabilities, pathways, platform signals, and the per-patient
facts APCM element coverage is computed from.

The population readers are set-based: one query per source table for the whole organization and month
(about twenty queries whether the month has 10 or 100,000 APCM patients), then a dict per patient. Where the
owning app has a bulk selector it is used; otherwise the owning app's rows are read here, read-only.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery, Sum

from careloop.access.models import (
    AccessNotice,
    AfterHoursContact,
    AfterHoursProtocol,
    OnCallShift,
    PartnerShare,
    PortalAccount,
    ProxyAccess,
    SecureMessage,
)
from careloop.careplans.choices import SECTIONS
from careloop.careplans.models import CarePlan, CarePlanVersion
from careloop.clinics.models import Organization, Practitioner
from careloop.compliance import rules
from careloop.compliance.models import ClinicianPathway, MonthlyAttestation, PracticeCapability
from careloop.core import clock
from careloop.core.errors import NotFound
from careloop.programs import selectors as programs
from careloop.programs.choices import Program
from careloop.programs.models import Enrollment, ProgramConsent
from careloop.quality.models import CareGap
from careloop.registry.choices import EncounterClass
from careloop.registry.models import Encounter, RawHl7Message
from careloop.risk import selectors as risk
from careloop.risk.models import PatientRisk
from careloop.transitions.models import TransitionEpisode
from careloop.worklist.models import OutreachAttempt, TimeEntry

CARE_MANAGEMENT_ACTIVITIES = ("medication_management", "care_plan")
COORDINATION_ACTIVITIES = ("care_coordination", "caregiver_communication")
LIVE_PLAN_STATUSES = ("active", "completed")


@dataclass(frozen=True)
class MonthWindow:
    month: str
    first: dt.date
    last: dt.date
    start: dt.datetime  # clinic-local midnight of the first day, aware
    end: dt.datetime  # clinic-local midnight after the last day, aware
    zone: ZoneInfo


def organization(organization_id: int) -> Organization:
    org = Organization.objects.filter(pk=organization_id).first()
    if org is None:
        raise NotFound("organization not found")
    return org


def month_window(organization_id: int, month: str) -> MonthWindow:
    first, last = rules.parse_month(month)
    zone = clock.clinic_zone(organization(organization_id).time_zone)
    return MonthWindow(month, first, last, dt.datetime.combine(first, dt.time(0), zone),
                       dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), zone), zone)


# ---------- capabilities and pathways ----------


def capability_records(*, organization_id: int, key: str = "") -> QuerySet[PracticeCapability]:
    qs = PracticeCapability.objects.filter(organization_id=organization_id)
    if key:
        qs = qs.filter(key=key)
    return qs.order_by("key", "-effective_from", "-pk")


def capability(*, organization_id: int, capability_id: int) -> PracticeCapability:
    row = PracticeCapability.objects.filter(organization_id=organization_id, pk=capability_id).first()
    if row is None:
        raise NotFound("capability record not found")
    return row


def _evidence_text(evidence: str, link: str) -> str:
    return f"{evidence} [{link}]" if link else evidence


def capability_periods(*, organization_id: int) -> list[rules.CapabilityPeriod]:
    rows = PracticeCapability.objects.filter(organization_id=organization_id).values_list(
        "key", "effective_from", "effective_to", "evidence", "evidence_link")
    return [rules.CapabilityPeriod(k, f, t, _evidence_text(e, link)) for k, f, t, e, link in rows]


def capabilities_in_force(*, organization_id: int, month: str) -> frozenset[str]:
    first, last = rules.parse_month(month)
    return rules.keys_in_force(capability_periods(organization_id=organization_id), first, last)


def pathways(*, organization_id: int, year: int | None = None) -> QuerySet[ClinicianPathway]:
    qs = ClinicianPathway.objects.filter(organization_id=organization_id).select_related("practitioner")
    if year is not None:
        qs = qs.filter(performance_year=year)
    return qs.order_by("-performance_year", "practitioner__family")


def pathway_by_practitioner(*, organization_id: int, year: int) -> dict[int, str]:
    return dict(ClinicianPathway.objects.filter(organization_id=organization_id, performance_year=year)
                .values_list("practitioner_id", "pathway"))


def billing_practitioners(*, organization_id: int) -> QuerySet[Practitioner]:
    return Practitioner.objects.filter(organization_id=organization_id, is_billing_practitioner=True) \
        .order_by("family", "given")


# ---------- platform signals (suggested evidence) ----------


def platform_signals(*, organization_id: int, month: str) -> rules.PlatformSignals:
    w = month_window(organization_id, month)
    org = organization_id
    gaps = CareGap.objects.filter(organization_id=org, computed_at__lt=w.end).aggregate(n=Count("pk"),
                                                                                        at=Max("computed_at"))
    run = risk.latest_run(org)
    return rules.PlatformSignals(
        on_call_shifts=OnCallShift.objects.filter(organization_id=org, starts_at__lt=w.end,
                                                  ends_at__gt=w.start).count(),
        after_hours_protocol=AfterHoursProtocol.objects.filter(organization_id=org, created_at__lt=w.end).exists(),
        after_hours_contacts=AfterHoursContact.objects.filter(organization_id=org, occurred_at__gte=w.start,
                                                              occurred_at__lt=w.end).count(),
        designated_patients=programs.designations_in_period(organization_id=org, first=w.first, last=w.last)
        .values("patient_id").distinct().count(),
        home_or_virtual_visits=Encounter.objects.filter(
            organization_id=org, class_code__in=[EncounterClass.HH, EncounterClass.VR], start__gte=w.start,
            start__lt=w.end).count(),
        care_plans=CarePlan.objects.filter(organization_id=org, status__in=LIVE_PLAN_STATUSES).count(),
        plan_versions_in_month=CarePlanVersion.objects.filter(plan__organization_id=org, created_at__gte=w.start,
                                                              created_at__lt=w.end).count(),
        partner_shares=PartnerShare.objects.filter(organization_id=org, revoked=False, created_at__lt=w.end,
                                                   expires_at__gte=w.start).count(),
        adt_messages=RawHl7Message.objects.filter(organization_id=org, received_at__gte=w.start,
                                                  received_at__lt=w.end).count(),
        transition_episodes=TransitionEpisode.objects.filter(organization_id=org, discharged_at__gte=w.start,
                                                             discharged_at__lt=w.end).count(),
        secure_messages=SecureMessage.objects.filter(organization_id=org, sent_at__gte=w.start,
                                                     sent_at__lt=w.end).count(),
        portal_accounts=PortalAccount.objects.filter(organization_id=org).count(),
        care_gap_rows=int(gaps["n"] or 0),
        care_gaps_computed_on=gaps["at"].astimezone(w.zone).date() if gaps["at"] else None,
        risk_run_on=run.finished_at.astimezone(w.zone).date() if run is not None and run.finished_at else None,
        risk_methodology=run.methodology_version if run is not None else "",
    )


# ---------- APCM patients and their month facts (bulk) ----------


def _in_month(qs: QuerySet[Any], w: MonthWindow) -> QuerySet[Any]:
    return qs.filter(start__lte=w.last).filter(Q(end__isnull=True) | Q(end__gte=w.first))


def apcm_enrollments(*, organization_id: int, month: str) -> dict[int, dict[str, Any]]:
    """patient id -> the APCM enrollment in force in the month (the latest-starting one when there are two)."""
    w = month_window(organization_id, month)
    rows = _in_month(Enrollment.objects.filter(organization_id=organization_id, program=Program.APCM), w).values(
        "pk", "patient_id", "start", "end", "initiating_visit", "initiating_visit_on", "billing_practitioner_id",
        "billing_practitioner__given", "billing_practitioner__family", "billing_practitioner__npi",
    ).order_by("patient_id", "start", "pk")
    return {r["patient_id"]: r for r in rows}


def _local(value: dt.datetime | None, zone: ZoneInfo) -> dt.date | None:
    return value.astimezone(zone).date() if value is not None else None


def _restrict(ids: set[int] | None, rows: Iterable[tuple[Any, ...]]) -> Iterable[tuple[Any, ...]]:
    return rows if ids is None else (r for r in rows if r[0] in ids)


def plan_sections(document: dict[str, Any]) -> frozenset[str]:
    out = set()
    for s in SECTIONS:
        v = document.get(s)
        if isinstance(v, dict):
            v = v.get("text")
        if v:
            out.add(s)
    return frozenset(out)


def plans_in_force(*, organization_id: int, end: dt.datetime) -> dict[int, tuple[int, int, dict[str, Any]]]:
    """patient id -> (plan id, version number, document) of the latest live plan version created before ``end``."""
    latest = CarePlanVersion.objects.filter(plan=OuterRef("plan"), created_at__lt=end).order_by("-number") \
        .values("number")[:1]
    rows = CarePlanVersion.objects.filter(
        plan__organization_id=organization_id, plan__status__in=LIVE_PLAN_STATUSES, created_at__lt=end,
        number=Subquery(latest),
    ).values_list("plan__patient_id", "plan_id", "number", "document", "created_at").order_by("created_at")
    return {pid: (plan_id, n, doc) for pid, plan_id, n, doc, _ in rows}


def patient_month_facts(*, organization_id: int, month: str,
                        patient_ids: Iterable[int] | None = None) -> dict[int, rules.PatientMonthFacts]:
    """APCM patients of the month (restricted to ``patient_ids`` when given) -> the facts element coverage needs."""
    org = organization_id
    w = month_window(org, month)
    enrollments = apcm_enrollments(organization_id=org, month=month)
    wanted = set(enrollments) if patient_ids is None else set(patient_ids) & set(enrollments)
    if not wanted:
        return {}
    ids: set[int] | None = wanted
    consents = _apcm_consents(org, w)
    designated: dict[int, str] = {}
    for pid, first, last, user in _restrict(ids, programs.designations_in_period(
            organization_id=org, first=w.first, last=w.last).order_by("since", "pk")
            .values_list("patient_id", "user__first_name", "user__last_name", "user__username")):
        designated[pid] = f"{first} {last}".strip() or user
    notices = dict(_restrict(ids, AccessNotice.objects.filter(organization_id=org, told_on__lte=w.last)
                             .values("patient_id").annotate(m=Max("told_on")).values_list("patient_id", "m")))
    medrecs = dict(_restrict(ids, TransitionEpisode.objects.filter(
        organization_id=org, medrec_at__lt=w.end, medrec_at__gte=w.end - dt.timedelta(days=366))
        .values("patient_id").annotate(m=Max("medrec_at")).values_list("patient_id", "m")))
    cm_minutes: dict[int, int] = defaultdict(int)
    coordination: dict[int, int] = defaultdict(int)
    for pid, activity, minutes, n in _restrict(ids, TimeEntry.objects.filter(
            organization_id=org, service_date__gte=w.first, service_date__lte=w.last, voided=False)
            .values("patient_id", "activity").annotate(m=Sum("minutes"), n=Count("pk"))
            .values_list("patient_id", "activity", "m", "n").order_by()):
        if activity in CARE_MANAGEMENT_ACTIVITIES:
            cm_minutes[pid] += int(minutes)
        if activity in COORDINATION_ACTIVITIES:
            coordination[pid] += int(n)
    for pid, n in _restrict(ids, OutreachAttempt.objects.filter(organization_id=org, at__gte=w.start, at__lt=w.end)
                            .values("patient_id").annotate(n=Count("pk")).values_list("patient_id", "n").order_by()):
        coordination[pid] += int(n)
    plans = plans_in_force(organization_id=org, end=w.end)
    portal = set(PortalAccount.objects.filter(organization_id=org).values_list("patient_id", flat=True))
    portal |= set(ProxyAccess.objects.filter(organization_id=org, revoked=False, consent_date__lte=w.last)
                  .values_list("patient_id", flat=True))
    shared_out = set(PartnerShare.objects.filter(organization_id=org, revoked=False, created_at__lt=w.end,
                                                 expires_at__gte=w.start).values_list("patient_id", flat=True))
    discharges: dict[int, list[rules.Discharge]] = defaultdict(list)
    for pid, out_at, due, contact_at, facility in _restrict(ids, TransitionEpisode.objects.filter(
            organization_id=org, discharged_at__gte=w.start, discharged_at__lt=w.end)
            .exclude(status="cancelled").values_list("patient_id", "discharged_at", "followup_due", "contact_at",
                                                     "facility")):
        day = out_at.astimezone(w.zone).date()
        discharges[pid].append(rules.Discharge(
            day, _local(due, w.zone) or day + dt.timedelta(days=rules.FOLLOWUP_DAYS), _local(contact_at, w.zone),
            facility))
    messages = dict(_restrict(ids, SecureMessage.objects.filter(organization_id=org, sent_at__gte=w.start,
                                                                sent_at__lt=w.end)
                              .values("patient_id").annotate(n=Count("pk")).values_list("patient_id", "n").order_by()))
    tiers = dict(_restrict(ids, PatientRisk.objects.filter(organization_id=org).values_list("patient_id", "tier")))
    paths = pathway_by_practitioner(organization_id=org, year=w.first.year)
    out: dict[int, rules.PatientMonthFacts] = {}
    for pid in sorted(wanted):
        e = enrollments[pid]
        consent_on, disclosures = consents.get(e["pk"], (None, ()))
        plan = plans.get(pid)
        medrec = medrecs.get(pid)
        out[pid] = rules.PatientMonthFacts(
            patient_id=pid, consent_on=consent_on, consent_disclosures=disclosures,
            initiating_visit=e["initiating_visit"], initiating_visit_on=e["initiating_visit_on"],
            designated_member=designated.get(pid, ""), access_notice_on=notices.get(pid),
            medrec_on=_local(medrec, w.zone), care_management_minutes=cm_minutes.get(pid, 0),
            plan_version=plan[1] if plan else None, plan_sections=plan_sections(plan[2]) if plan else frozenset(),
            plan_shared_with_patient=plan is not None and pid in portal,
            plan_shared_outside=plan is not None and pid in shared_out,
            discharges=tuple(discharges.get(pid, ())), coordination_events=coordination.get(pid, 0),
            portal_access=pid in portal, messages_in_month=int(messages.get(pid, 0)), risk_tier=tiers.get(pid, ""),
            billing_practitioner=f"{e['billing_practitioner__given']} {e['billing_practitioner__family']}".strip(),
            pathway=paths.get(e["billing_practitioner_id"], ""),
        )
    return out


def _apcm_consents(org: int, w: MonthWindow) -> dict[int, tuple[dt.date | None, tuple[str, ...]]]:
    rows = ProgramConsent.objects.filter(organization_id=org, program=Program.APCM, enrollment__start__lte=w.last) \
        .filter(Q(enrollment__end__isnull=True) | Q(enrollment__end__gte=w.first)) \
        .values_list("enrollment_id", "obtained_at", "disclosures")
    return {e: (_local(at, w.zone), tuple(d or ())) for e, at, d in rows}


def activity_counts(*, organization_id: int, month: str,
                    patient_ids: Iterable[int] | None = None) -> dict[int, rules.ActivityCounts]:
    """patient id -> documented APCM activity in the month (patients with none are absent). Set-based."""
    org = organization_id
    w = month_window(org, month)
    ids = None if patient_ids is None else set(patient_ids)
    per: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(field: str, rows: Iterable[tuple[Any, ...]]) -> None:
        for pid, n in _restrict(ids, rows):
            per[pid][field] += int(n)

    def counted(qs: QuerySet[Any]) -> QuerySet[Any]:
        rows: QuerySet[Any] = qs.values("patient_id").annotate(n=Count("pk")).values_list("patient_id", "n")
        return rows.order_by()

    add("time_entries", counted(TimeEntry.objects.filter(organization_id=org, program=Program.APCM, voided=False,
                                                         service_date__gte=w.first, service_date__lte=w.last)))
    add("outreach", counted(OutreachAttempt.objects.filter(organization_id=org, at__gte=w.start, at__lt=w.end)))
    add("team_messages", counted(SecureMessage.objects.filter(organization_id=org, sender_kind="team",
                                                              sent_at__gte=w.start, sent_at__lt=w.end)))
    add("after_hours_contacts", counted(AfterHoursContact.objects.filter(organization_id=org, occurred_at__gte=w.start,
                                                                         occurred_at__lt=w.end)))
    add("transition_contacts", counted(TransitionEpisode.objects.filter(organization_id=org, contact_at__gte=w.start,
                                                                        contact_at__lt=w.end)))
    add("medrecs", counted(TransitionEpisode.objects.filter(organization_id=org, medrec_at__gte=w.start,
                                                            medrec_at__lt=w.end)))
    add("plan_versions", CarePlanVersion.objects.filter(plan__organization_id=org, created_at__gte=w.start,
                                                        created_at__lt=w.end)
        .values("plan__patient_id").annotate(n=Count("pk")).values_list("plan__patient_id", "n").order_by())
    add("attestations", counted(MonthlyAttestation.objects.filter(organization_id=org, month=month)))
    return {pid: rules.ActivityCounts(**c) for pid, c in per.items()}


def attestation(*, organization_id: int, patient_id: int, month: str) -> MonthlyAttestation | None:
    return MonthlyAttestation.objects.filter(organization_id=organization_id, patient_id=patient_id,
                                             month=month).first()


def coverage(*, organization_id: int, month: str, as_of: dt.date,
             patient_ids: Iterable[int] | None = None) -> dict[int, tuple[rules.ElementResult, ...]]:
    """patient id -> element results for the APCM patients of the month."""
    caps = capabilities_in_force(organization_id=organization_id, month=month)
    facts = patient_month_facts(organization_id=organization_id, month=month, patient_ids=patient_ids)
    return {pid: rules.element_coverage(f, capabilities=caps, month=month, as_of=as_of) for pid, f in facts.items()}


def coverage_summary(*, organization_id: int, month: str, as_of: dt.date,
                     gap_limit: int = 500) -> rules.CoverageSummary:
    caps = capabilities_in_force(organization_id=organization_id, month=month)
    facts = patient_month_facts(organization_id=organization_id, month=month)
    pairs = ((pid, rules.element_coverage(f, capabilities=caps, month=month, as_of=as_of)) for pid, f in facts.items())
    return rules.summarize(month, pairs, gap_limit=gap_limit)
