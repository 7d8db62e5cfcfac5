"""The demo's B2B deals (CRM-6, CAT-2): quotes of the sales desk in several states — a draft, one
with a deep discount waiting for the manager's approval, one approved and sent, one accepted whose
contract made an order on 30 days' credit (ORD-5)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import service as catalog
from shopflow.core import auth, clock
from shopflow.core.audit import SYSTEM, Actor
from shopflow.crm import service as customers
from shopflow.crm.quotes import service
from shopflow.crm.quotes.schemas import QuoteIn
from shopflow.crm.schemas import CustomerIn
from shopflow.demo.leads import MANAGER, SALES

SHIP_TO = {"province": "上海市", "city": "上海市", "district": "浦东新区", "postcode": "200120"}
# (company, buyer, phone, street, discount percent, payment terms, how far it went)
BOOK: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("星河科技有限公司", "孙经理", "13822220001", "张江路88号", "3", "net30", "accepted"),
    ("蓝海贸易有限公司", "郑总", "13822220002", "世纪大道100号", "25", "net60", "pending"),
    ("青禾母婴连锁", "何女士", "13822220003", "陆家嘴环路1000号", "5", "prepaid", "sent"),
    ("远山办公用品", "冯先生", "13822220004", "花园石桥路66号", "0", "net30", "draft"),
)


async def _actor(session: AsyncSession, username: str) -> Actor:
    user = await auth.find_user(session, username)
    return Actor(user_id=user.id, name=user.username, role=user.role)


def _body(
    customer_id: int, buyer: str, phone: str, street: str, lines: list[dict[str, Any]], terms: str
) -> QuoteIn:
    return QuoteIn.model_validate(
        {
            "customer_id": customer_id,
            "buyer": {"name": buyer, "phone": phone},
            "ship_to": {"name": buyer, "phone": phone, "street": street, **SHIP_TO},
            "lines": lines,
            "delivery_date": (clock.now().date() + timedelta(days=14)).isoformat(),
            "payment_terms": terms,
            "aftersales_terms": "一年保修，七天无理由退换",
        }
    )


async def open_book(session: AsyncSession, now: datetime) -> int:
    """The desk's quotes, written a day ago by the first sales person; how many."""
    seller, boss = await _actor(session, SALES[0]), await _actor(session, MANAGER)
    skus, _ = await catalog.list_skus(session, None, None, True, 0, 2)
    for company, buyer, phone, street, discount, terms, reached in BOOK:
        with clock.use(clock.FakeClock(now - timedelta(days=1))):
            customer = await customers.create_customer(
                session, SYSTEM, CustomerIn(name=company, phones=[phone], source="console")
            )
            lines = [
                {"sku": sku.code, "spec": "标准款", "quantity": 5, "unit_price": f"{sku.price / 100:.2f}"}
                | {"discount_percent": discount}
                for sku in skus
            ]
            quote = await service.create(
                session, seller, _body(customer.id, buyer, phone, street, lines, terms)
            )
        if reached == "draft":
            continue
        quote = await service.submit(session, seller, quote.id)
        if reached == "pending":
            continue
        if quote.state == "pending_approval":
            await service.decide(session, boss, quote.id, True, "老客户，同意")
        await service.send(session, seller, quote.id)
        if reached == "accepted":
            await service.accept(session, seller, quote.id)
    return len(BOOK)
