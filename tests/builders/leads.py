"""Leads and the sales staff who take them."""

from __future__ import annotations

from typing import Any

from shopflow.core import auth
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.crm.leads import service
from shopflow.crm.leads.models import Lead
from shopflow.crm.leads.schemas import LeadIn


def lead_body(phone: str = "13900139000", **overrides: Any) -> dict[str, Any]:
    """A valid lead form: a need, nothing else (grade C)."""
    return {"name": "李四", "phone": phone, "need_tags": ["办公设备"], **overrides}


A_LEAD = {"quote_asked": True, "quantity": 200, "budget": "50000.00"}  # grade A


async def sales_team(
    db: Database, *names: str, manager: str | None = None, off_duty: tuple[str, ...] = ()
) -> None:
    """Sales users `names` (on duty unless named in `off_duty`), reporting to `manager` if given."""
    async with db.transaction() as session:
        boss = None if manager is None else await auth.add_user(session, SYSTEM, manager, "manager")
        for name in names:
            user = await auth.add_user(session, SYSTEM, name, "sales")
            user.on_duty = name not in off_duty
            user.manager_id = None if boss is None else boss.id
        await session.flush()


async def submit(db: Database, phone: str = "13900139000", **overrides: Any) -> tuple[Lead, bool]:
    async with db.transaction() as session:
        taken = await service.submit(session, SYSTEM, LeadIn.model_validate(lead_body(phone, **overrides)))
        return taken.lead, taken.appended
