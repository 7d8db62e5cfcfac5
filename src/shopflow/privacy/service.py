"""A customer's personal data on request (RSK-3).

Export: every record held about the person (their profiles, phones, orders and lines, payments,
after-sales cases, tickets and messages, reviews, surveys, leads, quotes, contracts, points and
coupon uses), decrypted, as JSON or as a ZIP of one CSV per kind; blind indexes (keyed hashes)
are left out, they say nothing to a person. Only roles that see personal data unmasked may
export, and each export is logged as a read of the customer's personal data.

Erasure, by crypto-shredding: the profile's and its orders' contact are sealed with the
customer's own key (`core.crypto`), and erasure destroys the secret it is derived from, so what was
sealed with it opens to nothing wherever a copy of it lies (a dead row, a log). Belt and braces,
the person's sealed data in every record is also replaced (`crypto.ERASED`; records sealed
before customers had keys, and tickets, leads and quotes, are erased so only), every blind
index of their phones replaced by a token of their own (`erased:<customer id>`), their phones and
platform keys deleted. Rows, amounts, stock and history stay, so the books and the append-only
audit log (which holds no personal data) keep their figures; an erased customer can no longer be
found by phone, and a new order from the same phone makes a new profile. Audited with who and why.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock
from shopflow.core.audit import Actor
from shopflow.core.errors import Conflict
from shopflow.crm import service as crm
from shopflow.privacy import repository

# Blind indexes and keys: how records are found or sealed, not what they say about the person.
HIDDEN = frozenset(
    {"phone_hash", "key_hash", "customer_hash", "buyer", "request_hash", "idempotency_key", "secret"}
)


class AlreadyErased(Conflict):
    code = "customer_erased"


def _value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _row(record: Any) -> dict[str, Any]:
    """A record's columns as stored (sealed ones decrypted), blind indexes left out."""
    columns = inspect(record).mapper.column_attrs
    return {c.key: _value(getattr(record, c.key)) for c in columns if c.key not in HIDDEN}


async def export(session: AsyncSession, customer_id: int) -> dict[str, list[dict[str, Any]]]:
    """Everything held about the customer (and the profiles merged into theirs), by kind."""
    customer = await crm.get_customer(session, customer_id)
    ids = await repository.profiles(session, customer.id)
    found = await repository.records(session, ids, await repository.phone_hashes(session, ids))
    return {kind: [_row(record) for record in records] for kind, records in found.items()}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def as_zip(sections: dict[str, list[dict[str, Any]]]) -> bytes:
    """The export as a ZIP of one CSV per kind that has records (UTF-8 with a BOM, which
    spreadsheets read as such; nested values as JSON)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for kind, rows in sections.items():
            if not rows:
                continue
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows({key: _cell(value) for key, value in row.items()} for row in rows)
            archive.writestr(f"{kind}.csv", "\ufeff" + text.getvalue())
    return out.getvalue()


async def erase(
    session: AsyncSession, actor: Actor, customer_id: int, reason: str
) -> tuple[datetime, dict[str, int]]:
    """Erase the customer (and the profiles merged into theirs) from every record, as the
    module says; audited (`customer.erased`, the reason and the records erased by kind). An
    erased customer is refused (409 `customer_erased`). When, and the records by kind."""
    customer = await crm.get_customer(session, customer_id)
    if customer.erased_at is not None:
        raise AlreadyErased(f"customer {customer.id} was erased on {customer.erased_at:%Y-%m-%d}")
    at = clock.now()
    ids = await repository.profiles(session, customer.id)
    hashes = await repository.phone_hashes(session, ids)
    counts = await repository.erase(session, ids, hashes, f"erased:{customer.id}", at)
    after = {"reason": reason, "profiles": ids, "records": counts}
    await audit.record(session, audit.row(actor, "customer.erased", "customer", customer.id, None, after, at))
    return at, counts
