"""Real local endpoints for notification tests: an SMTP server (aiosmtpd), an HTTP webhook
receiver (asyncio streams), the SMS log; and running the worker's notification sweeps."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import hashlib
import hmac
import json
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shopflow.core import events
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.core.events import OutboxEvent
from shopflow.core.settings import get_settings
from shopflow.notify import service, tasks
from shopflow.notify.models import Delivery, Webhook
from shopflow.notify.schemas import WebhookIn

SECRET = "whsec-test-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailbox:
    """An SMTP server on a free local port (its own thread); keeps every message it accepts."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


@contextlib.contextmanager
def local_channels(monkeypatch: pytest.MonkeyPatch, sms_log: Path) -> Iterator[Mailbox]:
    """A running Mailbox, with the channels' settings (`SHOPFLOW_SMTP_*`, `SHOPFLOW_SMS_*`) pointing
    at it and at `sms_log` while the block lasts."""
    mailbox = Mailbox()
    mailbox.start()
    monkeypatch.setenv("SHOPFLOW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SHOPFLOW_SMTP_PORT", str(mailbox.port))
    monkeypatch.setenv("SHOPFLOW_SMTP_FROM", "Shopflow <noreply@shop.example.cn>")
    monkeypatch.setenv("SHOPFLOW_SMS_PROVIDER", "log")
    monkeypatch.setenv("SHOPFLOW_SMS_LOG", str(sms_log))
    monkeypatch.setenv("SHOPFLOW_WEBHOOK_TIMEOUT", "30")
    get_settings.cache_clear()
    try:
        yield mailbox
    finally:
        mailbox.stop()
        get_settings.cache_clear()


def body_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content())


def sms_lines(path: Path) -> list[list[str]]:
    """The `log` SMS provider's lines as [time, masked phone, event, reference]."""
    if not path.exists():
        return []
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]


class Gate:
    """Shared by local endpoints (`Receiver`, `LoopMailbox`): the first `open_for` requests are
    answered at once, later ones are held (the message received, the answer not given) until
    `open()`: endpoints that are slow to answer, for as long as a test needs."""

    def __init__(self, open_for: int) -> None:
        self.open_for = open_for
        self.arrived = 0
        self._opened = asyncio.Event()
        self._changed = asyncio.Condition()

    async def pass_through(self) -> None:
        async with self._changed:
            self.arrived += 1
            self._changed.notify_all()
        if self.arrived > self.open_for:
            await self._opened.wait()

    async def until(self, count: int) -> None:
        """Wait until `count` requests have arrived."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.arrived >= count)

    def open(self) -> None:
        """Answer the held requests, and every request from now on."""
        self._opened.set()


class LoopMailbox:
    """An SMTP server in the test's own event loop (so it can share a `Gate` with receivers);
    keeps every message whose content it has received, answered or held."""

    def __init__(self, gate: Gate | None = None) -> None:
        self.gate = gate
        self.messages: list[EmailMessage] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        if self.gate is not None:
            await self.gate.pass_through()
        return "250 Message accepted for delivery"

    async def __aenter__(self) -> LoopMailbox:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SMTP(self, hostname="127.0.0.1"), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 5)


@dataclass
class Received:
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def delivery_id(self) -> str:
        return self.headers["x-shopflow-delivery"]

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    def signed_by(self, secret: str) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("x-shopflow-signature", ""))


@dataclass
class Receiver:
    """A webhook endpoint on a free local port. Answers each POST with the next status of `plan`,
    then `default`; with `hang_after`, requests past that many are held open until it closes;
    with a `gate`, as the gate says."""

    plan: list[int] = field(default_factory=list)
    default: int = 200
    hang_after: int | None = None
    gate: Gate | None = None
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self.reached = asyncio.Event()  # set once `hang_after` requests have arrived
        self._release = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hooks/shopflow"
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._release.set()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            pairs = (line.split(":", 1) for line in head[1:] if ":" in line)
            headers = {name.strip().lower(): value.strip() for name, value in pairs}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append(Received(headers, body))
            if self.hang_after is not None and len(self.received) >= self.hang_after:
                self.reached.set()
                if len(self.received) > self.hang_after:
                    await self._release.wait()
            if self.gate is not None:
                await self.gate.pass_through()
            status = self.plan.pop(0) if self.plan else self.default
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
        writer.close()

    def release(self) -> None:
        """Answer the held requests, and every request from now on."""
        self.hang_after = None
        self._release.set()

    def ids(self) -> list[str]:
        return [r.delivery_id for r in self.received]


async def add_webhook(
    db: Database, url: str, events: Iterable[str] = ("*",), secret: str = SECRET
) -> Webhook:
    async with db.transaction() as session:
        data = WebhookIn.model_validate({"url": url, "events": list(events), "secret": secret})
        return await service.create_webhook(session, SYSTEM, data)


async def record_event(db: Database, event: str = "order.completed", subject: str = "order:1") -> None:
    """An outbox event no customer is told of (webhooks only), as a domain service writes it."""
    async with db.transaction() as session:
        await events.record(session, event, subject, {"order_id": 1, "note": "测试"})


async def record_events(db: Database, count: int) -> None:
    """`count` outbox events in one transaction, one per order subject (order:0, order:1, ...)."""
    async with db.transaction() as session:
        session.add_all(
            OutboxEvent(**events.row("order.completed", f"order:{n}", {"order_id": n})) for n in range(count)
        )


async def sweep(db: Database) -> tuple[int, int]:
    """What the worker does for notifications: dispatch until the outbox is empty, then deliver
    until nothing is due; each batch its own unit of work. How many of each were handled."""
    handled = [0, 0]
    for index, task in enumerate((tasks.dispatch, tasks.deliver)):
        while True:
            async with db.transaction() as session:
                count = await task(session)
            handled[index] += count
            if count == 0:
                break
    return handled[0], handled[1]


async def deliveries(db: Database, **where: Any) -> list[Delivery]:
    """Deliveries (with their attempt logs) in id order, filtered by column values."""
    async with db.transaction() as session:
        stmt = select(Delivery).options(selectinload(Delivery.log)).filter_by(**where).order_by(Delivery.id)
        return list((await session.scalars(stmt)).all())


async def sms_texts(db: Database) -> list[str]:
    """The texts of the SMS deliveries, in id order (the log provider does not write them)."""
    return [d.message["text"] for d in await deliveries(db, channel="sms")]


async def pending_outbox(db: Database) -> list[OutboxEvent]:
    async with db.transaction() as session:
        stmt = select(OutboxEvent).where(OutboxEvent.delivered_at.is_(None)).order_by(OutboxEvent.id)
        return list((await session.scalars(stmt)).all())
