"""`careloop demo` end to end on a small clinic (without serving): the clinic, logins, worklist, transitions,
compliance capabilities, a billed month whose 837P passes pyx12, and care gaps when value sets are available."""

from __future__ import annotations

from pathlib import Path

import pytest

from careloop.demo import DEMO_SLUG, _valueset_folder, run_demo


@pytest.mark.django_db(transaction=True)
def test_demo_sets_up_every_workflow(capsys: pytest.CaptureFixture[str]) -> None:
    from careloop.billing.models import BillingRun, ClaimLine, PatientMonthDecision
    from careloop.clinics.models import Organization
    from careloop.compliance.models import PracticeCapability
    from careloop.quality.models import CareGap
    from careloop.registry.models import Patient
    from careloop.worklist.models import CareTask

    assert run_demo(patients=120, seed=7, host="127.0.0.1", port=0, serve=False) == 0
    out = capsys.readouterr().out
    org = Organization.objects.get(slug=DEMO_SLUG)
    assert Patient.objects.filter(organization=org).count() == 120
    assert "Logins" in out and "coordinator" in out
    assert CareTask.objects.filter(organization=org).exists()
    assert PracticeCapability.objects.filter(organization=org).count() >= 8
    run = BillingRun.objects.get(organization=org)
    assert PatientMonthDecision.objects.filter(organization=org, month=run.month).exists()
    assert ClaimLine.objects.filter(organization=org, status="billable").exists()
    assert ClaimLine.objects.filter(organization=org).exclude(rule_ids=[]).exists()
    if _valueset_folder() is not None:
        assert CareGap.objects.filter(organization=org).exists(), out
    else:
        assert "care gaps are not shown" in out
    # a second run keeps the clinic (no duplicates) and prints fresh logins
    assert run_demo(patients=120, seed=7, host="127.0.0.1", port=0, serve=False) == 0
    assert Organization.objects.filter(slug=DEMO_SLUG).count() == 1
    assert BillingRun.objects.filter(organization=org).count() == 1
    assert Path(out.splitlines()[0].split("database ", 1)[1]).name  # the database in use is printed first
