"""Root conftest: test-wide environment and settings.

``CARELOOP_DATA_DIR`` is set to a throw-away folder with ``setdefault`` here, before anything in this file
imports Django. Note that pytest-django imports the settings module in its ``pytest_load_initial_conftests``
hook, which runs *before* conftest files are imported, so when pytest is started without the variable the
settings module has already resolved ``DATA_DIR`` (default ``./data``); the session fixture below therefore
also points the settings that use the data folder (``STATIC_ROOT``) at the temporary folder. To keep
``./data`` completely untouched, start pytest with ``CARELOOP_DATA_DIR`` set in the environment.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("CARELOOP_DATA_DIR", tempfile.mkdtemp(prefix="careloop-test-"))

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _test_settings() -> Iterator[None]:
    """Fast password hashing (tests create hundreds of users; Argon2 is slow on purpose) and a temporary
    static folder (WhiteNoise warns when ``STATIC_ROOT`` does not exist)."""
    from django.test import override_settings

    static_root = Path(os.environ["CARELOOP_DATA_DIR"]) / "static"
    static_root.mkdir(parents=True, exist_ok=True)
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
                           STATIC_ROOT=static_root):
        yield


@pytest.fixture(autouse=True, scope="session")
def _sqlite_flush_keeps_working_with_append_only_audit() -> Iterator[None]:
    """``transaction=True`` tests end with a flush. On PostgreSQL that is ``TRUNCATE``, which the audit row
    triggers do not see; on SQLite it is ``DELETE FROM``, which ``audit_event_no_delete`` refuses ("audit events
    are append-only"), so the flush fails and the next transactional test starts on a dirty database.
    For the flush only, drop the SQLite triggers and create them again right after (same transaction)."""
    import importlib

    from django.db import connection

    if connection.vendor != "sqlite":
        yield
        return
    DatabaseOperations = type(connection.ops)  # noqa: N806
    migration = importlib.import_module("careloop.audit.migrations.0002_append_only")
    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):  # type: ignore[no-untyped-def]
        sql = original(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        if sql and "audit_auditevent" in tables:
            sql = [*migration.SQLITE_REVERSE, *sql, *migration.SQLITE]
        return sql

    DatabaseOperations.sql_flush = sql_flush  # type: ignore[method-assign]
    try:
        yield
    finally:
        DatabaseOperations.sql_flush = original  # type: ignore[method-assign]
