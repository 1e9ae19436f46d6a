from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "careloop.core"
    label = "core"
    verbose_name = "careloop core"

    def ready(self) -> None:
        from careloop.core.db import widen_psycopg_query_cache

        widen_psycopg_query_cache()
