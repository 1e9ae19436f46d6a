from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "careloop.programs"
    label = "programs"
