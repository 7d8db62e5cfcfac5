"""The staff page of the console (STF-1): an admin manages users, passwords and API tokens; every
change is audited; nobody else sees the page or may use its forms."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import text

from shopflow.core import access, auth
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from tests.builders.auth import staff
from tests.builders.console import PASSWORD, Visitor, Visitors, signed_in, table_row, visitors
from tests.builders.rows import audit_rows


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def _user(db: Database, username: str) -> auth.User:
    async with db.transaction() as session:
        return await auth.find_user(session, username)


async def _can_sign_in(visit: Visitors, username: str, password: str) -> bool:
    async with visit() as visitor:
        return (await visitor.sign_in(username, password)).status_code == 303


async def _api(visitor: Visitor, token: str) -> int:
    reply = await visitor.client.get("/api/v1/policy", headers={"Authorization": f"Bearer {token}"})
    return reply.status_code


def _flash(reply: httpx.Response) -> str:
    found = re.search(r'<div class="flash ok" role="status">(.*?)</div>', reply.text, re.S)
    assert found is not None, "no message on the page"
    return found[1].strip()


async def _actions(db: Database, user_id: int) -> list[str]:
    return [row.action for row in await audit_rows(db, "user", user_id)]


async def test_an_admin_sees_every_user_with_role_and_state_in_both_languages(
    db: Database, visit: Visitors
) -> None:
    clerk = await _user(db, await staff(db, "warehouse"))
    async with await signed_in(visit, db, "admin") as visitor:
        home = await visitor.get("/")
        assert 'href="/staff">员工<' in home.text
        page = await visitor.get("/staff")
        assert page.status_code == 200 and "添加用户" in page.text and "API 令牌" in page.text
        row = table_row(page.text, f"user-{clerk.id}")
        assert clerk.username in row and "仓库" in row and "启用" in row

        await visitor.post("/language", {"locale": "en", "next": "/staff"})
        english = await visitor.get("/staff")
        assert ">Staff<" in english.text and "Add a user" in english.text and "添加用户" not in english.text
        row = table_row(english.text, f"user-{clerk.id}")
        assert "Warehouse" in row and "active" in row


async def test_an_admin_adds_users_with_or_without_a_password_audited(db: Database, visit: Visitors) -> None:
    async with await signed_in(visit, db, "admin") as visitor:
        await visitor.get("/staff")
        added = await visitor.post(
            "/staff/users", {"username": "li.na", "role": "warehouse", "password": "long-enough"}
        )
        assert (added.status_code, added.headers["location"]) == (303, "/staff")
        assert _flash(await visitor.get("/staff")) == "已添加 li.na，可以登录。"

        await visitor.post("/staff/users", {"username": "wang.wei", "role": "sales", "password": ""})
        page = await visitor.get("/staff")
        assert _flash(page) == "已添加 wang.wei。设置密码之前无法登录。"
        assert "未设密码" in table_row(page.text, f"user-{(await _user(db, 'wang.wei')).id}")

    assert await _can_sign_in(visit, "li.na", "long-enough")
    li = await _user(db, "li.na")
    assert li.role == "warehouse" and await _actions(db, li.id) == ["user.created"]
    assert [row.actor_name.split("-")[0] for row in await audit_rows(db, "user", li.id)] == ["admin"]


async def test_a_short_password_or_a_taken_name_stores_nothing_and_says_why(
    db: Database, visit: Visitors
) -> None:
    taken = await staff(db, "sales")
    async with await signed_in(visit, db, "admin") as visitor:
        await visitor.get("/staff")
        short = await visitor.post(
            "/staff/users", {"username": "li.na", "role": "sales", "password": "7-chars"}
        )
        assert short.status_code == 422
        assert 'id="error-password">至少 8 个字符<' in short.text
        assert 'value="li.na"' in short.text and "7-chars" not in short.text

        no_role = await visitor.post("/staff/users", {"username": "li.na", "password": "long-enough"})
        assert no_role.status_code == 422 and 'id="error-role">请选择一个角色<' in no_role.text

        again = await visitor.post(
            "/staff/users", {"username": taken, "role": "admin", "password": "long-enough"}
        )
        assert again.status_code == 409 and f"已有用户 {taken}。" in again.text
    async with db.transaction() as session:
        assert not await auth.user_exists(session, "li.na")
    assert (await _user(db, taken)).role == "sales"


async def test_an_admin_sets_a_password_and_a_short_one_is_refused(db: Database, visit: Visitors) -> None:
    clerk = await _user(db, await staff(db, "warehouse"))
    async with await signed_in(visit, db, "admin") as visitor:
        await visitor.get("/staff")
        short = await visitor.post(f"/staff/users/{clerk.id}/password", {"password": "7-chars"})
        assert short.status_code == 422
        assert 'id="refusal">密码太短，未做任何更改。 至少 8 个字符<' in short.text
        assert 'data-address="/staff"' in short.text  # a reload shows the page, not the POST
        done = await visitor.post(f"/staff/users/{clerk.id}/password", {"password": "a-new-password"})
        assert done.status_code == 303
        assert _flash(await visitor.get("/staff")) == f"{clerk.username} 的密码已设置。"

    assert not await _can_sign_in(visit, clerk.username, PASSWORD)
    assert await _can_sign_in(visit, clerk.username, "a-new-password")
    [_, password_set] = await audit_rows(db, "user", clerk.id)
    assert (password_set.action, password_set.before, password_set.after) == (
        "user.password_set",
        {"password": True},
        {"password": True},
    )
    assert "a-new-password" not in str(password_set.after)


async def test_a_disabled_user_is_signed_out_and_their_tokens_revoked_at_once(
    db: Database, visit: Visitors
) -> None:
    clerk = await _user(db, await staff(db, "operations"))
    async with db.transaction() as session:
        token = await access.create_token(session, SYSTEM, clerk.username, "erp")
    async with visit() as clerks_browser, await signed_in(visit, db, "admin") as visitor:
        await clerks_browser.sign_in(clerk.username)
        assert (await clerks_browser.get("/orders")).status_code == 200
        assert await _api(visitor, token) == 200
        await visitor.get("/staff")
        off = await visitor.post(f"/staff/users/{clerk.id}/disable", headers={"HX-Request": "true"})
        assert (off.status_code, off.headers["HX-Redirect"]) == (204, "/staff")
        page = await visitor.get("/staff")
        assert _flash(page) == f"{clerk.username} 已停用：已退出登录，令牌已吊销，启用之前不能登录。"
        assert "已停用" in table_row(page.text, f"user-{clerk.id}")
        assert (await clerks_browser.get("/orders")).headers["location"] == "/login?next=%2Forders"
        assert not await _can_sign_in(visit, clerk.username, PASSWORD)
        assert await _api(visitor, token) == 401

        on = await visitor.post(f"/staff/users/{clerk.id}/enable")
        assert on.status_code == 303
        assert _flash(await visitor.get("/staff")) == f"{clerk.username} 已重新启用。"
        assert await _can_sign_in(visit, clerk.username, PASSWORD)
        assert await _api(visitor, token) == 401  # a disabled user's old tokens stay revoked
    [*_, disabled, enabled] = await audit_rows(db, "user", clerk.id)
    assert (disabled.action, disabled.after) == (
        "user.disabled",
        {"active": False, "sessions_ended": 1, "tokens_revoked": 1},
    )
    assert (enabled.action, enabled.after) == ("user.enabled", {"active": True})


async def test_an_admin_cannot_disable_their_own_account(db: Database, visit: Visitors) -> None:
    async with await signed_in(visit, db, "admin") as visitor:
        page = await visitor.get("/staff")
        me = int(re.findall(r'<tr id="user-(\d+)">', page.text)[-1])
        assert f'action="/staff/users/{me}/disable"' not in page.text
        refused = await visitor.post(f"/staff/users/{me}/disable")
        assert refused.status_code == 409 and "不能停用自己的账号。" in refused.text
        assert (await visitor.get("/staff")).status_code == 200  # still signed in, still active


async def test_an_admin_sets_team_manager_duty_and_email_audited_and_refused_when_wrong(
    db: Database, visit: Visitors
) -> None:
    boss = await _user(db, await staff(db, "cs_supervisor"))
    clerk = await _user(db, await staff(db, "customer_service"))
    async with await signed_in(visit, db, "admin") as visitor:
        await visitor.get("/staff")
        people = {"team": "售后一组", "manager": boss.username, "email": "li@shop.example", "on_duty": "true"}
        done = await visitor.post(f"/staff/users/{clerk.id}/people", people)
        assert done.status_code == 303
        page = await visitor.get("/staff")
        assert _flash(page) == f"{clerk.username} 已更新。"
        row = table_row(page.text, f"user-{clerk.id}")
        assert 'value="售后一组"' in row and f'value="{boss.username}" selected' in row and "值班中" in row

        cycle = await visitor.post(f"/staff/users/{boss.id}/people", {"manager": clerk.username})
        assert cycle.status_code == 409 and f"{clerk.username} 不能管理 {boss.username}" in cycle.text
        bad = await visitor.post(f"/staff/users/{clerk.id}/people", {"email": "not-an-address"})
        assert bad.status_code == 422 and "不是电子邮件地址" in bad.text

        off = await visitor.post(f"/staff/users/{clerk.id}/people", {**people, "on_duty": ""})
        assert off.status_code == 303
        await visitor.post("/language", {"locale": "en", "next": "/staff"})
        row = table_row((await visitor.get("/staff")).text, f"user-{clerk.id}")
        assert "off duty" in row
    updated = await _user(db, clerk.username)
    assert (updated.team, updated.manager_id, updated.email, updated.on_duty) == (
        "售后一组",
        boss.id,
        "li@shop.example",
        False,
    )
    [*_, first, last] = await audit_rows(db, "user", clerk.id)
    assert (first.action, first.after) == (
        "user.updated",
        {"team": "售后一组", "manager": boss.username, "email": "l***@shop.example"},  # masked in the trail
    )
    async with db.transaction() as session:
        stored = (
            await session.execute(text("select email from users where id = :id"), {"id": clerk.id})
        ).scalar()
    assert b"li@shop.example" not in bytes(stored)  # encrypted at rest
    assert (last.before, last.after) == ({"on_duty": True}, {"on_duty": False})


async def test_a_token_is_shown_once_works_and_is_revoked_audited(db: Database, visit: Visitors) -> None:
    clerk = await _user(db, await staff(db, "finance"))
    async with await signed_in(visit, db, "admin") as visitor:
        await visitor.get("/staff")
        created = await visitor.post(f"/staff/users/{clerk.id}/tokens", {"label": "reconciliation"})
        assert created.status_code == 201 and 'data-address="/staff"' in created.text
        found = re.search(r'<code id="new-token">(sf_[^<]+)</code>', created.text)
        assert found is not None
        token = found[1]
        assert await _api(visitor, token) == 200

        listed = await visitor.get("/staff")
        assert token not in listed.text
        [token_id] = re.findall(r'<tr id="token-(\d+)">', listed.text)
        row = table_row(listed.text, f"token-{token_id}")
        assert "reconciliation" in row and clerk.username in row and "启用" in row

        revoked = await visitor.post(f"/staff/tokens/{token_id}/revoke", headers={"HX-Request": "true"})
        assert (revoked.status_code, revoked.headers["HX-Redirect"]) == (204, "/staff")
        page = await visitor.get("/staff")
        assert _flash(page) == "令牌“reconciliation”已吊销。"
        assert "已于" in table_row(page.text, f"token-{token_id}")
        assert await _api(visitor, token) == 401  # at once, though it was just checked and cached
        assert (await visitor.post("/staff/tokens/999999/revoke")).status_code == 404
    trail = await audit_rows(db, "user", clerk.id)
    assert [row.action for row in trail] == ["user.created", "token.created", "token.revoked"]
    assert token not in str([(row.before, row.after) for row in trail])


@pytest.mark.parametrize("role", ["manager", "operations", "cs_supervisor"])
async def test_no_one_but_an_admin_sees_the_page_or_may_use_its_forms(
    db: Database, visit: Visitors, role: str
) -> None:
    clerk = await _user(db, await staff(db, "sales"))
    async with await signed_in(visit, db, role) as visitor:
        home = await visitor.get("/")
        assert 'href="/staff"' not in home.text
        assert (await visitor.get("/staff")).status_code == 403
        replies = [
            await visitor.post(
                "/staff/users", {"username": "mole", "role": "admin", "password": "long-enough"}
            ),
            await visitor.post(f"/staff/users/{clerk.id}/password", {"password": "taken-over"}),
            await visitor.post(f"/staff/users/{clerk.id}/disable"),
            await visitor.post(f"/staff/users/{clerk.id}/people", {"team": "mine"}),
            await visitor.post(f"/staff/users/{clerk.id}/tokens", {"label": "mine now"}),
        ]
        assert [reply.status_code for reply in replies] == [403] * 5
        assert "sf_" not in replies[4].text
    assert await _actions(db, clerk.id) == ["user.created"]
    async with db.transaction() as session:
        assert not await auth.user_exists(session, "mole")
