"""Per-worker patient ranges of the registry path: every patient's resources in exactly one block, unchanged."""

from __future__ import annotations

import orjson
import pytest

from careloop.clinics.tests.factories import make_org
from careloop.quality.population import patient_id_ranges, patient_resources
from careloop.registry.models import FhirResource
from careloop.registry.tests.factories import make_patient


@pytest.mark.django_db
@pytest.mark.parametrize("parts", [1, 2, 3, 7, 20])
def test_patient_id_ranges_cover_every_patient_once(parts: int) -> None:
    org, other = make_org(), make_org()
    for n in range(9):
        for owner in (org, other):
            p = make_patient(owner, f"Family{n}", f"Given{n}")
            for k in range(n % 3 + 1):
                body = {"resourceType": "Observation", "id": f"{p.pk}-{k}", "subject": {"reference": f"Patient/{p.pk}"}}
                FhirResource.objects.create(organization=owner, resource_type="Observation", source_system="t",
                                            source_id=f"{p.pk}-{k}", content_hash="x", body=orjson.dumps(body).decode(),
                                            patient=p)
    whole = list(patient_resources(org.pk))
    ranges = patient_id_ranges(org.pk, parts)
    assert len(ranges) == min(parts, 9)
    blocks = [list(patient_resources(org.pk, chunk_size=4, patients=r)) for r in ranges]
    assert [item for block in blocks for item in block] == whole
    assert all(blocks), "no empty block"
    assert len(whole) == 9
