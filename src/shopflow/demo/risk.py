"""The demo's risk desk (RSK-1, RSK-2), opened when the weeks of trading are over: a blocked phone,
the remote-area rule trialled in shadow mode, and orders of the last hours held for review: one
from the blocked phone held three hours ago (past its 2-hour clock: red in the queue), the sixth
of six orders from one IP within minutes, and one to a parcel locker under another name than its
phone's profile; an order to a remote area passes, and the rules' page shows the shadow rule
would have held it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import clock, money
from shopflow.core.audit import SYSTEM, Actor
from shopflow.demo.store import Store
from shopflow.orders.schemas import AddressIn, CustomerIn, LineIn, OrderIn
from shopflow.orders.service import intake
from shopflow.risk.models import BlockKind, RuleMode
from shopflow.risk.schemas import BlockIn, RuleIn
from shopflow.risk.service import blocklist, rulebook

MANAGER = Actor(user_id=None, name="manager", role="manager")
ORDERS = 10  # the orders placed here
BLOCKED_PHONE = "13912340000"
BUSY_IP = "203.0.113.50"


def _order(
    store: Store, name: str, phone: str, place: tuple[str, str, str, str], street: str, ip: str
) -> OrderIn:
    province, city, district, postcode = place
    sku = store.plentiful[0]
    return OrderIn(
        channel="web",
        customer=CustomerIn(name=name, phone=phone),
        shipping_address=AddressIn(
            name=name,
            phone=phone,
            province=province,
            city=city,
            district=district,
            street=street,
            postcode=postcode,
        ),
        lines=[LineIn(sku=sku.code, quantity=1, unit_price=money.fmt(sku.price))],
        buyer_ip=ip,
    )


async def open_review_desk(session: AsyncSession, store: Store, now: datetime) -> None:
    """The block, the shadow rule and the orders of the module's docstring."""
    at = clock.FakeClock(now - timedelta(hours=3))
    with clock.use(at):
        reason = "多次拒收、恶意退款"
        await blocklist.add(
            session, MANAGER, BlockIn(kind=BlockKind.PHONE, value=BLOCKED_PHONE, reason=reason)
        )
        await rulebook.save_rule(
            session,
            MANAGER,
            RuleIn(code="remote_area", mode=RuleMode.SHADOW, weight=60, note="试运行：偏远地区"),
        )
        shanghai = ("上海", "上海市", "浦东新区", "200120")
        await _place(session, _order(store, "钱七", BLOCKED_PHONE, shanghai, "世纪大道88号", "198.51.100.7"))
        at.advance(hours=2, minutes=48)  # the rest within their pay clocks (ORD-5): none is cancelled at load
        for n in range(6):
            phone = f"1350000{n:04d}"
            await _place(session, _order(store, f"孙{n}", phone, shanghai, f"张杨路{n + 1}号", BUSY_IP))
            at.advance(minutes=1)
        at.advance(minutes=2)
        await _place(session, _order(store, "周八", "13600001111", shanghai, "东方路1号", "198.51.100.8"))
        at.advance(minutes=1)
        locker = ("广东", "深圳市", "南山区", "518052")
        await _place(
            session, _order(store, "吴九", "13600001111", locker, "科技园代收点3号柜", "198.51.100.9")
        )
        at.advance(minutes=1)
        remote = ("新疆", "乌鲁木齐市", "天山区", "830002")
        await _place(session, _order(store, "郑十", "13700002222", remote, "解放南路5号", "198.51.100.10"))


async def _place(session: AsyncSession, data: OrderIn) -> None:
    await intake.place_order(session, SYSTEM, data, None)
