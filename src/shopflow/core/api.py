"""What every domain router shares: the unit of work, the caller, paging, problem responses."""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from shopflow.core import access, auth, personal_data, policy
from shopflow.core.audit import Actor
from shopflow.core.db import Database
from shopflow.core.errors import (
    AppError,
    FieldError,
    MethodNotAllowed,
    NotFound,
    TooManyRequests,
    Unauthorized,
    field_error,
)

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
    return await access.authenticate(request.app.state.db, token.strip())


def require(permission: str) -> Any:
    """A dependency giving the authenticated caller, if their role holds `permission` (STF-1)."""

    async def allowed(actor: Annotated[Actor, Depends(_actor)]) -> Actor:
        auth.authorize(actor, permission)
        return actor

    return Depends(allowed)


async def _viewer(request: Request, actor: Annotated[Actor, Depends(_actor)]) -> personal_data.Viewer:
    where = personal_data.endpoint(request.method, request.url.path, request.path_params)
    return personal_data.Viewer(actor, where)


# Whom the request shows personal data to (RSK-3): masked, or as stored with the read logged.
Viewer = Annotated[personal_data.Viewer, Depends(_viewer)]


class SlidingWindow:
    """At most `limit` requests per key in any 60 seconds: a sliding log of each key's recent
    request times. It lives in the server process, so with N processes behind a load balancer a
    token gets up to N times the limit."""

    WINDOW_SECONDS = 60.0

    def __init__(self) -> None:
        self._times: dict[str, deque[float]] = {}

    def wait(self, key: str, limit: int, now: float) -> float:
        """0 and the request counted if `key` is within its limit, else the seconds until it is."""
        times = self._times.setdefault(key, deque())
        while times and times[0] <= now - self.WINDOW_SECONDS:
            times.popleft()
        if len(times) >= limit:
            return times[-limit] + self.WINDOW_SECONDS - now
        times.append(now)
        return 0.0


def _limited(request: Request, actor: Actor) -> None:
    """RSK-3: list endpoints answer a token at most `security.list_requests_per_minute` times a
    minute; beyond that 429 with Retry-After."""
    limit = policy.current().security.list_requests_per_minute
    token = request.headers["authorization"].partition(" ")[2].strip()
    window: SlidingWindow = request.app.state.list_requests
    wait = window.wait(access.token_hash(token), limit, time.monotonic())
    if wait > 0:
        raise TooManyRequests(
            f"{actor.name} made {limit} list requests within a minute; try again in {math.ceil(wait)} s",
            retry_after=math.ceil(wait),
        )


class Paging(BaseModel):
    page: int
    page_size: int

    def of(self, items: list[Any], total: int) -> dict[str, Any]:
        """The fields of `core.schemas.Page` for this page's `items` out of `total`."""
        return {"items": items, "total": total, "page": self.page, "page_size": self.page_size}


def _paging(
    request: Request,
    actor: Annotated[Actor, Depends(_actor)],
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Paging:
    _limited(request, actor)
    return Paging(page=page, page_size=page_size)


# A list endpoint's page, for a token within its rate of list requests (`SlidingWindow`).
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


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    answer = problem(exc.status, exc.title, exc.detail, exc.code, exc.errors)
    answer.headers.update(exc.headers)
    return answer


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # FastAPI's locations start with where the value came from: ("body", "lines", 0, "sku").
    errors = [field_error({**e, "loc": e["loc"][1:]}, whole=e["loc"][0]) for e in exc.errors()]
    return problem(422, "Invalid input", "the request has errors; nothing was changed", "invalid", errors)


async def _integrity_error(_: Request, exc: Exception) -> JSONResponse:
    return problem(409, "Conflict", "the change conflicts with stored data; nothing was changed", "conflict")


def _refusal(request: Request, exc: HTTPException) -> AppError:
    match exc.status_code:
        case 404:
            return NotFound(f"there is nothing at {request.url.path}")
        case 405:
            return MethodNotAllowed(f"{request.url.path} does not take {request.method}")
        case status:
            error = AppError(exc.detail, code=HTTPStatus(status).name.lower())
            error.status, error.title = status, HTTPStatus(status).phrase
            return error


async def _http_error(request: Request, exc: Exception) -> Response:
    """The router's own refusals (no such route, a method a route does not take) answered as the
    app's errors are, by the AppError handler installed: problem+json, or the console's page."""
    assert isinstance(exc, HTTPException)
    render = request.app.exception_handlers[AppError]
    answer: Response = await render(request, _refusal(request, exc))
    answer.headers.update(exc.headers or {})
    if exc.status_code == 405:
        answer.headers["Allow"] = ", ".join(_allowed(request, answer.headers.get("Allow", "")))
    return answer


def _allowed(request: Request, first: str) -> list[str]:
    """Every method the request's path takes: the router names only the first route that matched
    the path (`first`), so the others come from the OpenAPI document's paths."""
    methods = {method.strip() for method in first.split(",") if method.strip()}
    for path, operations in request.app.openapi()["paths"].items():
        pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path))
        if re.fullmatch(pattern, request.url.path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details: how the API answers every error."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldProblem]


# Problem and FieldProblem, as OpenAPI components.
PROBLEM_SCHEMAS: dict[str, Any] = models_json_schema(
    [(Problem, "serialization")], ref_template="#/components/schemas/{model}"
)[1]["$defs"]


def problems(*statuses: int, notes: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """An operation's `responses=`: the problem+json answers it can give, each described by its
    title or by `notes` (what it means for this operation)."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {
            "description": (notes or {}).get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM: {"schema": schema}},
        }
        for status in statuses
    }


def _documented(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI's OpenAPI document with the Problem schema, whose 422s (declared by FastAPI for
    every operation taking input) are the problem+json the server sends, not HTTPValidationError."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()  # FastAPI keeps it as app.openapi_schema: completed here, once
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        schemas.update(PROBLEM_SCHEMAS)
        for operation in (op for path in document["paths"].values() for op in path.values()):
            responses = operation["responses"]
            if "422" in responses and PROBLEM not in responses["422"].get("content", {}):
                responses["422"] = problems(422)[422]
        return document

    return openapi


def install_error_handlers(app: FastAPI) -> None:
    """ARCHITECTURE rule 7: one renderer of problem+json, also for the router's own 404 and 405;
    never a bare 500 for bad input. The OpenAPI document declares what it sends."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.openapi = _documented(app)  # type: ignore[method-assign]
