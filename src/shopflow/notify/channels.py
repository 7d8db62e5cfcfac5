"""Sending (NTF-1): email over SMTP, SMS through the configured provider, signed webhook POSTs.

Each send turns into an `Outcome`; nothing here touches the database. Every send carries the
delivery's idempotency id, the same on every attempt, so a receiver can drop a repeat: a webhook
as `X-Shopflow-Delivery`, an email in its Message-ID, an SMS as the gateway's client reference.
An email may carry attachments (`message["attachments"]`: filename, content type and the
content in base64), as a scheduled report's XLSX. A webhook body and an HTTP SMS request are
signed with HMAC-SHA256 over their exact bytes (`X-Shopflow-Signature: sha256=<hex>`).

The `log` providers write no personal data in clear: a masked recipient, the event and the
reference, never the text (it carries the customer's name and address), in files only their
owner can read (0600).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import os
import socket
import ssl
import time
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import parseaddr
from functools import cache
from pathlib import Path
from typing import assert_never

import aiosmtplib
import httpx

from shopflow.core import clock
from shopflow.core.privacy import mask_email, mask_phone
from shopflow.core.settings import Settings
from shopflow.notify.models import Channel, Delivery, Outcome, Webhook

SIGNATURE_HEADER = "X-Shopflow-Signature"
DELIVERY_HEADER = "X-Shopflow-Delivery"
EVENT_HEADER = "X-Shopflow-Event"


@cache
def _tls() -> ssl.SSLContext:
    """The CA bundle for HTTPS subscribers: loading it costs ~60 ms, so once per process."""
    return httpx.create_ssl_context()


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def private_address(url: str) -> str | None:
    """A loopback, private, link-local or otherwise non-public address the host of `url` resolves
    to, if it has one (`SHOPFLOW_WEBHOOK_ALLOW_PRIVATE`); None also when the name does not resolve
    (sending to it then fails on its own)."""
    host = httpx.URL(url).host
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return None
    for *_, address in found:
        ip = ipaddress.ip_address(address[0])
        if not ip.is_global:
            return str(ip)
    return None


def _failure(exc: BaseException, started: float) -> Outcome:
    return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}", duration_ms=_ms(started))


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _sms_log_path(settings: Settings) -> Path:
    return settings.sms_log or settings.data_dir / "sms.log"


def _email_log_path(settings: Settings) -> Path:
    return settings.email_log or settings.data_dir / "mail.log"


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


LOG_MODE = 0o600  # the log providers' files: their owner's eyes only


def _append(path: Path, fields: tuple[object, ...]) -> None:
    """Append one tab-separated line to a log provider's file, created (or tightened) to 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, LOG_MODE)
    with os.fdopen(fd, "a", encoding="utf-8") as file:
        if os.fstat(fd).st_mode & 0o777 != LOG_MODE:
            os.fchmod(fd, LOG_MODE)
        file.write("\t".join(_one_line(field) for field in fields) + "\n")


def message_id(delivery: Delivery, sender: str) -> str:
    """The email's Message-ID, the same on every attempt: a mail client shows a repeat once."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "shopflow.local"
    return f"<{delivery.idempotency_id}@{domain}>"


class Senders:
    """The channels as configured by the settings (`SHOPFLOW_EMAIL_*`, `SHOPFLOW_SMTP_*`,
    `SHOPFLOW_SMS_*`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send_all(self, deliveries: list[Delivery], webhooks: Mapping[int, Webhook]) -> list[Outcome]:
        """Send a batch all at once, so it takes about as long as its slowest send; the outcomes
        in the order of `deliveries`."""
        timeout = httpx.Timeout(self.settings.webhook_timeout)
        async with httpx.AsyncClient(timeout=timeout, verify=_tls(), follow_redirects=False) as client:
            sends = (
                self.send(client, d, webhooks.get(d.webhook_id) if d.webhook_id is not None else None)
                for d in deliveries
            )
            return list(await asyncio.gather(*sends))

    async def send(self, client: httpx.AsyncClient, delivery: Delivery, webhook: Webhook | None) -> Outcome:
        started = time.perf_counter()
        try:
            match Channel(delivery.channel):
                case Channel.EMAIL:
                    outcome = await self._email(delivery)
                case Channel.SMS:
                    outcome = await self._sms(client, delivery)
                case Channel.WEBHOOK:
                    outcome = await self._webhook(client, delivery, webhook)
                case unreachable:
                    assert_never(unreachable)
        except Exception as exc:  # anything the outside world throws is a failed attempt, retried
            outcome = _failure(exc, started)
        return outcome

    async def _email(self, delivery: Delivery) -> Outcome:
        started = time.perf_counter()
        message = delivery.message
        match self.settings.email_provider:
            case "smtp":
                await self._smtp(delivery)
            case "log":
                fields = (
                    clock.now().isoformat(),
                    mask_email(message["to"]),
                    delivery.event,
                    message["subject"],
                )
                await asyncio.to_thread(
                    _append, _email_log_path(self.settings), (*fields, delivery.idempotency_id)
                )
            case unreachable:
                assert_never(unreachable)
        return Outcome(ok=True, duration_ms=_ms(started))

    async def _smtp(self, delivery: Delivery) -> None:
        message = delivery.message
        email = EmailMessage()
        email["From"] = self.settings.smtp_from
        email["To"] = message["to"]
        email["Subject"] = message["subject"]
        email["Message-ID"] = message_id(delivery, self.settings.smtp_from)
        email.set_content(message["text"])
        email.add_alternative(message["html"], subtype="html")
        for attached in message.get("attachments", ()):  # a report's XLSX (ANA-4)
            maintype, _, subtype = attached["content_type"].partition("/")
            content = base64.b64decode(attached["data"])
            email.add_attachment(content, maintype=maintype, subtype=subtype, filename=attached["filename"])
        s = self.settings
        await aiosmtplib.send(
            email,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            start_tls=s.smtp_starttls,
            timeout=s.smtp_timeout,
        )

    async def _sms(self, client: httpx.AsyncClient, delivery: Delivery) -> Outcome:
        started = time.perf_counter()
        message = delivery.message
        match self.settings.sms_provider:
            case "log":
                fields = (clock.now().isoformat(), mask_phone(message["to"]), delivery.event)
                await asyncio.to_thread(
                    _append, _sms_log_path(self.settings), (*fields, delivery.idempotency_id)
                )
            case "http":
                return await self._sms_http(client, delivery, started)
            case unreachable:
                assert_never(unreachable)
        return Outcome(ok=True, duration_ms=_ms(started))

    async def _sms_http(self, client: httpx.AsyncClient, delivery: Delivery, started: float) -> Outcome:
        """POST {to, text, reference} to the SMS gateway (`SHOPFLOW_SMS_URL`), signed with
        `SHOPFLOW_SMS_SECRET`; the reference is the idempotency id, for the gateway to drop a repeat."""
        url, secret = self.settings.sms_url, self.settings.sms_secret
        assert url is not None and secret is not None  # Settings refuses the http provider without them
        request = {
            "to": delivery.message["to"],
            "text": delivery.message["text"],
            "reference": delivery.idempotency_id,
        }
        body = json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Shopflow-SMS",
            DELIVERY_HEADER: delivery.idempotency_id,
            SIGNATURE_HEADER: sign(body, secret),
        }
        return await _post(client, url, body, headers, started)

    async def _webhook(
        self, client: httpx.AsyncClient, delivery: Delivery, webhook: Webhook | None
    ) -> Outcome:
        if webhook is None or webhook.deleted_at is not None:
            return Outcome(ok=False, error="the webhook was deleted", final=True)
        started = time.perf_counter()
        if not self.settings.webhook_allow_private and (private := await private_address(webhook.url)):
            return Outcome(ok=False, error=f"{webhook.url} resolves to the non-public address {private}")
        body = str(delivery.message["body"]).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Shopflow-Webhooks",
            EVENT_HEADER: delivery.event,
            DELIVERY_HEADER: delivery.idempotency_id,
            SIGNATURE_HEADER: sign(body, webhook.secret),
        }
        return await _post(client, webhook.url, body, headers, started)


async def _post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: Mapping[str, str], started: float
) -> Outcome:
    """POST a signed body: any 2xx is success; anything else a failed attempt, retried."""
    try:
        reply = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return _failure(exc, started)
    status = reply.status_code
    if 200 <= status < 300:
        return Outcome(ok=True, status_code=status, duration_ms=_ms(started))
    return Outcome(ok=False, status_code=status, error=f"HTTP {status}", duration_ms=_ms(started))
