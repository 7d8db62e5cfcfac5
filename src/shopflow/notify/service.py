"""Notification use cases (NTF-1, ORD-8): fan the outbox out into deliveries, send what is due,
retry with back-off into a dead letter, and manage webhook subscribers; the scheduled reports'
emails (ANA-4)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from cryptography.fernet import InvalidToken
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.analytics.reports import mail as report_mail
from shopflow.analytics.reports.report import REPORT_EVENT, Kind
from shopflow.core import alerts, audit, auth, clock, money, policy
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.errors import AppError, FieldError, Invalid
from shopflow.core.events import OutboxEvent
from shopflow.core.privacy import mask_email, mask_phone
from shopflow.core.settings import get_settings
from shopflow.notify import repository
from shopflow.notify.channels import private_address
from shopflow.notify.errors import DeliveryNotFound, WebhookDeleted, WebhookNotFound
from shopflow.notify.models import (
    CASE_EVENTS,
    CUSTOMER_EVENTS,
    AttemptStatus,
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    Outcome,
    Webhook,
    backoff,
)
from shopflow.notify.render import Facts, render, render_alert
from shopflow.notify.schemas import WebhookIn
from shopflow.orders.service import queries as orders
from shopflow.portal import service as portal
from shopflow.service import notices as care_notices

log = logging.getLogger("shopflow.notify")

# Why an outbox event cannot be turned into messages (its order is gone, a template lacks a
# value, personal data does not decrypt): it waits with a back-off and an alert is raised.
UNRENDERABLE = (AppError, LookupError, ValueError, TypeError, InvalidToken)
CUSTOMER = "customer"
STAFF = "staff"  # a staff member's target: "staff:<user id>"


# --- the outbox relay --------------------------------------------------------------------


def _delivery(
    event: OutboxEvent,
    channel: Channel,
    target: str,
    recipient: str,
    message: dict[str, Any],
    at: datetime,
    idempotency_id: str | None = None,
    webhook_id: int | None = None,
) -> dict[str, Any]:
    return {
        "outbox_id": event.id,
        "event": event.event,
        "subject": event.subject,
        "channel": channel,
        "target": target,
        "webhook_id": webhook_id,
        "idempotency_id": idempotency_id or uuid.uuid4().hex,
        "recipient": recipient,
        "message": message,
        "state": DeliveryState.PENDING,
        "failures": 0,
        "interruptions": 0,
        "next_attempt_at": at,
        "created_at": at,
    }


def _ship_by(event: OutboxEvent) -> datetime:
    """The expected ship time the event states; else the promise counted from the event (ORD-6)."""
    stated = event.payload.get("ship_by")
    if stated:
        return datetime.fromisoformat(stated)
    return event.created_at + timedelta(hours=policy.current().orders.ship_within_hours)


def _case_facts(event: OutboxEvent) -> dict[str, Any]:
    """What an after-sales case's event tells its customer: the case number, what was refunded,
    why it was rejected. The case's events name its order (`order_id`), whose contact is used."""
    if event.event not in CASE_EVENTS:
        return {}
    payload = event.payload
    return {
        "case_no": str(payload["case_no"]),
        "refunded": money.parse(payload.get("refunded", 0)),
        "reject_reason": str(payload.get("reason") or ""),
    }


async def _customer_deliveries(
    session: AsyncSession, event: OutboxEvent, at: datetime
) -> list[dict[str, Any]]:
    """ORD-8: the customer's notice of an order event, by each configured channel they can be reached on."""
    rules = policy.current()
    channels = rules.notify.customer_channels
    if event.event in care_notices.EVENTS and channels:
        return await _care_deliveries(session, event, at)
    if event.event not in CUSTOMER_EVENTS or not channels:
        return []
    order = await orders.get_order(session, int(event.payload["order_id"]))
    customer = order.contact["customer"]
    case = _case_facts(event)
    facts = Facts(
        store=rules.notify.store_name,
        customer_name=customer["name"],
        order_no=order.order_no,
        total=order.total,
        timezone=rules.calendar.timezone,
        ship_by=_ship_by(event),
        reason=event.payload.get("reason"),
        parcels=event.payload.get("shipments", []),
        portal_url=portal.link(order, at),
        **case,
    )
    notice = render(rules.notify.language, event.event, facts)
    found: list[dict[str, Any]] = []
    email, phone = customer.get("email"), customer.get("phone")
    if Channel.EMAIL in channels and email:
        message = {"to": email, "subject": notice.subject, "text": notice.text, "html": notice.html}
        found.append(_delivery(event, Channel.EMAIL, CUSTOMER, mask_email(email), message, at))
    if Channel.SMS in channels and phone:
        message = {"to": phone, "text": notice.sms}
        found.append(_delivery(event, Channel.SMS, CUSTOMER, mask_phone(phone), message, at))
    return found


async def _care_deliveries(session: AsyncSession, event: OutboxEvent, at: datetime) -> list[dict[str, Any]]:
    """SVC-6, SVC-8, LOY-2: a survey's link, a greeting or a new tier, to the customer it names
    (`service.notices`)."""
    rules = policy.current()
    language = rules.notify.language
    person = await care_notices.recipient(session, event.event, event.payload, language)
    facts = Facts(
        store=rules.notify.store_name,
        customer_name=person.name,
        order_no=person.order_no,
        total=0,
        timezone=rules.calendar.timezone,
        survey_url=person.survey_url,
        occasion=person.occasion,
        tier=person.tier,
    )
    notice = render(language, event.event, facts)
    found: list[dict[str, Any]] = []
    if Channel.EMAIL in rules.notify.customer_channels and person.email:
        message = {"to": person.email, "subject": notice.subject, "text": notice.text, "html": notice.html}
        found.append(_delivery(event, Channel.EMAIL, CUSTOMER, mask_email(person.email), message, at))
    if Channel.SMS in rules.notify.customer_channels and person.phone:
        message = {"to": person.phone, "text": notice.sms}
        found.append(_delivery(event, Channel.SMS, CUSTOMER, mask_phone(person.phone), message, at))
    return found


async def _owner_deliveries(session: AsyncSession, event: OutboxEvent, at: datetime) -> list[dict[str, Any]]:
    """ANA-3: a raised alert is emailed, once, to each person its owner names (`auth.reachable_owners`)."""
    rules = policy.current()
    if event.event != alerts.RAISED_EVENT or not rules.alerts.email_owners:
        return []
    query = urlencode({"kind": event.payload["kind"]})
    link = f"{get_settings().public_url.rstrip('/')}/alerts?{query}"
    found: list[dict[str, Any]] = []
    for person in await auth.reachable_owners(session, str(event.payload["owner"])):
        store, name = rules.notify.store_name, person.username
        notice = render_alert(rules.notify.language, store, name, event.payload, link)
        message = {"to": person.email, "subject": notice.subject, "text": notice.text, "html": notice.html}
        target = f"{STAFF}:{person.user_id}"
        found.append(_delivery(event, Channel.EMAIL, target, mask_email(person.email), message, at))
    return found


def _report_target(person: report_mail.Recipient) -> str:
    """A report's delivery target: the staff member ("staff:<id>"), or the address the policy
    gives ("email:<digest>", the target's 40 characters hold no address)."""
    if person.user_id is not None:
        return f"{STAFF}:{person.user_id}"
    return f"email:{hashlib.sha256(person.address.lower().encode()).hexdigest()[:24]}"


def _report_key(subject: str, address: str) -> str:
    """The idempotency id of a report's email to an address: the same for every worker that
    queues it, so the deliveries' unique key keeps it to one (32 hex digits, as uuid4's)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"shopflow:{subject}:{address}").hex


async def _report_deliveries(session: AsyncSession, event: OutboxEvent, at: datetime) -> list[dict[str, Any]]:
    """ANA-4: a scheduled report, its XLSX attached, emailed once to each of its recipients who
    has not been sent it yet (by its idempotency id)."""
    if event.event != REPORT_EVENT:
        return []
    keys = {r: _report_key(event.subject, r.address.lower()) for r in await report_mail.recipients(session)}
    sent = await repository.existing_idempotency_ids(session, list(keys.values()))
    todo = [r for r, key in keys.items() if key not in sent]
    if not todo:
        return []
    rules = policy.current().notify
    kind, day = Kind(event.payload["kind"]), date.fromisoformat(event.payload["first"])
    mail = await report_mail.compose(session, kind, day, rules.language, rules.store_name)
    attachment = {
        "filename": mail.filename,
        "content_type": mail.content_type,
        "data": base64.b64encode(mail.attachment).decode(),
    }
    found: list[dict[str, Any]] = []
    for person in todo:
        message = {
            "to": person.address,
            "subject": mail.subject,
            "text": mail.text,
            "html": mail.html,
            "attachments": [attachment],
        }
        target = _report_target(person)
        found.append(
            _delivery(event, Channel.EMAIL, target, mask_email(person.address), message, at, keys[person])
        )
    return found


def _webhook_deliveries(event: OutboxEvent, hooks: list[Webhook], at: datetime) -> list[dict[str, Any]]:
    found = []
    for hook in hooks:
        if not hook.wants(event.event):
            continue
        key = uuid.uuid4().hex
        body = {
            "id": key,
            "event": event.event,
            "subject": event.subject,
            "occurred_at": event.created_at.isoformat(),
            "data": event.payload,
        }
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        found.append(
            _delivery(
                event, Channel.WEBHOOK, f"webhook:{hook.id}", hook.url, {"body": text}, at, key, hook.id
            )
        )
    return found


async def _defer(session: AsyncSession, event: OutboxEvent, exc: Exception, at: datetime) -> None:
    """Leave an event that cannot be rendered in the outbox, due again after a back-off."""
    rules = policy.current().notify
    event.attempts += 1
    event.available_at = at + backoff(min(event.attempts, rules.max_attempts), rules.backoff_seconds)
    log.warning("outbox event %s (%s) cannot be notified: %s", event.id, event.event, exc)
    if event.attempts >= rules.max_attempts:
        await alerts.raise_alert(
            session,
            "notification_failed",
            event.subject,
            f"{event.event} of {event.subject} cannot be notified: {type(exc).__name__}: {exc}",
            f"outbox:{event.id}",
        )


async def dispatch(session: AsyncSession, limit: int) -> int:
    """Claim due outbox events, fan each out into deliveries, mark them delivered; how many claimed.

    One transaction: the claims (`FOR UPDATE SKIP LOCKED`), the deliveries and the outbox marks
    commit together, so a worker that dies mid-batch leaves the events in the queue, and a
    (outbox event, channel, target) unique key keeps any fan-out from being doubled.
    """
    at = clock.now()
    claimed = await repository.lock_pending_outbox(session, at, limit)
    if not claimed:
        return 0
    hooks = await repository.live_webhooks(session)
    rows: list[dict[str, Any]] = []
    done: list[int] = []
    trail: list[dict[str, Any]] = []
    for event in claimed:
        try:
            fanned = [
                *await _customer_deliveries(session, event, at),
                *await _owner_deliveries(session, event, at),
                *await _report_deliveries(session, event, at),
                *_webhook_deliveries(event, hooks, at),
            ]
        except UNRENDERABLE as exc:
            await _defer(session, event, exc, at)
            continue
        rows.extend(fanned)
        done.append(event.id)
        targets = [f"{row['channel']}:{row['target']}" for row in fanned]
        trail.append(audit.row(SYSTEM, "notify.dispatched", "outbox", event.id, None, {"to": targets}, at))
    await repository.insert_deliveries(session, rows)
    await repository.mark_outbox_delivered(session, done, at)
    await audit.record(session, *trail)
    await session.flush()
    return len(claimed)


# --- sending -----------------------------------------------------------------------------


def _state_row(
    delivery: Delivery, before: str, action: str, at: datetime, actor: Actor = SYSTEM
) -> dict[str, Any]:
    after = {"state": delivery.state, "failures": delivery.failures, "error": delivery.last_error}
    return audit.row(actor, action, "notification_delivery", delivery.id, {"state": before}, after, at)


@dataclass(frozen=True, slots=True)
class Claim:
    """A batch of deliveries claimed by one worker, each with its `sending` attempt."""

    worker: str
    deliveries: list[Delivery]
    attempts: list[DeliveryAttempt]
    webhooks: dict[int, Webhook]
    given_up: int = 0  # deliveries found dead instead: interrupted too often (not claimed)


async def claim_due(session: AsyncSession, worker: str, limit: int) -> Claim | None:
    """Claim the due deliveries for `worker` (`FOR UPDATE SKIP LOCKED`, then a lease of
    `notify.lease_seconds`) and record one `sending` attempt each; None when nothing is due.
    The caller commits this before sending, so a send is never without its record. An earlier
    claim's attempt still `sending` is marked `interrupted`: its worker died mid-send; after
    `notify.max_interruptions` in a row the delivery is dead, alerted, and not sent again."""
    at = clock.now()
    due = await repository.lock_due_deliveries(session, at, limit)
    if not due:
        return None
    rules = policy.current().notify
    await repository.interrupt_attempts(session, [d.id for d in due if d.claimed_by is not None])
    dead = [d for d in due if d.claimed_by is not None and d.interrupted(at, rules.max_interruptions)]
    for delivery in dead:
        await audit.record(session, _state_row(delivery, DeliveryState.PENDING, "notification.dead", at))
        await alerts.raise_alert(
            session,
            "notification_failed",
            delivery.subject,
            f"{delivery.event} to {delivery.recipient}: {delivery.last_error}",
            f"delivery:{delivery.id}",
        )
    due = [d for d in due if d not in dead]
    lease = rules.lease_seconds
    attempts = []
    for delivery in due:
        delivery.claim(worker, at, lease)
        attempts.append(
            DeliveryAttempt(delivery_id=delivery.id, at=at, status=AttemptStatus.SENDING, duration_ms=0)
        )
    session.add_all(attempts)
    await session.flush()
    hooks = await repository.webhooks_by_id(session, {d.webhook_id for d in due if d.webhook_id is not None})
    return Claim(worker, due, attempts, hooks, len(dead))


async def record_sends(session: AsyncSession, claim: Claim, outcomes: list[Outcome]) -> list[Delivery]:
    """Write what each send of `claim` came to: its attempt becomes sent or failed, and its
    delivery delivered, retried after a back-off or dead. A delivery whose lease ran out and
    another worker claimed meanwhile is left to that worker; its attempt is still logged. The
    deliveries attempted (a failed attempt leaves its `last_error`)."""
    rules = policy.current().notify
    at = clock.now()
    current = await repository.lock_deliveries(session, [d.id for d in claim.deliveries])
    trail: list[dict[str, Any]] = []
    for claimed, attempt, outcome in zip(claim.deliveries, claim.attempts, outcomes, strict=True):
        attempt.finish(outcome)
        delivery = current[claimed.id]
        if delivery.claimed_by != claim.worker:
            continue
        before = delivery.state
        delivery.record(outcome, at, rules.max_attempts, rules.backoff_seconds)
        if delivery.state != before:
            trail.append(_state_row(delivery, before, f"notification.{delivery.state}", at))
    await audit.record(session, *trail)
    await session.flush()
    return [current[claimed.id] for claimed in claim.deliveries]


# --- people: the delivery log and webhook subscribers ------------------------------------


async def list_deliveries(
    session: AsyncSession,
    *,
    state: DeliveryState | None,
    channel: Channel | None,
    page: int,
    page_size: int,
    event: str | None = None,
    search: str | None = None,
) -> tuple[list[Delivery], int]:
    """The delivery log, newest first, with every attempt; `event` as webhooks filter events
    ("order.*"), `search` part of a recipient, a subject or an idempotency id."""
    return await repository.page_deliveries(
        session,
        state=state,
        channel=channel,
        offset=(page - 1) * page_size,
        limit=page_size,
        event=event,
        search=search,
    )


async def get_delivery(session: AsyncSession, delivery_id: int) -> Delivery:
    """A delivery with its attempts."""
    delivery = await repository.get_delivery(session, delivery_id)
    if delivery is None:
        raise DeliveryNotFound(f"no delivery {delivery_id}")
    return delivery


async def history(session: AsyncSession, delivery_id: int) -> list[audit.AuditEntry]:
    """A delivery's audit trail: dead, requeued (by whom), delivered."""
    return await audit.trail(session, "notification_delivery", delivery_id)


async def retry(session: AsyncSession, actor: Actor, delivery_id: int) -> Delivery:
    """Requeue a dead delivery: due now, with the same idempotency id and a fresh run of attempts."""
    delivery = await repository.get_delivery(session, delivery_id, lock=True)
    if delivery is None:
        raise DeliveryNotFound(f"no delivery {delivery_id}")
    if delivery.webhook_id is not None and await repository.get_webhook(session, delivery.webhook_id) is None:
        raise WebhookDeleted(
            f"delivery {delivery_id} was for webhook {delivery.webhook_id}, which is deleted"
        )
    at = clock.now()
    before = delivery.state
    delivery.requeue(at)
    await audit.record(session, _state_row(delivery, before, "notification.requeued", at, actor))
    await session.flush()
    return delivery


async def create_webhook(session: AsyncSession, actor: Actor, data: WebhookIn) -> Webhook:
    """A new subscriber; its secret is returned on this one occasion (and never logged)."""
    if not get_settings().webhook_allow_private and (private := await private_address(str(data.url))):
        problem = f"resolves to the non-public address {private}"
        raise Invalid(
            f"the webhook's address {problem}; nothing was stored", errors=[FieldError("url", problem)]
        )
    hook = Webhook(
        url=str(data.url),
        secret=data.secret or secrets.token_urlsafe(32),
        events=list(dict.fromkeys(data.events)),
        created_by=actor.user_id,
        created_at=clock.now(),
    )
    session.add(hook)
    await session.flush()
    after = {"url": hook.url, "events": hook.events}  # the secret stays out of the audit log
    await audit.record(session, audit.row(actor, "webhook.created", "webhook", hook.id, None, after))
    return hook


async def list_webhooks(session: AsyncSession, page: int, page_size: int) -> tuple[list[Webhook], int]:
    return await repository.page_webhooks(session, (page - 1) * page_size, page_size)


async def delete_webhook(session: AsyncSession, actor: Actor, webhook_id: int) -> None:
    """Stop sending to a subscriber; its pending deliveries go to the dead letter when next due."""
    hook = await repository.get_webhook(session, webhook_id, lock=True)
    if hook is None:
        raise WebhookNotFound(f"no webhook {webhook_id}")
    hook.deleted_at = clock.now()
    before = {"url": hook.url, "events": hook.events}
    await audit.record(session, audit.row(actor, "webhook.deleted", "webhook", hook.id, before, None))
    await session.flush()
