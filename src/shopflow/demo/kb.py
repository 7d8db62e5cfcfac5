"""The demo's knowledge base (SVC-4): the FAQ and scripts it starts with, and an article a
supervisor wrote and then corrected, so the editor shows a timeline."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import auth
from shopflow.core.audit import SYSTEM, Actor
from shopflow.kb import service
from shopflow.kb.schemas import ArticleIn, ArticlePatch

SUPERVISOR = "cs-lead"


async def write(session: AsyncSession) -> int:
    """The articles where missing, and the supervisor's; how many articles were added."""
    added = await service.seed_articles(session)
    user = await auth.add_user(session, SYSTEM, SUPERVISOR, "cs_supervisor")
    writer = Actor(user_id=user.id, name=user.username, role=user.role)
    article = await service.create(
        session,
        writer,
        ArticleIn.model_validate(
            {
                "title": "节假日发货安排",
                "body": "节假日期间仓库正常发货，快递揽收可能延迟一天。",
                "kind": "faq",
                "category": "delivery",
                "tags": ["发货", "节假日"],
                "language": "zh_CN",
            }
        ),
    )
    correction = ArticlePatch.model_validate(
        {"body": "节假日期间仓库正常发货，快递揽收可能延迟一到两天，请耐心等待。"}
    )
    await service.update(session, writer, article.id, correction)
    return added + 1
