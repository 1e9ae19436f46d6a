"""Import the 100 real Synthea R4 bundles in ../shared/oracles/synthea/dev and check the inventory facts.

The import runs once per module (about 2 s) inside a transaction that is rolled back when the module ends.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.db import transaction
from django.db.models import Count

from careloop.audit.models import AuditEvent
from careloop.audit.selectors import verify_all_chains
from careloop.clinics.models import Organization
from careloop.clinics.tests.factories import make_org
from careloop.interop.fhir.importer import ImportSummary
from careloop.interop.fhir.tests.factories import importer
from careloop.registry.models import (
    AllergyIntolerance,
    Condition,
    Encounter,
    FhirResource,
    Immunization,
    Medication,
    Observation,
    Patient,
    Procedure,
)

ROOT = Path(__file__).resolve().parents[5]  # tests -> fhir -> interop -> careloop -> src -> repo root
SYNTHEA = ROOT.parent / "shared" / "oracles" / "synthea"
DEV = SYNTHEA / "dev"
INVENTORY = SYNTHEA / "dev-inventory.json"
SOURCE = "synthea"

pytestmark = [pytest.mark.oracle]


@dataclass
class Loaded:
    org: Organization
    summary: ImportSummary
    inventory: dict[str, dict[str, Any]]
    expected: Counter[str]


@pytest.fixture(scope="module")
def synthea(django_db_setup: None, django_db_blocker: Any) -> Iterator[Loaded]:
    if not DEV.is_dir() or not INVENTORY.is_file():
        pytest.skip(f"../shared/oracles/synthea not present: expected the dev bundles at {DEV}")
    inventory: dict[str, dict[str, Any]] = orjson.loads(INVENTORY.read_bytes())
    expected: Counter[str] = Counter()
    for facts in inventory.values():
        expected.update(facts["resource_counts"])
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            org = make_org("synthea")
            summary = importer(org.pk, source=SOURCE).import_paths([DEV])
            yield Loaded(org, summary, inventory, expected)
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _patients_by_source_id(org: Organization) -> dict[str, Patient]:
    rows = FhirResource.objects.filter(organization=org, resource_type="Patient").select_related("patient")
    return {r.source_id: r.patient for r in rows if r.patient is not None}


@pytest.mark.django_db
def test_all_bundles_load_with_the_inventory_counts(synthea: Loaded) -> None:
    assert len(synthea.inventory) == 100
    assert sorted(p.name for p in DEV.glob("*.json")) == sorted(synthea.inventory)
    assert synthea.summary.rejections == []
    got = {rtype: c["created"] + c["updated"] + c["unchanged"] for rtype, c in synthea.summary.as_json().items()}
    assert got == dict(synthea.expected)
    assert all(c["rejected"] == 0 for c in synthea.summary.as_json().values())
    assert {rtype: c["updated"] for rtype, c in synthea.summary.as_json().items()} == {r: 0 for r in got}


@pytest.mark.django_db
def test_typed_tables_hold_every_modeled_resource(synthea: Loaded) -> None:
    org, exp = synthea.org, synthea.expected
    assert Patient.objects.filter(organization=org).count() == exp["Patient"] == 100
    assert Condition.objects.filter(organization=org).count() == exp["Condition"]
    assert Encounter.objects.filter(organization=org).count() == exp["Encounter"]
    assert Observation.objects.filter(organization=org).count() == exp["Observation"]
    assert Immunization.objects.filter(organization=org).count() == exp["Immunization"]
    assert Procedure.objects.filter(organization=org).count() == exp["Procedure"]
    assert Medication.objects.filter(organization=org, kind="request").count() == exp["MedicationRequest"]
    assert AllergyIntolerance.objects.filter(organization=org).count() == exp["AllergyIntolerance"]
    raw = dict(FhirResource.objects.filter(organization=org).values_list("resource_type")
               .annotate(n=Count("id")).values_list("resource_type", "n"))
    shared = {"Organization", "Practitioner"}  # the same ids recur across bundles: stored once
    assert {t: n for t, n in raw.items() if t not in shared} == {t: n for t, n in exp.items() if t not in shared}
    assert set(raw) == set(exp)
    for rtype in shared:
        assert 0 < raw[rtype] <= exp[rtype]


@pytest.mark.django_db
def test_second_import_changes_nothing(synthea: Loaded) -> None:
    audit_rows = AuditEvent.objects.count()
    raw_rows = FhirResource.objects.count()
    again = importer(synthea.org.pk, source=SOURCE).import_paths([DEV])
    assert again.rejections == []
    assert again.as_json() == {rtype: {"created": 0, "updated": 0, "unchanged": n, "rejected": 0}
                               for rtype, n in synthea.expected.items()}
    assert FhirResource.objects.count() == raw_rows
    assert AuditEvent.objects.count() == audit_rows  # nothing touched, nothing audited


@pytest.mark.django_db
def test_patient_demographics_match_the_inventory(synthea: Loaded) -> None:
    patients = _patients_by_source_id(synthea.org)
    assert len(patients) == 100
    for name, facts in synthea.inventory.items():
        p = patients[facts["patient_id"]]
        assert (p.sex, p.birth_date) == (facts["gender"], dt.date.fromisoformat(facts["birthDate"])), name
        if facts["deceasedDateTime"]:
            assert p.deceased is True, name
            assert p.deceased_at == dt.datetime.fromisoformat(facts["deceasedDateTime"]), name
        else:
            assert (p.deceased, p.deceased_at) == (False, None), name
        assert p.family and p.given and p.search_name == f"{p.family} {p.given}".lower(), name


@pytest.mark.django_db
def test_conditions_and_encounters_match_the_inventory(synthea: Loaded) -> None:
    patients = _patients_by_source_id(synthea.org)
    active = Counter(Condition.objects.filter(organization=synthea.org, clinical_status="active")
                     .values_list("patient_id", flat=True))
    snomed: dict[int, set[str]] = {}
    for pid, code in Condition.objects.filter(organization=synthea.org).values_list("patient_id", "snomed"):
        snomed.setdefault(pid, set()).add(code)
    classes: dict[int, Counter[str]] = {}
    for pid, klass in Encounter.objects.filter(organization=synthea.org).values_list("patient_id", "class_code"):
        classes.setdefault(pid, Counter())[klass] += 1
    for name, facts in synthea.inventory.items():
        pk = patients[facts["patient_id"]].pk
        assert active[pk] == facts["active_condition_count"], name
        assert sorted(snomed.get(pk, set())) == sorted(facts["condition_snomed_codes"]), name
        assert dict(classes.get(pk, Counter())) == facts["encounter_class_counts"], name
    assert not Condition.objects.filter(organization=synthea.org).exclude(icd10="").exists()  # SNOMED only


@pytest.mark.django_db
def test_latest_hba1c_matches_the_inventory(synthea: Loaded) -> None:
    patients = _patients_by_source_id(synthea.org)
    with_value = 0
    for name, facts in synthea.inventory.items():
        latest = (Observation.objects.filter(patient=patients[facts["patient_id"]], code="4548-4")
                  .order_by("-effective_at").first())
        expected = facts["latest_hba1c"]
        if expected is None:
            assert latest is None, name
            continue
        with_value += 1
        assert latest is not None, name
        assert (latest.value_num, latest.unit, latest.effective_at, latest.code_system) == (
            expected["value"], expected["unit"], dt.datetime.fromisoformat(expected["effectiveDateTime"]),
            "http://loinc.org"), name
    assert with_value == 29


@pytest.mark.django_db
def test_import_is_audited_per_patient_and_the_chain_verifies(synthea: Loaded) -> None:
    events = AuditEvent.objects.filter(organization_id=synthea.org.pk, action="registry.fhir_imported")
    assert events.values("patient_id").distinct().count() == 100
    assert set(events.values_list("actor_username", flat=True)) == {"tests"}
    checked, problems = verify_all_chains()
    assert problems == []
    assert checked == AuditEvent.objects.count()
