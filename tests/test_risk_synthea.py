"""SNOMED-only problem lists (Synthea R4 bundles in ../shared/oracles/synthea) count toward chronic conditions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from careloop.clinics.tests.factories import make_org
from careloop.core.actor import Actor
from careloop.interop.fhir.importer import FhirImporter
from careloop.registry.models import FhirResource, Patient
from careloop.risk import rules
from careloop.risk.models import PatientRisk
from careloop.risk.services import refresh_risk

SYNTHEA = Path(__file__).resolve().parents[1].parent / "shared" / "oracles" / "synthea" / "dev"
pytestmark = [
    pytest.mark.oracle,
    pytest.mark.skipif(not SYNTHEA.is_dir(), reason=f"Synthea bundles not present at {SYNTHEA} (public checkout)"),
]
AS_OF = dt.date(2026, 3, 15)


def _active_snomed(bundle: dict[str, object]) -> tuple[str, list[str]]:
    patient_id, codes = "", []
    for entry in bundle["entry"]:  # type: ignore[union-attr]
        r = entry["resource"]
        if r["resourceType"] == "Patient":
            patient_id = r["id"]
        if r["resourceType"] == "Condition":
            status = r.get("clinicalStatus", {}).get("coding", [{}])[0].get("code", "")
            if status == "active" and "abatementDateTime" not in r:
                codes += [c["code"] for c in r["code"]["coding"] if c.get("system") == "http://snomed.info/sct"]
    return patient_id, codes


@pytest.mark.django_db
def test_synthea_patients_get_chronic_conditions_from_snomed() -> None:
    files = sorted(SYNTHEA.glob("*.json"))[:20]
    org = make_org("synthea")
    summary = FhirImporter(organization_id=org.pk, source_system="synthea", actor=Actor.system(org.pk)).import_paths(
        files
    )
    assert summary.rejections == []
    refresh_risk(organization_id=org.pk, actor=Actor.system(org.pk), as_of=AS_OF)
    pid_of = dict(
        FhirResource.objects.filter(organization=org, resource_type="Patient").values_list("source_id", "patient_id")
    )
    risks = {r.patient_id: r for r in PatientRisk.objects.filter(organization=org)}
    alive = Patient.objects.filter(organization=org, deceased=False, deceased_at__isnull=True).count()
    assert len(risks) == alive
    checked = with_conditions = 0
    for path in files:
        source_id, codes = _active_snomed(json.loads(path.read_text()))
        risk = risks.get(pid_of[source_id])
        if risk is None:
            continue  # deceased: not scored
        expected = rules.counted_conditions(rules.ccw_keys([], codes))
        assert (risk.chronic_conditions, risk.chronic_count) == (expected, len(expected)), path.name
        checked += 1
        with_conditions += bool(expected)
    assert checked == alive
    assert with_conditions > 0
