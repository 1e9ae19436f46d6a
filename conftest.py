"""Root conftest: runs before pytest-django loads the settings.

``CARELOOP_DATA_DIR`` must point at a throw-away folder before ``careloop.config.settings`` is imported
(settings write the generated secret key and the default SQLite file there).
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("CARELOOP_DATA_DIR", tempfile.mkdtemp(prefix="careloop-test-"))

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():  # type: ignore[no-untyped-def]
    """Argon2 is deliberately slow; tests create hundreds of users."""
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield
