from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, UrlConstraints

from shopflow.core.schemas import Input
from shopflow.notify.models import AttemptStatus, Channel, DeliveryState

# "*", an event name ("order.shipped") or every event under a prefix ("order.*").
EventFilter = Annotated[
    str, Field(max_length=80, pattern=r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$")
]


URL_LENGTH = 500  # the column's


def _storable(url: HttpUrl) -> HttpUrl:
    """`url`, if its host is a name DNS can look up (labels of 1 to 63 characters, RFC 1035) and
    it fits its column as stored (normalized: an IDN host in punycode, escapes for spaces)."""
    if any(not 0 < len(label) <= 63 for label in (url.host or "").rstrip(".").split(".")):
        raise ValueError("the host name has a part longer than 63 characters")
    if len(str(url)) > URL_LENGTH:
        raise ValueError(f"the URL is longer than {URL_LENGTH} characters once normalized")
    return url


WebhookUrl = Annotated[HttpUrl, UrlConstraints(max_length=URL_LENGTH), AfterValidator(_storable)]


class WebhookIn(Input):
    url: WebhookUrl = Field(examples=["https://erp.example.cn/hooks/shopflow"])
    events: list[EventFilter] = Field(default=["*"], min_length=1, max_length=50, examples=[["order.*"]])
    # The HMAC-SHA256 key; Shopflow draws one when none is given. Shown only in the reply to POST.
    secret: str | None = Field(default=None, min_length=16, max_length=200)


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    events: list[str]
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str  # keep it now: it is never shown again


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    # sending (recorded before the send: still in progress, or its worker died), sent, failed, or
    # interrupted (its worker died mid-send; the delivery was sent again under the same id)
    status: AttemptStatus
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event: str
    subject: str
    channel: Channel
    recipient: str
    idempotency_id: str
    state: DeliveryState
    failures: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    last_error: str | None
    attempts: list[AttemptOut] = Field(validation_alias="log")
