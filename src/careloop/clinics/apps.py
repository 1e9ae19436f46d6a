from django.apps import AppConfig


class ClinicsConfig(AppConfig):
    name = "careloop.clinics"
    label = "clinics"
