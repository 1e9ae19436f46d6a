"""Read queries over the registry. Every one takes the acting user and scopes to their organization."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Model, Q, QuerySet
from django.utils.dateparse import parse_datetime

from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import NotFound
from careloop.registry.models import (
    AllergyIntolerance,
    Condition,
    Coverage,
    Encounter,
    EncounterSourceKey,
    FhirResource,
    Immunization,
    Medication,
    Observation,
    Patient,
    PatientEvent,
    PatientIdentifier,
    PatientLink,
    PatientMatchReview,
    Procedure,
    QuarantinedInput,
    RawHl7Message,
)

_DOB = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$|^(\d{1,2})/(\d{1,2})/(\d{4})$")
_MBI = re.compile(r"^[1-9][A-Z][A-Z0-9]\d[A-Z][A-Z0-9]\d[A-Z]{2}\d{2}$")


def _org(actor: Actor) -> int:
    if actor.organization_id is None:
        raise NotFound("no organization")
    return actor.organization_id


def patients_matching(
    *,
    actor: Actor,
    q: str = "",
    sex: str = "",
    age_min: int | None = None,
    age_max: int | None = None,
    coverage_kind: str = "",
    icd10_prefix: str = "",
    today: dt.date | None = None,
) -> QuerySet[Patient]:
    """Search by name ("family", "family, given", "given family"), MRN, MBI or date of birth; filter."""
    qs = Patient.objects.filter(organization_id=_org(actor))
    text = q.strip()
    if text:
        m = _DOB.match(text)
        if m:
            try:
                if m.group(1):
                    dob = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                else:
                    dob = dt.date(int(m.group(6)), int(m.group(4)), int(m.group(5)))
            except ValueError:
                return qs.none()  # not a real date: no patient was born on it
            qs = qs.filter(birth_date=dob)
        elif _MBI.match(text.upper().replace("-", "")):
            qs = qs.filter(mbi=text.upper().replace("-", ""))
        else:
            ident = PatientIdentifier.objects.filter(organization_id=_org(actor), value=text).values("patient_id")
            name = text.lower().replace(",", " ").split()
            name_q = Q(search_name__startswith=" ".join(name))
            if len(name) == 2:
                name_q |= Q(search_name__startswith=f"{name[1]} {name[0]}")
            qs = qs.filter(name_q | Q(mrn=text) | Q(pk__in=ident))
    if sex:
        qs = qs.filter(sex=sex)
    ref = today or clock.today()
    if age_min is not None:
        qs = qs.filter(birth_date__lte=_years_before(ref, age_min))
    if age_max is not None:
        qs = qs.filter(birth_date__gt=_years_before(ref, age_max + 1))
    if coverage_kind:
        qs = qs.filter(
            pk__in=Coverage.objects.filter(organization_id=_org(actor), kind=coverage_kind)
            .filter(Q(end__isnull=True) | Q(end__gte=ref))
            .values("patient_id")
        )
    if icd10_prefix:
        code = icd10_prefix.replace(".", "").upper()
        qs = qs.filter(
            pk__in=Condition.objects.filter(
                organization_id=_org(actor), icd10__startswith=code, clinical_status="active"
            ).values("patient_id")
        )
    return qs.order_by("search_name", "pk")


def _years_before(day: dt.date, years: int) -> dt.date:
    year = day.year - years
    if year < dt.MINYEAR:
        return dt.date.min
    if year > dt.MAXYEAR:
        return dt.date.max
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)


def patient_by_id(*, actor: Actor, patient_id: int) -> Patient:
    patient = Patient.objects.filter(organization_id=_org(actor), pk=patient_id).first()
    if patient is None:
        raise NotFound("patient not found")
    return patient


def patient_by_fhir_id(*, actor: Actor, fhir_id: str) -> Patient:
    patient = Patient.objects.filter(organization_id=_org(actor), fhir_id=fhir_id).first()
    if patient is None:
        raise NotFound("patient not found")
    return patient


def patients_by_identifier(*, actor: Actor, system: str | None, value: str) -> QuerySet[Patient]:
    idents = PatientIdentifier.objects.filter(organization_id=_org(actor), value=value)
    if system:
        idents = idents.filter(system=system)
    return Patient.objects.filter(organization_id=_org(actor), pk__in=idents.values("patient_id"))


@dataclass
class PatientChart:
    patient: Patient
    identifiers: list[PatientIdentifier]
    coverages: list[Coverage]
    conditions: list[Condition]
    medications: list[Medication]
    labs: list[Observation]
    vitals: list[Observation]
    screenings: list[Observation]
    encounters: list[Encounter]
    immunizations: list[Immunization]
    procedures: list[Procedure]
    allergies: list[AllergyIntolerance]


def patient_chart(*, actor: Actor, patient_id: int) -> PatientChart:
    patient = patient_by_id(actor=actor, patient_id=patient_id)
    org = patient.organization_id
    base: dict[str, Any] = {"organization_id": org, "patient_id": patient.pk}
    obs = Observation.objects.filter(**base).order_by("-effective_at")
    return PatientChart(
        patient=patient,
        identifiers=list(PatientIdentifier.objects.filter(**base).order_by("system")),
        coverages=list(Coverage.objects.filter(**base).order_by("-start")),
        conditions=list(Condition.objects.filter(**base).order_by("clinical_status", "-onset")),
        medications=list(Medication.objects.filter(**base).order_by("status", "display")),
        labs=list(obs.filter(category="laboratory")[:40]),
        vitals=list(obs.filter(category="vital-signs")[:40]),
        screenings=list(obs.filter(category__in=["survey", "social-history"])[:40]),
        encounters=list(Encounter.objects.filter(**base).order_by("-start")[:50]),
        immunizations=list(Immunization.objects.filter(**base).order_by("-occurred")),
        procedures=list(Procedure.objects.filter(**base).order_by("-performed_start")[:50]),
        allergies=list(AllergyIntolerance.objects.filter(**base)),
    )


def fhir_resources_for_patient(*, actor: Actor, resource_types: list[str], patient_id: int) -> QuerySet[FhirResource]:
    return FhirResource.objects.filter(
        organization_id=_org(actor), resource_type__in=resource_types, patient_id=patient_id
    ).order_by("pk")


def fhir_resource(*, actor: Actor, resource_type: str, fhir_id: str) -> FhirResource:
    row = FhirResource.objects.filter(organization_id=_org(actor), resource_type=resource_type, fhir_id=fhir_id).first()
    if row is None:
        raise NotFound(f"{resource_type}/{fhir_id} not found")
    return row


def patient_fhir_resource(*, actor: Actor, patient: Patient) -> FhirResource | None:
    return (
        FhirResource.objects.filter(organization_id=_org(actor), resource_type="Patient", patient_id=patient.pk)
        .order_by("-updated_at")
        .first()
    )


def quarantined_inputs(*, actor: Actor) -> QuerySet[QuarantinedInput]:
    return QuarantinedInput.objects.filter(organization_id=_org(actor)).order_by("-received_at")


# ---- HL7 v2 hospital notifications (issue #5) ---------------------------------------------------------
# The ADT path runs per message at thousands of messages per second; these reads are plain SQL (the ORM's
# query compilation costs ~20x the query itself here). Rows come back as small dataclasses.


@dataclass(frozen=True, slots=True)
class PatientBrief:
    pk: int
    family: str
    given: str
    birth_date: dt.date | None
    sex: str


@dataclass(frozen=True, slots=True)
class VisitRow:
    pk: int
    patient_id: int
    status: str
    class_code: str
    start: dt.datetime | None
    end: dt.datetime | None
    location: str
    type_code: str
    visit_number: str
    diagnoses: list[str]


def _fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _aware(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=dt.UTC)
    parsed = parse_datetime(str(value))
    return parsed if parsed is None or parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _date(value: Any) -> dt.date | None:
    return value if value is None or isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def surviving_patient_id(*, actor: Actor, patient_id: int) -> int:
    """Follow merge links (A40) from a merged patient to the patient that survives."""
    seen = {patient_id}
    sql = f"SELECT surviving_id FROM {_table(PatientLink)} WHERE merged_id = %s AND +organization_id = %s"  # noqa: S608 - table names from model metadata, values bound
    while rows := _fetch(sql, [patient_id, _org(actor)]):
        if rows[0][0] in seen:
            break
        patient_id = int(rows[0][0])
        seen.add(patient_id)
    return patient_id


def patient_ids_by_identifiers(*, actor: Actor, identifiers: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(system, value) -> id of the (surviving) patient that holds it, for those that exist."""
    return identified_patients(actor=actor, identifiers=identifiers)[0]


def identified_patients(
    *, actor: Actor, identifiers: list[tuple[str, str]], lock: bool = False
) -> tuple[dict[tuple[str, str], int], dict[int, dict[str, Any]]]:
    """(system, value) -> id of the (surviving) patient that holds it; and those patients' ``PATIENT_FIELDS``
    (when the holder is active: one query for the common case). ``lock``: on PostgreSQL, hold the patients'
    rows until the transaction ends (writers of one patient take turns)."""
    if not identifiers:
        return {}, {}
    # Each disjunct spells out the unique index (organization, system, value): one seek per identifier.
    keys = " OR ".join(["(i.organization_id = %s AND i.system = %s AND i.value = %s)"] * len(identifiers))
    tables = f"{_table(PatientIdentifier)} i JOIN {_table(Patient)} p ON p.id = i.patient_id"
    cols = ", ".join(["i.system", "i.value", "i.patient_id", "p.active", *(f"p.{c}" for c in PATIENT_FIELDS)])
    sql = f"SELECT {cols} FROM {tables} WHERE {keys}"  # noqa: S608
    if lock and connection.vendor == "postgresql":
        sql += " FOR NO KEY UPDATE OF p"  # as ``services.lock_patient``: rows referencing p are not blocked
    ids: dict[tuple[str, str], int] = {}
    fields: dict[int, dict[str, Any]] = {}
    for row in _fetch(sql, [x for system, value in identifiers for x in (_org(actor), system, value)]):
        system, value, pid, active = row[:4]
        if active:
            fields[pid] = {**dict(zip(PATIENT_FIELDS, row[4:], strict=True)), "birth_date": _date(row[6])}
        ids[(system, value)] = pid if active else surviving_patient_id(actor=actor, patient_id=pid)
    return ids, fields


def demographic_candidates(*, actor: Actor, family: str, given: str, birth_date: dt.date | None) -> list[PatientBrief]:
    """Active patients sharing the birth date and the family or given name (or, without a birth date, both
    names): the people a hospital notification might be about when no identifier matched."""
    base = f"SELECT id, family, given, birth_date, sex FROM {_table(Patient)} WHERE organization_id = %s AND active"  # noqa: S608 - table names from model metadata, values bound
    if birth_date is not None:
        rows = _fetch(base + " AND birth_date = %s AND (UPPER(family) = UPPER(%s) OR UPPER(given) = UPPER(%s))"
                      " ORDER BY id LIMIT 20",
                      [_org(actor), connection.ops.adapt_datefield_value(birth_date), family, given])
    elif family and given:
        rows = _fetch(base + " AND UPPER(family) = UPPER(%s) AND UPPER(given) = UPPER(%s) ORDER BY id LIMIT 20",
                      [_org(actor), family, given])
    else:
        return []
    return [PatientBrief(r[0], r[1], r[2], _date(r[3]), r[4]) for r in rows]


def demographic_candidates_many(
    *, actor: Actor, people: list[tuple[str, str, dt.date | None]]
) -> list[list[PatientBrief]]:
    """``demographic_candidates`` for several (family, given, birth date) at once (a batch of messages): the same
    queries, as one statement (UNION ALL), the answers in the order asked."""
    org = _org(actor)
    parts: list[str] = []
    params: list[Any] = []
    cols = f"id, family, given, birth_date, sex FROM {_table(Patient)} WHERE organization_id = %s AND active"  # noqa: S608 - table names from model metadata, values bound
    for n, (family, given, birth_date) in enumerate(people):  # n: the position asked, an int we number
        if birth_date is not None:
            parts.append(f"SELECT {n} AS k, {cols} AND birth_date = %s AND (UPPER(family) = UPPER(%s) OR "
                         "UPPER(given) = UPPER(%s)) ORDER BY id LIMIT 20")
            params += [org, connection.ops.adapt_datefield_value(birth_date), family, given]
        elif family and given:
            parts.append(f"SELECT {n} AS k, {cols} AND UPPER(family) = UPPER(%s) AND UPPER(given) = UPPER(%s) "
                         "ORDER BY id LIMIT 20")
            params += [org, family, given]
    out: list[list[PatientBrief]] = [[] for _ in people]
    if parts:
        sql = " UNION ALL ".join(f"SELECT * FROM ({part}) q{n}" for n, part in enumerate(parts))  # noqa: S608 - built above from model metadata, values bound
        for r in sorted(_fetch(sql, params), key=lambda r: (r[0], r[1])):
            out[r[0]].append(PatientBrief(r[1], r[2], r[3], _date(r[4]), r[5]))
    return out


def patient_identifier_values(*, actor: Actor, patient_id: int) -> dict[str, str]:
    sql = f"SELECT system, value FROM {_table(PatientIdentifier)} WHERE patient_id = %s AND +organization_id = %s"  # noqa: S608 - table names from model metadata, values bound
    rows = _fetch(sql, [patient_id, _org(actor)])
    return {s: v for s, v in rows}


PATIENT_FIELDS = ("family", "given", "birth_date", "sex", "mbi", "address_line", "city", "state", "postal_code",
                  "phone")


def patient_fields(*, actor: Actor, patient_id: int) -> dict[str, Any]:
    """The demographic fields an HL7 message may fill or update (``PATIENT_FIELDS``)."""
    sql = f"SELECT {', '.join(PATIENT_FIELDS)} FROM {_table(Patient)} WHERE id = %s AND +organization_id = %s"  # noqa: S608 - table names from model metadata, values bound
    rows = _fetch(sql, [patient_id, _org(actor)])
    if not rows:
        raise NotFound("patient not found")
    values = dict(zip(PATIENT_FIELDS, rows[0], strict=True))
    values["birth_date"] = _date(values["birth_date"])
    return values


_VISIT = ("SELECT e.id, e.patient_id, e.status, e.class_code, e.start, e.{end}, e.location, e.type_code, "
          "e.visit_number, e.diagnoses ")


def _visit(where: str, params: list[Any]) -> VisitRow | None:
    sql = _VISIT.format(end=connection.ops.quote_name("end")) + f"FROM {_table(Encounter)} e"
    rows = _fetch(f"{sql} WHERE e.organization_id = %s AND e.source_kind = 'hl7v2' AND {where}", params)  # noqa: S608 - table names from model metadata, values bound
    if not rows:
        return None
    r = rows[0]
    diagnoses = json.loads(r[9]) if isinstance(r[9], str) else (r[9] or [])
    return VisitRow(r[0], r[1], r[2], r[3], _aware(r[4]), _aware(r[5]), r[6], r[7], r[8], list(diagnoses))


def hl7_visit(*, actor: Actor, facility: str, visit_number: str) -> VisitRow | None:
    """The stay the sending facility calls ``visit_number`` (``EncounterSourceKey``)."""
    key = (f"SELECT encounter_id FROM {_table(EncounterSourceKey)} WHERE organization_id = %s AND "  # noqa: S608
           "source_kind = 'hl7v2' AND facility = %s AND visit_number = %s")
    return _visit(f"e.id = ({key})", [_org(actor), _org(actor), facility, visit_number])


def hl7_visits(*, actor: Actor, keys: list[tuple[str, str]]) -> dict[tuple[str, str], VisitRow]:
    """``hl7_visit`` for several (facility, visit number) keys at once (a batch of messages): one query; keys
    without a stay are absent."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return {}
    org = _org(actor)
    head = _VISIT.format(end=connection.ops.quote_name("end")) + ", k.facility, k.visit_number FROM "
    if connection.vendor == "postgresql":
        # The keys as a VALUES list, each probed in the unique key index, then the stay by id. (An OR of the keys
        # let a generic plan made while the tables were small scan the stays first, for the whole run.)
        sql = head + (
            f"(VALUES {', '.join(['(%s, %s)'] * len(keys))}) AS v(facility, visit_number) "
            f"JOIN {_table(EncounterSourceKey)} k ON k.organization_id = %s AND k.source_kind = 'hl7v2' "
            "AND k.facility = v.facility AND k.visit_number = v.visit_number "
            f"JOIN {_table(Encounter)} e ON e.id = k.encounter_id "
            "WHERE e.organization_id = %s AND e.source_kind = 'hl7v2'")
        params = [*(x for facility, number in keys for x in (facility, number)), org, org]
    else:
        # CROSS JOIN: SQLite keeps this order (a unique-index seek per key, then the stay by id).
        sql = head + (
            f"{_table(EncounterSourceKey)} k CROSS JOIN {_table(Encounter)} e "
            "WHERE e.id = k.encounter_id AND +e.organization_id = %s AND e.source_kind = 'hl7v2' AND (")
        sql += " OR ".join(["(k.organization_id = %s AND k.source_kind = 'hl7v2' AND k.facility = %s AND "
                            "k.visit_number = %s)"] * len(keys)) + ")"
        params = [org, *(x for facility, number in keys for x in (org, facility, number))]
    found: dict[tuple[str, str], VisitRow] = {}
    for r in _fetch(sql, params):
        diagnoses = json.loads(r[9]) if isinstance(r[9], str) else (r[9] or [])
        found[(r[10], r[11])] = VisitRow(r[0], r[1], r[2], r[3], _aware(r[4]), _aware(r[5]), r[6], r[7], r[8],
                                         list(diagnoses))
    return found


def hl7_visit_by_admit(*, actor: Actor, patient_id: int, facility: str, start: dt.datetime) -> VisitRow | None:
    return _visit("e.patient_id = %s AND e.facility = %s AND e.start = %s ORDER BY e.id LIMIT 1",
                  [_org(actor), patient_id, facility, connection.ops.adapt_datetimefield_value(start)])


def open_hl7_visit(*, actor: Actor, patient_id: int, facility: str) -> VisitRow | None:
    """The patient's most recent stay from ``facility`` that is not finished or cancelled."""
    return _visit("e.patient_id = %s AND e.facility = %s AND e.status NOT IN ('finished', 'cancelled', "
                  "'entered-in-error') ORDER BY e.start DESC, e.id DESC LIMIT 1", [_org(actor), patient_id, facility])


def accepted_hl7_messages(
    *, actor: Actor, keys: list[tuple[str, str, str]]
) -> dict[tuple[str, str, str], tuple[int, str]]:
    """Applied (or held) messages with these (sending application, sending facility, MSH-10) keys -> (id,
    content hash). One index seek per key: grouped by sender."""
    senders: dict[tuple[str, str], list[str]] = {}
    for app, facility, control_id in keys:
        senders.setdefault((app, facility), []).append(control_id)
    found: dict[tuple[str, str, str], tuple[int, str]] = {}
    for (app, facility), control_ids in senders.items():
        marks = ", ".join(["%s"] * len(control_ids))
        sql = (f"SELECT control_id, id, content_hash FROM {_table(RawHl7Message)} WHERE organization_id = %s AND "  # noqa: S608
               f"sending_application = %s AND sending_facility = %s AND control_id IN ({marks}) AND "
               "status IN ('accepted', 'review')")
        for control_id, pk, digest in _fetch(sql, [_org(actor), app, facility, *control_ids]):
            found[(app, facility, control_id)] = (pk, digest)
    return found


def hl7_message_statuses(*, actor: Actor, ids: list[int], lock: bool = False) -> dict[int, str]:
    """Status of stored messages; ``lock`` (PostgreSQL) holds their rows until the transaction ends."""
    if not ids:
        return {}
    marks = ", ".join(["%s"] * len(ids))
    sql = f"SELECT id, status FROM {_table(RawHl7Message)} WHERE id IN ({marks}) AND +organization_id = %s"  # noqa: S608
    return {pk: status for pk, status in _fetch(sql + (" FOR UPDATE" if lock else ""), [*ids, _org(actor)])}


def hl7_messages(*, actor: Actor, status: str = "") -> QuerySet[RawHl7Message]:
    qs = RawHl7Message.objects.filter(organization_id=_org(actor))
    return (qs.filter(status=status) if status else qs).order_by("-received_at", "-pk")


def last_encounter_event(*, actor: Actor, encounter_id: int, event_types: list[str]) -> PatientEvent | None:
    return (
        PatientEvent.objects.filter(organization_id=_org(actor), encounter_id=encounter_id, event_type__in=event_types)
        .order_by("-occurred_at", "-pk")
        .first()
    )


def patient_timeline(*, actor: Actor, patient_id: int) -> QuerySet[PatientEvent]:
    return PatientEvent.objects.filter(organization_id=_org(actor), patient_id=patient_id).order_by(
        "-occurred_at", "-pk"
    )


def patient_match_reviews(*, actor: Actor, status: str = "open") -> QuerySet[PatientMatchReview]:
    return PatientMatchReview.objects.filter(organization_id=_org(actor), status=status).order_by("pk")
