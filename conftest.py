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
