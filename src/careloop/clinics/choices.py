from django.db import models


class PracticeType(models.TextChoices):
    PHYSICIAN = "physician", "Physician practice"
    RHC = "rhc", "Rural Health Clinic"
    FQHC = "fqhc", "Federally Qualified Health Center"
