"""Cross-app fixtures: two organizations, each with one patient (and one of each clinical resource)
imported through the FHIR importer. Org B deliberately reuses org A's source ids and MRN, so any query that
forgets the tenant scope shows up."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from careloop.accounts.models import User
from careloop.accounts.tests.factories import bearer, make_token, make_user
from careloop.clinics.models import Organization
from careloop.clinics.tests.factories import make_org
from careloop.interop.fhir.tests import factories as fx
from careloop.registry.models import FhirResource, Patient

SHARED_MRN = "MRN-0001"


@dataclass
class Side:
    org: Organization
    patient: Patient
    family: str
    only_mrn: str
    _users: dict[str, User] = field(default_factory=dict)

    def user(self, role: str) -> User:
        if role not in self._users:
            self._users[role] = make_user(self.org, role, username=f"{role}-{self.org.slug}")
        return self._users[role]

    def headers(self, role: str) -> dict[str, str]:
        return bearer(make_token(self.user(role)))

    def resource(self, rtype: str) -> FhirResource:
        return FhirResource.objects.get(organization=self.org, resource_type=rtype)


@dataclass
class World:
    a: Side
    b: Side


def _side(slug: str, family: str, given: str, only_mrn: str) -> Side:
    org = make_org(slug)
    patient = fx.patient("p1", family=family, given=given, mrn=SHARED_MRN, birth_date="1951-06-15")
    patient["identifier"].append({"system": "urn:oid:9.9.9", "value": only_mrn})
    summary = fx.import_json(org.pk, fx.bundle([patient, *fx.clinical_set("p1", "x")]))
    assert summary.rejections == []
    return Side(org=org, patient=Patient.objects.get(organization=org), family=family, only_mrn=only_mrn)


@pytest.fixture
def world(db: None) -> World:
    return World(a=_side("alpha", "Alder", "Ann", "A-ONLY-1"), b=_side("bravo", "Zebrowski", "Zed", "B-ONLY-2"))
