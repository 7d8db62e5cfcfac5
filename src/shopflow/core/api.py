"""What every domain router shares: the unit of work, the caller, paging, problem responses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import auth
from shopflow.core.audit import Actor
from shopflow.core.db import Database
from shopflow.core.errors import AppError, FieldError, Unauthorized

PROBLEM = "application/problem+json"


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    db: Database = request.app.state.db
    async with db.transaction() as session:
        yield session


# The request's unit of work: committed when the endpoint returns, before the response is sent.
Session = Annotated[AsyncSession, Depends(_session, scope="function")]


async def _actor(request: Request) -> Actor:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send 'Authorization: Bearer <token>'", code="missing_token")
    # Its own short unit of work, so an endpoint that must not hold a transaction open (the
    # sandbox gateway) is not made to by authentication; cached tokens skip it entirely.
    return await auth.authenticate(request.app.state.db, token.strip())


def require(permission: str) -> Any:
    """A dependency giving the authenticated caller, if their role holds `permission` (STF-1)."""

    async def allowed(actor: Annotated[Actor, Depends(_actor)]) -> Actor:
        auth.authorize(actor, permission)
        return actor

    return Depends(allowed)


class Paging(BaseModel):
    page: int
    page_size: int

    def of(self, items: list[Any], total: int) -> dict[str, Any]:
        """The fields of `core.schemas.Page` for this page's `items` out of `total`."""
        return {"items": items, "total": total, "page": self.page, "page_size": self.page_size}


def _paging(
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Paging:
    return Paging(page=page, page_size=page_size)


Pages = Annotated[Paging, Depends(_paging)]


def paged(items: list[Any], pages: Paging) -> dict[str, Any]:
    """One page of a short, fully loaded list, as the fields of `core.schemas.Page`."""
    start = (pages.page - 1) * pages.page_size
    return pages.of(items[start : start + pages.page_size], len(items))


def problem(
    status: int, title: str, detail: str, code: str, errors: list[FieldError] | None = None
) -> JSONResponse:
    body = {
        "type": f"https://shopflow.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": [{"field": e.field, "message": e.message} for e in errors or []],
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _field(loc: tuple[int | str, ...]) -> str:
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else list(loc)
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        elif part not in ("function-after", "function-before") and "[" not in str(part):
            name += f".{part}" if name else str(part)
    return name or str(loc[0] if loc else "body")


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem(exc.status, exc.title, exc.detail, exc.code, exc.errors)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [FieldError(_field(tuple(e["loc"])), e["msg"]) for e in exc.errors()]
    return problem(422, "Invalid input", "the request has errors; nothing was changed", "invalid", errors)


async def _integrity_error(_: Request, exc: Exception) -> JSONResponse:
    return problem(409, "Conflict", "the change conflicts with stored data; nothing was changed", "conflict")


def install_error_handlers(app: FastAPI) -> None:
    """ARCHITECTURE rule 7: one renderer of problem+json; never a bare 500 for bad input."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
