from django.db import models


class CoverageKind(models.TextChoices):
    MEDICARE_PART_A = "medicare-part-a", "Medicare Part A"
    MEDICARE_PART_B = "medicare-part-b", "Medicare Part B"
    MEDICARE_ADVANTAGE = "medicare-advantage", "Medicare Advantage"
    QMB = "qmb", "Qualified Medicare Beneficiary"
    SLMB = "slmb", "Specified Low-Income Medicare Beneficiary"
    FULL_DUAL = "full-dual", "Full Medicaid (dual eligible)"
    MEDICAID = "medicaid", "Medicaid"
    OTHER = "other", "Other"


class CoverageSource(models.TextChoices):
    FHIR = "fhir", "EHR (FHIR)"
    X12_271 = "x12-271", "HETS 271 eligibility response"
    CSV = "csv", "CSV roster"
    MANUAL = "manual", "Entered by hand"
    STATE_MEDICAID = "state-medicaid", "State Medicaid system"


class EncounterClass(models.TextChoices):
    AMB = "AMB", "Ambulatory"
    EMER = "EMER", "Emergency"
    IMP = "IMP", "Inpatient"
    OBSENC = "OBSENC", "Observation"
    HH = "HH", "Home health"
    VR = "VR", "Virtual"
    OTHER = "OTHER", "Other"


class MedicationKind(models.TextChoices):
    REQUEST = "request", "MedicationRequest"
    STATEMENT = "statement", "MedicationStatement"


class QuarantineChannel(models.TextChoices):
    FHIR_FILE = "fhir-file", "FHIR file import"
    FHIR_API = "fhir-api", "FHIR API import"
    HL7V2 = "hl7v2", "HL7 v2"
    CSV = "csv", "CSV"
    X12 = "x12", "X12"


# FHIR resource types careloop models as typed rows; everything else is kept as received only.
MODELED_TYPES = frozenset(
    {
        "Patient",
        "Coverage",
        "Condition",
        "MedicationRequest",
        "MedicationStatement",
        "Observation",
        "Encounter",
        "Immunization",
        "Procedure",
        "AllergyIntolerance",
    }
)


class Hl7MessageStatus(models.TextChoices):
    RECEIVED = "received", "Stored, not processed yet"
    ACCEPTED = "accepted", "Applied"
    REVIEW = "review", "Held for a patient-matching decision"
    REJECTED = "rejected", "Rejected (AE/AR), quarantined"
    DUPLICATE = "duplicate", "Duplicate of an accepted message, not applied again"


class MatchReviewStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"
