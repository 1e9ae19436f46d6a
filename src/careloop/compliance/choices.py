"""APCM practice capabilities (cms-rules 2.6), clinician performance-measurement pathways (APCM-011) and the
element groups of the APCM descriptor that per-patient evidence coverage is reported for."""

from __future__ import annotations

from django.db import models


class CapabilityKey(models.TextChoices):
    """The practice-level capabilities rule APCM-012 requires to exist and be current for the service month."""

    ACCESS_24X7 = "24x7_access", "24/7 access for urgent needs"
    DESIGNATED_MEMBER = "designated_care_team_member", "Designated care-team member per patient"
    ALTERNATIVE_DELIVERY = "alternative_care_delivery", "Care outside office visits (home visits, expanded hours)"
    ELECTRONIC_CARE_PLAN = "electronic_care_plan", "Electronic care plan shared inside and outside the practice"
    EHI_EXCHANGE = "ehi_exchange", "Electronic health-information exchange with hospitals and SNFs"
    ASYNC_COMMUNICATION = "async_communication", "Asynchronous patient communication (portal, secure messages)"
    POPULATION_GAP_ANALYSIS = "population_gap_analysis", "Population data analysed for gaps in care"
    RISK_STRATIFICATION = "risk_stratification", "Documented risk-stratification method with periodic runs"


CAPABILITY_KEYS: tuple[str, ...] = tuple(CapabilityKey.values)


class PerformancePathway(models.TextChoices):
    """How a billing clinician meets the APCM performance-measurement element for a performance year."""

    MVP_M0005 = "MVP_M0005", "Value in Primary Care MVP (M0005) registered/reported"
    MSSP = "MSSP", "Medicare Shared Savings Program ACO participant"
    REACH = "REACH", "ACO REACH participant"
    OTHER_APM = "OTHER_APM", "Other primary-care APM"
    NOT_APPLICABLE_RHC_FQHC = "NOT_APPLICABLE_RHC_FQHC", "Not applicable (RHC/FQHC)"


class Element(models.TextChoices):
    """The APCM element groups of cms-rules 2.6, in the descriptor's order."""

    CONSENT = "consent", "Consent"
    INITIATING_VISIT = "initiating_visit", "Initiating visit"
    ACCESS_CONTINUITY = "access_continuity", "24/7 access and designated care-team member"
    CARE_MANAGEMENT = "care_management", "Comprehensive care management"
    CARE_PLAN = "care_plan", "Comprehensive care plan"
    TRANSITIONS = "transitions", "Management of care transitions"
    COORDINATION = "coordination", "Practitioner, home- and community-based care coordination"
    COMMUNICATION = "communication", "Enhanced communication opportunities"
    POPULATION = "population", "Patient population-level management"
    PERFORMANCE = "performance", "Performance measurement"


ELEMENTS: tuple[str, ...] = tuple(Element.values)


class EvidenceStatus(models.TextChoices):
    EVIDENCED = "evidenced", "Evidenced"
    MISSING = "missing", "Missing"
    NOT_APPLICABLE = "not_applicable", "Not applicable this month"
    PENDING = "pending", "Pending (deadline not reached)"
