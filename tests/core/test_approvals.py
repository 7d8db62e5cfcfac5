"""The approval mechanism (CAT-2) apart from any domain: who may decide what, the states, the
alert while a request waits and its resolution by the decision."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shopflow.core import approvals, audit, auth
from shopflow.core.alerts import Alert
from shopflow.core.audit import Actor
from shopflow.core.db import Database
from shopflow.core.errors import InvalidTransition


@pytest.mark.parametrize(
    ("role", "percent", "allowed"),
    [
        ("sales", 5.0, True),
        ("sales", 5.5, False),
        ("cs_supervisor", 10.0, True),
        ("manager", 30.0, True),
        ("manager", 30.01, False),
        ("admin", 100.0, True),
        ("warehouse", 0.5, False),
    ],
)
def test_an_approver_decides_within_the_discount_authority_of_their_role(
    role: str, percent: float, allowed: bool
) -> None:
    assert approvals.may_approve(role, percent) is allowed


async def test_a_request_waits_with_an_alert_until_decided_once_by_someone_else(db: Database) -> None:
    async with db.transaction() as session:
        asker = await auth.add_user(session, audit.SYSTEM, "asker", "sales")
        boss = await auth.add_user(session, audit.SYSTEM, "boss", "manager")
        seller, manager = Actor(asker.id, "asker", "sales"), Actor(boss.id, "boss", "manager")
        asked = {"sku": "SKU-1", "price": 7000}
        request = await approvals.request(
            session, seller, "price:SKU-1", "price.change", asked, ["30% below list"], 30.0
        )
        with pytest.raises(approvals.SelfApproval):
            await approvals.decide(session, seller, request.id, True, "")
        decided = await approvals.decide(session, manager, request.id, False, "too deep")
        with pytest.raises(InvalidTransition):
            await approvals.decide(session, manager, request.id, True, "")
        alert = (await session.scalars(select(Alert).where(Alert.subject == "price:SKU-1"))).one()
        trail = [e.action for e in await audit.trail(session, "approval", request.id)]

    assert (decided.state, decided.approver_name, decided.note) == ("rejected", "boss", "too deep")
    assert (alert.kind, alert.owner, alert.state) == ("approval.pending", "manager", "resolved")
    assert trail == ["approval.requested", "approval.rejected"]
