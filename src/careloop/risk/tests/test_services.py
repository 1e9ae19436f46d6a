"""The population refresh on a small registry: set-based, audited, incremental."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from careloop.audit.models import AuditEvent
from careloop.clinics.tests.factories import make_org
from careloop.core.actor import Actor
from careloop.registry.models import Condition, Patient
from careloop.risk import selectors
from careloop.risk.models import PatientRisk, RiskRun, RiskTierChange
from careloop.risk.services import refresh_risk
from careloop.risk.tests import factories as f

AS_OF = dt.date(2026, 3, 15)


def _world() -> dict[str, Patient]:
    org = make_org("riskorg")
    sick = f.patient(org, "Sick", born=dt.date(1944, 1, 10), sex="male")
    for code in ["I5022", "N184", "E1122", "J449"]:
        f.condition(sick, code)
    f.encounter(sick, "EMER", dt.date(2025, 6, 1))
    f.encounter(sick, "EMER", dt.date(2025, 9, 1))
    f.encounter(sick, "EMER", dt.date(2026, 1, 5))
    f.encounter(sick, "IMP", dt.date(2025, 11, 1), dt.date(2025, 11, 5))
    f.encounter(sick, "IMP", dt.date(2025, 11, 20), dt.date(2025, 11, 24))  # readmission (15 days)
    f.encounter(sick, "EMER", dt.date(2024, 12, 1))  # outside 12 months
    f.medications(sick, 11)
    f.observation(sick, "88122-7", dt.date(2026, 1, 10), value_code="LA28397-0", value_text="Often true")
    f.observation(sick, "44261-6", dt.date(2026, 2, 1), value_num=14)
    f.coverage(sick, "qmb", dt.date(2020, 1, 1))
    snomed_only = f.patient(org, "Snomed", born=dt.date(1955, 5, 5))
    for concept in ["38341003", "44054006", "55822004"]:
        f.condition(snomed_only, snomed=concept)
    well = f.patient(org, "Well", born=dt.date(1958, 7, 7))
    f.condition(well, "I10", status="resolved", abatement=dt.date(2024, 1, 1))
    f.observation(well, "44261-6", dt.date(2024, 2, 1), value_num=20)  # too old
    other = make_org("otherorg")
    f.condition(f.patient(other, "Elsewhere"), "I5022")
    return {"sick": sick, "snomed": snomed_only, "well": well}


def _actor(p: Patient) -> Actor:
    return Actor.system(p.organization_id, "test")


@pytest.mark.django_db
def test_full_refresh_scores_every_active_patient_of_the_org() -> None:
    w = _world()
    run = refresh_risk(organization_id=w["sick"].organization_id, actor=_actor(w["sick"]), as_of=AS_OF)
    assert (run.kind, run.patients_scored, run.tier_changes) == ("full", 3, 3)
    rows = {r.patient_id: r for r in PatientRisk.objects.all()}
    assert set(rows) == {w["sick"].pk, w["snomed"].pk, w["well"].pk}
    sick = rows[w["sick"].pk]
    assert sick.ccw_categories == ["chronic_kidney_disease", "copd", "diabetes", "heart_failure"]
    assert sick.chronic_count == 4
    assert sick.charlson_categories == ["chf", "copd", "diabwc", "rend"]
    assert (sick.charlson, sick.charlson_quan, sick.charlson_age_adjusted) == (6, 5, 10)
    assert sick.hccs == ["37", "226", "280", "327"]
    assert sick.hcc_segment == "CPA, orec=0"
    assert (sick.ed_visits_12m, sick.admissions_12m, sick.readmissions_12m) == (3, 2, 1)
    assert (sick.active_medications, sick.polypharmacy) == (11, True)
    assert sick.sdoh_needs == ["food insecurity"]
    assert sick.bh_flags == ["PHQ-9 14"]
    assert sick.tier == "high"
    assert sick.explanation == (
        "high: HCC 2.3; CKD 4 with COPD; 2 inpatient admissions in 12 months; Charlson 6; 3 ED visits in 12 months; "
        "1 30-day readmissions"
    )
    snomed = rows[w["snomed"].pk]
    assert (snomed.chronic_count, snomed.chronic_conditions) == (3, ["diabetes", "hyperlipidemia", "hypertension"])
    well = rows[w["well"].pk]
    assert (well.chronic_count, well.bh_flags, well.tier) == (0, [], "low")
    assert well.explanation == "low: no risk factors found"
    assert RiskTierChange.objects.filter(from_tier="").count() == 3
    actions = list(AuditEvent.objects.filter(action__startswith="risk.").values_list("action", flat=True))
    assert sorted(actions) == ["risk.refreshed"] + ["risk.tier_changed"] * 3


@pytest.mark.django_db
def test_refresh_is_set_based_query_count_does_not_grow_with_patients() -> None:
    w = _world()
    org = w["sick"].organization
    with CaptureQueriesContext(connection) as small:
        refresh_risk(organization_id=org.pk, actor=_actor(w["sick"]), as_of=AS_OF)
    for i in range(40):
        p = f.patient(org, f"More{i}")
        f.condition(p, "I5022")
        f.encounter(p, "EMER", dt.date(2026, 1, 1))
    with CaptureQueriesContext(connection) as large:
        refresh_risk(organization_id=org.pk, actor=_actor(w["sick"]), as_of=AS_OF)
    assert PatientRisk.objects.count() == 43
    assert len(large.captured_queries) <= len(small.captured_queries) + 2


@pytest.mark.django_db
def test_second_full_run_records_only_real_tier_changes() -> None:
    w = _world()
    org = w["sick"].organization_id
    refresh_risk(organization_id=org, actor=_actor(w["sick"]), as_of=AS_OF)
    run = refresh_risk(organization_id=org, actor=_actor(w["sick"]), as_of=AS_OF)
    assert run.tier_changes == 0
    assert selectors.risk_tiers(org, [w["sick"].pk, w["well"].pk, 999_999]) == {
        w["sick"].pk: "high",
        w["well"].pk: "low",
    }


@pytest.mark.django_db
def test_incremental_refresh_touches_only_changed_patients() -> None:
    with time_machine.travel(dt.datetime(2026, 3, 14, 8, 0, tzinfo=dt.UTC), tick=False):
        w = _world()
    org = w["sick"].organization_id
    with time_machine.travel(dt.datetime(2026, 3, 15, 8, 0, tzinfo=dt.UTC), tick=False):
        first = refresh_risk(organization_id=org, actor=_actor(w["sick"]), as_of=AS_OF)
    with time_machine.travel(dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC), tick=False):
        for code in ["I5022", "N184", "J449", "E1122", "F331"]:
            f.condition(w["well"], code)
    with time_machine.travel(dt.datetime(2026, 3, 15, 18, 0, tzinfo=dt.UTC), tick=False):
        run = refresh_risk(organization_id=org, actor=_actor(w["sick"]), as_of=AS_OF, incremental=True)
    assert (run.kind, run.patients_scored, run.counts["considered"]) == ("incremental", 1, 1)
    rows = {r.patient_id: r for r in PatientRisk.objects.all()}
    assert rows[w["well"].pk].run_id == run.pk
    assert rows[w["well"].pk].chronic_count == 5
    assert rows[w["sick"].pk].run_id == first.pk and rows[w["snomed"].pk].run_id == first.pk
    change = RiskTierChange.objects.get(run=run)
    assert (change.patient_id, change.from_tier) == (w["well"].pk, "low")
    assert RiskRun.objects.count() == 2
    with time_machine.travel(dt.datetime(2026, 3, 16, 18, 0, tzinfo=dt.UTC), tick=False):
        quiet = refresh_risk(organization_id=org, actor=_actor(w["sick"]), as_of=AS_OF, incremental=True)
    assert (quiet.kind, quiet.patients_scored, quiet.tier_changes, quiet.counts["considered"]) == (
        "incremental",
        0,
        0,
        0,
    )
    assert PatientRisk.objects.count() == 3


@pytest.mark.django_db
def test_incremental_with_a_new_date_picks_up_patients_whose_windows_moved() -> None:
    with time_machine.travel(dt.datetime(2026, 3, 14, 8, 0, tzinfo=dt.UTC), tick=False):
        w = _world()
    org = w["sick"].organization_id
    with time_machine.travel(dt.datetime(2026, 3, 15, 8, 0, tzinfo=dt.UTC), tick=False):
        refresh_risk(organization_id=org, actor=_actor(w["sick"]), as_of=AS_OF)
    with time_machine.travel(dt.datetime(2026, 6, 2, 8, 0, tzinfo=dt.UTC), tick=False):
        run = refresh_risk(organization_id=org, actor=_actor(w["sick"]), as_of=dt.date(2026, 6, 2), incremental=True)
    assert run.kind == "incremental"
    # The sick patient's 2025-06-01 ED visit left the window and the SNOMED patient turned 71 on May 5;
    # the well patient had no boundary fact and no birthday, so keeps the first run's row.
    assert run.counts["considered"] == 2
    recomputed = set(PatientRisk.objects.filter(run=run).values_list("patient_id", flat=True))
    assert recomputed == {w["sick"].pk, w["snomed"].pk}
    assert PatientRisk.objects.get(patient=w["sick"]).ed_visits_12m == 2


@pytest.mark.django_db
def test_conditions_of_other_organizations_never_leak() -> None:
    w = _world()
    refresh_risk(organization_id=w["sick"].organization_id, actor=_actor(w["sick"]), as_of=AS_OF)
    assert not PatientRisk.objects.exclude(organization_id=w["sick"].organization_id).exists()
    assert Condition.objects.exclude(organization_id=w["sick"].organization_id).count() == 1


@pytest.mark.django_db
def test_refresh_all_runs_every_organization_full_then_incremental() -> None:
    from careloop.risk.tasks import refresh_all

    w = _world()
    first = refresh_all(as_of=AS_OF)
    assert [RiskRun.objects.get(pk=pk).kind for pk in first] == ["full", "full"]
    again = refresh_all(as_of=AS_OF)
    assert [RiskRun.objects.get(pk=pk).kind for pk in again] == ["incremental", "incremental"]
    assert PatientRisk.objects.filter(organization_id=w["sick"].organization_id).count() == 3


@pytest.mark.django_db
def test_risk_tiers_look_patients_up_by_key_not_by_scanning_the_organization() -> None:
    w = _world()
    org = w["sick"].organization_id
    refresh_risk(organization_id=org, actor=_actor(w["sick"]), as_of=AS_OF)
    seen: list[tuple[str, list[object]]] = []

    def capture(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        seen.append((sql, list(params or [])))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        assert selectors.risk_tiers(org, [w["sick"].pk]) == {w["sick"].pk: "high"}
    if connection.vendor != "sqlite":
        return  # PostgreSQL plans by its statistics; the query is the same
    (sql, params), = seen
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql.replace("%s", "?"), params)
        plan = " ".join(str(r[-1]) for r in cursor.fetchall())
    assert "organization_id" not in plan, plan  # the patient's unique index, not the organization's rows
