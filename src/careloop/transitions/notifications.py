"""Da Vinci Unsolicited Notifications (admit / transfer / discharge): a FHIR ``Bundle`` of type ``message``
with a ``MessageHeader``, an ``Encounter``, the ``Patient`` and, for a discharge, the discharge medications
(``MedicationRequest`` / ``MedicationStatement``). Plain JSON parsing; the patient is matched by identifier
through registry selectors, the encounter is upserted through registry services, and the episode through
``open_or_update_episode_for_encounter``. Bad input is quarantined and reported as an OperationOutcome."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db import transaction

from careloop.audit.services import record_event
from careloop.core.actor import Actor
from careloop.registry.models import EncounterSourceKey
from careloop.registry.selectors import patient_ids_by_identifiers
from careloop.registry.services import quarantine, save_encounter
from careloop.transitions import services
from careloop.transitions.models import DischargeMedication, TransitionEpisode
from careloop.transitions.rules import Med

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SOURCE_KIND = "fhir-notify"
ENCOUNTER_CLASSES = {"IMP", "EMER", "OBSENC", "AMB", "HH", "VR"}


class BadNotification(Exception):
    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Parsed:
    event: str
    identifiers: list[tuple[str, str]]
    source: str
    visit_number: str
    fields: dict[str, Any]
    meds: list[Med] = field(default_factory=list)


def _dt(value: Any, where: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadNotification(f"{where}: not a dateTime: {value!r}") from exc
    if parsed.tzinfo is None:
        raise BadNotification(f"{where}: a time zone is required")
    return parsed


def _coding(concept: Any) -> tuple[str, str]:
    """(RxNorm code, display) of a CodeableConcept."""
    if not isinstance(concept, dict):
        return "", ""
    codings = [c for c in concept.get("coding") or [] if isinstance(c, dict)]
    rx = next((c for c in codings if c.get("system") == RXNORM), None)
    display = concept.get("text") or next((c.get("display") for c in codings if c.get("display")), "")
    return (str(rx.get("code") or "") if rx else ""), str(display or "")


def _med(resource: dict[str, Any]) -> Med | None:
    code, display = _coding(resource.get("medicationCodeableConcept"))
    if not code and not display:
        return None
    dosages = resource.get("dosageInstruction") or resource.get("dosage") or []
    text = dosages[0].get("text", "") if dosages and isinstance(dosages[0], dict) else ""
    return Med(code, display[:300] or code, str(text)[:300])


def parse(body: bytes) -> Parsed:
    try:
        bundle = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadNotification(f"not JSON: {exc}", 400) from exc
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle" or bundle.get("type") != "message":
        raise BadNotification("expected a Bundle of type message", 400)
    resources = [e.get("resource") for e in bundle.get("entry") or [] if isinstance(e, dict)]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        if isinstance(r, dict) and isinstance(r.get("resourceType"), str):
            by_type.setdefault(r["resourceType"], []).append(r)
    if not resources or resources[0] is None or resources[0].get("resourceType") != "MessageHeader":
        raise BadNotification("the first entry must be the MessageHeader")
    header = resources[0]
    code = str((header.get("eventCoding") or {}).get("code") or "").lower()
    event = next((e for e in ("discharge", "admit", "transfer") if e in code), "")
    if not event:
        raise BadNotification(f"unsupported eventCoding {code!r}: expected admit, transfer or discharge")
    if len(by_type.get("Encounter", [])) != 1 or len(by_type.get("Patient", [])) != 1:
        raise BadNotification("exactly one Encounter and one Patient are required")
    enc, patient = by_type["Encounter"][0], by_type["Patient"][0]
    identifiers = [(str(i.get("system") or ""), str(i["value"])) for i in patient.get("identifier") or []
                   if isinstance(i, dict) and i.get("value")]
    if not identifiers:
        raise BadNotification("Patient.identifier is required to match the patient")
    klass = str((enc.get("class") or {}).get("code") or "").upper()
    if klass not in ENCOUNTER_CLASSES:
        raise BadNotification(f"Encounter.class {klass!r} is not supported")
    period = enc.get("period") or {}
    start, end = _dt(period.get("start"), "Encounter.period.start"), _dt(period.get("end"), "Encounter.period.end")
    status = str(enc.get("status") or "")
    if event == "discharge" and end is None:
        raise BadNotification("a discharge notification needs Encounter.period.end")
    if start and end and end < start:
        raise BadNotification("Encounter.period.end is before its start")
    ident = next((i for i in enc.get("identifier") or [] if isinstance(i, dict) and i.get("value")), None)
    visit_number = str(ident["value"]) if ident else str(enc.get("id") or "")
    if not visit_number:
        raise BadNotification("Encounter.identifier or Encounter.id is required")
    source = header.get("source") or {}
    facility = str((enc.get("serviceProvider") or {}).get("display") or source.get("name") or "")
    disposition = ""
    for c in ((enc.get("hospitalization") or {}).get("dischargeDisposition") or {}).get("coding") or []:
        disposition = str(c.get("code") or "")
        break
    fields: dict[str, Any] = {
        "class_code": klass, "status": status or ("finished" if event == "discharge" else "in-progress"),
        "start": start, "end": end if event == "discharge" or status == "finished" else None,
        "discharge_disposition": disposition[:32], "facility": facility[:200], "visit_number": visit_number[:64],
        "source_kind": SOURCE_KIND,
    }
    meds = [m for t in ("MedicationRequest", "MedicationStatement") for r in by_type.get(t, []) if (m := _med(r))]
    key_source = str(ident.get("system") or "") if ident else str(source.get("endpoint") or facility)
    return Parsed(event, identifiers, key_source[:200] or facility or "unknown", visit_number[:64], fields, meds)


@dataclass
class Result:
    patient_id: int
    encounter_id: int
    episode_id: int | None
    event: str


def receive_notification(*, body: bytes, actor: Actor) -> Result:
    """Apply one notification. Raises ``BadNotification`` (after quarantining the raw body) when it is wrong."""
    assert actor.organization_id is not None
    org = actor.organization_id
    try:
        parsed = parse(body)
        matches = patient_ids_by_identifiers(actor=actor, identifiers=parsed.identifiers)
        patient_ids = set(matches.values())
        if not patient_ids:
            raise BadNotification("no patient of this clinic holds the Patient.identifier values", 422)
        if len(patient_ids) > 1:
            raise BadNotification("the Patient.identifier values belong to different patients", 422)
    except BadNotification as exc:
        quarantine(organization_id=org, channel="fhir-api", source_name="transitions/notifications",
                   location="Bundle", reason=str(exc), raw=body.decode("utf-8", "replace"), resource_type="Bundle")
        raise
    patient_id = patient_ids.pop()
    with transaction.atomic():
        key = EncounterSourceKey.objects.filter(organization_id=org, source_kind=SOURCE_KIND, facility=parsed.source,
                                                visit_number=parsed.visit_number).select_related("encounter").first()
        if key is not None and key.encounter.patient_id != patient_id:
            key = None
        encounter_id = save_encounter(organization_id=org, patient_id=patient_id,
                                      encounter_id=key.encounter_id if key else None, fields=parsed.fields,
                                      source_key=None if key else (parsed.source, parsed.visit_number))
        record_event(actor=actor, organization_id=org, action="transition.notification_received",
                     patient_id=patient_id, object_type="Encounter", object_id=str(encounter_id),
                     detail={"event": parsed.event})
        ep = services.open_or_update_episode_for_encounter(organization_id=org, encounter_id=encounter_id,
                                                           actor=Actor.system(org, "transitions-notify"))
        if ep is not None and parsed.meds:
            _replace_meds(ep, parsed.meds)
    return Result(patient_id, encounter_id, ep.pk if ep else None, parsed.event)


def _replace_meds(ep: TransitionEpisode, meds: list[Med]) -> None:
    DischargeMedication.objects.filter(episode=ep, source="fhir").delete()
    DischargeMedication.objects.bulk_create([
        DischargeMedication(organization_id=ep.organization_id, episode=ep, rxnorm=m.rxnorm, display=m.display,
                            dosage=m.dosage, source="fhir") for m in meds])
