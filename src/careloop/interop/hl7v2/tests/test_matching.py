"""Patient matching: identifiers, then demographics; uncertain matches go to review."""

from __future__ import annotations

import datetime as dt

import pytest

from careloop.clinics.tests.factories import make_org
from careloop.interop.hl7v2.extract import MBI_SYSTEM
from careloop.interop.hl7v2.tests.factories import adt, receive
from careloop.registry.models import Patient, PatientIdentifier, PatientMatchReview, RawHl7Message
from careloop.registry.tests.factories import make_patient

pytestmark = pytest.mark.django_db
HOSP = "urn:careloop:hl7:GENHOSP"


def test_identifier_match_uses_the_facility_mrn() -> None:
    org = make_org()
    p = make_patient(org, "Smith", "Ann", identifiers=[(HOSP, "H-1")])
    [r] = receive(org, adt("A01", mrn="H-1", family="Other", given="Name"))
    assert (r.ack_code, r.status, r.applied and r.applied.patient_id) == ("AA", "accepted", p.pk)
    assert Patient.objects.count() == 1


def test_identifier_match_by_mbi() -> None:
    org = make_org()
    p = make_patient(org, "Smith", "Ann", mbi="1EG4TE5MK73", identifiers=[(MBI_SYSTEM, "1EG4TE5MK73")])
    [r] = receive(org, adt("A01", mrn="NEW-9", mbi="1EG4-TE5-MK73"))
    assert r.applied is not None and r.applied.patient_id == p.pk
    assert set(PatientIdentifier.objects.filter(patient=p).values_list("system", "value")) == {
        (MBI_SYSTEM, "1EG4TE5MK73"), (HOSP, "NEW-9")}


def test_exact_demographics_match_and_the_mrn_is_linked() -> None:
    org = make_org()
    p = make_patient(org, "Doe", "Jane", birth_date=dt.date(1948, 3, 12), sex="female")
    [r] = receive(org, adt("A01", mrn="H-2", family="DOE", given="jane"))
    assert r.applied is not None and r.applied.patient_id == p.pk
    assert PatientIdentifier.objects.get(system=HOSP).patient_id == p.pk


def test_partial_demographics_go_to_review_not_guessed() -> None:
    org = make_org()
    p = make_patient(org, "Doe", "Janet", birth_date=dt.date(1948, 3, 12), sex="female")
    [r] = receive(org, adt("A01", mrn="H-3"))
    assert (r.ack_code, r.status) == ("AA", "review")
    review = PatientMatchReview.objects.get()
    assert [c["patient_id"] for c in review.candidates] == [p.pk]
    assert review.candidates[0]["why"] == "same family, birth date, sex"
    assert review.demographics["family"] == "DOE" and review.status == "open"
    assert Patient.objects.count() == 1  # nothing created
    assert RawHl7Message.objects.get().status == "review"


def test_same_birth_date_and_one_name_only_is_a_different_person() -> None:
    org = make_org()
    make_patient(org, "Roe", "Jane", birth_date=dt.date(1948, 3, 12), sex="male")
    [r] = receive(org, adt("A01", mrn="H-10"))
    assert r.status == "accepted" and Patient.objects.count() == 2


def test_changed_family_name_is_uncertain() -> None:
    org = make_org()
    make_patient(org, "Maiden", "Jane", birth_date=dt.date(1948, 3, 12), sex="female")
    [r] = receive(org, adt("A01", mrn="H-11"))
    assert r.status == "review"
    assert PatientMatchReview.objects.get().candidates[0]["why"] == "same given, birth date, sex"


def test_same_demographics_twice_is_uncertain() -> None:
    org = make_org()
    for _ in range(2):
        make_patient(org, "Doe", "Jane", birth_date=dt.date(1948, 3, 12), sex="female")
    [r] = receive(org, adt("A01", mrn="H-4"))
    assert r.status == "review" and "2 patients" in PatientMatchReview.objects.get().reason


def test_exact_demographics_but_a_different_mrn_is_uncertain() -> None:
    org = make_org()
    make_patient(org, "Doe", "Jane", birth_date=dt.date(1948, 3, 12), sex="female", identifiers=[(HOSP, "OLD")])
    [r] = receive(org, adt("A01", mrn="H-5"))
    assert r.status == "review" and "different identifier" in PatientMatchReview.objects.get().reason


def test_identifiers_of_two_patients_is_uncertain() -> None:
    org = make_org()
    make_patient(org, "A", "A", identifiers=[(HOSP, "H-6")])
    make_patient(org, "B", "B", identifiers=[(MBI_SYSTEM, "1EG4TE5MK73")])
    [r] = receive(org, adt("A01", mrn="H-6", mbi="1EG4TE5MK73"))
    assert r.status == "review"
    assert len(PatientMatchReview.objects.get().candidates) == 2


def test_unknown_patient_without_candidates_is_created_from_pid() -> None:
    org = make_org()
    make_patient(org, "Roe", "Richard", birth_date=dt.date(1950, 1, 1), sex="male")
    [r] = receive(org, adt("A01", mrn="H-7", mbi="1EG4TE5MK73"))
    assert r.status == "accepted"
    p = Patient.objects.get(pk=r.applied.patient_id if r.applied else 0)
    assert (p.family, p.given, p.birth_date, p.sex, p.mbi, p.search_name) == (
        "DOE", "JANE", dt.date(1948, 3, 12), "female", "1EG4TE5MK73", "doe jane")


def test_matching_is_scoped_to_the_organization() -> None:
    a, b = make_org(), make_org()
    make_patient(a, "Smith", "Ann", identifiers=[(HOSP, "H-8")])
    [r] = receive(b, adt("A01", mrn="H-8"))
    assert r.applied is not None
    assert Patient.objects.get(pk=r.applied.patient_id).organization_id == b.pk
