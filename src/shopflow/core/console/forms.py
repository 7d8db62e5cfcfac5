"""Forms and lists of the console: reading a form into a service's input, its errors by field,
the one way an action is tried (rolled back and shown again when refused), and paging."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import clock, policy
from shopflow.core.console.page import Console
from shopflow.core.console.render import redirect
from shopflow.core.errors import AppError, FieldError, Invalid, field_error

M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=StrEnum)


async def form_values(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def filled(values: Mapping[str, str], *names: str) -> dict[str, str]:
    """The fields that were filled in, trimmed: a blank field is a missing one."""
    return {name: value for name in names if (value := values.get(name, "").strip())}


def chosen(kind: type[E], value: str) -> E | None:
    """A filter's value as its enum; anything else (blank, "all") filters nothing."""
    return kind(value) if value in {member.value for member in kind} else None


def parsed(model: type[M], values: Mapping[str, Any]) -> M:
    """A form's values as the service's input model; its validation errors as field errors (422)."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors = [
            field_error(e, whole="") for e in exc.errors()
        ]  # a model-wide check: no field; the page places it
        raise Invalid("the form has errors; nothing was changed", errors=errors) from None


def field_errors(errors: list[FieldError], c: Console, rename: Callable[[str], str] = str) -> dict[str, str]:
    """Field-named errors of a service, keyed by form field, in the reader's language."""
    shown: dict[str, str] = {}
    for error in errors:
        shown.setdefault(rename(error.field), c.message(error.message))
    return shown


def form_errors(exc: AppError, c: Console, rename: Callable[[str], str] = str) -> dict[str, str]:
    """A refusal at the fields it names, or for the whole form (`form`) when it names none."""
    return field_errors(exc.errors, c, rename) or {"form": c.error(exc)}


async def attempt(
    c: Console,
    session: AsyncSession,
    work: Callable[[], Awaitable[Response]],
    refused: Callable[[AppError], Awaitable[Response]],
    *,
    address: str | None = None,
) -> Response:
    """Run a console action. When a service refuses it, nothing it did is kept and `refused`
    answers instead: the page again, saying why, with what was typed, and with the address of the
    form's page (`address`, by default the path posted to) back in the address bar, so that
    reloading it shows the form instead of posting again (`data-address` in base.html for a plain
    POST, `HX-Replace-Url` for HTMX)."""
    try:
        return await work()
    except AppError as exc:
        await session.rollback()
        c.address = address or c.request.url.path
        answer = await refused(exc)
        if c.request.headers.get("HX-Request"):
            answer.headers["HX-Replace-Url"] = c.address
        return answer


async def step_back(
    c: Console,
    session: AsyncSession,
    address: str,
    work: Callable[[], Awaitable[Any]],
    done: str,
    refused: Callable[[AppError], Awaitable[Response]],
) -> Response:
    """One step taken on a record's page at `address`: done, back to that page saying `done` (a
    msgid); refused by the service, nothing kept and `refused` answers (`attempt`)."""

    async def run() -> Response:
        await work()
        c.flash(c.gettext(done))
        return redirect(address)

    return await attempt(c, session, run, refused, address=address)


def words(text: str) -> list[str]:
    """The comma-separated words of a text field (a Chinese comma too), blanks dropped."""
    return [word.strip() for word in text.replace("，", ",").split(",") if word.strip()]


def day_window(
    c: Console, values: Mapping[str, str], *, required: bool = False
) -> tuple[dict[str, datetime], list[FieldError]]:
    """The window of the store days typed as `starts_on` and `ends_on` (the last one included) as
    `starts_at` and `ends_at`, or why not, at those fields; a day left empty is no bound unless
    `required`."""
    window: dict[str, datetime] = {}
    errors = []
    for field, typed, after in (("starts_at", "starts_on", 0), ("ends_at", "ends_on", 1)):
        day, error = c.typed_day(values.get(typed, ""))
        if error:
            errors.append(FieldError(field, error))
        elif day is None:
            if required:
                errors.append(FieldError(field, "Field required"))
        else:
            try:
                window[field] = clock.local_midnight(day + timedelta(days=after))
            except (OverflowError, ValueError):
                errors.append(FieldError(field, "must lie between the dates the store can keep"))
    return window, errors


def page_size() -> int:
    """Rows on a page of every console list (policy `orders.page_size`)."""
    return policy.current().orders.page_size


@dataclass(frozen=True, slots=True)
class Pager:
    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size
