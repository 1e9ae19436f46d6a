from django.apps import AppConfig


class WorklistConfig(AppConfig):
    name = "careloop.worklist"
    label = "worklist"
