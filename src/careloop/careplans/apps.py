from django.apps import AppConfig


class CareplansConfig(AppConfig):
    name = "careloop.careplans"
    label = "careplans"
    default_auto_field = "django.db.models.BigAutoField"
