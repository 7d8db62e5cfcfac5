from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from shopflow.core.api import Pages, Session, problems, require
from shopflow.core.audit import Actor
from shopflow.core.schemas import Id, Page
from shopflow.notify import service
from shopflow.notify.models import Channel, DeliveryState
from shopflow.notify.schemas import DeliveryOut, WebhookCreated, WebhookIn, WebhookOut

router = APIRouter(tags=["notifications"], responses=problems(401, 403))


@router.post("/webhooks", status_code=201, response_model=WebhookCreated)
async def create_webhook(
    data: WebhookIn, session: Session, actor: Annotated[Actor, require("webhooks.manage")]
) -> WebhookCreated:
    """Subscribe a URL to events; each is POSTed signed with the secret (shown only here)."""
    hook = await service.create_webhook(session, actor, data)
    return WebhookCreated.model_validate(hook)


@router.get("/webhooks", response_model=Page[WebhookOut])
async def list_webhooks(
    session: Session, pages: Pages, _: Annotated[Actor, require("webhooks.manage")]
) -> Page[WebhookOut]:
    items, total = await service.list_webhooks(session, pages.page, pages.page_size)
    return Page[WebhookOut](**pages.of([WebhookOut.model_validate(h) for h in items], total))


@router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response, responses=problems(404))
async def delete_webhook(
    webhook_id: Id, session: Session, actor: Annotated[Actor, require("webhooks.manage")]
) -> None:
    await service.delete_webhook(session, actor, webhook_id)


@router.get("/notifications/deliveries", response_model=Page[DeliveryOut])
async def list_deliveries(
    session: Session,
    pages: Pages,
    _: Annotated[Actor, require("notifications.read")],
    state: DeliveryState | None = None,
    channel: Channel | None = None,
    event: Annotated[str | None, Query(max_length=80, description='"order.paid" or "order.*"')] = None,
    q: Annotated[str | None, Query(max_length=80, description="part of a recipient, subject or id")] = None,
) -> Page[DeliveryOut]:
    """The delivery log: each delivery with every attempt (status code or error, time)."""
    items, total = await service.list_deliveries(
        session,
        state=state,
        channel=channel,
        page=pages.page,
        page_size=pages.page_size,
        event=event,
        search=q,
    )
    return Page[DeliveryOut](**pages.of([DeliveryOut.model_validate(d) for d in items], total))


@router.post(
    "/notifications/deliveries/{delivery_id}/retry", response_model=DeliveryOut, responses=problems(404, 409)
)
async def retry_delivery(
    delivery_id: Id, session: Session, actor: Annotated[Actor, require("notifications.retry")]
) -> DeliveryOut:
    """Send a dead delivery again (same idempotency id, a fresh run of attempts)."""
    return DeliveryOut.model_validate(await service.retry(session, actor, delivery_id))
