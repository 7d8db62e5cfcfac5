"""What every domain router shares: the unit of work, the caller, paging, problem responses."""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopflow.core import access, auth, personal_data, policy
from shopflow.core.audit import Actor
from shopflow.core.db import Database
from shopflow.core.errors import (
    AppError,
    FieldError,
    Invalid,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    field_error,
)
from shopflow.core.schemas import MAX_PAGE, NUL_MESSAGE

PROBLEM = "application/problem+json"


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    db: Database = request.app.state.db
    async with db.transaction() as session:
        yield session


# The request's unit of work: committed when the endpoint returns, before the response is sent.
Session = Annotated[AsyncSession, Depends(_session, scope="function")]


def _bearer(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send 'Authorization: Bearer <token>'", code="missing_token")
    return token.strip()


async def _actor(request: Request) -> Actor:
    # A request with a body was authenticated before it was read (`RequestGuard`).
    known: Actor | None = getattr(request.state, "actor", None)
    if known is not None:
        return known
    token = _bearer(request.headers.get("authorization", ""))
    # Its own short unit of work, so an endpoint that must not hold a transaction open (the
    # sandbox gateway) is not made to by authentication; cached tokens skip it entirely.
    return await access.authenticate(request.app.state.db, token)


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
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
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
        case 413:
            return PayloadTooLarge(exc.detail)
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


BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


# The `openapi_extra` of an operation anyone may call, without a token (a gateway's or a carrier's
# signed callback): the operations without it need a token, checked before a body is read.
PUBLIC: dict[str, Any] = {"x-public": True}


@dataclass(frozen=True, slots=True)
class _Operations:
    """Which API operations need a token, by method: exact paths, and path templates."""

    exact: dict[tuple[str, str], bool]
    templates: dict[str, list[tuple[re.Pattern[str], bool]]]

    @classmethod
    def of(cls, document: dict[str, Any]) -> _Operations:
        exact: dict[tuple[str, str], bool] = {}
        templates: dict[str, list[tuple[re.Pattern[str], bool]]] = {}
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                needs_token = not operation.get("x-public", False)
                if "{" not in path:
                    exact[method.upper(), path] = needs_token
                else:
                    pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
                    templates.setdefault(method.upper(), []).append((pattern, needs_token))
        return cls(exact, templates)

    def need_token(self, method: str, path: str) -> bool:
        """Whether the operation the request names needs a token: False for a public one, and
        for none (the router refuses it, 404 or 405, without reading its body)."""
        known = self.exact.get((method, path))
        if known is not None:
            return known
        matched = [needs for pattern, needs in self.templates.get(method, []) if pattern.match(path)]
        return bool(matched) and all(matched)


class RequestGuard:
    """A pure ASGI middleware: what a request must pass before the app reads a byte of its body.

    - A NUL character in the path or the query is refused (422): PostgreSQL refuses it in text.
    - A request with a body to an API route that needs a token is authenticated first (401
      before its body is read; the caller is handed to `require` through the request's state).
    - A body longer than `max_body` bytes is refused (413): at once when `Content-Length` says
      so, else as soon as the bytes received pass it.
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body
        self._operations: _Operations | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            _check_parameters(scope)
            if scope["method"] in BODY_METHODS and self._needs_token(scope):
                scope.setdefault("state", {})["actor"] = await self._caller(scope)
            length = _content_length(scope)
            if length is not None and length > self.max_body:
                raise PayloadTooLarge(self._too_large())
        except AppError as exc:
            await problem(exc.status, exc.title, exc.detail, exc.code, exc.errors)(scope, receive, send)
            return
        await self.app(scope, self._counted(receive), send)

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_body} bytes; nothing was changed"

    def _needs_token(self, scope: Scope) -> bool:
        path: str = scope["path"]
        if not path.startswith("/api/"):
            return False
        if self._operations is None:  # the routes are all in place by the first request
            self._operations = _Operations.of(scope["app"].openapi())
        return self._operations.need_token(scope["method"], path)

    async def _caller(self, scope: Scope) -> Actor:
        authorization = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        token = _bearer(authorization.decode("latin-1"))
        return await access.authenticate(scope["app"].state.db, token)

    def _counted(self, receive: Receive) -> Receive:
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise HTTPException(413, self._too_large())
            return message

        return counted


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _check_parameters(scope: Scope) -> None:
    """422 naming the query parameter, or the path, that holds a NUL character."""
    if "\x00" in scope["path"]:
        raise Invalid("the request has errors; nothing was changed", errors=[FieldError("path", NUL_MESSAGE)])
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        names = sorted({name for name, value in parse_qsl(query.decode("latin-1")) if "\x00" in name + value})
        errors = [FieldError(name.replace("\x00", "\\u0000"), NUL_MESSAGE) for name in names]
        raise Invalid("the request has errors; nothing was changed", errors=errors)
