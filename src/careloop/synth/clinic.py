"""The clinic (organization, two locations, four providers) and the hospitals its patients use.

The clinic matches what ``careloop demo`` creates for "Maple Grove Primary Care" (name, NPI, TIN, location
addresses, provider names and NPIs), so imported data lines up with the demo's configuration. Hospitals are
fictional; their NPIs are valid-looking serials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from careloop.synth import codes as c
from careloop.synth.ids import npi_from_serial

CLINIC_ID = "org-maple-grove"
CLINIC_NAME = "Maple Grove Primary Care"
CLINIC_NPI = "1234567893"
CLINIC_TIN = "123456789"
CLINIC_FACILITY = "MGPC"  # HL7 v2 facility code (MSH-4/MSH-6) of the clinic
CLINIC_EHR_APP = "SYNTHEHR"
CLINIC_REF = {"reference": f"Organization/{CLINIC_ID}", "display": CLINIC_NAME}


@dataclass(frozen=True, slots=True)
class Provider:
    id: str
    given: str
    family: str
    gender: str
    npi: str
    location: int
    share: float  # share of the panel attributed to this provider

    @property
    def ref(self) -> dict[str, str]:
        return {"reference": f"Practitioner/{self.id}", "display": f"{self.given} {self.family}, MD"}


PROVIDERS = (
    Provider("prac-patel", "Priya", "Patel", "female", npi_from_serial(1000), 0, 0.30),
    Provider("prac-brennan", "Michael", "Brennan", "male", npi_from_serial(1001), 0, 0.30),
    Provider("prac-rahman", "Aisha", "Rahman", "female", npi_from_serial(1002), 1, 0.24),
    Provider("prac-silva", "Tomas", "Silva", "male", npi_from_serial(1003), 1, 0.16),
)

LOCATIONS = (
    ("loc-main-street", "Maple Grove Main Street", ("100 Main St",), "01101", "(413) 555-0101", "MAIN"),
    ("loc-riverside", "Maple Grove Riverside", ("12 River Rd",), "01103", "(413) 555-0102", "RIVR"),
)
LOCATION_REFS = tuple({"reference": f"Location/{lid}", "display": name} for lid, name, *_ in LOCATIONS)


@dataclass(frozen=True, slots=True)
class Hospital:
    id: str
    name: str
    facility: str  # HL7 facility code
    app: str  # sending application of its ADT feed
    npi: str
    city: str
    postal_code: str
    line: str
    attendings: tuple[tuple[str, str, str], ...]  # (npi, family, given)

    @property
    def ref(self) -> dict[str, str]:
        return {"reference": f"Organization/{self.id}", "display": self.name}


def _attendings(base: int, names: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str, str], ...]:
    return tuple((npi_from_serial(base + i), family, given) for i, (family, given) in enumerate(names))


HOSPITALS = (
    Hospital("org-pvmc", "Pioneer Valley Medical Center", "PVMC", "EPICADT", npi_from_serial(2000), "Springfield",
             "01199", "759 Chestnut St",
             _attendings(2100, (("Okonkwo", "Adaeze"), ("Feldman", "Jacob"), ("Marchetti", "Laura"),
                                ("Nguyen", "Thanh"), ("Bishop", "Carla")))),
    Hospital("org-crh", "Chicopee River Hospital", "CRH", "CERNERADT", npi_from_serial(2001), "Chicopee",
             "01013", "400 Front St",
             _attendings(2200, (("Duarte", "Miguel"), ("Holloway", "Grace"), ("Singh", "Harpreet")))),
    Hospital("org-hfch", "Holyoke Falls Community Hospital", "HFCH", "MEDITECH", npi_from_serial(2002), "Holyoke",
             "01040", "575 Beech St",
             _attendings(2300, (("Callahan", "Sean"), ("Ortega", "Lucia"), ("Weiss", "Daniel")))),
    Hospital("org-wrh", "Westfield Regional Hospital", "WRH", "EPICADT", npi_from_serial(2003), "Westfield",
             "01085", "3 Shaker Rd",
             _attendings(2400, (("Pryor", "Allison"), ("Demir", "Kerem"), ("Lindqvist", "Erik")))),
)
# Which hospital a patient uses mostly, by home town (the rest go to the main referral center).
HOME_HOSPITAL = {"Chicopee": 1, "Ludlow": 1, "Granby": 1, "South Hadley": 2, "Holyoke": 2, "Westfield": 3,
                 "Southwick": 3}


def _meta(last_updated: str) -> dict[str, str]:
    return {"lastUpdated": last_updated}


def _address(lines: tuple[str, ...], city: str, postal: str) -> list[dict[str, Any]]:
    return [{"use": "work", "line": list(lines), "city": city, "state": "MA", "postalCode": postal,
             "country": "US"}]


def static_resources(last_updated: str) -> dict[str, list[dict[str, Any]]]:
    """Organization, Location and Practitioner resources, keyed by resource type."""
    meta = _meta(last_updated)
    orgs: list[dict[str, Any]] = [{
        "resourceType": "Organization", "id": CLINIC_ID, "meta": meta,
        "identifier": [{"system": c.NPI, "value": CLINIC_NPI}, {"system": c.TIN, "value": CLINIC_TIN}],
        "active": True,
        "type": [c.concept(c.ORG_TYPE, "prov", "Healthcare Provider", "Primary care practice")],
        "name": CLINIC_NAME,
        "telecom": [{"system": "phone", "value": "(413) 555-0100", "use": "work"}],
        "address": _address(("100 Main St",), "Springfield", "01101"),
    }]
    for h in HOSPITALS:
        orgs.append({
            "resourceType": "Organization", "id": h.id, "meta": meta,
            "identifier": [{"system": c.NPI, "value": h.npi}], "active": True,
            "type": [c.concept(c.ORG_TYPE, "prov", "Healthcare Provider", "Acute care hospital")],
            "name": h.name,
            "telecom": [{"system": "phone", "value": f"(413) 555-01{50 + HOSPITALS.index(h):02d}", "use": "work"}],
            "address": _address((h.line,), h.city, h.postal_code),
        })
    locations = [{
        "resourceType": "Location", "id": lid, "meta": meta, "status": "active", "name": name, "mode": "instance",
        "identifier": [{"system": "urn:careloop:synth-ehr:location", "value": code}],
        "telecom": [{"system": "phone", "value": tel, "use": "work"}],
        "address": _address(lines, "Springfield", postal)[0],
        "managingOrganization": CLINIC_REF,
    } for lid, name, lines, postal, tel, code in LOCATIONS]
    practitioners = [{
        "resourceType": "Practitioner", "id": p.id, "meta": meta, "active": True,
        "identifier": [{"system": c.NPI, "value": p.npi}],
        "name": [{"use": "official", "family": p.family, "given": [p.given], "suffix": ["MD"]}],
        "telecom": [{"system": "phone", "value": LOCATIONS[p.location][4], "use": "work"}],
        "gender": p.gender,
        "qualification": [{"code": c.concept("http://terminology.hl7.org/CodeSystem/v2-0360", "MD",
                                             "Doctor of Medicine")}],
    } for p in PROVIDERS]
    return {"Organization": orgs, "Location": locations, "Practitioner": practitioners}
