"""The intake path: store first, idempotency, rejections with quarantine, recovery, match-review resolution."""

from __future__ import annotations

import pytest

from careloop.clinics.tests.factories import make_org
from careloop.interop.hl7v2.inbox import MllpHandler
from careloop.interop.hl7v2.parse import normalize, read_header
from careloop.interop.hl7v2.review import resolve_match_review
from careloop.interop.hl7v2.tests.factories import actor, adt, inbox, oru, receive
from careloop.interop.mllp.client import ack_summary
from careloop.registry.models import (
    Encounter,
    Patient,
    PatientEvent,
    PatientMatchReview,
    QuarantinedInput,
    RawHl7Message,
)
from careloop.registry.services import store_hl7_message
from careloop.registry.tests.factories import make_patient

pytestmark = pytest.mark.django_db


def test_resending_the_same_control_id_is_acknowledged_but_not_applied_again() -> None:
    org = make_org()
    first, again = receive(org, adt("A01", "C1"), adt("A01", "C1"))
    assert (first.ack_code, first.status) == ("AA", "accepted")
    assert (again.ack_code, again.status) == ("AA", "duplicate")
    assert ack_summary(again.ack)[:2] == ("AA", "C1")
    assert Encounter.objects.count() == 1 and PatientEvent.objects.count() == 1
    rows = list(RawHl7Message.objects.order_by("pk").values_list("status", "applied_at"))
    assert rows[0][0] == "accepted" and rows[0][1] is not None and rows[1] == ("duplicate", None)


def test_same_control_id_from_another_sender_is_a_new_message() -> None:
    org = make_org()
    receive(org, adt("A01", "C1", app="HIS"), adt("A01", "C1", app="OTHER", visit="V9"))
    assert RawHl7Message.objects.filter(status="accepted").count() == 2


def test_raw_message_and_header_are_kept() -> None:
    org = make_org()
    text = adt("A03", "C2", discharge="20260105083000-0500")
    receive(org, text)
    row = RawHl7Message.objects.get()
    assert (row.sending_application, row.sending_facility, row.control_id, row.message_type, row.version) == (
        "HIS", "GENHOSP", "C2", "ADT^A03", "2.5.1")
    assert row.raw == normalize(text) and row.ack_code == "AA" and row.source == "test"
    assert row.patient_id == Patient.objects.get().pk


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ("PID|1||X^^^H^MR", "AR", "not MSH"),
        ("MSH|^&&^|A|B|C|D|2026||ADT^A01|1|P|2.6", "AR", "differ"),
        ("MSH|^~\\&|A|B|C|D|2026||ADT^A01|1|P|2.2", "AR", "not supported"),
        ("", "AR", "empty"),
        ("\x00\x01garbage", "AR", "not MSH"),
    ],
)
def test_unparseable_input_is_rejected_ar_and_quarantined(text: str, code: str, words: str) -> None:
    org = make_org()
    [r] = receive(org, text)
    assert (r.ack_code, r.status) == (code, "rejected") and words in (r.error or "")
    assert ack_summary(r.ack)[0] == code and b"\rERR|" in r.ack
    q = QuarantinedInput.objects.get()
    assert (q.channel, q.organization_id) == ("hl7v2", org.pk) and words in q.reason
    assert RawHl7Message.objects.get().status == "rejected"


@pytest.mark.parametrize(
    ("text", "words", "location"),
    [
        (adt("A01", "E1", ids=""), "PID-3", "PID^1^3"),
        (adt("A01", "E2", pid=False), "requires a PID", "PID"),
        (adt("A03", "E3", pv1=False), "requires a PV1", "PV1"),
        (adt("A03", "E4", discharge="2026-01-05"), "PV1-45", "PV1^1^45"),
        (adt("A03", "E5", admit="20260105", discharge="20260101"), "before the admit", "PV1^1^45"),
    ],
)
def test_semantically_wrong_messages_are_rejected_ae_and_quarantined(text: str, words: str, location: str) -> None:
    org = make_org()
    [r] = receive(org, text)
    assert (r.ack_code, r.status) == ("AE", "rejected") and words in (r.error or "")
    err = r.ack.decode().split("\r")[2]
    assert err.startswith(f"ERR||{location}|")
    assert QuarantinedInput.objects.get().location.startswith("MSH-10 E")
    assert Patient.objects.count() == 0 and Encounter.objects.count() == 0  # nothing half-applied


def test_a_rejected_message_can_be_fixed_and_resent_with_the_same_control_id() -> None:
    org = make_org()
    bad, good = receive(org, adt("A03", "F1", pv1=False), adt("A03", "F1", discharge="20260105083000-0500"))
    assert (bad.ack_code, good.ack_code, good.status) == ("AE", "AA", "accepted")


def test_several_messages_in_one_frame_are_refused() -> None:
    org = make_org()
    [r] = receive(org, adt("A01", "1") + adt("A03", "2"))
    assert r.ack_code == "AR" and "one message per MLLP frame" in (r.error or "")


def test_nul_bytes_are_kept_as_replacement_characters() -> None:
    org = make_org()
    [r] = inbox(org).ingest_text("MSH|^~\\&|A|B|C|D|2026||ADT^A01|N1|P|2.5\rPID|1||\x00X^^^H^MR", source="f")
    assert r.ack_code == "AE" and "requires a PV1" in (r.error or "")
    assert "\ufffd" in RawHl7Message.objects.get().raw


def test_file_ingest_splits_on_msh_with_any_line_ending() -> None:
    org = make_org()
    text = adt("A01", "1").replace("\r", "\n") + adt("A03", "2", discharge="20260105083000-0500").replace("\r", "\r\n")
    results = inbox(org).ingest_text("\ufeff" + text, source="file.hl7")
    assert [(r.index, r.ack_code, r.status) for r in results] == [(1, "AA", "accepted"), (2, "AA", "accepted")]
    assert Encounter.objects.get().status == "finished"


def test_warnings_are_sent_with_aa() -> None:
    org = make_org()
    [r] = receive(org, adt("A01", "W1", dob="19481399"))
    assert r.ack_code == "AA" and b"ERR||" in r.ack and b"|W|" in r.ack
    assert "PID-7" in RawHl7Message.objects.get().error


def test_internal_error_is_ae_and_the_message_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    from careloop.interop.hl7v2 import inbox as module

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(module, "apply_message", boom)
    org = make_org()
    [r] = receive(org, adt("A01", "X1"))
    assert r.ack_code == "AE" and "disk on fire" in (r.error or "") and b"|207^" in r.ack
    assert RawHl7Message.objects.get().status == "rejected" and QuarantinedInput.objects.count() == 1


def test_stored_but_unprocessed_messages_are_recovered_once() -> None:
    org = make_org()
    text = normalize(adt("A01", "R1"))
    store_hl7_message(organization_id=org.pk, header=read_header(text).as_store_fields(), raw=text, source="mllp")
    assert inbox(org).recover_pending() == 1
    assert RawHl7Message.objects.get().status == "accepted" and Encounter.objects.count() == 1
    [resend] = receive(org, adt("A01", "R1"))  # the sender never got the ACK and resends
    assert resend.status == "duplicate" and Encounter.objects.count() == 1
    assert inbox(org).recover_pending() == 0


def test_resolving_a_review_applies_the_held_messages_in_order() -> None:
    import datetime as dt

    org = make_org()
    p = make_patient(org, "Doe", "Janet", birth_date=dt.date(1948, 3, 12), sex="female")
    held = receive(org, adt("A01", "H1", mrn="H-9"), adt("A03", "H2", mrn="H-9", discharge="20260105083000-0500"))
    assert [r.status for r in held] == ["review", "review"]
    first = PatientMatchReview.objects.order_by("pk").first()
    assert first is not None
    res = resolve_match_review(review_id=first.pk, patient_id=p.pk, actor=actor(org), time_zone=org.time_zone)
    assert res.patient_id == p.pk and len(res.applied_messages) == 2
    assert Encounter.objects.get().status == "finished" and Encounter.objects.get().patient_id == p.pk
    assert set(PatientMatchReview.objects.values_list("status", flat=True)) == {"resolved"}
    assert set(RawHl7Message.objects.values_list("status", flat=True)) == {"accepted"}


def test_mllp_handler_answers_oversized_messages_with_ar() -> None:
    org = make_org()
    handler = MllpHandler(inbox(org))
    ack = handler.oversized(adt("A01", "BIG").encode()[:200], 20_000_000, "1.2.3.4:5")
    assert ack is not None and ack_summary(ack)[:2] == ("AR", "BIG")
    assert "exceeds the size limit" in QuarantinedInput.objects.get().reason


def test_resolving_a_conflict_review_keeps_each_identifier_with_its_holder() -> None:
    from careloop.interop.hl7v2.extract import MBI_SYSTEM

    org = make_org()
    a = make_patient(org, "A", "A", identifiers=[("urn:careloop:hl7:GENHOSP", "H-6")])
    make_patient(org, "B", "B", identifiers=[(MBI_SYSTEM, "1EG4TE5MK73")])
    [held] = receive(org, adt("A01", "K1", mrn="H-6", mbi="1EG4TE5MK73"))
    review = PatientMatchReview.objects.get()
    res = resolve_match_review(review_id=review.pk, patient_id=a.pk, actor=actor(org))
    assert (held.status, res.patient_id) == ("review", a.pk) and Encounter.objects.get().patient_id == a.pk


def _mixed_messages(*, rejected: bool) -> list[str]:
    """Messages whose batch neighbours depend on each other: the same patient and stay twice, a patient created
    then matched by demographics, updated, merged, a resend, a late admit, cancels, a message without visit
    number, one for a lab (no stay), and (``rejected``) one the batch must reject."""
    roe = {"family": "ROE", "given": "ANN", "dob": "19500101"}
    out = [
        adt("A01", "C1", mrn="M1", visit="V1", dx=["I50.9"]),
        adt("A03", "C2", mrn="M1", visit="V1", discharge="20260104100000-0500", disposition="01"),
        adt("A01", "C3", mrn="M2", visit="V2", **roe),
        adt("A01", "C4", mrn="M3", visit="V3", **roe),  # same person as C3, other MRN: held for review
        adt("A01", "C4B", mrn="", mbi="1EG4TE5MK73", visit="V4", family="POE", given="AL", dob="19400202"),
        adt("A04", "C4C", mrn="X5", visit="V5", family="POE", given="AL", dob="19400202", sex="M"),
        adt("A08", "C5", mrn="M2", visit="V2", family="ROE-SMITH", given="ANN", dob="19500101"),
        adt("A01", "C1", mrn="M1", visit="V1", dx=["I50.9"]),  # resent
        adt("A02", "C6", mrn="M2", visit="V2", **roe),
        adt("A03", "C7", mrn="M9", visit="V9", discharge="20260106100000-0500"),  # discharge before admit
        adt("A01", "C8", mrn="M9", visit="V9"),  # the late admit: the stay stays finished
        adt("A01", "C8B", mrn="M8", visit="", admit="20260102120000-0500"),  # no visit number: by admit time
        adt("A03", "C8C", mrn="M8", visit="", admit="20260102120000-0500", discharge="20260103120000-0500"),
        adt("A11", "C9", mrn="M2", visit="V2"),
        oru("C9B", mrn="M2"),
        adt("A40", "C10", mrn="M1", prior="M9", pv1=False),
        adt("A01", "C11", mrn="M1", visit="V10", admit="20260107120000-0500", dx=["E11.9", "I50.9"]),
        adt("A13", "C12", mrn="M1", visit="V9"),
        adt("A03", "C13", mrn="M1", visit="V10", discharge="20260108100000-0500"),
    ]
    if rejected:
        out.insert(5, adt("A03", "BAD", mrn="M7", visit="V7", discharge="2026010"))
        out.insert(9, adt("A04", "BAD2", mrn="", ids="", visit="V6"))
    return out


def _sorted(items: object) -> list[object]:
    return sorted(items, key=repr)  # type: ignore[call-overload]


def _snapshot(org_id: int) -> dict[str, object]:
    """What an organization holds, with database ids replaced by natural keys (ids differ between runs)."""
    import json
    import re

    from careloop.audit.models import AuditEvent
    from careloop.registry.models import PatientIdentifier
    from careloop.transitions.models import PendingEpisodeSync

    idents: dict[int, list[str]] = {}
    for pid, system, value in PatientIdentifier.objects.filter(organization_id=org_id).values_list(
            "patient_id", "system", "value"):
        idents.setdefault(pid, []).append(f"{system}#{value}")
    patients = {p.pk: (p.family, p.given, "|".join(sorted(idents.get(p.pk, [])))) for p in
                Patient.objects.filter(organization_id=org_id)}
    encounters = {e.pk: (patients[e.patient_id], e.facility, e.visit_number, str(e.start)) for e in
                  Encounter.objects.filter(organization_id=org_id)}
    messages = {m.pk: (m.control_id, m.status) for m in RawHl7Message.objects.filter(organization_id=org_id)}

    def natural(key: str, value: object) -> object:
        if key in ("patient_created",) and isinstance(value, int):
            return patients[value]
        if key == "encounter" and isinstance(value, int):
            return encounters[value]
        if key == "message" and isinstance(value, int):
            return messages[value]
        if key == "reason" and isinstance(value, str):
            return re.sub(r"patient \d+", "patient N", value)
        if key == "merged" and isinstance(value, list):
            return _sorted(str(patients[v]) for v in value)
        return value

    return {
        "messages": _sorted((m.control_id, m.status, m.ack_code, re.sub(r"(message|patient) \d+", r"\1 N", m.error),
                             patients.get(m.patient_id or 0))
                           for m in RawHl7Message.objects.filter(organization_id=org_id)),
        "patients": _sorted((*key, str(p.birth_date), p.sex, p.mbi, p.active, p.search_name, p.city, p.phone)
                           for p in Patient.objects.filter(organization_id=org_id) if (key := patients[p.pk])),
        "encounters": _sorted((*encounters[e.pk], e.status, e.class_code, str(e.end), e.location, e.type_code,
                              e.discharge_disposition, json.dumps(e.diagnoses), e.start_offset, e.end_offset)
                             for e in Encounter.objects.filter(organization_id=org_id)),
        "timeline": _sorted((patients[t.patient_id], encounters.get(t.encounter_id or 0), t.event_type, t.summary,
                            str(t.occurred_at), messages.get(t.message_id or 0))
                           for t in PatientEvent.objects.filter(organization_id=org_id)),
        "queued": _sorted(encounters[q.encounter_id]
                          for q in PendingEpisodeSync.objects.filter(organization_id=org_id)),
        "reviews": _sorted((re.sub(r"patient \d+", "patient N", r.reason), messages[r.message_id]) for r in
                          PatientMatchReview.objects.filter(organization_id=org_id)),
        "quarantined": _sorted((q.location, q.reason) for q in QuarantinedInput.objects.filter(organization_id=org_id)),
        "audit": _sorted((a.action, patients.get(a.patient_id or 0), a.object_type,
                         messages.get(int(a.object_id)) if a.object_type == "RawHl7Message" else "",
                         json.dumps({k: natural(k, v) for k, v in json.loads(a.detail).items()}, sort_keys=True,
                                    default=str))
                        for a in AuditEvent.objects.filter(organization_id=org_id, action__startswith="hl7.")),
    }


@pytest.mark.parametrize(("rejected", "max_keys"), [(False, 250), (True, 250), (False, 1)],
                         ids=["one-transaction", "with-a-rejection", "too-many-keys-to-read-up-front"])
def test_a_batch_ends_exactly_as_the_same_messages_one_at_a_time(rejected: bool, max_keys: int,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Group commit reads the batch's lookups up front and writes its new rows together (``BatchReads``); with
    messages that depend on each other inside one batch, the outcome is the same as one message per batch."""
    from careloop.interop.hl7v2 import reads
    from careloop.interop.hl7v2.inbox import Incoming

    monkeypatch.setattr(reads, "MAX_KEYS", max_keys)

    texts = _mixed_messages(rejected=rejected)
    one, together = make_org(), make_org()
    singles = [r for t in texts for r in inbox(one).receive_batch([Incoming(normalize(t), "test")])]
    box = inbox(together)
    if not rejected:  # the batch is stored and applied in one transaction
        box._receive_in_two = None  # type: ignore[assignment, method-assign]
    batch = box.receive_batch([Incoming(normalize(t), "test") for t in texts])
    assert [(r.ack_code, r.status, r.error) for r in batch] == [(r.ack_code, r.status, r.error) for r in singles]
    a, b = _snapshot(together.pk), _snapshot(one.pk)
    for key in a:
        assert a[key] == b[key], key
    statuses = {r.status for r in batch}
    assert {"accepted", "duplicate", "review"} <= statuses and ("rejected" in statuses) == rejected


def test_a_clash_writing_the_batch_rows_together_falls_back_to_one_row_at_a_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Another listener may create the same patient or stay between the batch's reads and its set-based writes
    (PostgreSQL): the one-transaction path gives way to store-first, whose pass gives way to writing each row at
    once - where such a clash belongs to one message (retried, then AE). Here the clash happens twice, then not."""
    from django.db import IntegrityError

    from careloop.interop.hl7v2 import reads
    from careloop.interop.hl7v2.inbox import Incoming

    real, calls = reads.create_patients, []

    def clashing(**kwargs: object) -> None:
        calls.append(kwargs)
        if len(calls) <= 2:
            raise IntegrityError("duplicate key value violates unique constraint")
        real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reads, "create_patients", clashing)
    org = make_org()
    texts = [adt("A01", f"K{i}", mrn=f"K-{i}", visit=f"VK{i}", family=f"KAY{i}", dob=f"1950010{i + 1}")
             for i in range(3)]
    results = inbox(org).receive_batch([Incoming(normalize(t), "test") for t in texts])
    assert [(r.ack_code, r.status) for r in results] == [("AA", "accepted")] * 3 and len(calls) == 2
    assert RawHl7Message.objects.filter(organization=org).count() == 3  # each stored once
    assert Patient.objects.filter(organization=org).count() == 3 and Encounter.objects.count() == 3
    assert set(RawHl7Message.objects.values_list("status", flat=True)) == {"accepted"}


@pytest.mark.django_db
def test_statistics_are_refreshed_off_the_intake_thread_as_the_tables_grow(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from careloop.interop.hl7v2 import inbox as inbox_module

    calls: list[str] = []
    release = threading.Event()

    def slow_refresh(models: object) -> None:
        calls.append(threading.current_thread().name)
        release.wait(10)

    monkeypatch.setattr(inbox_module, "refresh_planner_statistics", slow_refresh)
    box = inbox(make_org("stats"))
    box.concurrent_writers = True  # as on PostgreSQL (on SQLite there is nothing to refresh)
    box._next_analyze = 1
    first = box.receive_frame(adt("A01", "S1", mrn="ST1").encode(), source="t")  # passes the step: ANALYZE starts
    second = box.receive_frame(adt("A01", "S2", mrn="ST2").encode(), source="t")  # not held up by it
    assert (first.ack_code, second.ack_code) == ("AA", "AA")
    assert calls == ["hl7-analyze"]  # on its own thread, one at a time
    release.set()
    box.wait_for_statistics()
    assert box._next_analyze == 4
