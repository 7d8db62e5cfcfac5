"""Users, roles, API tokens and the one permission table used by API and console (STF-1)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import Boolean, ForeignKey, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core import audit, clock, policy
from shopflow.core.audit import Actor
from shopflow.core.db import Base, BigId, Database, UTCDateTime
from shopflow.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound, Unauthorized
from shopflow.core.roles import Role

R = Role
_EVERYONE = frozenset(Role)

# Permission -> roles allowed. Admin is allowed everything (see `allowed`).
PERMISSIONS: dict[str, frozenset[Role]] = {
    "catalog.read": _EVERYONE,
    "catalog.write": frozenset({R.MANAGER, R.OPERATIONS}),
    "catalog.price": frozenset({R.MANAGER, R.OPERATIONS}),
    "warehouses.write": frozenset({R.MANAGER, R.OPERATIONS}),
    "inventory.read": _EVERYONE,
    "inventory.receive": frozenset({R.MANAGER, R.OPERATIONS, R.WAREHOUSE, R.PURCHASING}),
    "orders.read": _EVERYONE,
    "orders.create": frozenset({R.MANAGER, R.SALES, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR, R.OPERATIONS}),
    "orders.cancel": frozenset({R.MANAGER, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR, R.OPERATIONS}),
    "orders.hold": frozenset({R.MANAGER, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR, R.OPERATIONS}),
    # ORD-7: the customer's confirmation of receipt, relayed by the storefront or an agent.
    "orders.confirm_receipt": frozenset(
        {R.MANAGER, R.SALES, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR, R.OPERATIONS}
    ),
    "payments.create": frozenset(
        {R.MANAGER, R.SALES, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR, R.OPERATIONS, R.FINANCE}
    ),
    "payments.read": frozenset({R.MANAGER, R.FINANCE, R.OPERATIONS, R.CS_SUPERVISOR}),
    "fulfillment.read": _EVERYONE,
    "fulfillment.work": frozenset({R.MANAGER, R.WAREHOUSE}),  # waves, pick, pack, QC, ship (FUL-1..4)
    "fulfillment.exceptions": frozenset({R.MANAGER, R.OPERATIONS, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    "carriers.read": frozenset({R.MANAGER, R.OPERATIONS, R.WAREHOUSE, R.FINANCE}),
    "carriers.manage": frozenset({R.MANAGER, R.OPERATIONS}),  # carriers and rules (FUL-3)
    "freight.reconcile": frozenset({R.MANAGER, R.OPERATIONS, R.FINANCE}),  # FUL-8
    "policy.read": _EVERYONE,
    "alerts.read": _EVERYONE,
    # Acknowledging or resolving alerts, per kind: the longest dotted prefix of the kind named here
    # (`core.alerts.permission`); `alerts.ack` for kinds no entry names.
    "alerts.ack": frozenset(Role) - {R.SALES},
    "alerts.ack.sla.breach.order": frozenset({R.MANAGER, R.OPERATIONS, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    "alerts.ack.sla.breach.shipment": frozenset(
        {R.MANAGER, R.OPERATIONS, R.WAREHOUSE, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}
    ),
    "alerts.ack.logistics_exception": frozenset(
        {R.MANAGER, R.OPERATIONS, R.WAREHOUSE, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}
    ),
    "alerts.ack.low_stock": frozenset({R.MANAGER, R.OPERATIONS, R.PURCHASING, R.WAREHOUSE}),
    "alerts.ack.payment_amount_mismatch": frozenset({R.MANAGER, R.FINANCE}),
    "alerts.ack.payment_for_unpayable_order": frozenset({R.MANAGER, R.FINANCE}),
    "alerts.ack.notification_failed": frozenset({R.OPERATIONS}),
    "sla.read": _EVERYONE,  # the clocks of an order, shipment, ticket… (SLA-1)
    "webhooks.manage": frozenset({R.OPERATIONS}),  # subscribers of signed event POSTs (NTF-1)
    "notifications.read": frozenset({R.MANAGER, R.OPERATIONS, R.CS_SUPERVISOR}),
    "notifications.retry": frozenset({R.OPERATIONS}),
    # --- after-sales (ASV-1..6, issue 11) ---
    "aftersales.read": _EVERYONE,
    "aftersales.open": frozenset({R.MANAGER, R.SALES, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    "aftersales.decide": frozenset({R.MANAGER, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    # ASV-5: compensation above the policy's `aftersales.agent_compensation_limit`.
    "aftersales.decide_over_limit": frozenset({R.MANAGER, R.CS_SUPERVISOR}),
    "aftersales.inspect": frozenset({R.MANAGER, R.WAREHOUSE, R.OPERATIONS}),
    "alerts.ack.sla.breach.aftersales": frozenset({R.MANAGER, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    # --- end of after-sales ---
    "users.manage": frozenset(),  # staff accounts, their passwords and API tokens: admin only
}


def allowed(role: str, permission: str) -> bool:
    if role == Role.ADMIN:
        return True
    return role in PERMISSIONS[permission]


def authorize(actor: Actor, permission: str) -> None:
    if not allowed(actor.role, permission):
        raise Forbidden(f"role {actor.role!r} may not {permission}", code="forbidden")


NAME_LENGTH = 80  # of usernames and token labels


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    role: Mapped[str] = mapped_column(String(30))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def actor(self) -> Actor:
        return Actor(user_id=self.id, name=self.username, role=self.role)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    label: Mapped[str] = mapped_column(String(NAME_LENGTH))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


_hasher = PasswordHasher()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_name(field: str, value: str) -> None:
    if not value:
        raise Invalid(f"the {field} is empty", errors=[FieldError(field, "is required")])
    if len(value) > NAME_LENGTH:
        too_long = FieldError(field, f"at most {NAME_LENGTH} characters")
        raise Invalid(f"the {field} is too long", errors=[too_long])


def _password_hash(password: str) -> str:
    """The stored hash of a new password, refused when shorter than `security.password_min_length`."""
    least = policy.current().security.password_min_length
    if len(password) < least:
        raise Invalid(
            "the password is too short; nothing was changed",
            code="password_too_short",
            errors=[FieldError("password", f"must have at least {least} characters")],
        )
    return _hasher.hash(password)


async def add_user(
    session: AsyncSession, actor: Actor, username: str, role: str, password: str | None = None
) -> User:
    """A new active user; without a password it cannot sign in to the console until one is set."""
    if role not in Role.__members__.values():
        roles = ", ".join(Role)
        choice = FieldError("role", f"one of: {roles}")
        raise Invalid(f"unknown role {role!r}; roles: {roles}", code="invalid_role", errors=[choice])
    _check_name("username", username)
    if await user_exists(session, username):
        raise Conflict(f"user {username!r} exists", code="user_exists")
    user = User(
        username=username,
        role=role,
        password_hash=None if password is None else _password_hash(password),
        active=True,
        created_at=clock.now(),
    )
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        audit.row(actor, "user.created", "user", user.id, None, {"username": username, "role": role}),
    )
    return user


async def find_user(session: AsyncSession, username: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}", code="user_not_found")
    return user


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", code="user_not_found")
    return user


async def set_password(session: AsyncSession, actor: Actor, user: User, password: str) -> None:
    """Give `user` a new console password (audited, without the password or its hash)."""
    had = user.password_hash is not None
    user.password_hash = _password_hash(password)
    await session.flush()
    await audit.record(
        session,
        audit.row(actor, "user.password_set", "user", user.id, {"password": had}, {"password": True}),
    )


async def set_active(session: AsyncSession, actor: Actor, user: User, active: bool) -> None:
    """Deactivate a user (no sign-in, its tokens refused) or reactivate it; audited. Nobody
    deactivates their own account, so an admin cannot lock the last admin out by a slip."""
    if user.active == active:
        return
    if not active and user.id == actor.user_id:
        raise Conflict("you cannot deactivate your own account", code="own_account")
    user.active = active
    await session.flush()
    if not active:  # its tokens are refused by this process at once, by the others within the cache time
        for digest in [d for d, (_, cached) in _token_cache.items() if cached.user_id == user.id]:
            del _token_cache[digest]
    action = "user.reactivated" if active else "user.deactivated"
    change = audit.row(actor, action, "user", user.id, {"active": not active}, {"active": active})
    await audit.record(session, change)


async def create_token(session: AsyncSession, actor: Actor, username: str, label: str) -> str:
    """A new bearer token for `username`; only its hash is stored."""
    _check_name("label", label)
    user = await find_user(session, username)
    token = "sf_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, label=label, token_hash=token_hash(token), created_at=clock.now()))
    await session.flush()
    await audit.record(session, audit.row(actor, "token.created", "user", user.id, None, {"label": label}))
    return token


async def list_tokens(
    session: AsyncSession, username: str | None = None, *, offset: int = 0, limit: int | None = None
) -> tuple[list[tuple[ApiToken, str]], int]:
    """Tokens with their owner's username, newest first (all, or those of `username`), and how
    many there are. The tokens themselves are never stored, so never shown."""
    stmt = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
    if username is not None:
        stmt = stmt.where(User.id == (await find_user(session, username)).id)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    found = await session.execute(stmt.order_by(ApiToken.id.desc()).offset(offset).limit(limit))
    return [(token, owner) for token, owner in found.tuples()], int(total or 0)


async def revoke_token(session: AsyncSession, actor: Actor, token_id: int) -> ApiToken:
    """Revoke a token (audited): refused from now on by this process, by the others within
    TOKEN_CACHE_SECONDS. Revoking a revoked token changes nothing."""
    token = await session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token {token_id}", code="token_not_found")
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        await session.flush()
        _token_cache.pop(token.token_hash, None)
        revoked = {"token": token.id, "label": token.label}
        await audit.record(session, audit.row(actor, "token.revoked", "user", token.user_id, None, revoked))
    return token


# Token checks are on every request; a short cache spares the hot path a round trip.
# A revoked token stops working within this many seconds.
TOKEN_CACHE_SECONDS = 10.0
_token_cache: dict[str, tuple[float, Actor]] = {}


async def authenticate(db: Database, token: str) -> Actor:
    digest = token_hash(token)
    cached = _token_cache.get(digest)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    stmt = (
        select(User.id, User.username, User.role)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None), User.active.is_(True))
    )
    async with db.transaction() as session:
        found = (await session.execute(stmt)).first()
    if found is None:
        _token_cache.pop(digest, None)
        raise Unauthorized("invalid or revoked token", code="invalid_token")
    actor = Actor(user_id=found.id, name=found.username, role=found.role)
    _token_cache[digest] = (time.monotonic() + TOKEN_CACHE_SECONDS, actor)
    return actor


async def user_exists(session: AsyncSession, username: str) -> bool:
    return await session.scalar(select(User.id).where(User.username == username)) is not None


async def list_users(session: AsyncSession) -> list[User]:
    return list((await session.scalars(select(User).order_by(User.id))).all())


@cache
def _nobody() -> str:
    """A hash of a password nobody has: an unknown user costs the same time to check as a known one."""
    return _hasher.hash(secrets.token_urlsafe(16))


async def login(session: AsyncSession, username: str, password: str) -> Actor:
    """The console's sign-in: the active user with this username and password, else Unauthorized."""
    user = await session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    known = user is not None and user.password_hash is not None
    stored = user.password_hash if user is not None and user.password_hash else _nobody()
    try:
        await asyncio.to_thread(_hasher.verify, stored, password)
    except VerificationError:
        known = False
    if not known or user is None:
        raise Unauthorized("wrong username or password", code="bad_credentials")
    return user.actor()


async def active_actor(session: AsyncSession, user_id: int) -> Actor | None:
    """The user behind a console session, while the account is active."""
    stmt = select(User.id, User.username, User.role).where(User.id == user_id, User.active.is_(True))
    found = (await session.execute(stmt)).first()
    return None if found is None else Actor(user_id=found.id, name=found.username, role=found.role)
