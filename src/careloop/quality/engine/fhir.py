"""Read-only access to one patient's FHIR R4 resources, as plain dictionaries, for measure logic.

Resources are indexed by type once per bundle, and each resource's primary code (the code a QI-Core retrieve
such as ``[Encounter: "Office Visit"]`` filters on) is computed once as a frozenset of ``(system, code)``, so
value-set membership is one set intersection. No ``fhir.resources`` model is built here: this runs per patient
inside population jobs.
"""

from __future__ import annotations

import datetime as dt
import re
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
    """CQL ``concept ~ code``: some coding has the same system and code (``code in concept_codes(concept)``,
    without building the set)."""
    if isinstance(concept, dict):
        codings = concept.get("coding")
        if codings is None and "code" in concept:
            codings = [concept]
        if not isinstance(codings, list):
            return False
        system, value = code
        for c in codings:
            if isinstance(c, dict) and c.get("code") == value and isinstance(value, str) \
                    and (c.get("system") or "") == system:
                return True
        return False
    if isinstance(concept, list):
        return any(has_code(item, code) for item in concept)
    return False


# Parsed date-times by their text: a patient's resources repeat the same moments (an encounter's period, its
# observations' effective times), and so do measures reading the same element. Points are immutable, so sharing is
# safe; the cache is emptied when it grows large (a population run sees millions of distinct moments).
_POINTS: dict[str, Point | None] = {}
_POINTS_MAX = 16384
_MOMENT_SPANS: dict[str, Span | None] = {}  # the same for a date-time element as an interval (``PatientData.span``)


def parse_point(value: object) -> Point | None:
    """A FHIR date, dateTime or instant as the span of moments it may denote (a day, a month, a second...)."""
    if not isinstance(value, str):
        return None
    try:
        return _POINTS[value]
    except KeyError:
        pass
    point = _parse_point(value)
    if len(_POINTS) >= _POINTS_MAX:
        _POINTS.clear()
    _POINTS[value] = point
    return point


_REST_OF_SECOND = dt.timedelta(microseconds=999000)
_REST_OF_MINUTE = dt.timedelta(seconds=59, microseconds=999000)


def _parse_point(value: str) -> Point | None:
    if not value:
        return None
    m = _DATE.match(value) if len(value) <= 11 else None  # a date is at most "YYYY-MM-DD" (and a final newline)
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
    offset = moment.utcoffset()
    if offset is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.tzinfo is not UTC:  # a fixed offset (what fromisoformat gives): as astimezone(UTC) does it
        moment = (moment - offset).replace(tzinfo=UTC)
    if "." in value[19:23]:  # milliseconds (or finer) given: exact to the millisecond
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        return Point.at(moment)
    if len(value) >= 19 and value[16] == ":":  # seconds given
        return Point(moment, moment + _REST_OF_SECOND)
    return Point(moment, moment + _REST_OF_MINUTE)  # minutes only


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


# Which key answers ``choice(resource, prefix)`` depends only on the resource's keys, in order, and the prefix:
# resources of a kind share a layout, so the answer is kept per (keys, prefix) instead of scanning the keys.
_CHOICES: dict[tuple[tuple[str, ...], str], str | None] = {}
_CHOICES_MAX = 16384


def choice(resource: Mapping[str, Any], prefix: str) -> tuple[str, Any] | None:
    """The populated ``prefix[x]`` element as (type suffix, value), e.g. ("Quantity", {...}) for valueQuantity."""
    layout = (tuple(resource), prefix)
    try:
        key = _CHOICES[layout]
    except KeyError:
        key = None
        n = len(prefix)
        for candidate in resource:
            if candidate.startswith(prefix) and len(candidate) > n and candidate[n].isupper():
                key = candidate
                break
        if len(_CHOICES) >= _CHOICES_MAX:
            _CHOICES.clear()
        _CHOICES[layout] = key
    return None if key is None else (key[len(prefix):], resource[key])


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


# The element holding a resource's primary code (``PatientData._primary_codes``), by type; these types may hold it
# in a referenced or contained resource instead.
_CODE_ELEMENT = {"Encounter": "type", "Immunization": "vaccineCode", "Coverage": "type"}
_INDIRECT_CODES = frozenset(
    {"MedicationRequest", "MedicationDispense", "MedicationAdministration", "MedicationStatement", "DeviceRequest"}
)


class PatientData:
    """One patient's resources, indexed by type and id."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self._by_type: dict[str, list[Resource]] = {}
        self._by_id: dict[str, dict[str, Resource]] = {}  # built per type when first asked for
        # Caches keyed by id(resource); each entry keeps the resource so its id cannot be reused meanwhile.
        self._codes: dict[int, tuple[Resource, frozenset[Code]]] = {}
        self._spans: dict[str, dict[int, tuple[Mapping[str, Any], Span | None]]] = {}
        self._retrieved: dict[tuple[object, ...], list[Resource]] = {}
        self._indexes: dict[str, dict[Code, list[int]]] = {}
        self._profiles: dict[int, tuple[Resource, frozenset[str] | None, dict[str, bool]]] = {}
        self._of_profile: dict[tuple[str, str], list[Resource]] = {}
        self._declaring: dict[str, bool] = {}
        self.memo: dict[tuple[object, ...], dict[str, object]] = {}
        self.retrieves: dict[object, dict[tuple[object, ...], list[Resource]]] = {}
        by_type = self._by_type
        for resource in resources:
            rtype = resource.get("resourceType")
            if isinstance(rtype, str):
                found = by_type.get(rtype)
                if found is None:
                    by_type[rtype] = [resource]
                else:
                    found.append(resource)
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
        if not rid:
            return None
        ids = self._by_id.get(rtype)
        if ids is None:
            ids = self._by_id[rtype] = {
                r["id"]: r for r in self._by_type.get(rtype, ()) if isinstance(r.get("id"), str)
            }
        return ids.get(rid)

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
            index = {}
            element = None if rtype in _INDIRECT_CODES else _CODE_ELEMENT.get(rtype, "code")
            for position, resource in enumerate(self.all(rtype)):
                # What ``codes`` computes, for a resource of this type; a CodeableConcept with a single coding
                # (most codes) is read in place rather than through a set.
                concept = resource.get(element) if element else None
                codings = concept.get("coding") if type(concept) is dict else None
                if type(codings) is list and len(codings) == 1 and type(codings[0]) is dict:
                    value = codings[0].get("code")
                    if not isinstance(value, str):
                        continue
                    codes: Iterable[Code] = ((codings[0].get("system") or "", value),)
                else:
                    codes = concept_codes(concept) if element else self.codes(resource)
                for code in codes:
                    where = index.get(code)
                    if where is None:
                        index[code] = [position]
                    else:
                        where.append(position)
            self._indexes[rtype] = index
        return index

    def matching(self, rtype: str, codes: frozenset[Code]) -> list[Resource]:
        """The resources of a type whose primary code is in ``codes``, in record order (uncached: callers cache)."""
        resources = self.all(rtype)
        index = self._code_index(rtype)
        matched = codes.intersection(index)  # the patient's few codes looked up in the set
        if not matched:
            return []
        if len(matched) == 1:  # positions of one code: ascending, each once
            return [resources[i] for i in index[next(iter(matched))]]
        positions: set[int] = set()
        for present in matched:
            positions.update(index[present])
        return [resources[i] for i in sorted(positions)]

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
            if len(valuesets) == 1 and code is None:  # the common case: one (merged) set
                cached = self.matching(rtype, valuesets[0])
            else:
                positions: set[int] = set()
                for present, where in self._code_index(rtype).items():
                    if present == code or any(present in vs for vs in valuesets):
                        positions.update(where)
                cached = [resources[i] for i in sorted(positions)]
            self._retrieved[key] = cached
        return list(cached)

    def is_profile(self, resource: Resource, profile: str) -> bool:
        """Whether a resource is of a QI-Core / US Core profile (``profiles.is_profile``): the profiles a resource
        declares are read once per resource, and each content rule is applied once per resource."""
        cached = self._profiles.get(id(resource))
        if cached is None or cached[0] is not resource:
            found = _PROFILES.declared(resource)
            cached = self._profiles[id(resource)] = (resource, frozenset(found) if found else None, {})
        _, declared, content = cached
        if declared is not None:
            return profile in declared
        hit = content.get(profile)
        if hit is None:
            hit = content[profile] = bool(_PROFILES.CONTENT[profile](resource))
        return hit

    def declares_profiles(self, rtype: str) -> bool:
        """Whether some resource of the type lists profiles in ``meta.profile`` (cached)."""
        found = self._declaring.get(rtype)
        if found is None:
            found = self._declaring[rtype] = any((r.get("meta") or {}).get("profile") for r in self.all(rtype))
        return found

    def of_profile(self, rtype: str, profile: str) -> list[Resource]:
        """``[Profile]`` without a code filter: the resources of a type that are of the profile (cached)."""
        key = (rtype, profile)
        found = self._of_profile.get(key)
        if found is None:
            is_a = self.is_profile
            resources = self.all(rtype)
            coded = _PROFILES.CODED.get(profile) if rtype == "Observation" else None
            if coded is not None and not self.declares_profiles(rtype):
                # No resource declares a profile, so only those carrying the profile's code can be of it.
                index = self._code_index(rtype)
                positions = sorted({i for code in coded for i in index.get(code, ())})
                resources = [resources[i] for i in positions]
            found = self._of_profile[key] = [r for r in resources if is_a(r, profile)]
        return list(found)

    # --- timing ---------------------------------------------------------------------------------------

    def span(self, resource: Mapping[str, Any], prefix: str) -> Span | None:
        """QICoreCommon ``toInterval`` of a ``prefix[x]`` timing element (dateTime, instant, Period, Age, Range)."""
        cache = self._spans.get(prefix)
        if cache is None:
            cache = self._spans[prefix] = {}
        else:
            cached = cache.get(id(resource))
            if cached is not None and cached[0] is resource:
                return cached[1]
        span = self._span(resource, prefix)
        cache[id(resource)] = (resource, span)
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
            if isinstance(value, str):  # the same moment recurs (an encounter's start, its observations' times)
                try:
                    return _MOMENT_SPANS[value]
                except KeyError:
                    pass
            point = parse_point(value)
            span = Span(point, point) if point is not None else None
            if isinstance(value, str):
                if len(_MOMENT_SPANS) >= _POINTS_MAX:
                    _MOMENT_SPANS.clear()
                _MOMENT_SPANS[value] = span
            return span
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


# ``profiles`` reads codes with this module, so it is imported after it is defined.
from careloop.quality.engine import profiles as _PROFILES  # noqa: E402
