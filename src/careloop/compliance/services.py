"""Compliance write use-cases and the audited evidence-packet read. Every write and every PHI read is audited in
the same transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from careloop.accounts.permissions import require_permission
from careloop.audit.services import record_event
from careloop.clinics.models import Practitioner
from careloop.compliance import packet, rules, selectors
from careloop.compliance.choices import CAPABILITY_KEYS, PerformancePathway
from careloop.compliance.models import ClinicianPathway, MonthlyAttestation, PracticeCapability
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import Conflict, NotFound, ValidationFailed
from careloop.registry.models import Patient


def _org(actor: Actor, permission: str) -> int:
    """The actor's organization once the permission is checked (the CLI's system actor acts for its org)."""
    if actor.role != "system" or actor.organization_id is None:
        require_permission(actor, permission)
    assert actor.organization_id is not None
    return actor.organization_id


def _month(month: str) -> str:
    try:
        rules.parse_month(month)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field_errors={"month": "YYYY-MM"}) from exc
    return month


def record_capability(*, actor: Actor, key: str, effective_from: dt.date, evidence: str,
                      evidence_link: str = "", effective_to: dt.date | None = None) -> PracticeCapability:
    """Record a capability period. An open record of the same key that started earlier is closed the day before;
    a record that would overlap a later one is refused (fix the later one first)."""
    org = _org(actor, "compliance.manage")
    errors: dict[str, str] = {}
    if key not in CAPABILITY_KEYS:
        errors["key"] = f"one of {', '.join(CAPABILITY_KEYS)}"
    if not evidence.strip():
        errors["evidence"] = "describe the evidence (policy, schedule, system, report)"
    if effective_to is not None and effective_to < effective_from:
        errors["effective_to"] = "must be on or after effective_from"
    if errors:
        raise ValidationFailed("invalid capability record", field_errors=errors)
    with transaction.atomic():
        same = PracticeCapability.objects.select_for_update().filter(organization_id=org, key=key)
        later = same.filter(effective_from__gte=effective_from)
        if effective_to is not None:
            later = later.filter(effective_from__lte=effective_to)
        if later.exists():
            raise ValidationFailed("overlaps a record that starts on or after this one",
                                   field_errors={"effective_from": "overlaps a later record"})
        closed = []
        for row in same.filter(Q(effective_to__isnull=True) | Q(effective_to__gte=effective_from),
                               effective_from__lt=effective_from):
            row.effective_to = effective_from - dt.timedelta(days=1)
            row.save(update_fields=["effective_to", "updated_at"])
            closed.append(row.pk)
        row = PracticeCapability.objects.create(
            organization_id=org, key=key, effective_from=effective_from, effective_to=effective_to,
            evidence=evidence.strip(), evidence_link=evidence_link.strip(), recorded_by=actor.username,
            recorded_by_user_id=actor.user_id,
        )
        record_event(actor=actor, action="compliance.capability_recorded", object_type="PracticeCapability",
                     object_id=str(row.pk), detail={"key": key, "from": effective_from.isoformat(),
                                                    "to": effective_to.isoformat() if effective_to else None,
                                                    "closed": closed})
    return row


def end_capability(*, actor: Actor, capability_id: int, effective_to: dt.date) -> PracticeCapability:
    org = _org(actor, "compliance.manage")
    with transaction.atomic():
        row = PracticeCapability.objects.select_for_update().filter(organization_id=org, pk=capability_id).first()
        if row is None:
            raise NotFound("capability record not found")
        if effective_to < row.effective_from:
            raise ValidationFailed("ends before it starts", field_errors={"effective_to": "before effective_from"})
        row.effective_to = effective_to
        row.save(update_fields=["effective_to", "updated_at"])
        record_event(actor=actor, action="compliance.capability_ended", object_type="PracticeCapability",
                     object_id=str(row.pk), detail={"key": row.key, "to": effective_to.isoformat()})
    return row


def record_pathway(*, actor: Actor, practitioner_id: int, performance_year: int, pathway: str, evidence: str = "",
                   evidence_link: str = "") -> ClinicianPathway:
    """Set the billing practitioner's performance-measurement pathway for a year (replaces that year's record)."""
    org = _org(actor, "compliance.manage")
    if pathway not in PerformancePathway.values:
        raise ValidationFailed("unknown pathway", field_errors={"pathway": f"one of {', '.join(PerformancePathway)}"})
    if not 2025 <= performance_year <= 2100:
        raise ValidationFailed("APCM began in 2025", field_errors={"performance_year": "2025 or later"})
    if not Practitioner.objects.filter(organization_id=org, pk=practitioner_id).exists():
        raise NotFound("practitioner not found")
    with transaction.atomic():
        row, created = ClinicianPathway.objects.update_or_create(
            organization_id=org, practitioner_id=practitioner_id, performance_year=performance_year,
            defaults={"pathway": pathway, "evidence": evidence.strip(), "evidence_link": evidence_link.strip(),
                      "recorded_by": actor.username},
        )
        record_event(actor=actor, action="compliance.pathway_recorded", object_type="ClinicianPathway",
                     object_id=str(row.pk), detail={"practitioner_id": practitioner_id, "year": performance_year,
                                                    "pathway": pathway, "created": created})
    return row


def attest_month(*, actor: Actor, patient_id: int, month: str, statement: str) -> MonthlyAttestation:
    """Attest that the APCM elements were available to the patient in ``month`` (counts as the month's APCM
    activity, cms-rules 2.7). The patient must be enrolled in APCM that month; the month must not be in the
    future. One attestation per patient-month (a second one is refused)."""
    org = _org(actor, "compliance.attest")
    _month(month)
    if not statement.strip():
        raise ValidationFailed("say what was available or done", field_errors={"statement": "required"})
    if not Patient.objects.filter(organization_id=org, pk=patient_id).exists():
        raise NotFound("patient not found")
    if month > clock.month_of(clock.today(selectors.organization(org).time_zone)):
        raise ValidationFailed("the month has not started", field_errors={"month": "in the future"})
    if patient_id not in selectors.apcm_enrollments(organization_id=org, month=month):
        raise ValidationFailed("the patient is not enrolled in APCM that month", field_errors={"month": "not enrolled"})
    with transaction.atomic():
        if MonthlyAttestation.objects.select_for_update().filter(organization_id=org, patient_id=patient_id,
                                                                 month=month).exists():
            raise Conflict(f"the patient's {month} is already attested")
        row = MonthlyAttestation.objects.create(organization_id=org, patient_id=patient_id, month=month,
                                                statement=statement.strip(), attested_by=actor.username,
                                                attested_by_user_id=actor.user_id)
        record_event(actor=actor, action="compliance.month_attested", patient_id=patient_id,
                     object_type="MonthlyAttestation", object_id=str(row.pk), detail={"month": month})
    return row


@dataclass(frozen=True)
class Packet:
    patient_id: int
    month: str
    content: bytes
    content_type: str
    filename: str


def evidence_packet(*, actor: Actor, patient_id: int, month: str, fmt: str = "pdf") -> Packet:
    """The patient-month evidence packet as PDF or FHIR Bundle JSON. A PHI read: audited."""
    org = _org(actor, "compliance.packet")
    _month(month)
    if fmt not in ("pdf", "fhir"):
        raise ValidationFailed("format must be pdf or fhir", field_errors={"format": "pdf | fhir"})
    if not Patient.objects.filter(organization_id=org, pk=patient_id).exists():
        raise NotFound("patient not found")
    data = packet.gather(organization_id=org, patient_id=patient_id, month=month, generated_at=clock.now(),
                         generated_by=actor.username)
    if fmt == "pdf":
        content, ctype, ext = packet.render_pdf(data), "application/pdf", "pdf"
    else:
        content, ctype, ext = packet.render_fhir_json(data), "application/fhir+json", "json"
    record_event(actor=actor, action="compliance.packet_generated", patient_id=patient_id, object_type="Patient",
                 object_id=str(patient_id), detail={"month": month, "format": fmt, "bytes": len(content)})
    return Packet(patient_id, month, content, ctype, f"evidence-packet-{patient_id}-{month}.{ext}")

