"""Read-only access to one patient's FHIR R4 resources, as plain dictionaries, for measure logic.

Resources are indexed by type once per bundle, and each resource's primary code (the code a QI-Core retrieve
such as ``[Encounter: "Office Visit"]`` filters on) is computed once as a frozenset of ``(system, code)``, so
value-set membership is one set intersection. No ``fhir.resources`` model is built here: this runs per patient
inside population jobs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from careloop.quality.engine.period import MAX, MIN, MS, UTC, Point, Span, add_years, age_in_years

Code = tuple[str, str]
Resource = dict[str, Any]

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_EMPTY: frozenset[Code] = frozenset()


def concept_codes(concept: object) -> frozenset[Code]:
    """The ``(system, code)`` pairs of a CodeableConcept (or a list of them, or a Coding)."""
    if isinstance(concept, dict):
        codings = concept.get("coding")
        if codings is None and "code" in concept:
            codings = [concept]
        if not isinstance(codings, list):
            return _EMPTY
        if len(codings) == 1:  # the common case, kept cheap: this runs for every coded element read
            only = codings[0]
            code = only.get("code") if isinstance(only, dict) else None
            return frozenset(((only.get("system") or "", code),)) if isinstance(code, str) else _EMPTY
        return frozenset(
            (c.get("system") or "", c["code"])
            for c in codings
            if isinstance(c, dict) and isinstance(c.get("code"), str)
        )
    if isinstance(concept, list):
        out: set[Code] = set()
        for item in concept:
            out |= concept_codes(item)
        return frozenset(out)
    return _EMPTY


def has_code(concept: object, code: Code) -> bool:
    """CQL ``concept ~ code``: some coding has the same system and code."""
    return code in concept_codes(concept)


def parse_point(value: object) -> Point | None:
    """A FHIR date, dateTime or instant as the span of moments it may denote (a day, a month, a second...)."""
    if not isinstance(value, str) or not value:
        return None
    m = _DATE.match(value)
    if m:
        year, month, day = int(m.group(1)), m.group(2), m.group(3)
        try:
            if day:
                first = dt.date(year, int(month or 1), int(day))
                last = first
            elif month:
                first = dt.date(year, int(month), 1)
                last = (dt.date(year + (first.month == 12), first.month % 12 + 1, 1)) - dt.timedelta(days=1)
            else:
                first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
        except ValueError:
            return None
        return Point(
            dt.datetime(first.year, first.month, first.day, tzinfo=UTC),
            dt.datetime(last.year, last.month, last.day, 23, 59, 59, 999000, tzinfo=UTC),
        )
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if "." in value[19:23]:  # milliseconds (or finer) given: exact to the millisecond
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        return Point.at(moment)
    if len(value) >= 19 and value[16] == ":":  # seconds given
        return Point(moment, moment + dt.timedelta(microseconds=999000))
    return Point(moment, moment + dt.timedelta(seconds=59, microseconds=999000))  # minutes only


def parse_date(value: object) -> dt.date | None:
    point = parse_point(value)
    return point.date() if point is not None else None


def period_span(period: object) -> Span | None:
    """FHIRHelpers ToInterval(Period): ``[start, end]``; a missing end runs to the end of time, a missing start
    is unknown (somewhere before the end)."""
    if not isinstance(period, dict):
        return None
    start, end = parse_point(period.get("start")), parse_point(period.get("end"))
    if start is None and end is None:
        return None
    if start is None:
        assert end is not None
        return Span(Point(MIN, end.hi), end)
    return Span(start, end if end is not None else Point.at(MAX))


@dataclass(frozen=True, slots=True)
class Quantity:
    value: float
    unit: str


UCUM = "http://unitsofmeasure.org"


def quantity(obj: object) -> Quantity | None:
    """FHIRHelpers ToQuantity: the UCUM code (or unit text), value required; non-UCUM systems are not comparable."""
    if not isinstance(obj, dict) or not isinstance(obj.get("value"), int | float) or isinstance(obj.get("value"), bool):
        return None
    system = obj.get("system")
    if system not in (None, UCUM, "http://hl7.org/fhirpath/CodeSystem/calendar-units"):
        return None
    unit = obj.get("code") or obj.get("unit") or "1"
    return Quantity(float(obj["value"]), str(unit))


def choice(resource: Mapping[str, Any], prefix: str) -> tuple[str, Any] | None:
    """The populated ``prefix[x]`` element as (type suffix, value), e.g. ("Quantity", {...}) for valueQuantity."""
    for key, value in resource.items():
        if key.startswith(prefix) and len(key) > len(prefix) and key[len(prefix)].isupper():
            return key[len(prefix):], value
    return None


def reference_id(reference: object) -> str | None:
    """The logical id at the tail of a Reference (QICoreCommon ``getId``)."""
    if isinstance(reference, dict):
        reference = reference.get("reference")
    if not isinstance(reference, str) or not reference:
        return None
    return reference.rstrip("/").rsplit("/", 1)[-1].removeprefix("urn:uuid:")


def references(refs: object, resource: Mapping[str, Any]) -> bool:
    """QICoreCommon ``references``: some reference's tail is the resource's id."""
    items = refs if isinstance(refs, list) else [refs]
    rid = resource.get("id")
    return rid is not None and any(reference_id(r) == rid for r in items)


ORDER_INTENTS = frozenset({"order", "original-order", "reflex-order", "filler-order", "instance-order"})


class PatientData:
    """One patient's resources, indexed by type and id."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self._by_type: dict[str, list[Resource]] = defaultdict(list)
        self._by_key: dict[str, Resource] = {}
        # Caches keyed by id(resource); each entry keeps the resource so its id cannot be reused meanwhile.
        self._codes: dict[int, tuple[Resource, frozenset[Code]]] = {}
        self._spans: dict[tuple[int, str], tuple[Mapping[str, Any], Span | None]] = {}
        self._retrieved: dict[tuple[object, ...], list[Resource]] = {}
        self._indexes: dict[str, dict[Code, list[int]]] = {}
        self._profiles: dict[tuple[int, str], tuple[Resource, bool]] = {}
        self.memo: dict[tuple[object, ...], dict[str, object]] = {}
        for resource in resources:
            rtype = resource.get("resourceType")
            if not isinstance(rtype, str):
                continue
            self._by_type[rtype].append(resource)
            rid = resource.get("id")
            if isinstance(rid, str):
                self._by_key[f"{rtype}/{rid}"] = resource
        patients = self._by_type.get("Patient") or [{}]
        self.patient: Resource = patients[0]
        self.birth_date: dt.date | None = parse_date(self.patient.get("birthDate"))

    @classmethod
    def from_bundle(cls, bundle: Mapping[str, Any]) -> PatientData:
        resources: list[Resource] = []
        for entry in bundle.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict):
                resources.append(resource)
        return cls(resources)

    def all(self, rtype: str) -> list[Resource]:
        return self._by_type.get(rtype, [])

    def get(self, rtype: str, rid: str | None) -> Resource | None:
        return self._by_key.get(f"{rtype}/{rid}") if rid else None

    def resolve(self, rtype: str, reference: object, container: Mapping[str, Any] | None = None) -> Resource | None:
        """The resource a Reference points to: contained (``#id``), ``Type/id`` or a bare id."""
        if isinstance(reference, dict):
            reference = reference.get("reference")
        if not isinstance(reference, str):
            return None
        if reference.startswith("#") and container is not None:
            for item in container.get("contained") or []:
                if isinstance(item, dict) and item.get("id") == reference[1:]:
                    return item
            return None
        return self.get(rtype, reference_id(reference))

    # --- codes ----------------------------------------------------------------------------------------

    def codes(self, resource: Resource) -> frozenset[Code]:
        """The primary code of a resource, the one a QI-Core retrieve filters on."""
        cached = self._codes.get(id(resource))
        if cached is not None and cached[0] is resource:
            return cached[1]
        found = self._primary_codes(resource)
        self._codes[id(resource)] = (resource, found)
        return found

    def _primary_codes(self, resource: Resource) -> frozenset[Code]:
        rtype = resource.get("resourceType")
        if rtype == "Encounter":
            return concept_codes(resource.get("type"))
        if rtype in ("MedicationRequest", "MedicationDispense", "MedicationAdministration", "MedicationStatement"):
            if "medicationCodeableConcept" in resource:
                return concept_codes(resource["medicationCodeableConcept"])
            medication = self.resolve("Medication", resource.get("medicationReference"), resource)
            return concept_codes(medication.get("code")) if medication else _EMPTY
        if rtype == "DeviceRequest":
            if "codeCodeableConcept" in resource:
                return concept_codes(resource["codeCodeableConcept"])
            device = self.resolve("Device", resource.get("codeReference"), resource)
            return concept_codes(device.get("type")) if device else _EMPTY
        if rtype == "Immunization":
            return concept_codes(resource.get("vaccineCode"))
        if rtype == "Coverage":
            return concept_codes(resource.get("type"))
        return concept_codes(resource.get("code"))

    def _code_index(self, rtype: str) -> dict[Code, list[int]]:
        """For one resource type: each code present, with the positions of the resources that carry it."""
        index = self._indexes.get(rtype)
        if index is None:
            index = defaultdict(list)
            for position, resource in enumerate(self.all(rtype)):
                for code in self.codes(resource):
                    index[code].append(position)
            self._indexes[rtype] = index
        return index

    def retrieve(self, rtype: str, *valuesets: frozenset[Code], code: Code | None = None) -> list[Resource]:
        """``[Type: "Value Set"]`` (any of several value sets) or ``[Type: "code"]``; all of a type without a filter.
        Looks the patient's codes up in the value sets (a patient has few distinct codes, a value set may have
        thousands), and caches the result per patient."""
        resources = self.all(rtype)
        if not valuesets and code is None:
            return list(resources)
        key = (rtype, code, *valuesets)
        cached = self._retrieved.get(key)
        if cached is None:
            positions: set[int] = set()
            if len(valuesets) == 1 and code is None:  # the common case: one (merged) set
                only = valuesets[0]
                for present, where in self._code_index(rtype).items():
                    if present in only:
                        positions.update(where)
            else:
                for present, where in self._code_index(rtype).items():
                    if present == code or any(present in vs for vs in valuesets):
                        positions.update(where)
            cached = [resources[i] for i in sorted(positions)]
            self._retrieved[key] = cached
        return list(cached)

    def is_profile(self, resource: Resource, profile: str) -> bool:
        """Whether a resource is of a QI-Core / US Core profile (see ``profiles``), cached per resource."""
        cached = self._profiles.get((id(resource), profile))
        if cached is not None and cached[0] is resource:
            return cached[1]
        from careloop.quality.engine.profiles import is_profile  # profiles reads codes with this module

        found = is_profile(resource, profile)
        self._profiles[(id(resource), profile)] = (resource, found)
        return found

    # --- timing ---------------------------------------------------------------------------------------

    def span(self, resource: Mapping[str, Any], prefix: str) -> Span | None:
        """QICoreCommon ``toInterval`` of a ``prefix[x]`` timing element (dateTime, instant, Period, Age, Range)."""
        cached = self._spans.get((id(resource), prefix))
        if cached is not None and cached[0] is resource:
            return cached[1]
        span = self._span(resource, prefix)
        self._spans[(id(resource), prefix)] = (resource, span)
        return span

    def _span(self, resource: Mapping[str, Any], prefix: str) -> Span | None:
        if prefix in resource:  # a plain Period or dateTime element (Encounter.period, Task.executionPeriod...)
            value = resource[prefix]
            kind = "Period" if isinstance(value, dict) else "DateTime"
        else:
            found = choice(resource, prefix)
            if found is None:
                return None
            kind, value = found
        if kind in ("DateTime", "Instant", "Date"):
            point = parse_point(value)
            return Span(point, point) if point is not None else None
        if kind == "Period":
            return period_span(value)
        if kind == "Age":
            return self._age_span(value, value)
        if kind == "Range" and isinstance(value, dict):
            return self._age_span(value.get("low"), value.get("high"))
        return None

    def _age_span(self, low: object, high: object) -> Span | None:
        """An age (or range of ages) as the interval from reaching the low age to a year after the high age."""
        lo, hi = quantity(low), quantity(high)
        if self.birth_date is None or lo is None or hi is None or lo.unit not in ("a", "year", "years"):
            return None
        birth = dt.datetime(self.birth_date.year, self.birth_date.month, self.birth_date.day, tzinfo=UTC)
        start = add_years(birth, int(lo.value))
        end = add_years(birth, int(hi.value) + 1) - MS
        return Span.of(start, end)

    def point(self, resource: Mapping[str, Any], element: str) -> Point | None:
        return parse_point(resource.get(element))

    def latest(self, resource: Mapping[str, Any], prefix: str) -> Point | None:
        """QICoreCommon ``latest``: the end of the timing when it has one, else its start."""
        span = self.span(resource, prefix)
        if span is None:
            return None
        return span.end if span.has_end else span.start

    def age_on(self, day: dt.date) -> int | None:
        """CQL ``AgeInYearsAt(day)`` from Patient.birthDate (None when the birth date is unknown)."""
        return age_in_years(self.birth_date, day) if self.birth_date is not None else None
