"""The reply scripts the knowledge base starts with (CRM-4): one per stage and language, offered
by the follow-up form. Migration 0016 stores them; `seed` stores them again where missing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import clock
from shopflow.kb import service as kb

# (stage, language, title, body)
SCRIPTS: tuple[tuple[str, str, str, str], ...] = (
    (
        "first_touch",
        "zh_CN",
        "首次联系：确认来意",
        "您好，我是{店铺}的销售顾问，看到您在我们网站留下了需求，想了解一下您这次采购的具体情况，现在方便聊两分钟吗？",
    ),
    (
        "first_touch",
        "en",
        "First touch: confirm the enquiry",
        "Hello, this is your sales adviser at {store}. You left us an enquiry on our site; do you have two "
        "minutes to tell me a little more about what you need?",
    ),
    (
        "needs_discovery",
        "zh_CN",
        "需求挖掘：数量、预算、时间",
        "为了给您推荐最合适的方案，想确认三点：大概需要多少数量？预算范围是多少？希望什么时候到货？",
    ),
    (
        "needs_discovery",
        "en",
        "Needs discovery: quantity, budget, date",
        "So that I can suggest the right option, may I check three things: roughly how many units, what "
        "budget you have in mind, and when you need them delivered?",
    ),
    (
        "objection",
        "zh_CN",
        "异议处理：价格偏高",
        "理解您对价格的顾虑。我们的报价包含正品保障、七天无理由退货和专属售后；按您的采购量，我可以为您申请阶梯折扣。",
    ),
    (
        "objection",
        "en",
        "Objection: the price is high",
        "I understand the price matters. Our quote includes genuine goods, a 7-day no-reason return and a "
        "dedicated after-sales contact; for your quantity I can ask for a volume discount.",
    ),
    (
        "closing",
        "zh_CN",
        "促成：确认报价与下单",
        "如果这个方案您没有问题，我现在把正式报价单发给您，确认后今天就可以为您锁定库存并安排发货。",
    ),
    (
        "closing",
        "en",
        "Closing: confirm the quote and order",
        "If this works for you, I will send the formal quotation now; once you confirm, I can reserve the "
        "stock today and arrange delivery.",
    ),
)


def rows(at: datetime) -> list[dict[str, Any]]:
    return [
        {
            "kind": "script",
            "category": stage,
            "tags": [stage],
            "language": language,
            "title": title,
            "body": body,
            "created_at": at,
        }
        for stage, language, title, body in SCRIPTS
    ]


async def seed(session: AsyncSession) -> int:
    """Store the scripts not stored yet; how many were added."""
    return await kb.add_articles(session, rows(clock.now()))
