"""registry.selectors: patient search (name, MRN, MBI, DOB), filters, and tenant scoping."""

from __future__ import annotations

import datetime as dt

import pytest

from careloop.clinics.tests.factories import make_org
from careloop.core.actor import Actor
from careloop.core.errors import NotFound
from careloop.registry import selectors
from careloop.registry.tests.factories import MRN_SYSTEM, add_condition, add_coverage, make_patient

D = dt.date
TODAY = D(2026, 3, 9)


def _actor(org_id: int | None) -> Actor:
    return Actor(user_id=1, username="cora", role="coordinator", organization_id=org_id)


def _names(qs) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{p.family}, {p.given}" for p in qs]


@pytest.fixture
def clinic():  # type: ignore[no-untyped-def]
    """Org A with a handful of patients, and org B holding look-alikes that must never leak into A."""
    a, b = make_org("a"), make_org("b")
    make_patient(a, "Smith", "John", birth_date=D(1950, 4, 1), sex="male", mrn="MRN-001", mbi="1EG4TE5MK73")
    make_patient(a, "Smithers", "Ann", birth_date=D(1961, 3, 9), sex="female", mrn="MRN-002")
    make_patient(a, "Jones", "Smith", birth_date=D(1961, 3, 10), sex="male", mrn="MRN-003")
    make_patient(a, "Garcia", "Maria Luisa", birth_date=D(1960, 3, 10), sex="female", mrn="MRN-004",
                 identifiers=[("urn:oid:9.9.9", "EPI-77")])
    make_patient(a, "Lee", "Ann", birth_date=D(1960, 3, 9), sex="female")
    # Org B: same name, MRN, MBI, date of birth and identifier as A's patients.
    make_patient(b, "Smith", "John", birth_date=D(1950, 4, 1), sex="male", mrn="MRN-001", mbi="1EG4TE5MK73",
                 identifiers=[("urn:oid:9.9.9", "EPI-77")])
    make_patient(b, "Smithson", "Bea", birth_date=D(1961, 3, 9), sex="female", mrn="MRN-B")
    return a, b


def _search(org, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    return _names(selectors.patients_matching(actor=_actor(org.pk), today=TODAY, **kw))


@pytest.mark.django_db
def test_no_query_lists_the_organization_sorted_by_name(clinic) -> None:  # type: ignore[no-untyped-def]
    a, b = clinic
    assert _search(a) == ["Garcia, Maria Luisa", "Jones, Smith", "Lee, Ann", "Smith, John", "Smithers, Ann"]
    assert _search(b) == ["Smith, John", "Smithson, Bea"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("smith", ["Smith, John", "Smithers, Ann"]),  # family prefix
        ("SMITH", ["Smith, John", "Smithers, Ann"]),
        ("  Smith  ", ["Smith, John", "Smithers, Ann"]),
        ("Smith, John", ["Smith, John"]),  # "family, given"
        ("smith,john", ["Smith, John"]),
        ("Smith, J", ["Smith, John"]),  # given prefix
        ("John Smith", ["Smith, John"]),  # "given family"
        ("Smith John", ["Smith, John"]),  # "family given"
        ("Smith Jones", ["Jones, Smith"]),  # "given family" for Jones, Smith
        ("Ann Smithers", ["Smithers, Ann"]),
        ("Garcia Maria Luisa", ["Garcia, Maria Luisa"]),
        ("garcia, maria", ["Garcia, Maria Luisa"]),
        ("Nobody", []),
    ],
)
@pytest.mark.django_db
def test_search_by_name(clinic, q: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    a, _ = clinic
    assert _search(a, q=q) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("MRN-002", ["Smithers, Ann"]),  # MRN
        ("EPI-77", ["Garcia, Maria Luisa"]),  # any identifier value
        ("1EG4TE5MK73", ["Smith, John"]),  # MBI
        ("1eg4te5mk73", ["Smith, John"]),
        ("1EG4-TE5-MK73", ["Smith, John"]),  # MBI as printed on the card
        ("1950-04-01", ["Smith, John"]),  # ISO date of birth
        ("4/1/1950", ["Smith, John"]),  # US date of birth
        ("04/01/1950", ["Smith, John"]),
        ("1961-03-09", ["Smithers, Ann"]),
        ("MRN-B", []),  # org B's MRN
    ],
)
@pytest.mark.django_db
def test_search_by_identifier_and_date_of_birth(clinic, q: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    a, _ = clinic
    assert _search(a, q=q) == expected


@pytest.mark.parametrize("q", ["1950-02-30", "02/30/1950", "13/01/1950", "1950-13-01"])
@pytest.mark.django_db
def test_impossible_date_of_birth_finds_nobody(clinic, q: str) -> None:  # type: ignore[no-untyped-def]
    a, _ = clinic
    assert _search(a, q=q) == []


@pytest.mark.django_db
def test_filter_by_sex(clinic) -> None:  # type: ignore[no-untyped-def]
    a, _ = clinic
    assert _search(a, sex="male") == ["Jones, Smith", "Smith, John"]
    assert _search(a, sex="female", q="smith") == ["Smithers, Ann"]


@pytest.mark.django_db
def test_filter_by_age_range_on_birthday_boundaries(clinic) -> None:  # type: ignore[no-untyped-def]
    a, _ = clinic
    # On 2026-03-09: Smithers (1961-03-09) turns 65 today, Jones (1961-03-10) is 64,
    # Garcia (1960-03-10) is 65 and Lee (1960-03-09) turns 66 today; Smith (1950) is 75.
    assert _search(a, age_min=65) == ["Garcia, Maria Luisa", "Lee, Ann", "Smith, John", "Smithers, Ann"]
    assert _search(a, age_max=65) == ["Garcia, Maria Luisa", "Jones, Smith", "Smithers, Ann"]
    assert _search(a, age_min=65, age_max=65) == ["Garcia, Maria Luisa", "Smithers, Ann"]
    assert _search(a, age_min=66, age_max=74) == ["Lee, Ann"]


@pytest.mark.django_db
def test_filter_by_age_on_a_leap_day() -> None:
    org = make_org()
    make_patient(org, "Leap", "Ling", birth_date=D(1960, 2, 29))
    actor = _actor(org.pk)
    # On 2026-02-28 someone born on 1960-02-29 is still 65; on 2026-03-01 they are 66.
    assert _names(selectors.patients_matching(actor=actor, age_min=66, today=D(2026, 2, 28))) == []
    assert _names(selectors.patients_matching(actor=actor, age_min=66, today=D(2026, 3, 1))) == ["Leap, Ling"]


@pytest.mark.django_db
def test_filter_by_coverage_kind_counts_current_coverage_only(clinic) -> None:  # type: ignore[no-untyped-def]
    a, b = clinic
    patients = {p.family: p for p in selectors.patients_matching(actor=_actor(a.pk))}
    add_coverage(patients["Smith"], "medicare-part-b", start=D(2015, 4, 1))
    add_coverage(patients["Lee"], "medicare-part-b", start=D(2020, 1, 1), end=D(2026, 3, 9))  # ends today
    add_coverage(patients["Garcia"], "medicare-part-b", start=D(2020, 1, 1), end=D(2025, 12, 31))  # ended
    add_coverage(patients["Garcia"], "qmb", start=D(2024, 1, 1))
    b_smith = selectors.patients_matching(actor=_actor(b.pk), q="Smith, John").get()
    add_coverage(b_smith, "qmb", start=D(2024, 1, 1))
    assert _search(a, coverage_kind="medicare-part-b") == ["Lee, Ann", "Smith, John"]
    assert _search(a, coverage_kind="qmb") == ["Garcia, Maria Luisa"]
    assert _search(a, coverage_kind="medicaid") == []


@pytest.mark.django_db
def test_filter_by_active_icd10_prefix(clinic) -> None:  # type: ignore[no-untyped-def]
    a, b = clinic
    patients = {p.family: p for p in selectors.patients_matching(actor=_actor(a.pk))}
    add_condition(patients["Smith"], "E119")
    add_condition(patients["Lee"], "E1165")
    add_condition(patients["Jones"], "E119", clinical_status="resolved")
    add_condition(patients["Garcia"], "I10")
    add_condition(selectors.patients_matching(actor=_actor(b.pk), q="Smithson").get(), "E119")
    assert _search(a, icd10_prefix="E11") == ["Lee, Ann", "Smith, John"]
    assert _search(a, icd10_prefix="e11.9") == ["Smith, John"]
    assert _search(a, icd10_prefix="I10", sex="female") == ["Garcia, Maria Luisa"]
    assert _search(a, icd10_prefix="J44") == []


@pytest.mark.django_db
def test_filters_combine(clinic) -> None:  # type: ignore[no-untyped-def]
    a, _ = clinic
    assert _search(a, q="smith", sex="female", age_min=60, age_max=70) == ["Smithers, Ann"]


@pytest.mark.django_db
def test_every_lookup_is_scoped_to_the_actor_organization(clinic) -> None:  # type: ignore[no-untyped-def]
    a, b = clinic
    b_smith = selectors.patients_matching(actor=_actor(b.pk), q="Smith, John").get()
    a_smith = selectors.patients_matching(actor=_actor(a.pk), q="Smith, John").get()
    assert a_smith.pk != b_smith.pk
    with pytest.raises(NotFound):
        selectors.patient_by_id(actor=_actor(a.pk), patient_id=b_smith.pk)
    with pytest.raises(NotFound):
        selectors.patient_by_fhir_id(actor=_actor(a.pk), fhir_id=b_smith.fhir_id)
    with pytest.raises(NotFound):
        selectors.patient_chart(actor=_actor(a.pk), patient_id=b_smith.pk)
    assert selectors.patient_by_id(actor=_actor(a.pk), patient_id=a_smith.pk) == a_smith
    assert list(selectors.patients_by_identifier(actor=_actor(a.pk), system=MRN_SYSTEM, value="MRN-001")) == [a_smith]
    assert list(selectors.patients_by_identifier(actor=_actor(a.pk), system=None, value="EPI-77")) == \
        list(selectors.patients_matching(actor=_actor(a.pk), q="Garcia"))
    assert list(selectors.patients_by_identifier(actor=_actor(a.pk), system=None, value="MRN-B")) == []
    assert list(selectors.patients_by_identifier(actor=_actor(a.pk), system="urn:other", value="MRN-001")) == []


@pytest.mark.django_db
def test_an_actor_without_organization_sees_nothing(clinic) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound):
        selectors.patients_matching(actor=_actor(None))
    with pytest.raises(NotFound):
        selectors.patients_by_identifier(actor=_actor(None), system=None, value="MRN-001")


@pytest.mark.django_db
def test_patient_chart_groups_the_facts(clinic) -> None:  # type: ignore[no-untyped-def]
    a, _ = clinic
    smith = selectors.patients_matching(actor=_actor(a.pk), q="Smith, John").get()
    add_condition(smith, "E119", display="Type 2 diabetes")
    add_condition(smith, "I10", clinical_status="resolved", display="Hypertension")
    add_coverage(smith, "medicare-part-b", start=D(2015, 4, 1))
    chart = selectors.patient_chart(actor=_actor(a.pk), patient_id=smith.pk)
    assert chart.patient == smith
    assert [(c.icd10, c.clinical_status) for c in chart.conditions] == [("E119", "active"), ("I10", "resolved")]
    assert [c.kind for c in chart.coverages] == ["medicare-part-b"]
    assert [(i.system, i.value) for i in chart.identifiers] == [(MRN_SYSTEM, "MRN-001")]
    assert (chart.labs, chart.vitals, chart.encounters, chart.medications) == ([], [], [], [])
