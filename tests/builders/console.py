"""Signing in to the console the way a browser does: a cookie jar, the form's CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx

from shopflow.core.db import Database
from tests.builders.auth import staff
from tests.conftest import make_app

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORD = "secret-pw"


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page has no CSRF field"
    return found[1]


def table_row(html: str, row_id: str) -> str:
    """The table row `<tr id="row_id">` of a page, which must be there."""
    found = re.search(rf'<tr id="{re.escape(row_id)}">.*?</tr>', html, re.S)
    assert found is not None, f"no row {row_id}"
    return found[0]


class Visitor:
    """One browser: its own cookies; `token` is the CSRF token of the last page seen."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.token = ""

    async def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        reply = await self.client.get(path, headers=headers)
        found = CSRF.search(reply.text)
        if found is not None:
            self.token = found[1]
        return reply

    async def post(
        self, path: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """A form POST carrying the session's CSRF token."""
        return await self.client.post(path, data={"csrf": self.token, **(data or {})}, headers=headers)

    async def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        await self.get("/login")
        reply = await self.post("/login", {"username": username, "password": password, "next": "/orders"})
        await self.get("/orders")
        return reply


Visitors = Callable[[], AbstractAsyncContextManager[Visitor]]


def visitors(db: Database) -> Visitors:
    @asynccontextmanager
    async def visit() -> AsyncIterator[Visitor]:
        transport = httpx.ASGITransport(app=make_app(db))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Visitor(client)

    return visit


async def signed_in(visit: Visitors, db: Database, role: str) -> AbstractAsyncContextManager[Visitor]:
    """A visitor signed in as a new user of `role`."""
    name = await staff(db, role, PASSWORD)

    @asynccontextmanager
    async def session() -> AsyncIterator[Visitor]:
        async with visit() as visitor:
            reply = await visitor.sign_in(name)
            assert reply.status_code == 303, reply.text
            yield visitor

    return session()
