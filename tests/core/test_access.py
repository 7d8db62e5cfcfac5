"""Revocable access over HTTP (issue 10, item 4): a revoked token and a disabled user are refused
on the next request, sign-out ends the session on the server, sign-in is throttled, the session
cookie is Secure over https and pages carry their security headers; the users and tokens API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text

from shopflow.core import access, auth, clock, policy
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.core.errors import Unauthorized
from shopflow.core.policy import Policy, Security
from tests.builders.auth import bearer, staff
from tests.builders.console import PASSWORD, Visitor, Visitors, signed_in, visitors
from tests.builders.rows import audit_rows
from tests.conftest import IS_POSTGRES, make_app
from tests.core.test_auth import assert_problem


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


def browser(db: Database, address: str = "127.0.0.1", base_url: str = "http://test") -> Visitors:
    """A browser at `address`, opening the console at `base_url`."""

    @asynccontextmanager
    async def visit() -> AsyncIterator[Visitor]:
        transport = httpx.ASGITransport(app=make_app(db), client=(address, 50000))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield Visitor(client)

    return visit


async def token_of(db: Database, role: str) -> tuple[str, str]:
    """A new user of `role` who can sign in with PASSWORD, and a token of theirs."""
    name = await staff(db, role, PASSWORD)
    async with db.transaction() as session:
        return name, await access.create_token(session, SYSTEM, name, "erp")


async def calls_api(client: httpx.AsyncClient, token: str) -> int:
    reply = await client.get("/api/v1/policy", headers={"Authorization": f"Bearer {token}"})
    return reply.status_code


# --- tokens and users, over the API -----------------------------------------------------------


async def test_a_revoked_token_is_refused_on_the_next_request(
    client: httpx.AsyncClient, db: Database
) -> None:
    name, token = await token_of(db, "operations")
    admin = await bearer(db, "admin")
    assert await calls_api(client, token) == 200
    listed = (await client.get(f"/api/v1/tokens?username={name}", headers=admin)).json()
    assert listed["total"] == 1 and token not in str(listed)
    [entry] = listed["items"]
    assert (entry["label"], entry["owner"], entry["revoked_at"]) == ("erp", name, None)

    revoked = await client.post(f"/api/v1/tokens/{entry['id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert_problem(
        await client.get("/api/v1/policy", headers={"Authorization": f"Bearer {token}"}), 401, "invalid_token"
    )
    assert_problem(await client.post("/api/v1/tokens/999999/revoke", headers=admin), 404, "token_not_found")
    assert_problem(
        await client.post(f"/api/v1/tokens/{entry['id']}/revoke", headers=await bearer(db, "manager")),
        403,
        "forbidden",
    )


async def test_a_token_revoked_by_another_process_is_refused_on_the_next_request(
    client: httpx.AsyncClient, db: Database
) -> None:
    """What `shopflow tokens revoke` or another server process does: this process cached nothing it
    cannot hear revoked, so the next request asks the database."""
    _, token = await token_of(db, "operations")
    assert await calls_api(client, token) == 200
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE api_tokens SET revoked_at = created_at WHERE token_hash = :h"),
            {"h": access.token_hash(token)},
        )
    assert await calls_api(client, token) == 401


async def test_disabling_a_user_refuses_their_token_and_console_session_at_once(
    client: httpx.AsyncClient, db: Database, visit: Visitors
) -> None:
    name, token = await token_of(db, "customer_service")
    admin = await bearer(db, "admin")
    async with visit() as their_browser:
        assert (await their_browser.sign_in(name)).status_code == 303
        assert (await their_browser.get("/orders")).status_code == 200
        assert await calls_api(client, token) == 200

        off = await client.post(f"/api/v1/users/{name}/disable", headers=admin)
        assert off.status_code == 200 and off.json()["active"] is False
        assert await calls_api(client, token) == 401
        page = await their_browser.get("/orders")
        assert (page.status_code, page.headers["location"]) == (303, "/login?next=%2Forders")

        on = await client.post(f"/api/v1/users/{name}/enable", headers=admin)
        assert on.status_code == 200 and on.json()["active"] is True
        assert (await their_browser.get("/orders")).status_code == 303  # that session stays ended
        assert await calls_api(client, token) == 401  # and that token revoked
        assert (await their_browser.sign_in(name)).status_code == 303
    user_id = off.json()["id"]
    assert [row.action for row in await audit_rows(db, "user", user_id)][-2:] == [
        "user.disabled",
        "user.enabled",
    ]


async def test_the_users_api_is_for_admins_and_refuses_disabling_yourself(
    client: httpx.AsyncClient, db: Database
) -> None:
    await bearer(db, "admin", username="root.admin")
    admin = await bearer(db, "admin", username="the.admin")
    own = await client.post("/api/v1/users/the.admin/disable", headers=admin)
    assert_problem(own, 409, "own_account")
    assert_problem(await client.post("/api/v1/users/nobody/disable", headers=admin), 404, "user_not_found")
    for role in ("manager", "operations", "cs_supervisor"):
        headers = await bearer(db, role)
        assert_problem(await client.get("/api/v1/users", headers=headers), 403, "forbidden")
        assert_problem(
            await client.post("/api/v1/users/root.admin/disable", headers=headers), 403, "forbidden"
        )
    listed = (await client.get("/api/v1/users?page_size=500", headers=admin)).json()
    assert {user["username"]: user["active"] for user in listed["items"]}["root.admin"] is True


async def test_an_admin_sets_team_manager_duty_and_email_over_the_api(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await bearer(db, "admin")
    boss = await staff(db, "cs_supervisor")
    clerk = await staff(db, "customer_service")
    body = {"team": "售后一组", "manager": boss, "on_duty": False, "email": "li@shop.example"}
    done = await client.patch(f"/api/v1/users/{clerk}", json=body, headers=admin)
    assert done.status_code == 200, done.text
    assert {key: done.json()[key] for key in body} == body
    kept = await client.patch(f"/api/v1/users/{clerk}", json={"team": "售后二组"}, headers=admin)
    assert kept.json()["manager"] == boss and kept.json()["on_duty"] is False
    listed = (await client.get("/api/v1/users?page_size=500", headers=admin)).json()["items"]
    assert [user["manager"] for user in listed if user["username"] == clerk] == [boss]

    cycle = await client.patch(f"/api/v1/users/{boss}", json={"manager": clerk}, headers=admin)
    assert_problem(cycle, 409, "manager_cycle")
    assert cycle.json()["errors"][0]["field"] == "manager"
    bad = await client.patch(f"/api/v1/users/{clerk}", json={"email": "li at shop"}, headers=admin)
    assert_problem(bad, 422, "invalid")
    assert bad.json()["errors"] == [{"field": "email", "message": "is not an email address"}]
    long = await client.patch(f"/api/v1/users/{clerk}", json={"team": "x" * 81}, headers=admin)
    assert_problem(long, 422, "invalid")
    assert long.json()["errors"][0]["field"] == "team"
    unknown = await client.patch(f"/api/v1/users/{clerk}", json={"manager": "nobody"}, headers=admin)
    assert_problem(unknown, 404, "user_not_found")
    cleared = await client.patch(f"/api/v1/users/{clerk}", json={"manager": None, "email": ""}, headers=admin)
    assert (cleared.json()["manager"], cleared.json()["email"]) == (None, None)


async def test_a_token_id_beyond_a_bigint_is_a_422_naming_it(client: httpx.AsyncClient, db: Database) -> None:
    reply = await client.post(f"/api/v1/tokens/{2**63}/revoke", headers=await bearer(db, "admin"))
    assert_problem(reply, 422, "invalid")
    assert [error["field"] for error in reply.json()["errors"]] == ["token_id"]


# --- the console's session --------------------------------------------------------------------


async def test_a_cookie_copied_before_sign_out_no_longer_signs_in(db: Database, visit: Visitors) -> None:
    async with await signed_in(visit, db, "operations") as visitor:
        copied = dict(visitor.client.cookies)
        assert (await visitor.get("/orders")).status_code == 200
        out = await visitor.post("/logout")
        assert out.headers["location"] == "/login"
    async with visit() as thief:
        thief.client.cookies.update(copied)
        replay = await thief.get("/orders")
        assert (replay.status_code, replay.headers["location"]) == (303, "/login?next=%2Forders")


async def test_a_session_ends_after_the_policys_hours_without_a_request(
    db: Database, visit: Visitors
) -> None:
    fake = clock.FakeClock(datetime(2030, 3, 1, 9, tzinfo=UTC))
    with clock.use(fake):
        async with await signed_in(visit, db, "operations") as visitor:
            fake.advance(hours=11, minutes=59)
            assert (await visitor.get("/orders")).status_code == 200
            fake.advance(hours=11, minutes=59)
            assert (await visitor.get("/orders")).status_code == 200  # in use: it lasts
            fake.advance(hours=12, minutes=1)
            assert (await visitor.get("/orders")).status_code == 303


async def test_the_worker_deletes_sessions_ended_or_unused_and_keeps_those_in_use(
    db: Database, visit: Visitors
) -> None:
    fake = clock.FakeClock(datetime(2030, 3, 1, 9, tzinfo=UTC))
    with clock.use(fake):
        async with await signed_in(visit, db, "operations") as signed_out:
            await signed_out.post("/logout", {})
        async with await signed_in(visit, db, "warehouse"):
            pass  # left open, never used again
        async with await signed_in(visit, db, "finance") as in_use:
            fake.advance(hours=11)
            assert (await in_use.get("/orders")).status_code == 200
            fake.advance(hours=1, minutes=1)  # the warehouse session's 12 hours are over
            async with db.transaction() as session:
                assert await access.prune_sessions(session) == 2
            async with db.transaction() as session:
                assert await access.prune_sessions(session) == 0
            assert (await in_use.get("/orders")).status_code == 200
    async with db.transaction() as session:
        kept = (await session.execute(text("select count(*) from console_sessions"))).scalar_one()
    assert kept == 1


async def _sign_in(visitor: Visitor, username: str, password: str) -> httpx.Response:
    await visitor.get("/login")
    return await visitor.post("/login", {"username": username, "password": password, "next": "/orders"})


async def test_sign_in_is_refused_after_five_failures_of_an_account_until_the_window_passes(
    db: Database, visit: Visitors
) -> None:
    name = await staff(db, "operations", PASSWORD)
    fake = clock.FakeClock(datetime(2030, 3, 1, 9, tzinfo=UTC))
    with clock.use(fake):
        async with visit() as visitor:
            for _ in range(5):
                assert (await _sign_in(visitor, name, "guess")).status_code == 401
                fake.advance(seconds=10)
            refused = await _sign_in(visitor, name, PASSWORD)
            assert refused.status_code == 429
            assert refused.headers["Retry-After"] == str(15 * 60 - 50)
            assert "登录失败次数过多，请 850 秒后再试。" in refused.text
            await visitor.post("/language", {"locale": "en", "next": "/login"})
            english = await _sign_in(visitor, name, PASSWORD)
            assert "Too many failed sign-ins. Try again in 850 seconds." in english.text

            fake.advance(seconds=849)
            assert (await _sign_in(visitor, name, PASSWORD)).status_code == 429
            fake.advance(seconds=1)  # the first failure left the window: 4 remain
            assert (await _sign_in(visitor, name, PASSWORD)).status_code == 303
    async with visit() as other:
        assert (await _sign_in(other, name, "guess")).status_code == 401  # the count started again


async def test_sign_in_from_an_address_with_too_many_failures_is_refused_for_every_account(
    db: Database,
) -> None:
    name = await staff(db, "operations", PASSWORD)
    async with browser(db, "203.0.113.9")() as attacker:
        policy.install(Policy(security=Security(login_failures_per_address=3)))  # after the app's start
        for guess in ("alice", "bob", "carol"):
            assert (await _sign_in(attacker, guess, "guess")).status_code == 401
        refused = await _sign_in(attacker, name, PASSWORD)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    async with browser(db, "198.51.100.7")() as colleague:
        assert (await _sign_in(colleague, name, PASSWORD)).status_code == 303


async def test_the_session_cookie_is_secure_over_https_only(db: Database) -> None:
    name = await staff(db, "operations", PASSWORD)
    for base_url, secure in (("https://shop.example", True), ("http://test", False)):
        async with browser(db, base_url=base_url)() as visitor:
            reply = await _sign_in(visitor, name, PASSWORD)
            assert reply.status_code == 303
            attributes = [part.strip().lower() for part in reply.headers["set-cookie"].split(";")]
            assert attributes[0].startswith("shopflow_session=")
            assert ("secure" in attributes) is secure and "httponly" in attributes


async def test_pages_forbid_framing_and_sniffing_and_keep_the_address_to_the_site(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "operations") as visitor:
        for path in ("/login", "/orders", "/docs"):
            reply = await visitor.get(path)
            assert reply.status_code == 200, path
            assert reply.headers["X-Frame-Options"] == "DENY"
            assert reply.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
            assert reply.headers["X-Content-Type-Options"] == "nosniff"
            assert reply.headers["Referrer-Policy"] == "same-origin"
        docs = await visitor.get("/docs")
        assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
        assert (await visitor.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")).status_code == 200
        assert (await visitor.get("/openapi.json")).status_code == 200


# --- every server process hears a revocation (PostgreSQL) ------------------------------------


async def soon(condition: Callable[[], bool], seconds: float) -> None:
    """Wait until `condition` holds; fail after `seconds`."""
    for _ in range(int(seconds * 1000)):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"not within {seconds} s")


@pytest.mark.skipif(not IS_POSTGRES, reason="LISTEN/NOTIFY is PostgreSQL's")
async def test_a_process_caching_tokens_forgets_them_when_another_revokes_one(committed: Database) -> None:
    from tests.conftest import TEST_URL

    async with committed.transaction() as session:
        await auth.add_user(session, SYSTEM, "erp.user", "operations")
        token = await access.create_token(session, SYSTEM, "erp.user", "erp")
    listener = asyncio.create_task(access.hear_revocations(TEST_URL))
    try:
        await soon(lambda: access._hearing, 5)
        assert (await access.authenticate(committed, token)).name == "erp.user"
        revoke = "UPDATE api_tokens SET revoked_at = created_at WHERE token_hash = :h"
        async with committed.transaction() as session:  # another process's revocation, unheard
            await session.execute(text(revoke), {"h": access.token_hash(token)})
        assert (await access.authenticate(committed, token)).name == "erp.user"  # cached: no round trip

        async with committed.transaction() as session:  # ... and as another process announces it
            await session.execute(text("SELECT pg_notify(:c, '')"), {"c": access.REVOCATIONS})
        await soon(lambda: access.token_hash(token) not in access._token_cache, 1)
        with pytest.raises(Unauthorized):
            await access.authenticate(committed, token)
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    assert not access._hearing and access._token_cache == {}
