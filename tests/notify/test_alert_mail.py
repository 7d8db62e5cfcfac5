"""ANA-3: an alert is told to its owner once through the configured channels: each on-duty
member of its owning role (or the one user it names) with an email address gets one email."""

from __future__ import annotations

import pytest

from shopflow.core import access, alerts, auth, policy
from shopflow.core.audit import SYSTEM
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.policy import Alerts, Policy
from shopflow.core.settings import get_settings
from tests.builders.notify import body_of, deliveries, sweep
from tests.notify.conftest import Outside


async def staff(db: Database, *people: tuple[str, str, str | None, bool, bool]) -> None:
    """Users as (username, role, email, on duty, active)."""
    async with db.transaction() as session:
        for username, role, email, on_duty, active in people:
            user = await auth.add_user(session, SYSTEM, username, role)
            await auth.set_people(session, SYSTEM, user, {"email": email, "on_duty": on_duty})
            if not active:
                await access.set_active(session, SYSTEM, user, False)


async def raise_low_stock(db: Database) -> None:
    async with db.transaction() as session:
        await alerts.raise_alert(
            session, "low_stock", "sku:SKU-1", "SKU-1: 3 available", "low_stock:sku:SKU-1:0"
        )


async def test_a_raised_alert_is_emailed_once_to_each_on_duty_member_of_its_owning_role(
    db: Database, outside: Outside, now: FakeClock
) -> None:
    await staff(
        db,
        ("buyer", "purchasing", "buyer@shop.example.cn", True, True),
        ("resting", "purchasing", "resting@shop.example.cn", False, True),  # off duty
        ("gone", "purchasing", "gone@shop.example.cn", True, False),  # disabled
        ("silent", "purchasing", None, True, True),  # no address
        ("seller", "sales", "seller@shop.example.cn", True, True),  # another role
    )

    await raise_low_stock(db)
    await sweep(db)
    await raise_low_stock(db)  # the same cause again: no second alert, no second email
    await sweep(db)

    [mail] = outside.mailbox.messages
    assert outside.mailbox.recipients == [["buyer@shop.example.cn"]]
    assert mail["Subject"] == "【Shopflow】预警：sku:SKU-1 low_stock"
    text = body_of(mail, "plain")
    assert text.startswith("buyer，您好") and "SKU-1: 3 available" in text
    assert f"{get_settings().public_url}/alerts?kind=low_stock" in text
    [email] = await deliveries(db, channel="email")
    assert (email.event, email.recipient, email.state) == (
        "alert.raised",
        "b***@shop.example.cn",
        "delivered",
    )


@pytest.mark.parametrize("email_owners", [True, False])
async def test_an_alert_owned_by_one_user_reaches_that_user_unless_the_policy_says_not(
    db: Database, outside: Outside, now: FakeClock, email_owners: bool
) -> None:
    policy.install(Policy(alerts=Alerts(owners={"low_stock": "user:lead"}, email_owners=email_owners)))
    await staff(
        db,
        ("lead", "manager", "lead@shop.example.cn", False, True),  # named: reached even off duty
        ("buyer", "purchasing", "buyer@shop.example.cn", True, True),
    )

    await raise_low_stock(db)
    await sweep(db)

    expected = [["lead@shop.example.cn"]] if email_owners else []
    assert outside.mailbox.recipients == expected
