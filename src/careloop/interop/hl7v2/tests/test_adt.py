"""ADT state machine, encounter fields, demographics updates, timeline, merge (A40)."""

from __future__ import annotations

import datetime as dt

import pytest

from careloop.audit.models import AuditEvent
from careloop.clinics.tests.factories import make_org
from careloop.interop.hl7v2.tests.factories import adt, oru, receive
from careloop.registry.models import (
    Condition,
    Encounter,
    Patient,
    PatientEvent,
    PatientIdentifier,
    PatientLink,
)
from careloop.registry.tests.factories import add_condition

pytestmark = pytest.mark.django_db
EST = dt.timezone(dt.timedelta(hours=-5))


def statuses(*results: object) -> list[tuple[str, str]]:
    return [(r.ack_code, r.status) for r in results]  # type: ignore[attr-defined]


def test_admit_then_discharge_closes_the_stay_with_times_offsets_and_disposition() -> None:
    org = make_org()
    results = receive(
        org,
        adt("A01", "1", admit="20260101120000-0500"),
        adt("A03", "2", admit="20260101120000-0500", discharge="20260105083000-0500", disposition="01",
            dx=["I50.9", "N18.3"]),
    )
    assert statuses(*results) == [("AA", "accepted")] * 2
    enc = Encounter.objects.get()
    assert (enc.status, enc.class_code, enc.source_kind, enc.facility, enc.visit_number) == (
        "finished", "IMP", "hl7v2", "GENHOSP", "V1")
    assert enc.start == dt.datetime(2026, 1, 1, 12, tzinfo=EST) and enc.start_offset == "-05:00"
    assert enc.end == dt.datetime(2026, 1, 5, 8, 30, tzinfo=EST) and enc.end_offset == "-05:00"
    assert (enc.discharge_disposition, enc.diagnoses) == ("01", ["I509", "N183"])
    assert enc.location == "GENHOSP / 4W / 401 / A"
    assert list(PatientEvent.objects.order_by("pk").values_list("event_type", "encounter_id")) == [
        ("ADT^A01", enc.pk), ("ADT^A03", enc.pk)]


def test_discharge_without_pv1_45_uses_the_event_time() -> None:
    org = make_org()
    receive(org, adt("A03", "1", event_time="20260105090000-0500"))
    enc = Encounter.objects.get()
    assert enc.status == "finished" and enc.end == dt.datetime(2026, 1, 5, 9, tzinfo=EST)


def test_late_admit_after_discharge_does_not_reopen() -> None:
    org = make_org()
    receive(org, adt("A03", "2", discharge="20260105083000-0500"),
            adt("A01", "1", patient_class="E", sent="20260101120000-0500"))
    enc = Encounter.objects.get()
    assert (enc.status, enc.class_code) == ("finished", "IMP")  # the stale admit changes nothing it holds
    assert enc.end is not None


def test_cancel_admit_cancels_and_cancel_discharge_reopens() -> None:
    org = make_org()
    receive(org, adt("A01", "1"), adt("A03", "2", discharge="20260105083000-0500"), adt("A13", "3"))
    enc = Encounter.objects.get()
    assert (enc.status, enc.end, enc.end_offset, enc.discharge_disposition) == ("in-progress", None, "", "")
    receive(org, adt("A11", "4"))
    assert Encounter.objects.get().status == "cancelled"


def test_readmit_after_cancel_only_when_newer() -> None:
    org = make_org()
    receive(org, adt("A01", "1", sent="20260101100000-0500"), adt("A11", "2", sent="20260101110000-0500"),
            adt("A01", "3", sent="20260101090000-0500"))
    assert Encounter.objects.get().status == "cancelled"  # an older admit arriving late
    receive(org, adt("A01", "4", sent="20260101130000-0500"))
    assert Encounter.objects.get().status == "in-progress"


def test_cancel_admit_for_an_unknown_visit_creates_nothing() -> None:
    org = make_org()
    [r] = receive(org, adt("A11", "1"))
    assert r.status == "accepted" and Encounter.objects.count() == 0
    assert PatientEvent.objects.get().event_type == "ADT^A11"


def test_pre_admit_then_admit_and_transfer() -> None:
    org = make_org()
    receive(org, adt("A05", "1", admit=""))
    assert Encounter.objects.get().status == "planned"
    receive(org, adt("A01", "2"), adt("A06", "3", patient_class="I", service="MED"))
    enc = Encounter.objects.get()
    assert (enc.status, enc.type_code) == ("in-progress", "MED")
    receive(org, adt("A07", "4", patient_class="O"))
    assert Encounter.objects.get().class_code == "AMB"


def test_cancel_pending_admit_cancels_only_a_planned_stay() -> None:
    org = make_org()
    [none] = receive(org, adt("A27", "0"))
    assert none.status == "accepted" and Encounter.objects.count() == 0
    receive(org, adt("A14", "1", admit=""), adt("A27", "2"))
    assert Encounter.objects.get().status == "cancelled"


def test_update_without_pv1_changes_the_person_only() -> None:
    org = make_org()
    [r] = receive(org, adt("A08", "1", pv1=False))
    assert r.status == "accepted" and Encounter.objects.count() == 0 and Patient.objects.count() == 1


def test_visit_without_number_is_keyed_by_patient_and_admit_time() -> None:
    org = make_org()
    receive(org, adt("A01", "1", visit=""), adt("A03", "2", visit="", discharge="20260102120000-0500"))
    assert list(Encounter.objects.values_list("status", "visit_number")) == [("finished", "")]
    receive(org, adt("A01", "3", visit="", admit="20260201120000-0500"))
    assert Encounter.objects.count() == 2


def test_demographic_updates_a28_a31_a08_and_fill_only_otherwise() -> None:
    org = make_org()
    receive(org, adt("A01", "1", family="DOE", given="JANE"))
    receive(org, adt("A03", "2", family="DOE-SMITH", given="JANE"))
    p = Patient.objects.get()
    assert p.family == "DOE"  # a discharge does not rename
    receive(org, adt("A31", "3", family="DOE-SMITH", given="JANE", dob="19480313", pv1=False))
    p.refresh_from_db()
    assert (p.family, p.birth_date, p.search_name) == ("DOE-SMITH", dt.date(1948, 3, 13), "doe-smith jane")
    receive(org, adt("A28", "4", mrn="MRN1", family="DOE", given="JANE", pv1=False))
    p.refresh_from_db()
    assert p.family == "DOE" and Encounter.objects.count() == 1


def test_other_events_and_non_adt_go_on_the_timeline_only() -> None:
    org = make_org()
    results = receive(org, adt("A09", "1"), adt("A60", "2"), oru("L1"))
    assert statuses(*results) == [("AA", "accepted")] * 3
    assert Encounter.objects.count() == 0
    assert list(PatientEvent.objects.order_by("pk").values_list("event_type", flat=True)) == [
        "ADT^A09", "ADT^A60", "ORU^R01"]
    assert Patient.objects.count() == 1


def test_merge_moves_identifiers_encounters_and_facts_and_keeps_a_pointer() -> None:
    org = make_org()
    receive(org, adt("A01", "1", mrn="OLD", family="DOE", given="JANE", visit="V1"))
    receive(org, adt("A01", "2", mrn="NEW", family="DOE", given="JANE", dob="19480313", visit="V2"))
    old = Patient.objects.get(identifiers__value="OLD")
    new = Patient.objects.get(identifiers__value="NEW")
    add_condition(old, "E1165")
    [r] = receive(org, adt("A40", "3", mrn="NEW", prior="OLD", pv1=False))
    assert (r.ack_code, r.status) == ("AA", "accepted")
    old.refresh_from_db()
    assert old.active is False
    link = PatientLink.objects.get()
    assert (link.merged_id, link.surviving_id) == (old.pk, new.pk)
    assert link.moved == {"PatientIdentifier": 1, "Condition": 1, "Encounter": 1, "PatientEvent": 1}
    assert set(PatientIdentifier.objects.values_list("value", "patient_id")) == {("OLD", new.pk), ("NEW", new.pk)}
    assert set(Encounter.objects.values_list("patient_id", flat=True)) == {new.pk}
    assert Condition.objects.get().patient_id == new.pk
    assert AuditEvent.objects.filter(action="registry.patient_merged", patient_id=old.pk).count() == 1
    # Later messages for the merged MRN land on the survivor; the merge is idempotent.
    [again] = receive(org, adt("A03", "4", mrn="OLD", visit="V1", discharge="20260105083000-0500"))
    assert again.applied is not None and again.applied.patient_id == new.pk
    [noop] = receive(org, adt("A40", "5", mrn="NEW", prior="OLD", pv1=False))
    assert noop.status == "accepted" and PatientLink.objects.count() == 1


def test_merge_into_an_unknown_survivor_relabels_the_prior_patient() -> None:
    org = make_org()
    receive(org, adt("A01", "1", mrn="OLD"))
    [r] = receive(org, adt("A40", "2", mrn="NEW", prior="OLD", pv1=False))
    assert r.status == "accepted" and Patient.objects.count() == 1
    assert set(PatientIdentifier.objects.values_list("value", flat=True)) == {"OLD", "NEW"}


def test_merge_without_mrg_is_rejected() -> None:
    org = make_org()
    [r] = receive(org, adt("A40", "1", pv1=False))
    assert (r.ack_code, r.status) == ("AE", "rejected") and "MRG-1" in (r.error or "")


def test_every_applied_message_is_audited_once_with_what_it_changed() -> None:
    import orjson

    org = make_org()
    receive(org, adt("A01", "1"), adt("A03", "2", discharge="20260105083000-0500"))
    rows = list(AuditEvent.objects.filter(action__startswith="hl7.").order_by("seq")
                .values_list("action", "patient_id", "object_type", "detail"))
    patient, enc = Patient.objects.get(), Encounter.objects.get()
    assert [(a, p, t) for a, p, t, _ in rows] == [("hl7.message_applied", patient.pk, "RawHl7Message")] * 2
    # the discharge's episode (queued with the A03, worked off after its commit) is audited on its own
    assert AuditEvent.objects.filter(action="transition.opened", patient_id=patient.pk).count() == 1
    first, second = (orjson.loads(d) for *_, d in rows)
    assert first["type"] == "ADT^A01" and first["patient_created"] == patient.pk and first["match"] == "new"
    assert first["encounter"] == enc.pk and first["encounter_status"] == [None, "in-progress"]
    assert second["match"] == "identifier" and second["encounter_status"] == ["in-progress", "finished"]
    assert "end" in second["encounter_fields"]
