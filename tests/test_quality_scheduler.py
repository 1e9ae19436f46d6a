"""The scheduler's daily quality refresh: results and care gaps for every organization, for the measures whose
value sets are loaded; once per day across scheduler processes."""

from __future__ import annotations

import datetime as dt

import pytest

from careloop.clinics.tests.factories import make_org
from careloop.quality.measures import REGISTRY, get_measure
from careloop.quality.models import CareGap, MeasureResult, ValueSet, ValueSetCode
from careloop.quality.tasks import refresh_job
from careloop.quality.tests.factories import code_for
from careloop.worklist.scheduler import Job, daily, run_due
from tests.test_quality_population import _diabetic, _import

NOW = dt.datetime(2026, 11, 29, 7, 0, tzinfo=dt.UTC)


def _store_valuesets(urls: tuple[str, ...]) -> None:
    for url in urls:
        vs = ValueSet.objects.create(url=url, content_hash="t", code_count=1)
        system, code = code_for(url)
        ValueSetCode.objects.create(value_set=vs, system=system, code=code)


@pytest.mark.django_db
def test_without_value_sets_nothing_runs_and_the_report_says_why() -> None:
    make_org()
    report = refresh_job(NOW)
    assert report["measures"] == [] and sorted(report["without_valuesets"]) == sorted(REGISTRY)
    assert MeasureResult.objects.count() == 0


@pytest.mark.django_db
def test_daily_refresh_evaluates_each_organization_once_per_day() -> None:
    a, b = make_org(), make_org()
    _import(a.pk, "ehr", _diabetic("a1"))
    _import(b.pk, "ehr", _diabetic("b1"))
    _store_valuesets(get_measure("CMS122").valuesets)
    jobs = (Job("quality.refresh", daily, refresh_job),)
    first = run_due(NOW, jobs=jobs)
    assert first[0]["status"] == "done"
    detail = first[0]["detail"]
    assert detail["period"] == "2026-01-01:2026-12-31" and detail["measures"] == ["CMS122"]
    assert detail["organizations"][a.slug]["open_gaps"] == 1 and detail["organizations"][b.slug]["open_gaps"] == 1
    assert set(CareGap.objects.values_list("organization_id", "measure", "status")) == {
        (a.pk, "CMS122", "open"), (b.pk, "CMS122", "open")}
    assert run_due(NOW + dt.timedelta(hours=3), jobs=jobs)[0]["status"] == "skipped"  # same clinic day
    assert run_due(NOW + dt.timedelta(days=1), jobs=jobs)[0]["status"] == "done"
    assert MeasureResult.objects.filter(organization=a, period_end=dt.date(2026, 12, 31)).count() == 1  # replaced


@pytest.mark.django_db
def test_month_end_snapshot_feeds_the_monthly_trend_once_and_keeps_gaps() -> None:
    from careloop.core.actor import Actor
    from careloop.quality import reports

    org = make_org()
    _import(org.pk, "ehr", _diabetic("a1"))
    _store_valuesets(get_measure("CMS122").valuesets)
    report = refresh_job(NOW)
    assert report["organizations"][org.slug]["snapshot"] == "2026-01-01:2026-10-31"
    assert "snapshot" not in refresh_job(NOW)["organizations"][org.slug]  # October's point exists already
    assert set(MeasureResult.objects.values_list("period_start", "period_end")) == {
        (dt.date(2026, 1, 1), dt.date(2026, 12, 31)), (dt.date(2026, 1, 1), dt.date(2026, 10, 31))}
    assert set(CareGap.objects.values_list("period_end", flat=True)) == {dt.date(2026, 12, 31)}  # no snapshot gaps
    trends = reports.monthly_trends(actor=Actor(user_id=None, username="l", role="leader", organization_id=org.pk),
                                    year=2026)
    assert trends == [{"measure": "CMS122", "points": {"2026-10": 1.0}}]  # inverse measure: no HbA1c = numerator


@pytest.mark.django_db
def test_dashboard_shows_the_monthly_trend(client: object) -> None:
    from django.test import Client

    from careloop.accounts.tests.factories import make_user

    assert isinstance(client, Client)
    org = make_org()
    _import(org.pk, "ehr", _diabetic("a1"))
    _store_valuesets(get_measure("CMS122").valuesets)
    client.force_login(make_user(org, "leader"))
    empty = client.get("/quality/?period=2026-01-01:2026-12-31").content.decode()
    assert "No month-end snapshots for 2026 yet" in empty
    refresh_job(NOW)
    page = client.get("/quality/?period=2026-01-01:2026-12-31").content.decode()
    assert "Monthly trend 2026" in page and "2026-10" in page and "100%" in page
