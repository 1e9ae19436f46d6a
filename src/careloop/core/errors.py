"""Errors that services raise and the API/UI layers translate."""

from __future__ import annotations


class CareloopError(Exception):
    """Base class for expected, user-facing errors."""

    status_code = 400


class ValidationFailed(CareloopError):
    def __init__(self, message: str, *, field_errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.field_errors = field_errors or {}


class PermissionDenied(CareloopError):
    status_code = 403


class NotFound(CareloopError):
    status_code = 404


class Conflict(CareloopError):
    status_code = 409
