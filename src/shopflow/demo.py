"""A realistic demo store, built through the same use cases the API calls."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import func, select

from shopflow.catalog import service as catalog
from shopflow.catalog.schemas import ProductIn, SkuIn
from shopflow.core import clock, money
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.inventory import service as inventory
from shopflow.inventory.models import Warehouse
from shopflow.inventory.schemas import ReceiptIn, ReceiptLineIn, WarehouseIn
from shopflow.orders.models import HoldReason, OrderStatus
from shopflow.orders.schemas import AddressIn, CustomerIn, LineIn, OrderIn
from shopflow.orders.service import intake, lifecycle
from shopflow.payments import service as payments
from shopflow.payments.schemas import CallbackIn

ADMIN = "admin"
SCARCE_UNITS = 3  # of the last SKU, per warehouse

WAREHOUSES = [
    WarehouseIn(code="SH01", name="华东仓 (上海嘉定)", province="上海", priority=1),
    WarehouseIn(code="GZ01", name="华南仓 (广州白云)", province="广东", priority=2),
    WarehouseIn(code="BJ01", name="华北仓 (北京大兴)", province="北京", priority=3),
]

# (product, band, base price in yuan, variants)
PRODUCTS = [
    ("纯棉圆领T恤", "traffic", 59, ["白色 M", "白色 L", "黑色 M", "黑色 L", "灰色 XL"]),
    ("弹力修身牛仔裤", "profit", 199, ["29", "30", "31", "32", "34"]),
    ("轻薄羽绒服", "profit", 499, ["藏青 M", "藏青 L", "米白 M", "米白 L"]),
    ("真丝围巾", "image", 899, ["酒红", "墨绿", "星空蓝"]),
    ("运动速干短裤", "traffic", 79, ["黑 M", "黑 L", "蓝 M", "蓝 L"]),
    ("羊毛混纺大衣", "image", 1299, ["驼色 M", "驼色 L", "黑色 M"]),
    ("帆布双肩包", "profit", 169, ["卡其", "黑色", "军绿"]),
    ("保温杯 500ml", "traffic", 89, ["白", "粉", "蓝", "黑"]),
    ("蓝牙降噪耳机", "profit", 699, ["黑色", "白色"]),
    ("智能手环", "profit", 249, ["黑色", "粉色", "薄荷绿"]),
    ("棉麻家居服套装", "profit", 259, ["女 M", "女 L", "男 L", "男 XL"]),
    ("防晒冰袖", "traffic", 29, ["白", "黑", "灰"]),
    ("手工皮革钱包", "image", 599, ["棕", "黑"]),
    ("儿童卡通雨伞", "traffic", 49, ["小熊", "恐龙", "独角兽"]),
    ("香薰蜡烛礼盒", "image", 329, ["雪松", "白茶"]),
]

PLACES = [
    ("上海", "上海市", "浦东新区", "200120"),
    ("北京", "北京市", "朝阳区", "100020"),
    ("广东", "广州市", "天河区", "510620"),
    ("广东", "深圳市", "南山区", "518052"),
    ("浙江", "杭州市", "西湖区", "310012"),
    ("江苏", "南京市", "鼓楼区", "210008"),
    ("四川", "成都市", "武侯区", "610041"),
    ("湖北", "武汉市", "洪山区", "430070"),
    ("陕西", "西安市", "雁塔区", "710061"),
    ("山东", "青岛市", "市南区", "266071"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "霞",
]
STREETS = ["人民路", "中山路", "解放路", "建设路", "和平街", "长江路", "新华路", "文化路"]
CHANNELS = ["web", "manual", "import"]  # built-in channels (core.policy); imports carry their number


def _customer(rng: random.Random) -> tuple[CustomerIn, AddressIn]:
    name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
    phone = "1" + rng.choice("3456789") + "".join(rng.choices("0123456789", k=9))
    province, city, district, postcode = rng.choice(PLACES)
    street = f"{rng.choice(STREETS)}{rng.randint(1, 999)}号{rng.randint(1, 30)}栋{rng.randint(101, 2504)}室"
    customer = CustomerIn(name=name, phone=phone, email=f"u{rng.randint(1000, 99999)}@example.cn")
    address = AddressIn(
        name=name,
        phone=phone,
        province=province,
        city=city,
        district=district,
        street=street,
        postcode=postcode,
    )
    return customer, address


async def load(db: Database, order_count: int, console: Console, seed: int = 7) -> bool:
    """Load the demo store unless warehouses exist already. Returns whether it loaded."""
    async with db.transaction() as session:
        if await session.scalar(select(func.count()).select_from(Warehouse)):
            return False
    rng = random.Random(seed)
    codes: list[tuple[str, int]] = []
    async with db.transaction() as session:
        for warehouse in WAREHOUSES:
            await inventory.create_warehouse(session, SYSTEM, warehouse)
        for p, (name, band, base, variants) in enumerate(PRODUCTS, start=1):
            skus = []
            for v, variant in enumerate(variants, start=1):
                code = f"SF-{p:03d}-{v:02d}"
                price = base * 100
                skus.append(
                    SkuIn(
                        code=code,
                        name=f"{name} {variant}",
                        price=money.fmt(price),
                        cost=money.fmt(price * rng.randint(35, 60) // 100),
                        weight_g=rng.randint(80, 1800),
                        price_band=band,
                        barcode=f"69{rng.randint(10**10, 10**11 - 1)}",
                    )
                )
                codes.append((code, price))
            await catalog.create_product(session, SYSTEM, ProductIn(name=name, skus=skus))
        for warehouse in WAREHOUSES:
            lines = [
                # The last SKU is kept scarce so that some orders wait for stock (ORD-4).
                ReceiptLineIn(
                    sku=code, quantity=SCARCE_UNITS if i == len(codes) - 1 else rng.randint(60, 400)
                )
                for i, (code, _) in enumerate(codes)
            ]
            await inventory.receive(
                session,
                SYSTEM,
                ReceiptIn(warehouse=warehouse.code, reference=f"PO-DEMO-{warehouse.code}", lines=lines),
            )

    start = clock.now() - timedelta(days=14)
    step = timedelta(days=14) / max(order_count, 1)
    fake = clock.FakeClock(start)
    with clock.use(fake), Progress(console=console, transient=True) as progress:
        task = progress.add_task("placing demo orders", total=order_count)
        for n in range(order_count):
            fake.current = start + step * n + timedelta(seconds=rng.randint(0, 300))
            await _one_order(db, rng, codes, n == order_count - 1)
            progress.advance(task)
    console.print(
        f"[green]demo store loaded[/green]: {len(WAREHOUSES)} warehouses, "
        f"{len(codes)} SKUs, {order_count} orders"
    )
    return True


async def _one_order(db: Database, rng: random.Random, codes: list[tuple[str, int]], scarce: bool) -> None:
    customer, address = _customer(rng)
    picked = rng.sample(codes[:-1], k=rng.choice([1, 1, 1, 2, 2, 3]))
    if not scarce and rng.random() < 0.03:
        picked.append(codes[-1])
    lines = [
        LineIn(sku=code, quantity=rng.choice([1, 1, 1, 2, 3]), unit_price=money.fmt(price))
        for code, price in picked
    ]
    if scarce:
        # More than every warehouse holds: however few orders the demo places, one waits on hold.
        code, price = codes[-1]
        lines.append(
            LineIn(sku=code, quantity=SCARCE_UNITS * len(WAREHOUSES) + 1, unit_price=money.fmt(price))
        )
    channel = rng.choice(CHANNELS)
    data = OrderIn(
        channel=channel,
        channel_order_no=None if channel != "import" else uuid.UUID(int=rng.getrandbits(128)).hex[:16],
        customer=customer,
        shipping_address=address,
        lines=lines,
        buyer_ip=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
    )
    async with db.transaction() as session:
        order = (await intake.place_order(session, SYSTEM, data, None)).order
    if order.status != OrderStatus.CONFIRMED:
        return
    fate = rng.random()
    async with db.transaction() as session:
        if fate < 0.62:
            payment = await payments.start_payment(
                session, SYSTEM, order.id, rng.choice(["alipay", "wechat", "card"])
            )
            callback = CallbackIn(
                event_id=uuid.UUID(int=rng.getrandbits(128)).hex,
                payment_id=payment.id,
                outcome="success",
                amount=money.fmt(payment.amount),
                occurred_at=clock.now(),
            )
            await payments.apply_callback(session, "sandbox", callback)
        elif fate < 0.75:
            await lifecycle.cancel(
                session, SYSTEM, order.id, rng.choice(["customer changed mind", "duplicate order"])
            )
        elif fate < 0.8:
            await lifecycle.hold(session, SYSTEM, order.id, HoldReason.RISK_REVIEW)
