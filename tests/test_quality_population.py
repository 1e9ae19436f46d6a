"""Registry evaluation (``quality.population``): same results as the Bundle path, care gaps, gap tasks, reports,
utilization SQL, permissions and tenancy."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from careloop.clinics.tests.factories import make_org
from careloop.core.actor import Actor
from careloop.core.errors import PermissionDenied
from careloop.interop.fhir.importer import FhirImporter
from careloop.quality import reports
from careloop.quality.engine.encounters import OFFICE_VISIT
from careloop.quality.engine.period import MeasurementPeriod
from careloop.quality.engine.valuesets import ValueSetIndex
from careloop.quality.gaps import derive_gap
from careloop.quality.measures import get_measure
from careloop.quality.measures.cms122 import DIABETES
from careloop.quality.models import CareGap, MeasureResult
from careloop.quality.population import run_population
from careloop.quality.rules import evaluate_bundle
from careloop.quality.tests.factories import bundle, code_for, condition, encounter, patient
from careloop.quality.utilization import utilization
from careloop.registry.models import Encounter, FhirResource
from careloop.registry.tests.factories import make_patient
from careloop.worklist.models import CareTask

ORACLE = Path(__file__).resolve().parents[1].parent / "shared" / "oracles" / "ecqm"
MP = MeasurementPeriod.parse("2026-01-01:2026-12-31")
FIRST, LAST = MP.first, MP.last


def _actor(org_id: int, role: str = "leader") -> Actor:
    return Actor(user_id=None, username=f"t-{role}", role=role, organization_id=org_id)


def _import(org_id: int, source: str, document: dict[str, Any]) -> None:
    importer = FhirImporter(organization_id=org_id, source_system=source, actor=Actor.system(org_id))
    importer.import_bytes(orjson.dumps(document), f"{source}.json")
    importer.flush()


def _test_valuesets(measure_id: str) -> ValueSetIndex:
    return ValueSetIndex({u: frozenset({code_for(u)}) for u in get_measure(measure_id).valuesets})


def _diabetic(pid: str, birth: str = "1970-05-01") -> dict[str, Any]:
    p = patient(birth)
    p["id"] = pid
    visit = encounter(code_for(OFFICE_VISIT), "2026-02-01T10:00:00.000+00:00")
    cond = condition(code_for(DIABETES), "2019-01-01")
    for r in (visit, cond):
        r["id"] = f"{pid}-{r['id']}"
        r["subject"] = {"reference": f"Patient/{pid}"}
    return bundle(p, visit, cond)


def _populations(org_id: int) -> dict[str, list[dict[str, Any]]]:
    source_of = dict(FhirResource.objects.filter(organization_id=org_id, resource_type="Patient")
                     .values_list("patient_id", "source_id"))
    out: dict[str, list[dict[str, Any]]] = {}
    for pid, group, pops in MeasureResult.objects.filter(organization_id=org_id).values_list(
            "patient_id", "group", "populations"):
        out.setdefault(source_of[pid], []).append({"id": group, "populations": pops})
    return out


@pytest.mark.django_db
def test_registry_path_equals_bundle_path_and_opens_inverse_gap() -> None:
    org = make_org()
    valuesets = _test_valuesets("CMS122")
    documents = {"a": _diabetic("a"), "b": _diabetic("b", "1940-01-01")}  # b is 86: outside 18-75
    for doc in documents.values():
        _import(org.pk, "ehr", doc)
    measure = get_measure("CMS122")
    summary = run_population(organization_id=org.pk, period=MP, measures=[measure], valuesets=valuesets,
                             actor=_actor(org.pk))
    assert summary.patients == 2
    stored = _populations(org.pk)
    for name, doc in documents.items():
        expected = [g for g in evaluate_bundle(measure, doc, MP, valuesets).as_json()
                    if g["populations"].get("initial_population")]
        assert stored.get(name, []) == expected
    gaps = list(CareGap.objects.filter(organization=org).values_list("measure", "status", "due"))
    assert gaps == [("CMS122", "open", LAST)]  # no HbA1c: inverse numerator met, gap open
    # a rerun replaces, it does not add
    run_population(organization_id=org.pk, period=MP, measures=[measure], valuesets=valuesets, actor=_actor(org.pk))
    assert CareGap.objects.filter(organization=org).count() == 1
    assert MeasureResult.objects.filter(organization=org).count() == 1


def test_gap_derivation_normal_and_inverse() -> None:
    normal, inverse = get_measure("CMS125"), get_measure("CMS122")
    assert not normal.inverse and inverse.inverse
    met = {"initial_population": 1, "denominator": 1, "denominator_exclusion": 0, "numerator": 1}
    unmet = {"initial_population": 1, "denominator": 1, "denominator_exclusion": 0, "numerator": 0}
    excluded = {"initial_population": 1, "denominator": 1, "denominator_exclusion": 1, "numerator": 0}
    g = derive_gap(normal, "Group_1", unmet, LAST)
    assert g is not None and (g.status, g.due) == ("open", LAST) and "mammogram" in g.missing
    g = derive_gap(normal, "Group_1", met, LAST)
    assert g is not None and g.status == "closed" and g.evidence["measure"] == "CMS125"
    g = derive_gap(inverse, "Group_1", met, LAST)
    assert g is not None and g.status == "open"
    g = derive_gap(inverse, "Group_1", unmet, LAST)
    assert g is not None and g.status == "closed"
    assert derive_gap(normal, "Group_1", excluded, LAST) is None
    assert derive_gap(normal, "Group_1", {"initial_population": 1, "denominator": 0}, LAST) is None


def _with_open_gaps(n: int = 2) -> Any:
    org = make_org()
    for i in range(n):
        _import(org.pk, "ehr", _diabetic(f"p{i}"))
    run_population(organization_id=org.pk, period=MP, measures=[get_measure("CMS122")],
                   valuesets=_test_valuesets("CMS122"), actor=_actor(org.pk))
    return org


@pytest.mark.django_db
def test_gap_tasks_are_deduplicated() -> None:
    org = _with_open_gaps(2)
    actor = _actor(org.pk, "coordinator")
    one = CareGap.objects.filter(organization=org).order_by("pk").first()
    assert one is not None
    first = reports.create_gap_tasks(actor=actor, first=FIRST, last=LAST, gap_id=one.pk)
    assert len(first.created_ids) == 1
    bulk = reports.create_gap_tasks(actor=actor, first=FIRST, last=LAST)
    assert (len(bulk.created_ids), bulk.existing) == (1, 1)
    again = reports.create_gap_tasks(actor=actor, first=FIRST, last=LAST)
    assert (len(again.created_ids), again.existing) == (0, 2)
    tasks = CareTask.objects.filter(organization=org)
    assert tasks.count() == 2
    assert {t.task_type for t in tasks} == {"care_gap_closure"}
    assert all(t.dedupe_key.startswith("care_gap:CMS122:2026-01-01:2026-12-31:") for t in tasks)


@pytest.mark.django_db
def test_reports_permissions_tenancy_and_csv() -> None:
    org = _with_open_gaps(2)
    other = make_org()
    rows = reports.measure_performance(actor=_actor(org.pk), first=FIRST, last=LAST)
    assert [(r["measure"], r["performance_denominator"], r["numerator"], r["rate"]) for r in rows] == [
        ("CMS122", 2, 2, 1.0)]
    assert reports.measure_performance(actor=_actor(other.pk), first=FIRST, last=LAST) == []
    assert reports.gap_patients(actor=_actor(other.pk), first=FIRST, last=LAST) == []
    with pytest.raises(PermissionDenied):
        reports.measure_performance(actor=_actor(org.pk, "patient"), first=FIRST, last=LAST)
    with pytest.raises(PermissionDenied):
        reports.create_gap_tasks(actor=_actor(org.pk, "billing"), first=FIRST, last=LAST)
    with pytest.raises(PermissionDenied):
        run_population(organization_id=org.pk, period=MP, measures=[get_measure("CMS122")],
                       valuesets=_test_valuesets("CMS122"), actor=_actor(org.pk, "nurse"))
    listed = reports.gap_patients(actor=_actor(org.pk), first=FIRST, last=LAST, measure="CMS122")
    text = reports.gaps_csv(listed)
    lines = text.splitlines()
    assert lines[0] == "patient_id,mrn,name,measure,status,missing,closes_by,due"
    assert len(lines) == 3 and all(",CMS122,open," in line for line in lines[1:])
    pid = listed[0]["patient_id"]
    assert [g["status"] for g in reports.patient_gaps(actor=_actor(org.pk), patient_id=pid)] == ["open"]


def _enc(org: Any, p: Any, cls: str, start: str, end: str | None = None) -> None:
    s = dt.datetime.fromisoformat(start).replace(tzinfo=dt.UTC)
    e = dt.datetime.fromisoformat(end).replace(tzinfo=dt.UTC) if end else None
    Encounter.objects.create(organization=org, patient=p, class_code=cls, start=s, end=e)


@pytest.mark.django_db
def test_utilization_sql_on_a_small_registry() -> None:
    from careloop.risk.models import PatientRisk

    org = make_org()
    a, b, c, d = (make_patient(org, "Doe", n) for n in ("A", "B", "C", "D"))
    _enc(org, a, "IMP", "2026-03-01", "2026-03-05")
    _enc(org, a, "IMP", "2026-03-20", "2026-03-22")  # readmitted 15 days after the first
    _enc(org, b, "IMP", "2026-06-01", "2026-06-03")
    _enc(org, b, "IMP", "2026-08-01", "2026-08-02")  # 59 days: not a readmission
    _enc(org, c, "EMER", "2026-04-01")
    _enc(org, c, "EMER", "2025-04-01")  # outside the period
    _enc(org, d, "AMB", "2026-04-01")
    PatientRisk.objects.create(organization=org, patient=b, chronic_count=3, as_of=dt.date(2026, 1, 1),
                               methodology_version="t", tier="high")
    out = utilization(organization_id=org.pk, first=FIRST, last=LAST)
    assert out["readmission_30d"] == {"index_stays": 4, "readmissions": 1, "rate": 0.25}
    assert out["ed_visits_per_1000"] == {"ed_visits": 1, "patients": 4, "rate": 250.0}
    assert out["mcc_admissions"] == {"admissions": 2, "mcc_patients": 1, "per_100": 200.0}
    assert utilization(organization_id=make_org().pk, first=FIRST, last=LAST)["readmission_30d"]["index_stays"] == 0


ORACLE_MEASURES = ("CMS122", "CMS165", "CMS125", "CMS130")


@pytest.mark.oracle
@pytest.mark.django_db
@pytest.mark.skipif(not (ORACLE / "dev").is_dir(), reason=f"eCQM oracles not present at {ORACLE} (public checkout)")
def test_registry_path_equals_bundle_path_on_dev_cases() -> None:
    valuesets = ValueSetIndex.from_folder(ORACLE / "valuesets")
    org = make_org()
    documents: dict[str, dict[str, Any]] = {}
    for measure_id in ORACLE_MEASURES:
        for n, expected_path in enumerate(sorted((ORACLE / "dev" / measure_id).glob("*/expected.json"))[:6]):
            doc = orjson.loads((expected_path.parent / "bundle.json").read_bytes())
            source = f"{measure_id}-{n}"
            _import(org.pk, source, doc)
            documents[source] = doc
    expected_period = json.loads(next((ORACLE / "dev" / "CMS122").glob("*/expected.json")).read_text())["period"]
    period = MeasurementPeriod.parse(f"{expected_period['start']}:{expected_period['end']}")
    measures = [get_measure(m) for m in ORACLE_MEASURES]
    run_population(organization_id=org.pk, period=period, measures=measures, valuesets=valuesets,
                   actor=_actor(org.pk))
    by_source = dict(FhirResource.objects.filter(organization=org, resource_type="Patient")
                     .values_list("source_system", "patient_id"))
    stored: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for pid, mid, group, pops in MeasureResult.objects.filter(organization=org).values_list(
            "patient_id", "measure", "group", "populations"):
        stored.setdefault((pid, mid), []).append({"id": group, "populations": pops})
    compared = 0
    for source, doc in documents.items():
        pid = by_source.get(source)
        if pid is None:
            continue
        for measure in measures:
            expected = [g for g in evaluate_bundle(measure, doc, period, valuesets).as_json()
                        if g["populations"].get("initial_population")]
            assert sorted(stored.get((pid, measure.id), []), key=lambda g: g["id"]) == expected, (source, measure.id)
            compared += 1
    assert compared >= len(ORACLE_MEASURES) * len(ORACLE_MEASURES)


@pytest.mark.django_db
def test_api_roles_tenancy_and_csv(client: Any) -> None:
    from careloop.accounts.tests.factories import make_user

    org = _with_open_gaps(1)
    other = make_org()
    client.force_login(make_user(org, "leader"))
    body = client.get("/api/quality/measures?period=2026-01-01:2026-12-31").json()
    assert [m["measure"] for m in body["measures"]] == ["CMS122"]
    assert body["mvp"][0]["qpp_id"] == "001" and body["mvp"][0]["row"]["numerator"] == 1
    csv_response = client.get("/api/quality/gaps?period=2026-01-01:2026-12-31&format=csv")
    assert csv_response["Content-Type"].startswith("text/csv")
    assert csv_response.content.decode().count("\n") == 2
    assert client.get("/api/quality/measures?period=bad").status_code == 400
    created = client.post("/api/quality/gaps/tasks?period=2026-01-01:2026-12-31").json()
    assert created == {"created": 1, "existing": 0}
    assert client.get("/api/quality/utilization?period=2026-01-01:2026-12-31").status_code == 200
    client.force_login(make_user(org, "patient"))
    assert client.get("/api/quality/measures").status_code == 403
    client.force_login(make_user(other, "leader"))
    assert client.get("/api/quality/gaps?period=2026-01-01:2026-12-31").json() == []
    gap = CareGap.objects.filter(organization=org).first()
    assert gap is not None
    assert client.get(f"/api/quality/patients/{gap.patient_id}/gaps").status_code == 404
    assert client.post(f"/api/quality/gaps/{gap.pk}/task").status_code == 404


@pytest.mark.django_db
def test_ui_dashboard_drilldown_panel_and_task_buttons(client: Any) -> None:
    from careloop.accounts.tests.factories import make_user

    org = _with_open_gaps(2)
    client.force_login(make_user(org, "coordinator"))
    period = "2026-01-01:2026-12-31"
    page = client.get(f"/quality/?period={period}")
    assert page.status_code == 200 and "CMS122" in page.content.decode()
    listing = client.get(f"/quality/gaps/?period={period}&measure=CMS122")
    assert "Create tasks for open gaps" in listing.content.decode()
    csv_text = client.get(f"/quality/gaps/?period={period}&measure=CMS122&format=csv").content.decode()
    assert csv_text.startswith("patient_id,mrn,name,measure") and csv_text.count("\n") == 3
    gap = CareGap.objects.filter(organization=org).order_by("pk").first()
    assert gap is not None
    panel = client.get(f"/quality/patients/{gap.patient_id}/panel/").content.decode()
    assert "Create task" in panel and "CMS122" in panel
    done = client.post(f"/quality/patients/{gap.patient_id}/gaps/{gap.pk}/task/").content.decode()
    assert "Task created." in done
    again = client.post(f"/quality/patients/{gap.patient_id}/gaps/{gap.pk}/task/").content.decode()
    assert "Task already exists." in again
    bulk = client.post("/quality/gaps/tasks/", {"period": period, "measure": "CMS122"})
    assert bulk.status_code == 302 and "1%20tasks" in bulk["Location"].replace(" ", "%20")
    assert CareTask.objects.filter(organization=org, task_type="care_gap_closure").count() == 2
    client.force_login(make_user(org, "patient"))
    assert client.get("/quality/").status_code == 403


@pytest.mark.django_db
def test_cli_quality_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from careloop import cli
    from tests.test_quality_cli import write_valuesets

    org = make_org()
    _import(org.pk, "ehr", _diabetic("c1"))
    vs = write_valuesets(tmp_path / "vs", "CMS122")
    code = cli.main(["quality", "run", "--period", "2026-01-01:2026-12-31", "--measure", "CMS122", "--org", org.slug,
                     "--valuesets", str(vs)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["patients"], out["results"], out["open_gaps"]) == (1, 1, 1)
    assert cli.main(["quality", "run", "--period", "bad", "--valuesets", str(vs)]) == 2
