"""The customer's own page (issue 11, item 12): the signed link every order notice carries, which
opens the order without an account. Pure: the token, its signature, its expiry, the page's forms'
key. No tables: the page shows and changes other domains' rows through their services.

A token is `<order id>.<expiry, Unix seconds>.<signature>`, the signature the URL-safe base64 of
HMAC-SHA256 over the first two parts under a key derived from the secret key
(`crypto.Vault.derived_key`). Changing any part breaks the signature; the comparison takes the
same time wherever the first difference is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

KEY_PURPOSE = "customer page"
# `<order id>.<expiry>.<signature>`: ASCII digits only (`\d` would take other scripts' digits).
TOKEN = re.compile(r"([0-9]{1,18})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})")


@dataclass(frozen=True, slots=True)
class Link:
    """What a token carries once its signature is checked."""

    order_id: int
    expires: datetime


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(order_id: int, expires: datetime, key: bytes) -> str:
    """The token of `order_id`'s page, working until `expires` (to the second)."""
    body = f"{order_id}.{int(expires.timestamp())}"
    return f"{body}.{_mac(key, 'link:' + body)}"


def read(token: str, key: bytes) -> Link | None:
    """The link a token carries, or None when it is not one this key signed (tampered, truncated,
    made up): the caller answers the same for all of them."""
    found = TOKEN.fullmatch(token)
    if found is None:
        return None
    order_id, expires, signature = found.groups()
    expected = _mac(key, f"link:{order_id}.{expires}")
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return None
    return Link(int(order_id), datetime.fromtimestamp(int(expires), UTC))


def form_key(token: str, key: bytes) -> str:
    """The CSRF token of the page's forms: bound to the link, so a form of one order's page
    cannot be posted to another's, and a site without the link cannot make one."""
    return _mac(key, f"form:{token}")


def link_expires(closes: datetime | None, now: datetime, days_before_delivery: int) -> datetime:
    """When a link made `now` stops working: the end of the order's after-sales window (`closes`,
    ORD-7) once it is delivered; before that `days_before_delivery` days from now (policy
    `aftersales.customer_link_days`)."""
    return closes if closes is not None else now + timedelta(days=days_before_delivery)


def expired(link: Link, closes: datetime | None, now: datetime) -> bool:
    """A link has expired at its own expiry, and, once the order is delivered, at the end of its
    after-sales window, whichever comes first (a link sent before delivery ends with the window)."""
    return now >= link.expires or (closes is not None and now >= closes)
