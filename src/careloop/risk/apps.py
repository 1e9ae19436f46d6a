from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "careloop.risk"
    label = "risk"
    default_auto_field = "django.db.models.BigAutoField"
