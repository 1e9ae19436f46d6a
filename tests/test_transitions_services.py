"""Transition episodes: opening per class and disposition, deadlines, tasks, idempotency, cancel/reopen,
readmission, completion from outreach and visits, the population scan, tenancy and permissions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import time_machine

from careloop.audit.models import AuditEvent
from careloop.core.errors import NotFound, PermissionDenied, ValidationFailed
from careloop.programs.services import designate_care_member
from careloop.transitions import services
from careloop.transitions.models import TransitionEpisode
from careloop.transitions.tests.factories import make_stay, update_stay
from careloop.worklist import services as worklist
from careloop.worklist.models import CareTask
from careloop.worklist.tests.factories import Clinic, make_clinic, system

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
UTC = dt.UTC
# Friday 27 November 2026, 15:00 New York: the day after Thanksgiving.
DISCHARGE = dt.datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
ADMIT = DISCHARGE - dt.timedelta(days=3)
NOW = DISCHARGE + dt.timedelta(hours=1)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def _open(clinic: Clinic, enc_id: int) -> TransitionEpisode | None:
    return services.open_or_update_episode_for_encounter(organization_id=clinic.org.pk, encounter_id=enc_id,
                                                         actor=system(clinic.org))


def _tasks(ep: TransitionEpisode) -> dict[str, CareTask]:
    return {t.task_type: t for t in CareTask.objects.filter(source_type="TransitionEpisode", source_id=str(ep.pk))}


def test_inpatient_discharge_end_to_end_contact_task_due_second_business_day_to_designated_member() -> None:
    clinic = make_clinic()
    patient = clinic.patients[0]
    nurse = clinic.user("nurse")
    clinic.user("coordinator")
    designate_care_member(organization_id=clinic.org.pk, patient_id=patient.pk, user_id=nurse.pk,
                          actor=clinic.actor("admin"), since=dt.date(2026, 11, 1))
    enc = make_stay(patient, start=ADMIT, end=DISCHARGE)
    ep = _open(clinic, enc.pk)
    assert ep is not None
    assert (ep.setting, ep.status, ep.tcm_eligible, ep.readmission_of_id) == ("inpatient", "open", True, None)
    due = dt.datetime(2026, 12, 1, 23, 59, 59, tzinfo=NY)  # Tue: Fri -> Mon (1), Tue (2)
    assert ep.contact_due == due
    assert ep.followup_due == dt.datetime(2026, 12, 4, 23, 59, 59, tzinfo=NY)
    assert ep.visit_due_moderate == dt.datetime(2026, 12, 11, 23, 59, 59, tzinfo=NY)
    tasks = _tasks(ep)
    assert sorted(tasks) == ["care_plan_review", "followup_visit_scheduling", "medication_reconciliation",
                             "post_discharge_contact"]
    contact = tasks["post_discharge_contact"]
    assert (contact.due_at, contact.deadline_at, contact.assigned_user_id) == (due, due, nurse.pk)
    assert contact.dedupe_key == f"transition:{ep.pk}:r1:post_discharge_contact"
    assert tasks["followup_visit_scheduling"].deadline_at == ep.visit_due_moderate
    assert AuditEvent.objects.filter(action="transition.opened", object_id=str(ep.pk)).count() == 1


@pytest.mark.parametrize(("class_code", "facility", "setting"), [
    ("IMP", "General", "inpatient"), ("OBSENC", "General", "observation"), ("EMER", "General", "emergency"),
    ("IMP", "Maple SNF", "snf"),
])
def test_episode_opens_per_class(class_code: str, facility: str, setting: str) -> None:
    clinic = make_clinic()
    ep = _open(clinic, make_stay(clinic.patients[0], start=ADMIT, end=DISCHARGE, class_code=class_code,
                                 facility=facility).pk)
    assert ep is not None and ep.setting == setting and len(_tasks(ep)) == 4


def test_ambulatory_and_still_admitted_encounters_open_nothing() -> None:
    clinic = make_clinic()
    p = clinic.patients[0]
    assert _open(clinic, make_stay(p, start=ADMIT, end=DISCHARGE, class_code="AMB").pk) is None
    assert _open(clinic, make_stay(p, start=ADMIT, end=None).pk) is None
    assert TransitionEpisode.objects.count() == 0


@pytest.mark.parametrize("disposition", ["03", "snf", "50", "51", "20", "exp"])
def test_snf_hospice_or_death_starts_coordination_but_no_tcm_clock(disposition: str) -> None:
    clinic = make_clinic()
    ep = _open(clinic, make_stay(clinic.patients[0], start=ADMIT, end=DISCHARGE, disposition=disposition).pk)
    assert ep is not None
    assert (ep.tcm_eligible, ep.contact_due, ep.visit_due_high) == (False, None, None)
    tasks = _tasks(ep)
    assert list(tasks) == ["care_plan_review"]
    assert tasks["care_plan_review"].deadline_at is None
    assert "no TCM clock" in tasks["care_plan_review"].reason


def test_same_discharge_twice_opens_one_episode() -> None:
    clinic = make_clinic()
    enc = make_stay(clinic.patients[0], start=ADMIT, end=DISCHARGE)
    first, second = _open(clinic, enc.pk), _open(clinic, enc.pk)
    assert first is not None and second is not None and first.pk == second.pk
    assert TransitionEpisode.objects.count() == 1 and CareTask.objects.count() == 4
    assert AuditEvent.objects.filter(action="transition.opened").count() == 1


def test_cancel_discharge_cancels_then_a_new_discharge_reopens_with_new_tasks() -> None:
    clinic = make_clinic()
    enc = make_stay(clinic.patients[0], start=ADMIT, end=DISCHARGE)
    ep = _open(clinic, enc.pk)
    assert ep is not None
    enc = update_stay(enc, status="in-progress", end=None)  # A13
    ep = _open(clinic, enc.pk)
    assert ep is not None and (ep.status, ep.cancelled_reason) == ("cancelled", "discharge cancelled")
    assert set(CareTask.objects.values_list("status", flat=True)) == {"cancelled"}
    later = DISCHARGE + dt.timedelta(hours=20)  # Saturday 10:00 New York
    enc = update_stay(enc, status="finished", end=later)
    ep = _open(clinic, enc.pk)
    assert ep is not None and (ep.status, ep.revision, ep.discharged_at) == ("open", 2, later)
    assert ep.contact_due == dt.datetime(2026, 12, 1, 23, 59, 59, tzinfo=NY)
    assert CareTask.objects.filter(status="requested").count() == 4
    assert CareTask.objects.filter(dedupe_key__contains=":r2:").count() == 4


def test_cancel_admit_cancels_the_episode() -> None:
    clinic = make_clinic()
    enc = make_stay(clinic.patients[0], start=ADMIT, end=DISCHARGE)
    _open(clinic, enc.pk)
    ep = _open(clinic, update_stay(enc, status="cancelled").pk)  # A11
    assert ep is not None and (ep.status, ep.cancelled_reason) == ("cancelled", "stay cancelled")
    assert AuditEvent.objects.filter(action="transition.cancelled").count() == 1


def test_readmission_within_30_days_links_to_the_earlier_episode() -> None:
    clinic = make_clinic()
    p = clinic.patients[0]
    first = _open(clinic, make_stay(p, start=ADMIT - dt.timedelta(days=30), end=ADMIT - dt.timedelta(days=25)).pk)
    second = _open(clinic, make_stay(p, start=ADMIT, end=DISCHARGE).pk)
    assert first is not None and second is not None
    assert second.readmission_of_id == first.pk
    third = _open(clinic, make_stay(clinic.patients[1], start=ADMIT, end=DISCHARGE).pk)
    assert third is not None and third.readmission_of_id is None


def test_readmission_after_30_days_is_not_linked() -> None:
    clinic = make_clinic()
    p = clinic.patients[0]
    _open(clinic, make_stay(p, start=ADMIT - dt.timedelta(days=40), end=ADMIT - dt.timedelta(days=31)).pk)
    second = _open(clinic, make_stay(p, start=ADMIT, end=DISCHARGE).pk)
    assert second is not None and second.readmission_of_id is None


def _outreach(clinic: Clinic, patient_id: int, at: dt.datetime, outcome: str, channel: str = "phone") -> None:
    worklist.log_outreach(organization_id=clinic.org.pk, patient_id=patient_id, channel=channel, outcome=outcome,
                          actor=clinic.actor("nurse"), at=at)


def test_contact_completed_by_a_reached_call() -> None:
    clinic = make_clinic()
    p = clinic.patients[0]
    ep = _open(clinic, make_stay(p, start=ADMIT, end=DISCHARGE).pk)
    assert ep is not None
    with time_machine.travel(DISCHARGE + dt.timedelta(days=3), tick=False):
        _outreach(clinic, p.pk, DISCHARGE + dt.timedelta(days=3), "reached")
        ep = services.refresh_episode(organization_id=clinic.org.pk, episode_id=ep.pk, actor=clinic.actor("nurse"))
    assert ep.contact_done and ep.contact_at == DISCHARGE + dt.timedelta(days=3)
    assert _tasks(ep)["post_discharge_contact"].status == "completed"
    assert ep.status == "open"


def test_contact_completed_by_two_timely_attempts_not_by_one_or_late_ones() -> None:
    clinic = make_clinic()
    p = clinic.patients[0]
    ep = _open(clinic, make_stay(p, start=ADMIT, end=DISCHARGE).pk)
    assert ep is not None
    with time_machine.travel(DISCHARGE + dt.timedelta(days=6), tick=False):
        _outreach(clinic, p.pk, DISCHARGE + dt.timedelta(hours=2), "no_answer")
        _outreach(clinic, p.pk, DISCHARGE + dt.timedelta(days=5), "left_message")  # after Tue 12-01: late
        ep = services.refresh_episode(organization_id=clinic.org.pk, episode_id=ep.pk, actor=system(clinic.org))
        assert not ep.contact_done
        _outreach(clinic, p.pk, DISCHARGE + dt.timedelta(days=3), "left_message")
        ep = services.refresh_episode(organization_id=clinic.org.pk, episode_id=ep.pk, actor=system(clinic.org))
    assert ep.contact_done and ep.contact_at is None
    assert ep.contact_note == "2 timely attempts, no contact"


def test_visit_and_checklist_complete_the_episode() -> None:
    clinic = make_clinic()
    p = clinic.patients[0]
    ep = _open(clinic, make_stay(p, start=ADMIT, end=DISCHARGE).pk)
    assert ep is not None
    make_stay(p, start=DISCHARGE - dt.timedelta(days=10), end=None, class_code="AMB", status="finished")
    visit = make_stay(p, start=DISCHARGE + dt.timedelta(days=5), end=DISCHARGE + dt.timedelta(days=5, hours=1),
                      class_code="AMB")
    nurse = clinic.actor("nurse")
    with time_machine.travel(DISCHARGE + dt.timedelta(days=6), tick=False):
        _outreach(clinic, p.pk, DISCHARGE + dt.timedelta(days=1), "reached")
        ep = services.refresh_episode(organization_id=clinic.org.pk, episode_id=ep.pk, actor=nurse)
        assert (ep.visit_encounter_id, ep.visit_at) == (visit.pk, visit.start)
        ep = services.record_checklist_item(organization_id=clinic.org.pk, episode_id=ep.pk,
                                            item="care_plan_review", actor=nurse)
        assert ep.status == "open"  # medication reconciliation still open
        ep.medrec_at = DISCHARGE + dt.timedelta(days=5)
        ep.save()
        ep = services.refresh_episode(organization_id=clinic.org.pk, episode_id=ep.pk, actor=nurse)
    assert ep.status == "completed"
    assert {t.status for t in _tasks(ep).values()} == {"completed"}


def test_checklist_rejects_unknown_item_and_wrong_roles() -> None:
    clinic = make_clinic()
    ep = _open(clinic, make_stay(clinic.patients[0], start=ADMIT, end=DISCHARGE).pk)
    assert ep is not None
    with pytest.raises(ValidationFailed):
        services.record_checklist_item(organization_id=clinic.org.pk, episode_id=ep.pk, item="x",
                                       actor=clinic.actor("nurse"))
    with pytest.raises(PermissionDenied):
        services.record_checklist_item(organization_id=clinic.org.pk, episode_id=ep.pk, item="care_plan_review",
                                       actor=clinic.actor("billing"))


def test_other_organization_cannot_touch_the_episode() -> None:
    clinic, other = make_clinic(), make_clinic()
    enc = make_stay(clinic.patients[0], start=ADMIT, end=DISCHARGE)
    ep = _open(clinic, enc.pk)
    assert ep is not None
    with pytest.raises(NotFound):
        services.refresh_episode(organization_id=clinic.org.pk, episode_id=ep.pk, actor=other.actor("nurse"))
    with pytest.raises(NotFound):
        services.refresh_episode(organization_id=other.org.pk, episode_id=ep.pk, actor=other.actor("nurse"))
    with pytest.raises(NotFound):
        services.open_or_update_episode_for_encounter(organization_id=other.org.pk, encounter_id=enc.pk,
                                                      actor=system(other.org))


def test_scan_opens_episodes_for_imported_discharges_once() -> None:
    clinic = make_clinic()
    p0, p1 = clinic.patients[:2]
    make_stay(p0, start=ADMIT, end=DISCHARGE, source_kind="fhir")
    make_stay(p1, start=ADMIT - dt.timedelta(days=90), end=ADMIT - dt.timedelta(days=88))
    make_stay(p1, start=ADMIT, end=DISCHARGE, class_code="AMB")
    make_stay(p1, start=ADMIT, end=DISCHARGE, status="cancelled")
    since = DISCHARGE - dt.timedelta(days=30)
    result = services.scan_discharges(organization_id=clinic.org.pk, actor=system(clinic.org), since=since)
    assert len(result.opened) == 1 and result.failed == {}
    assert services.scan_discharges(organization_id=clinic.org.pk, actor=system(clinic.org), since=since).opened == []
    everything = services.scan_discharges(organization_id=clinic.org.pk, actor=system(clinic.org))
    assert len(everything.opened) == 1
    assert TransitionEpisode.objects.count() == 2
