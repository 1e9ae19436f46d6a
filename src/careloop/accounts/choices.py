from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Administrator"
    PROVIDER = "provider", "Provider"
    NURSE = "nurse", "Nurse"
    COORDINATOR = "coordinator", "Care coordinator"
    CHW = "chw", "Community health worker"
    BH_CARE_MANAGER = "bh_care_manager", "Behavioral health care manager"
    BILLING = "billing", "Billing"
    LEADER = "leader", "Clinic leader"
    PATIENT = "patient", "Patient"
    CAREGIVER = "caregiver", "Caregiver"
    PARTNER = "partner", "External partner"
