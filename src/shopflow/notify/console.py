"""Console pages of notifications (NTF-1): the delivery log (filters, search, live), a delivery
with its attempts and the retry of a dead one; webhook subscribers (subscribe, delete)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.api import Session
from shopflow.core.console.forms import Pager, attempt, field_errors, form_values, page_size, parsed
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import AuditField, NavItem, Pages
from shopflow.core.console.render import after_action, redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError, FieldError
from shopflow.core.privacy import mask_email, mask_phone
from shopflow.notify import service
from shopflow.notify.models import TRANSITIONS, AttemptStatus, Channel, Delivery, DeliveryState, Webhook
from shopflow.notify.schemas import WebhookIn

router = APIRouter(include_in_schema=False)
D = DeliveryState

DELIVERY_STATES = {
    D.PENDING: label("delivery state", "pending"),
    D.DELIVERED: label("delivery state", "delivered"),
    D.DEAD: label("delivery state", "dead letter"),
}
ATTEMPT_STATUSES = {
    AttemptStatus.SENDING: label("attempt status", "sending"),
    AttemptStatus.SENT: label("attempt status", "sent"),
    AttemptStatus.FAILED: label("attempt status", "failed"),
    AttemptStatus.INTERRUPTED: label("attempt status", "interrupted"),
}
CHANNELS = {
    Channel.EMAIL: label("notification channel", "Email"),
    Channel.SMS: label("notification channel", "SMS"),
    Channel.WEBHOOK: label("notification channel", "Webhook"),
}
MESSAGES = (
    (r"no delivery (?P<id>\d+)", N_("There is no delivery %(id)s.")),
    (r"no webhook (?P<id>\d+)", N_("There is no webhook %(id)s.")),
    (
        r"delivery (?P<id>\d+) was for webhook (?P<webhook>\d+), which is deleted",
        N_("Delivery %(id)s was for webhook %(webhook)s, which is deleted: it cannot be sent again."),
    ),
    (
        r"resolves to the non-public address (?P<address>\S+)",
        N_("points into a private network (%(address)s): not allowed for webhooks"),
    ),
    ("Input should be a valid URL, input is empty", N_("is required")),
    (r"Input should be a valid URL.*", N_("not a web address: write it as https://…")),
    (r"URL scheme should be .*", N_("must start with https:// or http://")),
    (r"URL should have at most (?P<n>\d+) characters?", N_("at most %(n)s characters")),
)
# Keys of an event's data that name a person: shown as *** (phones and emails shortened).
PERSONAL = frozenset({"name", "customer", "customer_name", "address", "shipping_address"})
EVENTS_HINT = N_("Write each event as order.shipped, order.* or *, separated by commas (at most 50).")


# --- the delivery log --------------------------------------------------------------------------


@router.get("/notifications/deliveries")
async def delivery_list(
    session: Session,
    c: Annotated[Console, can_view("notifications.read")],
    state: str = "",
    channel: str = "",
    event: Annotated[str, Query(max_length=80)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    filters = {"state": state, "channel": channel, "event": event, "q": q}
    size = page_size()
    found, total = await service.list_deliveries(
        session,
        state=D(state) if state in D.__members__.values() else None,
        channel=Channel(channel) if channel in Channel.__members__.values() else None,
        event=event.strip() or None,
        search=q.strip() or None,
        page=page,
        page_size=size,
    )
    live = bool(c.request.headers.get("HX-Request"))
    return render(
        c,
        "notify/_deliveries_live.html" if live else "notify/deliveries.html",
        deliveries=found,
        pager=Pager(page, size, total),
        filters=filters,
        states=DELIVERY_STATES,
        channels=CHANNELS,
    )


def _masked(value: Any, key: str = "") -> Any:
    """An event's data with what names a person hidden: phones and emails shortened, the rest ***."""
    if key in PERSONAL:
        return "***"
    if isinstance(value, dict):
        return {inner: _masked(found, inner) for inner, found in value.items()}
    if isinstance(value, list):
        return [_masked(found, key) for found in value]
    if isinstance(value, str) and key == "phone":
        return mask_phone(value)
    if isinstance(value, str) and key == "email":
        return mask_email(value)
    return value


def _payload(delivery: Delivery) -> list[tuple[str, str]]:
    """What the delivery carries, as (label, text), with personal data masked: an email's
    addressee and subject (not its body, which names the customer), an SMS's number and text,
    a webhook's event data."""
    message = delivery.message
    match delivery.channel:
        case Channel.EMAIL:
            return [(N_("To"), mask_email(message["to"])), (N_("Subject"), message["subject"])]
        case Channel.SMS:
            return [(N_("To"), mask_phone(message["to"])), (N_("Text"), message["text"])]
        case _:
            data = _masked(json.loads(message["body"])["data"])
            return [(N_("Data"), json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))]


async def _detail(session: AsyncSession, c: Console, delivery_id: int) -> dict[str, Any]:
    delivery = await service.get_delivery(session, delivery_id)
    return {
        "delivery": delivery,
        "payload": _payload(delivery),
        "trail": await service.history(session, delivery.id),
        "retryable": c.can("notifications.retry") and D.PENDING in TRANSITIONS[D(delivery.state)],
        "states": DELIVERY_STATES,
        "attempt_statuses": ATTEMPT_STATUSES,
        "channels": CHANNELS,
        "refusal": None,
    }


@router.get("/notifications/deliveries/{delivery_id}")
async def delivery_detail(
    delivery_id: int, session: Session, c: Annotated[Console, can_view("notifications.read")]
) -> HTMLResponse:
    return render(c, "notify/delivery.html", **await _detail(session, c, delivery_id))


@router.post("/notifications/deliveries/{delivery_id}/retry")
async def retry_delivery(
    delivery_id: int, session: Session, c: Annotated[Console, can_do("notifications.retry")]
) -> Response:
    """Requeue a dead delivery (audited); a refusal changes nothing and the page says why."""

    async def retry() -> Response:
        await service.retry(session, c.actor, delivery_id)  # type: ignore[arg-type]
        c.flash(c.gettext("The delivery is queued again, with the same idempotency id."))
        return redirect(f"/notifications/deliveries/{delivery_id}")

    async def refused(exc: AppError) -> Response:
        details = await _detail(session, c, delivery_id)
        details["refusal"] = c.error(exc)
        return render(c, "notify/delivery.html", exc.status, **details)

    return await attempt(c, session, retry, refused, address=f"/notifications/deliveries/{delivery_id}")


# --- webhook subscribers -----------------------------------------------------------------------


async def _webhooks(
    session: AsyncSession,
    c: Console,
    page: int,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
    created: Webhook | None = None,
) -> HTMLResponse:
    size = page_size()
    hooks, total = await service.list_webhooks(session, page, size)
    return render(
        c,
        "notify/webhooks.html",
        status,
        webhooks=hooks,
        pager=Pager(page, size, total),
        values=values,
        errors=errors,
        created=created,
    )


@router.get("/webhooks")
async def webhook_list(
    session: Session,
    c: Annotated[Console, can_view("webhooks.manage")],
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    return await _webhooks(session, c, page, {}, {})


def _webhook_errors(c: Console, errors: list[FieldError]) -> dict[str, str]:
    """The service's field errors by form field; any event's error is the events field's."""
    shown = field_errors([e for e in errors if not e.field.startswith("events")], c)
    if any(e.field.startswith("events") for e in errors):
        shown["events"] = c.gettext(EVENTS_HINT)
    return shown


@router.post("/webhooks")
async def create_webhook(session: Session, c: Annotated[Console, can_do("webhooks.manage")]) -> Response:
    """Subscribe a URL; the reply shows its secret this once. On errors nothing is stored and the
    form comes back as typed. Events are separated by commas or spaces; none means every event."""
    values = await form_values(c.request)
    data: dict[str, Any] = {"url": values.get("url", "").strip()}
    events = [found for found in re.split(r"[\s,，]+", values.get("events", "")) if found]
    if events:
        data["events"] = events

    async def create() -> Response:
        hook = await service.create_webhook(session, c.actor, parsed(WebhookIn, data))  # type: ignore[arg-type]
        return await _webhooks(session, c, 1, {}, {}, 201, created=hook)

    async def refused(exc: AppError) -> Response:
        errors = _webhook_errors(c, exc.errors) or {"form": c.error(exc)}
        return await _webhooks(session, c, 1, values, errors, exc.status)

    return await attempt(c, session, create, refused)


@router.post("/webhooks/{webhook_id}/delete")
async def delete_webhook(
    webhook_id: int, session: Session, c: Annotated[Console, can_do("webhooks.manage")]
) -> Response:
    """Stop sending to a subscriber (audited); from HTMX, after its confirm, the list reloads."""
    await service.delete_webhook(session, c.actor, webhook_id)  # type: ignore[arg-type]
    c.flash(c.gettext("Webhook %(id)d is deleted: nothing more is sent to it.", id=webhook_id))
    return after_action(c, "/webhooks")


PAGES = Pages(
    router,
    nav=(
        NavItem("/notifications/deliveries", label("nav", "Notifications"), "notifications.read", 80),
        NavItem("/webhooks", label("nav", "Webhooks"), "webhooks.manage", 85),
    ),
    states={"delivery": DELIVERY_STATES, "notification_delivery": DELIVERY_STATES},
    actions={"notification.requeued": label("audit action", "Sent again")},
    fields={
        "failures": AuditField(label("audit field", "Failed attempts")),
        "error": AuditField(label("audit field", "Last error")),
    },
    messages=MESSAGES,
)
