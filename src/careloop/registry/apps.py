from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "careloop.registry"
    label = "registry"
