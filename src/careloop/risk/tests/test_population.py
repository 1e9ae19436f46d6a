"""The set-based paths agree with the pure rules they implement."""

from __future__ import annotations

import datetime as dt

import pytest

from careloop.clinics.tests.factories import make_org
from careloop.registry.models import Condition
from careloop.risk import population, rules, tables
from careloop.risk.tests import factories as f
from careloop.risk.tests.test_rules import D

CASES = [
    {"clinical_status": "active"},
    {"clinical_status": ""},
    {"clinical_status": "relapse"},
    {"clinical_status": "resolved"},
    {"clinical_status": "remission"},
    {"clinical_status": "active", "onset": D},
    {"clinical_status": "active", "onset": D + dt.timedelta(days=1)},
    {"clinical_status": "active", "recorded": D + dt.timedelta(days=1)},
    {"clinical_status": "active", "recorded": D - dt.timedelta(days=1)},
    {"clinical_status": "active", "onset": D - dt.timedelta(days=9), "recorded": D + dt.timedelta(days=1)},
    {"clinical_status": "resolved", "abatement": D},
    {"clinical_status": "resolved", "abatement": D - dt.timedelta(days=1)},
    {"clinical_status": "inactive", "abatement": D + dt.timedelta(days=1)},
    {"clinical_status": "active", "verification_status": "refuted"},
    {"clinical_status": "active", "verification_status": "entered-in-error"},
    {"clinical_status": "active", "verification_status": "confirmed"},
]


@pytest.mark.django_db
def test_in_force_query_matches_the_pure_rule() -> None:
    p = f.patient(make_org(), "Edge")
    cfg = tables.count_config()
    expected = {}
    for case in CASES:
        fields = dict(case)
        status = fields.pop("clinical_status")
        row = f.condition(p, "I10", status=status, **fields)
        fact = rules.ConditionFact(
            "I10", "", row.clinical_status, row.verification_status, row.onset, row.abatement, row.recorded
        )
        expected[row.pk] = rules.in_force(fact, D, cfg)
    got = set(Condition.objects.filter(population.in_force_q(D, cfg)).values_list("pk", flat=True))
    assert got == {pk for pk, ok in expected.items() if ok}
    assert 0 < len(got) < len(CASES)


@pytest.mark.django_db
def test_population_measures_match_the_pure_rules_for_each_patient() -> None:
    org = make_org()
    lists = {
        "a": (["E119", "E1122", "I5022", "K703", "I850", "C509", "C7951", "R75"], []),
        "b": (["R75", "B20", "I639", "S065X0A"], []),
        "c": ([], ["38341003", "26929004", "52448006", "13746004", "35489007"]),
        "d": (["F329", "F319", "G309", "F0390", "I2109", "J189"], []),
    }
    pids = {}
    for name, (codes, snomed) in lists.items():
        p = f.patient(org, name)
        pids[name] = p.pk
        for c in codes:
            f.condition(p, c)
        for s in snomed:
            f.condition(p, snomed=s)
    per_patient, _ = population.condition_measures(org.pk, D, None)
    rows = {r["pid"]: r for r in per_patient.iter_rows(named=True)}
    for name, (codes, snomed) in lists.items():
        row = rows[pids[name]]
        keys = rules.ccw_keys(codes, snomed)
        ch = rules.charlson(codes)
        assert row["ccw_categories"] == sorted(keys), name
        assert row["chronic_conditions"] == rules.counted_conditions(keys), name
        assert row["chronic_count"] == len(rules.counted_conditions(keys)), name
        assert (row["charlson"] or 0, row["charlson_quan"] or 0) == (ch.score_charlson, ch.score_quan), name
