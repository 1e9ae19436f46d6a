"""Program write use-cases: the designated care-team member, enrollment with consent, disenrollment, QMB
periods (import and manual entry) and device days. Eligibility recompute lives in ``programs.eligibility``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from careloop.accounts import rules as access
from careloop.accounts.models import User
from careloop.audit.services import merge_events, record_event, record_events
from careloop.clinics.models import Organization, Practitioner
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from careloop.programs import qmb as qmb_parse
from careloop.programs import rules
from careloop.programs.choices import ENROLLABLE, DeviceKind
from careloop.programs.models import DesignatedCareMember, DeviceDayCount, Enrollment, ProgramConsent
from careloop.programs.selectors import last_ambulatory_visit, last_care_management_end
from careloop.registry.choices import CoverageSource, QuarantineChannel
from careloop.registry.coverage import QmbPeriodIn, SaveCounts, save_qmb_periods
from careloop.registry.models import Patient
from careloop.registry.services import quarantine

# Roles that can be a patient's designated care-team member (APCM/CCM "continuity of care with a designated
# member of the care team"): the clinical roles.
DESIGNATABLE_ROLES = access.CLINICAL


def _check(actor: Actor, organization_id: int, permission: str) -> None:
    if actor.role != "system" and (
        actor.organization_id != organization_id or not access.has_permission(actor.role, permission)
    ):
        raise PermissionDenied(f"role {actor.role!r} may not {permission}")


def designate_care_member(
    *,
    organization_id: int,
    patient_id: int,
    user_id: int,
    actor: Actor,
    since: dt.date | None = None,
    reason: str = "",
) -> DesignatedCareMember:
    """Make ``user_id`` the patient's designated care-team member from ``since`` (default: today, clinic time).

    The current designation, if any, ends the day before (history is kept). Designating the member who is
    already current is a no-op that returns the current row.
    """
    _check(actor, organization_id, "care_member.designate")
    org = Organization.objects.filter(pk=organization_id).first()
    if org is None:
        raise NotFound("organization not found")
    if not Patient.objects.filter(organization_id=organization_id, pk=patient_id).exists():
        raise NotFound("patient not found")
    user = User.objects.filter(organization_id=organization_id, pk=user_id, is_active=True).first()
    if user is None:
        raise NotFound("user not found")
    if user.role not in DESIGNATABLE_ROLES:
        raise ValidationFailed(
            f"a {user.role} cannot be a designated care-team member", field_errors={"user_id": "not a clinical role"}
        )
    start = since or clock.today(org.time_zone)
    with transaction.atomic():
        current = (
            DesignatedCareMember.objects.select_for_update()
            .filter(organization_id=organization_id, patient_id=patient_id, until__isnull=True)
            .first()
        )
        if current is not None and current.user_id == user_id:
            return current
        if current is not None:
            if start < current.since:
                raise ValidationFailed(
                    "the new designation cannot start before the current one", field_errors={"since": "too early"}
                )
            current.until = rules.close_on(rules.Designation(current.user_id, current.since, None), start)
            current.save(update_fields=["until", "updated_at"])
        row = DesignatedCareMember.objects.create(
            organization_id=organization_id, patient_id=patient_id, user_id=user_id, since=start, reason=reason[:300]
        )
        record_event(
            actor=actor,
            organization_id=organization_id,
            action="care_member.designated",
            patient_id=patient_id,
            object_type="DesignatedCareMember",
            object_id=str(row.pk),
            detail={"user_id": user_id, "since": start.isoformat(), "previous_user_id": current and current.user_id},
        )
    return row


def end_designation(
    *, organization_id: int, patient_id: int, until: dt.date, actor: Actor, reason: str = ""
) -> DesignatedCareMember | None:
    """End the current designation on ``until`` (inclusive). Returns the closed row, or None if there was none."""
    _check(actor, organization_id, "care_member.designate")
    with transaction.atomic():
        current = (
            DesignatedCareMember.objects.select_for_update()
            .filter(organization_id=organization_id, patient_id=patient_id, until__isnull=True)
            .first()
        )
        if current is None:
            return None
        current.until = max(until, current.since)
        if reason:
            current.reason = reason[:300]
        current.save(update_fields=["until", "reason", "updated_at"])
        record_event(
            actor=actor,
            organization_id=organization_id,
            action="care_member.designation_ended",
            patient_id=patient_id,
            object_type="DesignatedCareMember",
            object_id=str(current.pk),
            detail={"until": current.until.isoformat()},
        )
    return current


# ---------- enrollment and consent ----------


@dataclass(frozen=True)
class ConsentIn:
    method: str
    disclosures: tuple[str, ...]
    obtained_by_user_id: int
    obtained_at: dt.datetime
    evidence: str = ""


def enroll_patient(
    *,
    organization_id: int,
    patient_id: int,
    program: str,
    billing_practitioner_id: int,
    consent: ConsentIn,
    actor: Actor,
    start: dt.date | None = None,
) -> Enrollment:
    """Enroll the patient in ``program`` from ``start`` (default today) with the consent record; checks the
    initiating visit (cms-rules 2.5) and links the current designated care-team member."""
    _check(actor, organization_id, "program.enroll")
    org = Organization.objects.get(pk=organization_id)
    if program not in ENROLLABLE:
        raise ValidationFailed(f"patients are not enrolled in {program}", field_errors={"program": "not enrollable"})
    if not Patient.objects.filter(organization_id=organization_id, pk=patient_id).exists():
        raise NotFound("patient not found")
    if not Practitioner.objects.filter(organization_id=organization_id, pk=billing_practitioner_id,
                                       is_billing_practitioner=True).exists():
        raise ValidationFailed("unknown billing practitioner", field_errors={"billing_practitioner_id": "not found"})
    obtained_by = User.objects.filter(organization_id=organization_id, pk=consent.obtained_by_user_id).first()
    if obtained_by is None:
        raise ValidationFailed("unknown user", field_errors={"obtained_by_user_id": "not found"})
    zone = clock.clinic_zone(org.time_zone)
    day = start or clock.today(org.time_zone)
    errors = rules.consent_errors(program, consent.method, consent.disclosures,
                                  consent.obtained_at.astimezone(zone).date(), day)
    if errors:
        raise ValidationFailed("the consent is incomplete", field_errors=errors)
    visit = last_ambulatory_visit(organization_id=organization_id, patient_id=patient_id, on=day, zone=zone)
    cm_end = last_care_management_end(organization_id=organization_id, patient_id=patient_id, before=day)
    basis = rules.initiating_visit(program, day, visit, cm_end)
    with transaction.atomic():
        if Enrollment.objects.select_for_update().filter(
            organization_id=organization_id, patient_id=patient_id, program=program, end__isnull=True
        ).exists():
            raise Conflict(f"the patient is already enrolled in {program}")
        designation = DesignatedCareMember.objects.filter(
            organization_id=organization_id, patient_id=patient_id, until__isnull=True
        ).first()
        row = Enrollment.objects.create(
            organization_id=organization_id, patient_id=patient_id, program=program, start=day,
            billing_practitioner_id=billing_practitioner_id, designation=designation, initiating_visit=basis,
            initiating_visit_on=visit if basis == "visit" else None, enrolled_by=actor.username,
        )
        ProgramConsent.objects.create(
            organization_id=organization_id, enrollment=row, patient_id=patient_id, program=program,
            method=consent.method, disclosures=sorted(set(consent.disclosures)), obtained_by=obtained_by,
            obtained_at=consent.obtained_at, evidence=consent.evidence,
        )
        record_event(actor=actor, organization_id=organization_id, action="program.enrolled", patient_id=patient_id,
                     object_type="Enrollment", object_id=str(row.pk),
                     detail={"program": program, "start": day.isoformat(), "initiating_visit": basis,
                             "consent": consent.method, "disclosures": sorted(set(consent.disclosures))})
    return row


def disenroll_patient(
    *, organization_id: int, enrollment_id: int, actor: Actor, requested_on: dt.date | None = None, reason: str = ""
) -> Enrollment:
    """Stop the enrollment at the end of the calendar month the request is made in (cms-rules 2.4 item 3)."""
    _check(actor, organization_id, "program.enroll")
    org = Organization.objects.get(pk=organization_id)
    day = requested_on or clock.today(org.time_zone)
    with transaction.atomic():
        row = Enrollment.objects.select_for_update().filter(organization_id=organization_id, pk=enrollment_id).first()
        if row is None:
            raise NotFound("enrollment not found")
        if row.end is not None:
            raise Conflict("the enrollment has already ended")
        row.end = rules.disenrollment_end(day, row.start)
        row.end_requested_on = day
        row.end_reason = reason[:300]
        row.save(update_fields=["end", "end_requested_on", "end_reason", "updated_at"])
        record_event(actor=actor, organization_id=organization_id, action="program.disenrolled",
                     patient_id=row.patient_id, object_type="Enrollment", object_id=str(row.pk),
                     detail={"program": row.program, "end": row.end.isoformat(), "requested_on": day.isoformat()})
    return row


# ---------- QMB and device days ----------


@dataclass
class QmbImportResult:
    counts: SaveCounts
    unmatched: int = 0
    rejected: int = 0


def import_qmb(*, organization_id: int, text: str, fmt: str, actor: Actor, source_name: str = "") -> QmbImportResult:
    """QMB periods from a 271 response or a CSV roster. Rejected or unmatched rows go to quarantine."""
    _check(actor, organization_id, "qmb.manage")
    if fmt == "271":
        records, rejected = qmb_parse.parse_271(text)
    elif fmt == "csv":
        records, rejected = qmb_parse.parse_csv(text)
    else:
        raise ValidationFailed("format must be 271 or csv", field_errors={"format": "271 or csv"})
    channel = QuarantineChannel.X12 if fmt == "271" else QuarantineChannel.CSV
    by_mbi: dict[str, int] = {}
    mbis = sorted({r.mbi for r in records})
    for i in range(0, len(mbis), 900):
        by_mbi.update(Patient.objects.filter(organization_id=organization_id, mbi__in=mbis[i : i + 900])
                      .values_list("mbi", "pk"))
    periods: list[QmbPeriodIn] = []
    with transaction.atomic():
        for bad in rejected:
            quarantine(organization_id=organization_id, channel=channel, source_name=source_name,
                       location=bad.location, reason=bad.reason, raw=bad.raw)
        unmatched = 0
        for r in records:
            pid = by_mbi.get(r.mbi)
            if pid is None:
                unmatched += 1
                quarantine(organization_id=organization_id, channel=channel, source_name=source_name,
                           location=r.location, reason=f"no patient with MBI {r.mbi}", raw=r.evidence)
                continue
            periods.append(QmbPeriodIn(pid, r.start, r.end, r.source, f"{source_name} {r.location}: {r.evidence}"))
        counts = save_qmb_periods(organization_id=organization_id, periods=periods, actor=actor)
        record_event(actor=actor, organization_id=organization_id, action="qmb.imported", object_type="QmbImport",
                     object_id=source_name[:100], detail={"format": fmt, "created": counts.created,
                                                          "updated": counts.updated, "unchanged": counts.unchanged,
                                                          "unmatched": unmatched, "rejected": len(rejected)})
    return QmbImportResult(counts, unmatched, len(rejected))


def record_qmb_period(*, organization_id: int, patient_id: int, start: dt.date, end: dt.date | None, evidence: str,
                      actor: Actor, source: str = CoverageSource.MANUAL) -> SaveCounts:
    """A QMB period entered by hand; the evidence (who checked what, where) is required."""
    _check(actor, organization_id, "qmb.manage")
    if not evidence.strip():
        raise ValidationFailed("evidence is required", field_errors={"evidence": "required"})
    if end is not None and end < start:
        raise ValidationFailed("end before start", field_errors={"end": "before start"})
    if source not in (CoverageSource.MANUAL, CoverageSource.STATE_MEDICAID):
        raise ValidationFailed("manual or state-medicaid", field_errors={"source": "manual or state-medicaid"})
    if not Patient.objects.filter(organization_id=organization_id, pk=patient_id).exists():
        raise NotFound("patient not found")
    return save_qmb_periods(organization_id=organization_id, actor=actor,
                            periods=[QmbPeriodIn(patient_id, start, end, source, evidence.strip())])


def record_device_day(*, organization_id: int, patient_id: int, kind: str, day: dt.date, readings: int,
                      actor: Actor) -> DeviceDayCount:
    """Manual entry of a day with remote-monitoring data (until a device feed fills it)."""
    _check(actor, organization_id, "program.enroll")
    if kind not in DeviceKind.values:
        raise ValidationFailed("rpm or rtm", field_errors={"kind": "rpm or rtm"})
    if not Patient.objects.filter(organization_id=organization_id, pk=patient_id).exists():
        raise NotFound("patient not found")
    with transaction.atomic():
        row, _ = DeviceDayCount.objects.update_or_create(
            organization_id=organization_id, patient_id=patient_id, kind=kind, day=day,
            defaults={"readings": max(0, readings), "entered_by": actor.username},
        )
        record_event(actor=actor, organization_id=organization_id, action="device_day.recorded",
                     patient_id=patient_id, object_type="DeviceDayCount", object_id=str(row.pk),
                     detail={"kind": kind, "day": day.isoformat(), "readings": readings})
    return row


def move_patient_programs(*, organization_id: int, merged_id: int, surviving_id: int, actor: Actor) -> dict[str, int]:
    """A patient merge (HL7 A40): the merged patient's designations, enrollments, consents and device days move to
    the surviving patient, in the caller's transaction (or its own), audited on both trails.

    Where the survivor already has a current designation or an open enrollment in the same program, the merged
    patient's one is closed (ended today, reason "merged") and kept as history on the survivor: the survivor's stays
    current. Device days of a (kind, day) the survivor already has add their readings to the survivor's row.
    Eligibility decisions stay with the merged record (the next monthly recompute covers the survivor)."""
    _check(actor, organization_id, "program.enroll")
    today = clock.today()
    moved: dict[str, int] = {}
    scope = {"organization_id": organization_id}
    with transaction.atomic():
        if DesignatedCareMember.objects.filter(**scope, patient_id=surviving_id, until__isnull=True).exists():
            closed = DesignatedCareMember.objects.filter(**scope, patient_id=merged_id, until__isnull=True)
            for designation in closed:
                designation.until = max(today, designation.since)
                designation.reason = ((designation.reason + "; " if designation.reason else "")
                                      + f"closed: merged into patient {surviving_id}")
                designation.save(update_fields=["until", "reason", "updated_at"])
        open_programs = set(Enrollment.objects.filter(**scope, patient_id=surviving_id, end__isnull=True)
                            .values_list("program", flat=True))
        for enrollment in Enrollment.objects.filter(**scope, patient_id=merged_id, end__isnull=True,
                                                    program__in=open_programs):
            enrollment.end, enrollment.end_requested_on = max(today, enrollment.start), today
            enrollment.end_reason = f"merged into patient {surviving_id}, who is enrolled in {enrollment.program}"
            enrollment.save(update_fields=["end", "end_requested_on", "end_reason", "updated_at"])
        for name, model in (("DesignatedCareMember", DesignatedCareMember), ("Enrollment", Enrollment),
                            ("ProgramConsent", ProgramConsent)):
            n = model.objects.filter(**scope, patient_id=merged_id).update(  # type: ignore[attr-defined]
                patient_id=surviving_id, updated_at=clock.now())
            if n:
                moved[name] = n
        survivor_days = {(k, d): pk for pk, k, d in DeviceDayCount.objects.filter(**scope, patient_id=surviving_id)
                         .values_list("pk", "kind", "day")}
        days = 0
        for device_day in DeviceDayCount.objects.filter(**scope, patient_id=merged_id):
            target = survivor_days.get((device_day.kind, device_day.day))
            if target is None:
                DeviceDayCount.objects.filter(pk=device_day.pk).update(patient_id=surviving_id, updated_at=clock.now())
            else:
                kept = DeviceDayCount.objects.get(pk=target)
                kept.readings += device_day.readings
                kept.save(update_fields=["readings", "updated_at"])
                device_day.delete()
            days += 1
        if days:
            moved["DeviceDayCount"] = days
        if moved:
            record_events(actor=actor, organization_id=organization_id, events=merge_events(
                "programs", merged_id=merged_id, surviving_id=surviving_id, moved=moved))
    return moved
