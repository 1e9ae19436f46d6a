"""Build HL7 v2 messages for tests, with every field at its standard position."""

from __future__ import annotations

from collections.abc import Sequence

from careloop.clinics.models import Organization
from careloop.core.actor import Actor
from careloop.interop.hl7v2.inbox import Hl7Inbox, Result


def segment(name: str, fields: dict[int, str]) -> str:
    parts = [""] * (max(fields) + 1 if fields else 1)
    parts[0] = name
    for n, value in fields.items():
        parts[n] = value
    return "|".join(parts)


def msh(code: str, event: str, control_id: str, *, app: str = "HIS", facility: str = "GENHOSP",
        version: str = "2.5.1", sent: str = "20260105083000-0500") -> str:
    structure = f"^{code}_{event}" if event else ""
    return "|".join(["MSH", "^~\\&", app, facility, "CARELOOP", "CLINIC", sent, "",
                     f"{code}^{event}{structure}", control_id, "P", version])


def adt(
    event: str,
    control_id: str = "MSG1",
    *,
    mrn: str = "MRN1",
    facility: str = "GENHOSP",
    app: str = "HIS",
    version: str = "2.5.1",
    family: str = "DOE",
    given: str = "JANE",
    dob: str = "19480312",
    sex: str = "F",
    visit: str = "V1",
    patient_class: str = "I",
    admit: str = "20260101120000-0500",
    discharge: str = "",
    disposition: str = "",
    service: str = "",
    patient_type: str = "",
    dx: Sequence[str] = (),
    mbi: str = "",
    ids: str | None = None,
    prior: str | None = None,
    sent: str = "20260105083000-0500",
    event_time: str = "",
    pid: bool = True,
    pv1: bool = True,
) -> str:
    segs = [msh("ADT", event, control_id, app=app, facility=facility, version=version, sent=sent),
            segment("EVN", {1: event, 2: sent, 6: event_time})]
    if pid:
        identifiers = ids if ids is not None else "~".join(
            x for x in (f"{mrn}^^^{facility}^MR" if mrn else "", f"{mbi}^^^CMS^MB" if mbi else "") if x
        )
        segs.append(segment("PID", {1: "1", 3: identifiers, 5: f"{family}^{given}", 7: dob, 8: sex}))
    if prior is not None:
        segs.append(segment("MRG", {1: f"{prior}^^^{facility}^MR"}))
    if pv1:
        segs.append(segment("PV1", {1: "1", 2: patient_class, 3: f"4W^401^A^{facility}", 10: service,
                                    18: patient_type, 19: f"{visit}^^^{facility}^VN" if visit else "",
                                    36: disposition, 44: admit, 45: discharge}))
    for i, code in enumerate(dx, 1):
        segs.append(segment("DG1", {1: str(i), 3: f"{code}^Diagnosis^I10", 6: "A"}))
    return "\r".join(segs) + "\r"


def oru(control_id: str = "LAB1", *, mrn: str = "MRN1", facility: str = "GENHOSP") -> str:
    return "\r".join([
        msh("ORU", "R01", control_id, app="LAB", facility=facility),
        segment("PID", {1: "1", 3: f"{mrn}^^^{facility}^MR", 5: "DOE^JANE", 7: "19480312", 8: "F"}),
        segment("OBR", {1: "1", 4: "1554-5^GLUCOSE^LN"}),
        segment("OBX", {1: "1", 2: "NM", 3: "1554-5^GLUCOSE^LN", 5: "182", 6: "mg/dl"}),
    ]) + "\r"


def inbox(org: Organization) -> Hl7Inbox:
    return Hl7Inbox(organization_id=org.pk, time_zone=org.time_zone)


def receive(org: Organization, *texts: str) -> list[Result]:
    box = inbox(org)
    return [box.receive_frame(t.encode(), source="test") for t in texts]


def actor(org: Organization) -> Actor:
    return Actor.system(org.pk, "test")
