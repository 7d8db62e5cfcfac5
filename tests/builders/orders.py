from __future__ import annotations

from typing import Any


def address(**overrides: str) -> dict[str, str]:
    base = {
        "name": "张三",
        "phone": "13800138000",
        "province": "上海",
        "city": "上海市",
        "district": "浦东新区",
        "street": "世纪大道100号",
        "postcode": "200120",
    }
    return {**base, **overrides}


def order_body(lines: list[tuple[str, int, str]], **overrides: Any) -> dict[str, Any]:
    """A valid POST /orders body; `lines` are (sku, quantity, unit price as "99.00")."""
    body: dict[str, Any] = {
        "channel": "web",
        "customer": {"name": "张三", "phone": "13800138000", "email": "zhang@example.cn"},
        "shipping_address": address(),
        "lines": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines],
    }
    body.update(overrides)
    return body
