"""Application errors. One handler renders them as RFC 9457 problem+json (ARCHITECTURE rule 7)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class AppError(Exception):
    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"
    headers: Mapping[str, str] = MappingProxyType({})  # sent with the answer (a 429's Retry-After)

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
        # The states' values ('cancelled'), never an enum's repr.
        super().__init__(f"{subject} cannot go from {str(current)!r} to {str(target)!r}")
        self.subject = subject
        self.current = current
        self.target = target


class MethodNotAllowed(AppError):
    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class TooManyRequests(AppError):
    status = 429
    code = "too_many_requests"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


class PayloadTooLarge(AppError):
    status = 413
    code = "body_too_large"
    title = "Request body too large"


def pydantic_message(error: Mapping[str, Any]) -> str:
    """One of Pydantic's errors in the user's words: a validator's own message without Pydantic's
    "Value error, " or "Assertion failed, " before it; a JSON decoder's complaint as such."""
    match error["type"]:
        case "value_error" | "assertion_error":
            return str(error["ctx"]["error"])
        case "json_invalid":
            where = [f"at character {part}" for part in error["loc"] if isinstance(part, int)]
            return " ".join(["not valid JSON:", str(error["ctx"]["error"]), *where])
        case _:
            return str(error["msg"])


def field_error(error: Mapping[str, Any], whole: str = "body") -> FieldError:
    """One of Pydantic's errors as a field error: the field by its path (`lines[0].sku`), or
    `whole` when the input as a whole is wrong (not JSON, not an object)."""
    name = ""
    if error["type"] != "json_invalid":  # its location is a character offset, not a field
        for part in error["loc"]:
            if isinstance(part, int):
                name += f"[{part}]"
            elif not part.startswith("function-") and "[" not in part:  # validator and union tags
                name += f".{part}" if name else part
    return FieldError(name or whole, pydantic_message(error))
