"""The demo store as its staff would set it up: warehouses, the catalog, opening stock, carriers
and their rule table (FUL-3), each through the use case the API calls; and its customers."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import service as catalog
from shopflow.catalog.schemas import ProductIn, SkuIn
from shopflow.core import money
from shopflow.core.audit import SYSTEM
from shopflow.fulfillment.schemas import CarrierIn, RuleIn
from shopflow.fulfillment.service import carriers as carrier_service
from shopflow.inventory import service as inventory
from shopflow.inventory.schemas import ReceiptIn, ReceiptLineIn, WarehouseIn
from shopflow.orders.schemas import AddressIn, CustomerIn

SCARCE_UNITS = 3  # of the last SKU, per warehouse: orders asking for more wait on hold (ORD-4)

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

# Each product's category path (the two-level tree the metrics' sales by category read).
# CAT-4: a listing the banned-words check holds as a draft (最, 国家级, 顶级), so the demo shows it;
# its SKU is stocked but not sold until it is edited or a manager publishes it with a reason.
DRAFT_UNITS = 60
DRAFT = ProductIn(
    name="真丝围巾（全网最低价）",
    description="国家级非遗工艺，顶级桑蚕丝。",
    category=["服饰", "配饰"],
    skus=[
        SkuIn(
            code="SF-DRAFT-01",
            name="真丝围巾 藏青",
            price="299.00",
            cost="120.00",
            weight_g=120,
            price_band="profit",
        )
    ],
)
CATEGORIES = {
    "纯棉圆领T恤": ["服饰", "上装"],
    "弹力修身牛仔裤": ["服饰", "下装"],
    "轻薄羽绒服": ["服饰", "外套"],
    "真丝围巾": ["配饰", "围巾"],
    "运动速干短裤": ["服饰", "下装"],
    "羊毛混纺大衣": ["服饰", "外套"],
    "帆布双肩包": ["配饰", "箱包"],
    "保温杯 500ml": ["家居", "杯具"],
    "蓝牙降噪耳机": ["数码", "音频"],
    "智能手环": ["数码", "穿戴"],
    "棉麻家居服套装": ["服饰", "家居服"],
    "防晒冰袖": ["配饰"],
    "手工皮革钱包": ["配饰", "箱包"],
    "儿童卡通雨伞": ["家居"],
    "香薰蜡烛礼盒": ["家居", "香薰"],
}

# (code, name, tracking link, base fee, fee per kg); the rules below choose among them.
CARRIERS = [
    CarrierIn(
        code="SF",
        name="顺丰速运",
        tracking_url="https://www.sf-express.com/chn/sc/waybill/list?no={tracking_no}",
        base_fee="12.00",
        per_kg_fee="2.00",
    ),
    CarrierIn(
        code="ZTO",
        name="中通快递",
        tracking_url="https://www.zto.com/?num={tracking_no}",
        base_fee="7.00",
        per_kg_fee="1.20",
    ),
    CarrierIn(
        code="YTO",
        name="圆通速递",
        tracking_url="https://www.yto.net.cn/query?no={tracking_no}",
        base_fee="8.00",
        per_kg_fee="1.50",
    ),
]
# Valuable parcels and Shanghai go by SF, heavy ones by ZTO, everything else by YTO.
RULES = [
    RuleIn(carrier="SF", priority=10, min_order_value="500.00"),
    RuleIn(carrier="SF", priority=20, province="上海"),
    RuleIn(carrier="ZTO", priority=30, min_weight_g=3000),
    RuleIn(carrier="YTO", priority=100),
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
GIVEN = "伟芳娜敏静磊洋艳勇军杰娟涛明超霞"
STREETS = ["人民路", "中山路", "解放路", "建设路", "和平街", "长江路", "新华路", "文化路"]


@dataclass(frozen=True, slots=True)
class Sku:
    code: str
    price: int  # fen
    weight_g: int
    name: str
    cost: int  # fen


@dataclass(frozen=True, slots=True)
class Store:
    skus: list[Sku]  # the last one is the scarce one
    carriers: dict[int, str]  # carrier id -> code
    push_secrets: dict[str, str]  # carrier code -> the secret its pushes are signed with (FUL-5)

    @property
    def plentiful(self) -> list[Sku]:
        return self.skus[:-1]

    @property
    def scarce(self) -> Sku:
        return self.skus[-1]


async def set_up(session: AsyncSession, rng: random.Random) -> Store:
    """Warehouses, products with their SKUs, a receipt of opening stock per warehouse, the
    carriers and their rules."""
    for warehouse in WAREHOUSES:
        await inventory.create_warehouse(session, SYSTEM, warehouse)
    skus: list[Sku] = []
    for p, (name, band, base, variants) in enumerate(PRODUCTS, start=1):
        rows = []
        for v, variant in enumerate(variants, start=1):
            price = base * 100
            sku = Sku(
                f"SF-{p:03d}-{v:02d}",
                price,
                rng.randint(80, 1800),
                f"{name} {variant}",
                price * rng.randint(35, 60) // 100,
            )
            rows.append(
                SkuIn(
                    code=sku.code,
                    name=sku.name,
                    price=money.fmt(sku.price),
                    cost=money.fmt(sku.cost),
                    weight_g=sku.weight_g,
                    price_band=band,
                    barcode=f"69{rng.randint(10**10, 10**11 - 1)}",
                )
            )
            skus.append(sku)
        await catalog.create_product(
            session, SYSTEM, ProductIn(name=name, category=CATEGORIES[name], skus=rows)
        )
    await catalog.create_product(session, SYSTEM, DRAFT)
    for warehouse in WAREHOUSES:
        lines = [
            ReceiptLineIn(sku=sku.code, quantity=SCARCE_UNITS if sku is skus[-1] else rng.randint(80, 400))
            for sku in skus
        ]
        lines.append(ReceiptLineIn(sku=DRAFT.skus[0].code, quantity=DRAFT_UNITS))  # in stock, not on sale
        receipt = ReceiptIn(warehouse=warehouse.code, reference=f"PO-OPEN-{warehouse.code}", lines=lines)
        await inventory.receive(session, SYSTEM, receipt)
    codes, secrets = {}, {}
    for data in CARRIERS:
        carrier, secrets[data.code] = await carrier_service.create_carrier(session, SYSTEM, data)
        codes[carrier.id] = carrier.code
    for rule in RULES:
        await carrier_service.add_rule(session, SYSTEM, rule)
    return Store(skus, codes, secrets)


def customer(rng: random.Random) -> tuple[CustomerIn, AddressIn]:
    name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
    phone = "1" + rng.choice("3456789") + "".join(rng.choices("0123456789", k=9))
    province, city, district, postcode = rng.choice(PLACES)
    street = f"{rng.choice(STREETS)}{rng.randint(1, 999)}号{rng.randint(1, 30)}栋{rng.randint(101, 2504)}室"
    contact = CustomerIn(name=name, phone=phone, email=f"u{rng.randint(1000, 99999)}@example.cn")
    address = AddressIn(
        name=name,
        phone=phone,
        province=province,
        city=city,
        district=district,
        street=street,
        postcode=postcode,
    )
    return contact, address
