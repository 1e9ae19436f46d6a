"""Patients, their identifiers and coverage, and the clinical facts received about them.

Every resource received over FHIR is kept as received in ``FhirResource`` (so it can be served back and
audited) and keyed by (organization, source system, type, source id) so a re-import updates instead of
duplicating. Typed rows for the modeled types point at their ``FhirResource``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from django.db import models

from careloop.core.models import OrgScopedModel
from careloop.registry.choices import (
    CoverageKind,
    CoverageSource,
    EncounterClass,
    Hl7MessageStatus,
    MatchReviewStatus,
    MedicationKind,
    QuarantineChannel,
)


def _organization() -> models.ForeignKey[Any, Any]:
    """The tenant key, without the single-column index Django adds to a foreign key: every index of these tables
    starts with the organization already, and the bulk import pays for each index on every row (ADR 0005)."""
    return models.ForeignKey("clinics.Organization", on_delete=models.PROTECT, related_name="+", db_index=False)


def new_fhir_id() -> str:
    """A 128-bit id in hex: 64 bits of nanosecond time, then 64 random bits.

    Time first (as in UUIDv7) so bulk inserts append to the (organization, type, fhir_id) index instead of
    scattering over it; the random half keeps ids unguessable and unique across processes.
    """
    return f"{time.time_ns():016x}{os.urandom(8).hex()}"


def new_fhir_ids(count: int) -> list[str]:
    """``count`` ids as ``new_fhir_id`` makes them (increasing), for one clock read and one random read."""
    start = time.time_ns()
    rnd = os.urandom(8 * count).hex()
    return [f"{start + i:016x}{rnd[16 * i : 16 * i + 16]}" for i in range(count)]


class Patient(OrgScopedModel):
    organization = _organization()
    fhir_id = models.CharField(max_length=64, unique=True, default=new_fhir_id)
    mrn = models.CharField(max_length=64, blank=True)
    mbi = models.CharField(max_length=11, blank=True)
    family = models.CharField(max_length=100, blank=True)
    given = models.CharField(max_length=100, blank=True)
    search_name = models.CharField(max_length=220, blank=True, help_text="lower-case 'family given'")
    birth_date = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=16, blank=True)
    deceased_at = models.DateTimeField(null=True, blank=True)
    deceased = models.BooleanField(default=False)
    phone = models.CharField(max_length=40, blank=True)
    email = models.CharField(max_length=200, blank=True)
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=40, blank=True)
    postal_code = models.CharField(max_length=16, blank=True)
    preferred_language = models.CharField(max_length=40, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "search_name"], name="patient_name_idx"),
            models.Index(fields=["organization", "birth_date"], name="patient_dob_idx"),
            models.Index(fields=["organization", "mbi"], name="patient_mbi_idx"),
            models.Index(fields=["organization", "mrn"], name="patient_mrn_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.family}, {self.given}"


class FhirResource(OrgScopedModel):
    organization = _organization()
    resource_type = models.CharField(max_length=64)
    source_system = models.CharField(max_length=200)
    source_id = models.CharField(max_length=128)
    fhir_id = models.CharField(max_length=64, default=new_fhir_id)
    version_id = models.CharField(max_length=64, blank=True)
    content_hash = models.CharField(max_length=40)
    body = models.TextField()
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "source_system", "resource_type", "source_id"], name="uniq_fhir_source"
            ),
            models.UniqueConstraint(fields=["organization", "resource_type", "fhir_id"], name="uniq_fhir_id"),
        ]
        # A patient's resources are found through the patient foreign key's own index (patient ids are unique
        # across organizations); resources by type through uniq_fhir_id's (organization, resource_type) prefix.


class PatientIdentifier(OrgScopedModel):
    organization = _organization()
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="identifiers")
    system = models.CharField(max_length=200)
    value = models.CharField(max_length=128)
    type_code = models.CharField(max_length=16, blank=True)
    assigner = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "system", "value"], name="uniq_patient_identifier")
        ]
        indexes = [models.Index(fields=["organization", "value"], name="patient_ident_value_idx")]


class ClinicalFact(OrgScopedModel):
    organization = _organization()
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    resource = models.OneToOneField(FhirResource, null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True


class Coverage(ClinicalFact):
    kind = models.CharField(max_length=32, choices=CoverageKind.choices)
    payor = models.CharField(max_length=200, blank=True)
    member_id = models.CharField(max_length=64, blank=True)
    start = models.DateField(null=True, blank=True)
    end = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=32, default="active")
    source = models.CharField(max_length=32, choices=CoverageSource.choices, default=CoverageSource.FHIR)
    evidence = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "patient", "kind"], name="coverage_patient_idx")]


class Condition(ClinicalFact):
    icd10 = models.CharField(max_length=16, blank=True, help_text="ICD-10-CM, upper case, no dot")
    snomed = models.CharField(max_length=32, blank=True)
    display = models.CharField(max_length=300, blank=True)
    clinical_status = models.CharField(max_length=32, blank=True)
    verification_status = models.CharField(max_length=32, blank=True)
    category = models.CharField(max_length=64, blank=True)
    onset = models.DateField(null=True, blank=True)
    abatement = models.DateField(null=True, blank=True)
    recorded = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "patient"], name="condition_patient_idx"),
            models.Index(fields=["organization", "icd10"], name="condition_icd10_idx"),
        ]


class Medication(ClinicalFact):
    kind = models.CharField(max_length=16, choices=MedicationKind.choices)
    rxnorm = models.CharField(max_length=32, blank=True)
    display = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=32, blank=True)
    intent = models.CharField(max_length=32, blank=True)
    authored_on = models.DateField(null=True, blank=True)
    start = models.DateField(null=True, blank=True)
    end = models.DateField(null=True, blank=True)
    dosage = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "patient"], name="medication_patient_idx")]


class Observation(ClinicalFact):
    code = models.CharField(max_length=64, blank=True)
    code_system = models.CharField(max_length=200, blank=True)
    display = models.CharField(max_length=300, blank=True)
    category = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=32, blank=True)
    value_num = models.FloatField(null=True, blank=True)
    unit = models.CharField(max_length=64, blank=True)
    value_code = models.CharField(max_length=64, blank=True)
    value_text = models.CharField(max_length=300, blank=True)
    systolic = models.FloatField(null=True, blank=True)
    diastolic = models.FloatField(null=True, blank=True)
    effective_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "patient", "code"], name="obs_patient_code_idx"),
            models.Index(fields=["organization", "code", "effective_at"], name="obs_code_time_idx"),
        ]


class Encounter(ClinicalFact):
    class_code = models.CharField(max_length=16, choices=EncounterClass.choices, default=EncounterClass.AMB)
    status = models.CharField(max_length=32, blank=True)
    type_code = models.CharField(max_length=64, blank=True)
    type_display = models.CharField(max_length=300, blank=True)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    start_offset = models.CharField(max_length=6, blank=True, help_text="UTC offset as received, e.g. -05:00")
    end_offset = models.CharField(max_length=6, blank=True)
    facility = models.CharField(max_length=200, blank=True)
    location = models.CharField(max_length=200, blank=True)
    discharge_disposition = models.CharField(max_length=32, blank=True)
    diagnoses = models.JSONField(default=list, blank=True)
    visit_number = models.CharField(max_length=64, blank=True)
    source_kind = models.CharField(max_length=16, default="fhir")

    class Meta:
        indexes = [
            models.Index(fields=["organization", "patient", "start"], name="encounter_patient_idx"),
            models.Index(fields=["organization", "class_code", "start"], name="encounter_class_idx"),
        ]


class Immunization(ClinicalFact):
    cvx = models.CharField(max_length=16, blank=True)
    display = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=32, blank=True)
    occurred = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "patient"], name="immunization_patient_idx")]


class Procedure(ClinicalFact):
    code = models.CharField(max_length=64, blank=True)
    code_system = models.CharField(max_length=200, blank=True)
    display = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=32, blank=True)
    performed_start = models.DateTimeField(null=True, blank=True)
    performed_end = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "patient"], name="procedure_patient_idx")]


class AllergyIntolerance(ClinicalFact):
    code = models.CharField(max_length=64, blank=True)
    display = models.CharField(max_length=300, blank=True)
    clinical_status = models.CharField(max_length=32, blank=True)
    criticality = models.CharField(max_length=32, blank=True)
    category = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "patient"], name="allergy_patient_idx")]


class QuarantinedInput(models.Model):
    """Raw input that was rejected, kept with the reason so nothing is lost."""

    organization = models.ForeignKey("clinics.Organization", null=True, blank=True, on_delete=models.PROTECT)
    channel = models.CharField(max_length=16, choices=QuarantineChannel.choices)
    source_name = models.CharField(max_length=500, blank=True)
    location = models.CharField(max_length=200, blank=True, help_text="line, entry index or message id")
    resource_type = models.CharField(max_length=64, blank=True)
    reason = models.TextField()
    raw = models.TextField()
    received_at = models.DateTimeField(auto_now_add=True)
    resolved = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["organization", "received_at"], name="quarantine_org_idx")]


class ImportRun(OrgScopedModel):
    source_system = models.CharField(max_length=200)
    channel = models.CharField(max_length=16, choices=QuarantineChannel.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict)
    actor_username = models.CharField(max_length=150)


class RawHl7Message(OrgScopedModel):
    """Every HL7 v2 message received, stored before it is processed (issue #5).

    At most one accepted (or held) row per (organization, sending application, sending facility, MSH-10):
    a resend is stored as ``duplicate`` and never applied twice.
    """

    sending_application = models.CharField(max_length=200, blank=True)
    sending_facility = models.CharField(max_length=200, blank=True)
    control_id = models.CharField(max_length=200, blank=True)
    message_type = models.CharField(max_length=40, blank=True, help_text="MSH-9 code^trigger, e.g. ADT^A03")
    version = models.CharField(max_length=16, blank=True)
    raw = models.TextField()
    content_hash = models.CharField(max_length=40, blank=True)
    source = models.CharField(max_length=200, blank=True, help_text="mllp peer address or file name")
    received_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Hl7MessageStatus.choices, default=Hl7MessageStatus.RECEIVED)
    ack_code = models.CharField(max_length=2, blank=True)
    error = models.TextField(blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "sending_application", "sending_facility", "control_id"],
                condition=models.Q(status__in=["accepted", "review"]),
                name="uniq_hl7_applied_control_id",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "received_at"], name="hl7msg_org_received_idx"),
            models.Index(fields=["organization", "status"], name="hl7msg_org_status_idx"),
            models.Index(
                fields=["organization", "sending_application", "sending_facility", "control_id"],
                name="hl7msg_control_id_idx",
            ),
        ]


class PatientMatchReview(OrgScopedModel):
    """A message whose patient could not be matched with certainty, held for a person to decide."""

    message = models.ForeignKey(RawHl7Message, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=MatchReviewStatus.choices, default=MatchReviewStatus.OPEN)
    reason = models.TextField()
    candidates = models.JSONField(default=list, help_text="[{patient_id, family, given, birth_date, sex, why}]")
    demographics = models.JSONField(default=dict, help_text="what the message says about the patient")
    match_key = models.CharField(max_length=400, blank=True, help_text="identifiers of the message, sorted")
    resolved_patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    resolved_by = models.CharField(max_length=150, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "status"], name="matchreview_org_status_idx")]


class PatientEvent(OrgScopedModel):
    """One entry on a patient's timeline: an applied hospital notification (ADT or other HL7 v2 message)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    encounter = models.ForeignKey(Encounter, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    event_type = models.CharField(max_length=40, help_text="e.g. ADT^A03")
    occurred_at = models.DateTimeField(null=True, blank=True)
    source_kind = models.CharField(max_length=16, default="hl7v2")
    message = models.ForeignKey(RawHl7Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    summary = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "patient", "occurred_at"], name="patientevent_patient_idx")]


class PatientLink(OrgScopedModel):
    """``merged`` was merged into ``surviving`` (HL7 A40); the merged row stays, inactive, pointing here."""

    merged = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="replaced_by")
    surviving = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    message = models.ForeignKey(RawHl7Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    moved = models.JSONField(default=dict, help_text="rows moved to the surviving patient, per table")


class EncounterSourceKey(OrgScopedModel):
    """How a sending system names a visit (HL7: sending facility MSH-4 + visit number PV1-19): at most one
    encounter per key, so concurrent listeners cannot open the same stay twice."""

    encounter = models.OneToOneField(Encounter, on_delete=models.CASCADE, related_name="+")
    source_kind = models.CharField(max_length=16, default="hl7v2")
    facility = models.CharField(max_length=200)
    visit_number = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "source_kind", "facility", "visit_number"], name="uniq_encounter_source_key"
            )
        ]
