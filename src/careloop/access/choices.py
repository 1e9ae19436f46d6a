from django.db import models


class PartnerKind(models.TextChoices):
    SPECIALIST = "specialist", "Specialist"
    SNF = "snf", "Skilled nursing facility"
    HOME_HEALTH = "home_health", "Home health"
    COMMUNITY = "community", "Community organization"


class NoticeMethod(models.TextChoices):
    VERBAL = "verbal", "Told in person"
    PHONE = "phone", "Phone call"
    LETTER = "letter", "Letter"
    PORTAL = "portal", "Portal"
    HANDOUT = "handout", "Printed handout"


class ContactChannel(models.TextChoices):
    CALL = "call", "Phone call to on-call clinician"
    MESSAGE = "message", "Secure message"


class MessageSender(models.TextChoices):
    PATIENT = "patient", "Patient"
    CAREGIVER = "caregiver", "Caregiver"
    TEAM = "team", "Care team"
