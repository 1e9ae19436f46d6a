from django.apps import AppConfig


class TransitionsConfig(AppConfig):
    name = "careloop.transitions"
    label = "transitions"
