"""Application errors. One handler renders them as RFC 9457 problem+json (ARCHITECTURE rule 7)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class AppError(Exception):
    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: list[FieldError] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.errors = errors or []


class Invalid(AppError):
    status = 422
    code = "invalid"
    title = "Invalid input"


class NotFound(AppError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(AppError):
    status = 409
    code = "conflict"
    title = "Conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = "Invalid transition"

    def __init__(self, subject: str, current: str, target: str) -> None:
        super().__init__(f"{subject} cannot go from {current!r} to {target!r}")
        self.subject = subject
        self.current = current
        self.target = target


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    title = "Forbidden"
