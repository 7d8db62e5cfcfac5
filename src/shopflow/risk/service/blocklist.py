"""Blocklists (RSK-1): a phone (by its keyed hash), a normalised address (by its keyed hash), an IP
or a device id, each with its reason, author and expiry (the policy's `block_days` by default);
added and removed by staff, audited (AUD-1). A customer with enough completed orders is exempt
(`scoring.score_order`)."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock, policy
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError, Invalid
from shopflow.core.privacy import mask_phone, mask_street
from shopflow.orders.models import mobile
from shopflow.risk import repository
from shopflow.risk.errors import AlreadyBlocked, BlockNotFound
from shopflow.risk.models import BlockEntry, BlockKind
from shopflow.risk.rules import normalised
from shopflow.risk.schemas import BlockIn
from shopflow.risk.service.scoring import address_key, phone_key


def _keyed(kind: BlockKind, value: str) -> tuple[str, str]:
    """What intake matches for `value` (its key) and what staff see of it; Invalid naming `value`
    when it is not a value of its kind."""
    match kind:
        case BlockKind.PHONE:
            found = mobile(value)
            if found is None:
                raise Invalid(
                    "not a mobile number", errors=[FieldError("value", "must be 11 digits starting with 1")]
                )
            return phone_key(found), mask_phone(found)
        case BlockKind.ADDRESS:
            text = normalised(value)
            if not text:
                raise Invalid("not an address", errors=[FieldError("value", "must name an address")])
            return address_key(text), mask_street(value.strip())
        case BlockKind.IP:
            try:
                ip = str(ipaddress.ip_address(value.strip()))
            except ValueError:
                raise Invalid(
                    "not an IP address", errors=[FieldError("value", "must be an IP address")]
                ) from None
            return ip, ip
        case BlockKind.DEVICE:
            device = value.strip()
            if not device or len(device) > 64:
                raise Invalid("not a device id", errors=[FieldError("value", "must be 1 to 64 characters")])
            return device, device


async def add(session: AsyncSession, actor: Actor, data: BlockIn) -> BlockEntry:
    """A new entry, in force until `expires_at` (the policy's `block_days` from now when not given);
    409 when the value is already blocked."""
    at = clock.now()
    expires = data.expires_at or at + timedelta(days=policy.current().risk.block_days)
    if expires <= at:
        raise Invalid(
            "the entry would be expired", errors=[FieldError("expires_at", "must be in the future")]
        )
    key, shown = _keyed(data.kind, data.value)
    if await repository.block_in_force(session, data.kind, key, at) is not None:
        raise AlreadyBlocked(f"this {data.kind} is already on the blocklist")
    entry = BlockEntry(
        kind=data.kind,
        value_key=key,
        shown=shown,
        reason=data.reason,
        created_by=actor.user_id,
        author=actor.name,
        created_at=at,
        expires_at=expires,
    )
    session.add(entry)
    await session.flush()
    after = {"kind": data.kind, "value": shown, "reason": data.reason, "expires_at": expires.isoformat()}
    await audit.record(session, audit.row(actor, "risk_block.added", "risk_block", entry.id, None, after, at))
    return entry


async def remove(session: AsyncSession, actor: Actor, block_id: int) -> BlockEntry:
    """The entry ends now (kept, with who removed it); 404 when there is none in force."""
    at = clock.now()
    entry = await repository.block(session, block_id, lock=True)
    if entry is None or entry.removed_at is not None or entry.expires_at <= at:
        raise BlockNotFound(f"no blocklist entry {block_id} in force")
    entry.removed_at, entry.removed_by = at, actor.user_id
    await session.flush()
    row = audit.row(
        actor, "risk_block.removed", "risk_block", entry.id, {"kind": entry.kind, "value": entry.shown}
    )
    await audit.record(session, row)
    return entry


async def page(
    session: AsyncSession, kind: BlockKind | None, page_no: int, page_size: int
) -> tuple[list[BlockEntry], int]:
    return await repository.block_page(session, clock.now(), kind, (page_no - 1) * page_size, page_size)
