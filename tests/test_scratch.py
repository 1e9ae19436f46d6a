import json
import pytest
from careloop.clinics.tests.factories import make_org
from careloop.accounts.tests.factories import make_user, make_token, bearer
from careloop.interop.fhir.tests import factories as fx
from careloop.registry.models import Patient

@pytest.mark.django_db
def test_explore(client):
    org = make_org("a")
    s = fx.import_json(org.pk, fx.bundle([fx.patient("p1", mrn="M1")] + fx.clinical_set("p1", "x")))
    print(s.as_json(), s.rejections)
    p = Patient.objects.get()
    u = make_user(org, "provider")
    h = bearer(make_token(u))
    r = client.get(f"/fhir/Patient/{p.fhir_id}", **h)
    print(r.status_code, r.content[:500])
    r = client.get(f"/fhir/Condition?patient={p.fhir_id}", **h)
    print(r.status_code, json.dumps(r.json(), indent=1)[:1500])
    print(p.fhir_id)
