"""The articles the knowledge base starts with (SVC-4): the FAQ customers ask most, and the
service desk's reply scripts (the lead scripts of CRM-4 are `crm.leads.scripts`). Scripts hold
`${name}` and `${order_no}`, filled in when an agent inserts one (`kb.service.render_script`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

# (kind, category, language, title, tags, body)
ARTICLES: tuple[tuple[str, str, str, str, tuple[str, ...], str], ...] = (
    (
        "faq",
        "returns",
        "zh_CN",
        "退货运费谁承担",
        ("退货", "运费"),
        "因质量问题、发错货或运输破损退货的，退货运费由商家承担，退款时一并退还；七天无理由退货的运费由买家承担。",
    ),
    (
        "faq",
        "returns",
        "en",
        "Who pays for return shipping",
        ("returns", "shipping"),
        "When an item is faulty, wrong or damaged in transit, we pay the return shipping and refund it with "
        "your refund. For a no-reason return within 7 days the customer pays the return shipping.",
    ),
    (
        "faq",
        "returns",
        "zh_CN",
        "七天无理由退货怎么申请",
        ("退货", "无理由"),
        "签收后7天内，商品不影响二次销售即可申请无理由退货：在订单页点击“申请售后”，选择退货退款并填写原因。",
    ),
    (
        "faq",
        "returns",
        "en",
        "How do I return an item within 7 days",
        ("returns", "no reason"),
        "Within 7 days of delivery you may return an unused item for any reason: open your "
        "order page, choose "
        "“Return or exchange”, pick return and refund and tell us why.",
    ),
    (
        "faq",
        "refunds",
        "zh_CN",
        "退款多久到账",
        ("退款", "到账"),
        "仓库验收退货后立即退款，原路退回，通常3到5个工作日到账；信用卡分期以银行处理时间为准。",
    ),
    (
        "faq",
        "refunds",
        "en",
        "How long do refunds take",
        ("refunds",),
        "We refund as soon as the warehouse has checked the returned item. Refunds go back to the original "
        "payment method and arrive within 3 to 5 working days; card instalments follow the bank's timing.",
    ),
    (
        "faq",
        "delivery",
        "zh_CN",
        "下单后多久发货，几天能到",
        ("发货", "物流", "配送"),
        "付款后48小时内发货，发货后通常72小时内送达；偏远地区可能稍晚。发货后可在订单页查看物流信息。",
    ),
    (
        "faq",
        "delivery",
        "en",
        "When will my order ship and arrive",
        ("delivery", "shipping"),
        "Orders ship within 48 hours of payment and usually arrive within 72 hours of "
        "shipping; remote areas may "
        "take longer. Tracking appears on your order page once the parcel has left.",
    ),
    (
        "faq",
        "invoices",
        "zh_CN",
        "如何开具发票",
        ("发票", "开票"),
        "下单时填写发票抬头和税号即可，电子发票在订单完成后发送到您的邮箱；已下单的可联系客服补开。",
    ),
    (
        "faq",
        "invoices",
        "en",
        "How do I get an invoice",
        ("invoices",),
        "Enter the invoice title and tax number when ordering; the electronic invoice is "
        "emailed once the order is "
        "complete. For an order already placed, ask customer service to issue one.",
    ),
    (
        "faq",
        "orders",
        "zh_CN",
        "下单后可以修改收货地址吗",
        ("地址", "修改订单"),
        "发货前可以修改：请联系客服提供订单号和新地址；已发货的订单需联系快递改派。",
    ),
    (
        "faq",
        "orders",
        "en",
        "Can I change the delivery address after ordering",
        ("address", "orders"),
        "Yes, until the order ships: send customer service your order number and the new "
        "address. Once shipped, "
        "the carrier has to redirect the parcel.",
    ),
    (
        "script",
        "apology",
        "zh_CN",
        "致歉：给您添麻烦了",
        ("致歉", "道歉"),
        "${name}您好，关于订单${order_no}给您带来的不便，我们深表歉意。我已经为您加急处理，今天内给您明确答复。",
    ),
    (
        "script",
        "apology",
        "en",
        "Apology: sorry for the trouble",
        ("apology",),
        "Dear ${name}, we are truly sorry for the trouble with order ${order_no}. I have "
        "escalated it and will give "
        "you a clear answer today.",
    ),
    (
        "script",
        "bad_review_threat",
        "zh_CN",
        "差评威胁：先解决问题",
        ("差评",),
        "${name}您好，非常理解您的心情。订单${order_no}的问题我们一定负责到底，请给我一次机会先把问题解决好，处理结果您满意后再评价。",
    ),
    (
        "script",
        "bad_review_threat",
        "en",
        "Bad-review threat: solve it first",
        ("review",),
        "Dear ${name}, I understand how you feel. We will see the problem with order "
        "${order_no} through; please let "
        "me put it right first, and review us once you are happy with the outcome.",
    ),
    (
        "script",
        "compensation_demand",
        "zh_CN",
        "索要赔偿：说明方案与权限",
        ("赔偿",),
        "${name}您好，订单${order_no}的情况我已核实。按照规定可以为您提供退款或补发，额外补偿需要主管审批，我现在就为您申请，稍后回复您。",
    ),
    (
        "script",
        "compensation_demand",
        "en",
        "Compensation demand: the options and who decides",
        ("compensation",),
        "Dear ${name}, I have checked order ${order_no}. Under our policy I can offer a "
        "refund or a replacement; any "
        "further compensation needs my supervisor's approval, which I am asking for now.",
    ),
)


def rows(at: datetime) -> list[dict[str, Any]]:
    return [
        {
            "kind": kind,
            "category": category,
            "tags": list(tags),
            "language": language,
            "title": title,
            "body": body,
            "created_at": at,
        }
        for kind, category, language, title, tags, body in ARTICLES
    ]
