"""The monthly run: priced lines, idempotent re-runs, corrections for late entries, QMB cost share, org scoping,
permissions and audit. Uses a stand-in engine (factories.stand_in_evaluate) so the ledger is tested on its own."""

from __future__ import annotations

from decimal import Decimal

import pytest

from careloop.accounts.tests.factories import actor, make_user
from careloop.audit.models import AuditEvent
from careloop.billing import selectors, services
from careloop.billing.models import BillingRun, ClaimCorrection, ClaimLine, PatientMonthDecision
from careloop.billing.tests.factories import (
    MONTH,
    D,
    StandInRuleset,
    enrolled_patient,
    log_time,
    make_practice,
    stand_in_evaluate,
)
from careloop.clinics.tests.factories import make_org
from careloop.core.actor import Actor
from careloop.core.errors import PermissionDenied
from careloop.registry.tests.factories import add_coverage

RS = StandInRuleset()


def run(org: object, who: Actor | None = None) -> services.RunCounts:
    return services.run_billing_month(organization=org, month=MONTH, actor=who or Actor.system(org.pk),  # type: ignore[attr-defined,arg-type]
                                      evaluate=stand_in_evaluate, ruleset=RS)


def active(org: object) -> list[tuple[str, int, str, str, str]]:
    return list(ClaimLine.objects.filter(organization=org).exclude(status="void").order_by("code").values_list(
        "code", "units", "status", "allowed_amount", "patient_share"))  # type: ignore[arg-type]


@pytest.mark.django_db
def test_run_prices_lines_and_explains_them() -> None:
    p = make_practice(make_org())
    ann = enrolled_patient(p, "Ames")
    log_time(p, ann, 25, D(2026, 3, 5))
    log_time(p, ann, 20, D(2026, 3, 20))
    log_time(p, ann, 30, D(2026, 2, 27))  # February: not this month
    counts = run(p.org)
    assert (counts.patients, counts.decided, counts.unchanged, counts.corrections) == (1, 1, 0, 0)
    assert counts.lines_by_code == {"99439": 1, "99490": 1}
    assert active(p.org) == [("99439", 1, "billable", Decimal("50.44"), Decimal("10.09")),
                             ("99490", 1, "billable", Decimal("66.13"), Decimal("13.23"))]
    assert counts.total_allowed == "116.57"
    line = ClaimLine.objects.get(code="99490")
    assert line.service_date == D(2026, 3, 31)  # monthly code: last day of the month (cms-rules 2.12 default)
    assert line.diagnoses == ["E119", "I509"] and line.practitioner_id == p.practitioner.pk
    assert line.rule_ids == ["T-MIN"]
    d = PatientMonthDecision.objects.get(patient=ann)
    assert [t["minutes"] for t in d.facts["time_entries"]] == [25, 20]
    assert d.facts["enrollments"][0]["consent_date"] == "2025-12-20"
    assert d.decision["trace"] == ["T-CONSENT", "T-MIN", "T-ADD"]
    assert AuditEvent.objects.filter(action="billing.facts_read", patient_id=ann.pk).count() == 1
    assert AuditEvent.objects.filter(action="billing.month_run").count() == 1


@pytest.mark.django_db
def test_rerun_with_the_same_facts_changes_nothing() -> None:
    p = make_practice(make_org())
    ann = enrolled_patient(p, "Ames")
    log_time(p, ann, 45, D(2026, 3, 5))
    run(p.org)
    before = (list(ClaimLine.objects.values_list("pk", "status", "updated_at")),
              list(PatientMonthDecision.objects.values_list("pk", "revision", "updated_at")))
    again = run(p.org)
    assert (again.decided, again.unchanged, again.corrections) == (0, 1, 0)
    assert (list(ClaimLine.objects.values_list("pk", "status", "updated_at")),
            list(PatientMonthDecision.objects.values_list("pk", "revision", "updated_at"))) == before
    assert BillingRun.objects.count() == 2 and ClaimCorrection.objects.count() == 0


@pytest.mark.django_db
def test_late_time_entry_makes_a_correction_not_a_duplicate() -> None:
    p = make_practice(make_org())
    ann = enrolled_patient(p, "Ames")
    log_time(p, ann, 15, D(2026, 3, 5))
    run(p.org)
    assert active(p.org) == [("99490", 0, "denied", Decimal("0.00"), Decimal("0.00"))]
    log_time(p, ann, 10, D(2026, 3, 28))  # entered after the run
    counts = run(p.org)
    assert counts.corrections == 1
    assert active(p.org) == [("99490", 1, "billable", Decimal("66.13"), Decimal("13.23"))]
    void = ClaimLine.objects.get(status="void")
    assert (void.code, void.revision, void.void_reason) == ("99490", 1, "superseded by revision 2")
    corr = ClaimCorrection.objects.get()
    assert (corr.from_revision, corr.to_revision) == (1, 2)
    assert "time_entries" in corr.reason and "99490x0 denied -> 99490x1" in corr.reason
    assert corr.voided == [{"id": void.pk, "code": "99490", "units": 0, "status": "denied"}]
    assert PatientMonthDecision.objects.get(patient=ann).revision == 2
    # and running once more is idempotent again
    assert run(p.org).corrections == 0 and ClaimLine.objects.count() == 2


@pytest.mark.django_db
def test_changed_facts_with_the_same_answer_keep_the_lines() -> None:
    p = make_practice(make_org())
    ann = enrolled_patient(p, "Ames")
    log_time(p, ann, 25, D(2026, 3, 5))
    run(p.org)
    ids = list(ClaimLine.objects.values_list("pk", flat=True))
    log_time(p, ann, 5, D(2026, 3, 6))  # 30 minutes: still 99490 x1
    counts = run(p.org)
    assert (counts.decided, counts.corrections) == (1, 0)
    assert list(ClaimLine.objects.values_list("pk", flat=True)) == ids
    assert [t["minutes"] for t in PatientMonthDecision.objects.get().facts["time_entries"]] == [25, 5]


@pytest.mark.django_db
def test_qmb_patient_owes_nothing() -> None:
    p = make_practice(make_org())
    ann = enrolled_patient(p, "Ames")
    add_coverage(ann, "qmb", start=D(2026, 3, 15))  # QMB from mid-month: any day in the month counts
    log_time(p, ann, 25, D(2026, 3, 5))
    run(p.org)
    assert active(p.org) == [("99490", 1, "billable", Decimal("66.13"), Decimal("0.00"))]
    assert PatientMonthDecision.objects.get().decision["qmb"] is True


@pytest.mark.django_db
def test_consent_missing_is_denied_with_the_reason() -> None:
    p = make_practice(make_org())
    ann = enrolled_patient(p, "Ames", consent=False)
    log_time(p, ann, 25, D(2026, 3, 5))
    run(p.org)
    rows, total = selectors.month_rows(organization_id=p.org.pk, month=MONTH)
    assert total == 1 and rows[0].billable == []
    assert [(d["code"], d["rule_ids"], d["reason"]) for d in rows[0].denied] == [
        ("99490", ["T-CONSENT"], "no consent on record")]


@pytest.mark.django_db
def test_held_lines_are_flagged_not_billed() -> None:
    p = make_practice(make_org())
    ann = enrolled_patient(p, "Ames")
    log_time(p, ann, 65, D(2026, 3, 5))
    run(p.org)
    assert [(c, u, s) for c, u, s, _a, _p in active(p.org)] == [("99439", 2, "flagged"), ("99490", 1, "billable")]
    assert ClaimLine.objects.get(code="99439").reason == "unit cap UNCONFIRMED"


@pytest.mark.django_db
def test_run_is_scoped_to_the_organization() -> None:
    a, b = make_practice(make_org()), make_practice(make_org(), npi="1245319599")
    ann = enrolled_patient(a, "Ames")
    bob = enrolled_patient(b, "Bates")
    log_time(a, ann, 25, D(2026, 3, 5))
    log_time(b, bob, 25, D(2026, 3, 5))
    counts = run(a.org)
    assert counts.patients == 1
    assert set(ClaimLine.objects.values_list("organization_id", "patient_id")) == {(a.org.pk, ann.pk)}
    assert selectors.month_rows(organization_id=b.org.pk, month=MONTH) == ([], 0)


@pytest.mark.django_db
def test_run_needs_billing_run_permission_in_the_same_org() -> None:
    a, b = make_practice(make_org()), make_practice(make_org(), npi="1245319599")
    with pytest.raises(PermissionDenied):
        run(a.org, actor(make_user(a.org, "coordinator")))
    with pytest.raises(PermissionDenied):
        run(a.org, actor(make_user(b.org, "billing")))
    with pytest.raises(PermissionDenied):
        run(a.org, actor(make_user(a.org, "leader")))
    assert run(a.org, actor(make_user(a.org, "billing"))).patients == 0


@pytest.mark.django_db
def test_chronic_conditions_are_one_icd10_code_per_counted_group() -> None:
    from careloop.registry.models import Condition

    p = make_practice(make_org())
    ann = enrolled_patient(p, "Ames", conditions=("E119", "E1122", "I509", "J029"))  # two diabetes codes, one acute
    Condition.objects.create(organization=p.org, patient=ann, snomed="84114007", clinical_status="active")  # HF
    log_time(p, ann, 25, D(2026, 3, 5))
    run(p.org)
    facts = PatientMonthDecision.objects.get().facts
    assert facts["patient"]["chronic_conditions"] == ["E1122", "I509"]
    assert ClaimLine.objects.get(code="99490").diagnoses == ["E1122", "I509"]


@pytest.mark.django_db
def test_a_condition_known_only_by_snomed_counts_but_is_not_a_claim_diagnosis() -> None:
    from careloop.registry.models import Condition

    p = make_practice(make_org())
    ann = enrolled_patient(p, "Ames", conditions=("E119",))
    Condition.objects.create(organization=p.org, patient=ann, snomed="38341003", clinical_status="active")
    log_time(p, ann, 25, D(2026, 3, 5))
    run(p.org)
    chronic = PatientMonthDecision.objects.get().facts["patient"]["chronic_conditions"]
    assert chronic[0] == "E119" and len(chronic) == 2 and chronic[1].startswith("CCW:")
    assert ClaimLine.objects.get(code="99490").diagnoses == ["E119"]


class _Evidence:
    """An evidence provider that has assessed pathways: only ``with_pathway`` has one recorded."""

    def __init__(self, with_pathway: int) -> None:
        self.with_pathway = with_pathway

    def capabilities(self, organization_id: int, month: str) -> tuple[object, ...] | None:
        return None

    def apcm_activity(self, organization_id: int, patient_ids: list[int], month: str) -> dict[int, bool]:
        return dict.fromkeys(patient_ids, True)

    def performance_pathways(self, organization_id: int, year: int) -> dict[int, str]:
        return {self.with_pathway: "MVP_M0005"}


@pytest.mark.django_db
def test_apcm_practitioner_without_a_recorded_pathway_is_flagged() -> None:
    from careloop.clinics.models import Practitioner

    p = make_practice(make_org())
    ann = enrolled_patient(p, "Ames", program="APCM")
    other = Practitioner.objects.create(organization=p.org, family="Two", given="Doc", npi="1245319599")
    services.run_billing_month(organization=p.org, month=MONTH, actor=Actor.system(p.org.pk),
                               evidence=_Evidence(other.pk))  # type: ignore[arg-type]
    line = ClaimLine.objects.get(patient=ann, code="G0557")
    assert line.status == "flagged" and "APCM-011" in line.rule_ids
    services.run_billing_month(organization=p.org, month=MONTH, actor=Actor.system(p.org.pk),
                               evidence=_Evidence(p.practitioner.pk))  # type: ignore[arg-type]
    assert ClaimLine.objects.exclude(status="void").get(patient=ann, code="G0557").status == "billable"


@pytest.mark.django_db
def test_scheduler_runs_last_months_billing_once() -> None:
    import datetime as dt

    from careloop.billing.tasks import last_month_job, monthly_period
    from careloop.worklist.scheduler import Job, run_due

    p = make_practice(make_org())
    ann = enrolled_patient(p, "Ames")
    log_time(p, ann, 25, D(2026, 3, 5))
    job = Job("billing.last_month", monthly_period, last_month_job)
    april_first = dt.datetime(2026, 4, 1, 14, tzinfo=dt.UTC)
    first = run_due(april_first, jobs=(job,))
    assert first[0]["period"] == "2026-03" and first[0]["status"] == "done"
    assert first[0]["detail"][p.org.slug]["month"] == "2026-03"
    assert ClaimLine.objects.filter(patient=ann, code="99490").exists()
    again = run_due(april_first + dt.timedelta(hours=5), jobs=(job,))
    assert again[0]["status"] == "skipped" and BillingRun.objects.count() == 1


@pytest.mark.django_db
def test_rules_evaluated_in_worker_processes_give_the_same_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large months are decided in forked workers while the run reads the next chunk: the decisions, lines,
    corrections and audit are the same as deciding in-process (chunks of 2 patients here)."""
    monkeypatch.setattr(services, "CHUNK", 2)

    def ledger(org: object, prac: int) -> list[tuple[object, ...]]:
        return sorted((str(d.patient.family), d.revision,  # type: ignore[attr-defined]
                       repr(d.decision).replace(f"'practitioner': '{prac}'", "'practitioner': 'P'"))
                      for d in PatientMonthDecision.objects.filter(organization=org).select_related("patient")) + [
            tuple(r) for r in ClaimLine.objects.filter(organization=org).order_by("patient__family", "code",
                                                                                  "revision").values_list(
                "patient__family", "code", "units", "status", "revision", "allowed_amount", "reason")]

    results = []
    for workers in (0, 2):
        p = make_practice(make_org())
        pats = [enrolled_patient(p, f"Pat{i}") for i in range(7)]
        for i, pat in enumerate(pats):
            log_time(p, pat, 5 * (i + 1), D(2026, 3, 5))
        first = services.run_billing_month(organization=p.org, month=MONTH, actor=Actor.system(p.org.pk),
                                           evaluate=stand_in_evaluate, ruleset=RS, workers=workers)
        log_time(p, pats[1], 30, D(2026, 3, 25))  # a late entry: one correction
        second = services.run_billing_month(organization=p.org, month=MONTH, actor=Actor.system(p.org.pk),
                                            evaluate=stand_in_evaluate, ruleset=RS, workers=workers)
        assert (first.decided, second.decided, second.unchanged, second.corrections) == (7, 1, 6, 1)
        assert AuditEvent.objects.filter(organization_id=p.org.pk, action="billing.facts_read").count() == 14
        results.append(ledger(p.org, p.practitioner.pk))
    assert results[0] == results[1]
