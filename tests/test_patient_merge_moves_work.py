"""An HL7 A40 merge moves the merged patient's work and programs to the survivor: tasks, outreach, time entries
(the month's minutes then add up on one patient), designations, enrollments (a clash closes the merged one) and
device days (a clash adds the readings), audited on both trails."""

from __future__ import annotations

import datetime as dt

import pytest

from careloop.accounts.tests.factories import make_user
from careloop.audit.models import AuditEvent
from careloop.clinics.tests.factories import make_org
from careloop.interop.hl7v2.inbox import Hl7Inbox
from careloop.interop.hl7v2.tests.factories import adt
from careloop.programs.models import DesignatedCareMember, DeviceDayCount, Enrollment
from careloop.programs.tests.factories import make_practitioner
from careloop.registry.models import Patient
from careloop.worklist.models import CareTask, OutreachAttempt, TimeEntry
from careloop.worklist.tests.factories import make_task

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 2)


def _ingest(inbox: Hl7Inbox, *messages: str) -> None:
    for m in messages:
        assert inbox.receive_frame(m.encode(), source="test").ack_code == "AA"


def test_a40_moves_tasks_time_outreach_enrollments_and_device_days() -> None:
    org = make_org()
    inbox = Hl7Inbox(organization_id=org.pk)
    _ingest(inbox, adt("A01", "1", mrn="OLD", visit="V1"), adt("A01", "2", mrn="NEW", dob="19480313", visit="V2"))
    old = Patient.objects.get(identifiers__value="OLD")
    new = Patient.objects.get(identifiers__value="NEW")
    nurse, doc = make_user(org, "nurse"), make_practitioner(org)
    task = make_task(org, old)
    for patient, minutes in ((old, 12), (new, 10)):
        TimeEntry.objects.create(organization=org, patient=patient, staff=nurse, staff_type="clinical_staff",
                                 minutes=minutes, activity="care_coordination", program="CCM", service_date=DAY)
    OutreachAttempt.objects.create(organization=org, patient=old, channel="phone", outcome="reached",
                                   at=dt.datetime(2026, 11, 2, 15, tzinfo=dt.UTC), user=nurse)
    for patient in (old, new):
        DesignatedCareMember.objects.create(organization=org, patient=patient, user=nurse, since=DAY)
    ccm_old = Enrollment.objects.create(organization=org, patient=old, program="CCM", start=DAY,
                                        billing_practitioner=doc, enrolled_by="t")
    Enrollment.objects.create(organization=org, patient=new, program="CCM", start=DAY, billing_practitioner=doc,
                              enrolled_by="t")
    rpm_old = Enrollment.objects.create(organization=org, patient=old, program="RPM", start=DAY,
                                        billing_practitioner=doc, enrolled_by="t")
    DeviceDayCount.objects.create(organization=org, patient=old, kind="RPM", day=DAY, readings=2)
    DeviceDayCount.objects.create(organization=org, patient=new, kind="RPM", day=DAY, readings=3)
    DeviceDayCount.objects.create(organization=org, patient=old, kind="RPM", day=DAY + dt.timedelta(days=1))

    _ingest(inbox, adt("A40", "3", mrn="NEW", prior="OLD", pv1=False))

    task.refresh_from_db()
    assert task.patient_id == new.pk and not CareTask.objects.filter(patient=old).exists()
    assert sum(TimeEntry.objects.filter(patient=new, program="CCM").values_list("minutes", flat=True)) == 22
    assert OutreachAttempt.objects.get().patient_id == new.pk
    assert DesignatedCareMember.objects.filter(patient=new, until__isnull=True).count() == 1  # survivor's stays
    assert DesignatedCareMember.objects.filter(patient=new).count() == 2
    ccm_old.refresh_from_db()
    assert ccm_old.patient_id == new.pk and ccm_old.end is not None and "merged" in ccm_old.end_reason
    assert Enrollment.objects.filter(patient=new, program="CCM", end__isnull=True).count() == 1
    rpm_old.refresh_from_db()
    assert rpm_old.patient_id == new.pk and rpm_old.end is None  # no clash: still open, now the survivor's
    assert sorted(DeviceDayCount.objects.filter(patient=new).values_list("day", "readings")) == [
        (DAY, 5), (DAY + dt.timedelta(days=1), 1)]
    assert not DeviceDayCount.objects.filter(patient=old).exists()
    for action in ("worklist.patient_merged", "programs.patient_merged"):
        assert AuditEvent.objects.get(action=action).patient_id == old.pk
    for action in ("worklist.patient_merge_received", "programs.patient_merge_received"):
        assert AuditEvent.objects.get(action=action).patient_id == new.pk
