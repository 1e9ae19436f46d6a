"""Routes: /api/insights/revenue (JSON, CSV), /insights/ and /insights/revenue.csv for every role, anonymous
callers, tenant scoping, the navigation entry and the drill-down links."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from careloop.accounts import rules as access
from careloop.accounts.tests.factories import bearer, make_token, make_user
from careloop.insights.tests import factories as f

pytestmark = pytest.mark.django_db
ROUTES = {
    "api-json": ("/api/insights/revenue?month=2026-03", "api"),
    "api-csv": ("/api/insights/revenue?month=2026-03&format=csv", "api"),
    "ui-dashboard": ("/insights/?month=2026-03", "ui"),
    "ui-csv": ("/insights/revenue.csv?month=2026-03", "ui"),
}


def _get(client: Client, route: str, role: str, clinic: f.Clinic) -> object:
    path, kind = ROUTES[route]
    user = make_user(clinic.org, role)
    if kind == "ui":
        client.force_login(user)
        return client.get(path)
    return client.get(path, **bearer(make_token(user)))


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("role", sorted(access.ALL_ROLES))
def test_role_route_matrix(role: str, route: str) -> None:
    clinic = f.make_clinic("m")
    response = _get(Client(), route, role, clinic)
    expected = 200 if access.has_permission(role, "insights.view") else 403
    assert response.status_code == expected  # type: ignore[attr-defined]


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_anonymous(route: str) -> None:
    path, kind = ROUTES[route]
    response = Client().get(path)
    if kind == "ui":
        assert (response.status_code, response["Location"]) == (302, f"/login/?next={path.split('?')[0]}")
    else:
        assert response.status_code == 401


def test_api_json_is_the_callers_organization_only() -> None:
    a = f.make_clinic("a")
    b = f.make_clinic("b")
    f.claim(b.patients[2], "G0556", "16.37")
    leader = make_user(a.org, "leader")
    body = Client().get("/api/insights/revenue", {"month": "2026-03"}, **bearer(make_token(leader))).json()
    assert (body["organization"], body["totals"]["actual"], body["totals"]["potential"]) == (
        a.org.name, "469.62", "187.39")
    g0556 = next(r for r in body["rows"] if r["level"] == "G0556")
    assert (g0556["actual"], g0556["eligible"], g0556["capture_pct"]) == ("0.00", 1, "0.0")
    body_b = Client().get("/api/insights/revenue", {"month": "2026-03"},
                          **bearer(make_token(make_user(b.org, "leader")))).json()
    assert body_b["totals"]["actual"] == "485.99"  # 469.62 + 16.37


def test_api_bad_month_is_400_with_the_field() -> None:
    a = f.make_clinic("a")
    response = Client().get("/api/insights/revenue", {"month": "03/2026"},
                            **bearer(make_token(make_user(a.org, "admin"))))
    assert response.status_code == 400
    assert response.json()["errors"] == {"month": "YYYY-MM"}


def test_csv_download() -> None:
    a = f.make_clinic("a")
    client = Client()
    client.force_login(make_user(a.org, "leader"))
    response = client.get("/insights/revenue.csv", {"month": "2026-03"})
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == 'attachment; filename="careloop-revenue-2026-03.csv"'
    records = list(csv.DictReader(io.StringIO(response.content.decode())))
    [total] = [r for r in records if r["section"] == "total"]
    assert (total["actual"], total["potential"]) == ("469.62", "187.39")


def test_dashboard_shows_figures_links_by_permission_and_nav() -> None:
    a = f.make_clinic("a")
    client = Client()
    client.force_login(make_user(a.org, "leader"))
    html = client.get("/insights/", {"month": "2026-03"}).content.decode()
    assert "$469.62" in html and "$187.39" in html and "313.08" in html
    assert "/programs/cohort/?month=2026-03&program=APCM&level=G0556&enrolled=no" in html  # leader: program.read
    assert 'href="/billing/?month=2026-03"' in html  # leader: billing.view
    assert 'href="/insights/"' in html  # nav entry
    provider = Client()
    provider.force_login(make_user(a.org, "provider"))
    html = provider.get("/insights/", {"month": "2026-03"}).content.decode()
    assert "/programs/cohort/" in html and 'href="/billing/?month=' not in html  # provider: no billing.view
    coordinator = Client()
    coordinator.force_login(make_user(a.org, "coordinator"))
    assert 'href="/insights/"' not in coordinator.get("/queue/").content.decode()


def test_dashboard_without_month_shows_the_previous_month() -> None:
    a = f.make_clinic("a")
    client = Client()
    client.force_login(make_user(a.org, "admin"))
    response = client.get("/insights/")
    assert response.status_code == 200
    assert "Revenue and capacity" in response.content.decode()


def test_dashboard_bad_month_is_a_400_page() -> None:
    a = f.make_clinic("a")
    client = Client()
    client.force_login(make_user(a.org, "leader"))
    response = client.get("/insights/", {"month": "2026-13"})
    assert response.status_code == 400
    assert "month must be YYYY-MM" in response.content.decode()


def test_the_web_app_reads_the_configured_assumptions_file(settings: object, tmp_path: object) -> None:
    from pathlib import Path

    a = f.make_clinic("a")
    path = Path(str(tmp_path)) / "assumptions.yaml"
    path.write_text("scenarios: {everyone: 1.0}\nstaffing: {annual_cost_per_fte: 12000}\n")
    settings.INSIGHTS_ASSUMPTIONS = str(path)  # type: ignore[attr-defined]
    leader = make_user(a.org, "leader")
    body = Client().get("/api/insights/revenue", {"month": "2026-03"}, **bearer(make_token(leader))).json()
    assert [(p["scenario"], p["revenue"]) for p in body["projections"]] == [("everyone", "187.39")]
    # 1.5 FTE x 12000 / 12 = 1500 a month against 469.62
    assert (body["staffing"]["monthly_staff_cost"], body["staffing"]["net"]) == ("1500.00", "-1030.38")
    path.write_text("scenarios: {everyone: 2}\n")
    response = Client().get("/api/insights/revenue", {"month": "2026-03"}, **bearer(make_token(leader)))
    assert response.status_code == 400
    assert "scenarios.everyone" in response.json()["detail"]
