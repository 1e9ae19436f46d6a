import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.config.settings")
application = get_wsgi_application()

# SQLite: keep the per-patient read index of the audit trail current (docs/adr/0006-deferred-read-index.md).
from careloop.audit.tasks import start_read_index_thread  # noqa: E402 - needs the configured app

start_read_index_thread()
