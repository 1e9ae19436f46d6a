"""The monthly run with the real rules engine and the CMS ruleset: facts from the database become the right
codes, and the facts stored with a decision replay through the scenario-file parser unchanged."""

from __future__ import annotations

from decimal import Decimal

import pytest

from careloop.billing import services
from careloop.billing.models import ClaimLine, PatientMonthDecision
from careloop.billing.rules import scenario_from_json
from careloop.billing.scenario import scenario_from_facts
from careloop.billing.tests.factories import MONTH, D, enrolled_patient, log_time, make_practice
from careloop.clinics.tests.factories import make_org
from careloop.core.actor import Actor
from careloop.registry.tests.factories import add_coverage


def _billable(patient: object) -> list[tuple[str, int, Decimal, Decimal]]:
    return list(ClaimLine.objects.filter(patient=patient, status="billable").order_by("code").values_list(
        "code", "units", "allowed_amount", "patient_share"))  # type: ignore[misc]


@pytest.mark.django_db
def test_real_engine_bills_ccm_and_apcm_levels() -> None:
    p = make_practice(make_org())
    ccm = enrolled_patient(p, "Ames", program="CCM")
    log_time(p, ccm, 25, D(2026, 3, 5))
    apcm = enrolled_patient(p, "Bates", program="APCM", mbi="2AC3CD4EF56")
    qmb = enrolled_patient(p, "Cole", program="APCM", mbi="3HJ5KM6NP78")
    add_coverage(qmb, "qmb", start=D(2026, 1, 1))
    counts = services.run_billing_month(organization=p.org, month=MONTH, actor=Actor.system(p.org.pk))
    assert counts.patients == 3 and counts.ruleset.startswith("cms-2026@")
    assert _billable(ccm) == [("99490", 1, Decimal("66.13"), Decimal("13.23"))]
    assert _billable(apcm) == [("G0557", 1, Decimal("53.78"), Decimal("10.76"))]
    assert _billable(qmb) == [("G0558", 1, Decimal("117.24"), Decimal("0.00"))]
    again = services.run_billing_month(organization=p.org, month=MONTH, actor=Actor.system(p.org.pk))
    assert (again.decided, again.unchanged, again.corrections) == (0, 3, 0)


@pytest.mark.django_db
def test_stored_facts_parse_the_same_as_a_scenario_file() -> None:
    p = make_practice(make_org())
    ann = enrolled_patient(p, "Ames", program="CCM")
    log_time(p, ann, 25, D(2026, 3, 5))
    add_coverage(ann, "qmb", start=D(2026, 3, 15))
    services.run_billing_month(organization=p.org, month=MONTH, actor=Actor.system(p.org.pk))
    facts = PatientMonthDecision.objects.get(patient=ann).facts
    assert scenario_from_facts(facts) == scenario_from_json(facts)
