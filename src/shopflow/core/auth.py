"""Users, roles, API tokens and the one permission table used by API and console (STF-1)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TypedDict

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import Boolean, ForeignKey, Index, String, delete, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core import audit, clock, policy
from shopflow.core.audit import Actor
from shopflow.core.db import Base, BigId, Database, UTCDateTime
from shopflow.core.errors import AppError, Conflict, FieldError, Forbidden, Invalid, NotFound, Unauthorized
from shopflow.core.roles import USER_OWNER, Role

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
    # PAY-1: the sandbox gateway marks an order paid with no money: admin only.
    "payments.sandbox.complete": frozenset(),
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
    "users.manage": frozenset(),  # staff accounts, their passwords and API tokens: admin only
    # RSK-3: customers' names, phones, emails and streets unmasked (every read logged), and that log.
    "personal_data.read": frozenset({R.MANAGER, R.SALES, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    "personal_data.reads": frozenset(),  # admin only
}


def allowed(role: str, permission: str) -> bool:
    if role == Role.ADMIN:
        return True
    return role in PERMISSIONS[permission]


def authorize(actor: Actor, permission: str) -> None:
    if not allowed(actor.role, permission):
        raise Forbidden(f"role {actor.role!r} may not {permission}", code="forbidden")


NAME_LENGTH = 80  # of usernames, token labels and teams
EMAIL_LENGTH = 254
ADDRESS_LENGTH = 64  # of a client's IP address as kept with a failed sign-in


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    role: Mapped[str] = mapped_column(String(30))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # People, not only roles: who they work with and for, whether they take work now, and where
    # the alerting mails them.
    team: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH))

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


class ConsoleSession(Base):
    """A signed-in browser: its cookie carries a random key, whose hash finds this row; the
    session lasts while the row is not ended, its user is active and it was last seen less than
    `security.console_session_hours` ago."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """A refused console sign-in: the username typed and the address it came from (throttling)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_at", "username", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(NAME_LENGTH))
    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class TooManyAttempts(AppError):
    """Sign-in refused for a while after too many failures; `retry_after` in seconds."""

    status = 429
    code = "too_many_attempts"
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


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
    """Disable a user or enable it again; audited. Disabling ends the user's console sessions and
    revokes their tokens, refused by every server process from the next request
    (`announce_revocation`); enabling gives back sign-in, not the old tokens. Nobody disables
    their own account, so an admin cannot lock the last admin out by a slip."""
    if user.active == active:
        return
    if not active and user.id == actor.user_id:
        raise Conflict("you cannot disable your own account", code="own_account")
    user.active = active
    after: dict[str, object] = {"active": active}
    if not active:
        at = clock.now()
        ended = await session.execute(
            update(ConsoleSession)
            .where(ConsoleSession.user_id == user.id, ConsoleSession.ended_at.is_(None))
            .values(ended_at=at)
        )
        revoked = await session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        after |= {"sessions_ended": ended.rowcount, "tokens_revoked": revoked.rowcount}
        await announce_revocation(session)
    await session.flush()
    action = "user.enabled" if active else "user.disabled"
    await audit.record(session, audit.row(actor, action, "user", user.id, {"active": not active}, after))


class PeopleChange(TypedDict, total=False):
    """What `set_people` changes; a key left out keeps its value, None clears it."""

    team: str | None
    manager: str | None  # a username
    on_duty: bool
    email: str | None


EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _check_email(email: str) -> None:
    if len(email) > EMAIL_LENGTH:
        raise Invalid(
            "the email is too long", errors=[FieldError("email", f"at most {EMAIL_LENGTH} characters")]
        )
    if not EMAIL.fullmatch(email):
        raise Invalid("the email is not an address", errors=[FieldError("email", "is not an email address")])


async def _manager_of(session: AsyncSession, user: User, username: str) -> User:
    """The user `username` as `user`'s manager: another user, and not one `user` manages."""
    manager = await find_user(session, username)
    above: User | None = manager
    while above is not None:
        if above.id == user.id:
            raise Conflict(
                f"{username!r} cannot manage {user.username!r}: a manager may not report to them",
                code="manager_cycle",
                errors=[FieldError("manager", "may not be the user or someone reporting to them")],
            )
        above = None if above.manager_id is None else await session.get(User, above.manager_id)
    return manager


def _cleared(text: str | None) -> str | None:
    """A typed text without its spaces; None when nothing is left."""
    return (text or "").strip() or None


async def set_people(session: AsyncSession, actor: Actor, user: User, change: PeopleChange) -> User:
    """Set a user's team, manager, duty or email (audited with what changed); every value is
    checked before any is set."""
    new: dict[str, object] = {}
    if "team" in change:
        if (team := _cleared(change["team"])) is not None:
            _check_name("team", team)
        new["team"] = team
    if "email" in change:
        if (email := _cleared(change["email"])) is not None:
            _check_email(email)
        new["email"] = email
    if "manager" in change:
        name = _cleared(change["manager"])
        new["manager_id"] = None if name is None else (await _manager_of(session, user, name)).id
    if "on_duty" in change:
        new["on_duty"] = change["on_duty"]
    changed = {field: value for field, value in new.items() if getattr(user, field) != value}
    if not changed:
        return user

    async def shown(field: str, value: object) -> object:
        """As the trail shows it: a manager by username."""
        if field != "manager_id" or value is None:
            return value
        return (await get_user(session, value)).username  # type: ignore[arg-type]

    before = {field.removesuffix("_id"): await shown(field, getattr(user, field)) for field in changed}
    after = {field.removesuffix("_id"): await shown(field, value) for field, value in changed.items()}
    for field, value in changed.items():
        setattr(user, field, value)
    await session.flush()
    await audit.record(session, audit.row(actor, "user.updated", "user", user.id, before, after))
    return user


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
    """Revoke a token (audited): every server process refuses it from the next request
    (`announce_revocation`). Revoking a revoked token changes nothing."""
    token = await session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token {token_id}", code="token_not_found")
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        await session.flush()
        await announce_revocation(session)
        revoked = {"token": token.id, "label": token.label}
        await audit.record(session, audit.row(actor, "token.revoked", "user", token.user_id, None, revoked))
    return token


# Token checks are on every request; a cache spares the hot path a round trip, but only in a
# process that hears every revocation: on PostgreSQL, `hear_revocations` LISTENs on this channel
# and `announce_revocation` NOTIFYs it in the revoking transaction, so every process forgets its
# cached tokens when that transaction commits. Without a listener (SQLite, tests, the listener's
# connection lost) every request checks the database. An entry is trusted at most
# TOKEN_CACHE_SECONDS, a bound should a notification be lost with a connection not yet found dead.
REVOCATIONS = "shopflow_access_revoked"
TOKEN_CACHE_SECONDS = 10.0
LISTENER_PING_SECONDS = 5.0
_token_cache: dict[str, tuple[float, Actor]] = {}
_hearing = False  # this process's listener is connected
_forgotten = 0  # times the cache was emptied: a lookup started before one is not cached
log = logging.getLogger("shopflow.auth")


def forget_tokens() -> None:
    global _forgotten
    _forgotten += 1
    _token_cache.clear()


async def announce_revocation(session: AsyncSession) -> None:
    """Tell every server process to forget its cached tokens once this transaction commits (and
    this one at once)."""
    forget_tokens()
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": REVOCATIONS})


async def hear_revocations(database_url: str, retry_seconds: float = 1.0) -> None:
    """Run for the life of a PostgreSQL server process (cancel to stop): LISTEN for revocations
    on a connection of its own, caching tokens only while it is connected."""
    global _hearing
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    while True:
        try:
            connection = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("cannot listen for token revocations (%s); tokens are checked on every request", exc)
            await asyncio.sleep(retry_seconds)
            continue
        try:
            await connection.add_listener(REVOCATIONS, lambda *_: forget_tokens())
            forget_tokens()  # what was cached while deaf may be revoked
            _hearing = True
            while True:  # a silently dead connection is found by its ping
                await asyncio.sleep(LISTENER_PING_SECONDS)
                async with asyncio.timeout(LISTENER_PING_SECONDS):
                    await connection.execute("SELECT 1")
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("lost the token revocation listener (%s); reconnecting", exc)
        finally:
            _hearing = False
            forget_tokens()
            connection.terminate()
        await asyncio.sleep(retry_seconds)


async def authenticate(db: Database, token: str) -> Actor:
    digest = token_hash(token)
    cached = _token_cache.get(digest) if _hearing else None
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    forgotten = _forgotten
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
    if _hearing and forgotten == _forgotten:  # no revocation heard while the database was asked
        _token_cache[digest] = (time.monotonic() + TOKEN_CACHE_SECONDS, actor)
    return actor


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: int
    username: str
    email: str


async def reachable_owners(session: AsyncSession, owner: str) -> list[Recipient]:
    """Who an alert owned by `owner` ("user:alice" or a role) reaches by email: the user it names,
    or every on-duty member of the role; active users with an email address only."""
    stmt = select(User.id, User.username, User.email).where(User.active.is_(True), User.email.is_not(None))
    if owner.startswith(USER_OWNER):
        stmt = stmt.where(User.username == owner.removeprefix(USER_OWNER))
    else:
        stmt = stmt.where(User.role == owner, User.on_duty.is_(True))
    found = await session.execute(stmt.order_by(User.id))
    return [Recipient(user_id, username, email) for user_id, username, email in found.tuples()]


async def user_exists(session: AsyncSession, username: str) -> bool:
    return await session.scalar(select(User.id).where(User.username == username)) is not None


async def list_users(session: AsyncSession) -> list[User]:
    return list((await session.scalars(select(User).order_by(User.id))).all())


@cache
def _nobody() -> str:
    """A hash of a password nobody has: an unknown user costs the same time to check as a known one."""
    return _hasher.hash(secrets.token_urlsafe(16))


async def _throttled(session: AsyncSession, username: str, address: str) -> None:
    """TooManyAttempts while the account or the address has `security.login_failures_per_*`
    failures in the window, with the seconds until the oldest of them leaves it."""
    rules = policy.current().security
    window = timedelta(minutes=rules.login_failure_window_minutes)
    now = clock.now()
    for column, value, limit in (
        (LoginFailure.username, username, rules.login_failures_per_account),
        (LoginFailure.address, address, rules.login_failures_per_address),
    ):
        recent = select(LoginFailure.at).where(column == value, LoginFailure.at > now - window)
        found = list(await session.scalars(recent.order_by(LoginFailure.at.desc()).limit(limit)))
        if len(found) >= limit:
            wait = math.ceil((found[-1] + window - now).total_seconds())
            raise TooManyAttempts(f"too many failed sign-ins; try again in {wait} seconds", max(wait, 1))


async def login(session: AsyncSession, username: str, password: str, address: str) -> Actor:
    """The console's sign-in from `address`: the active user with this username and password,
    else Unauthorized (the failure counted) or, after too many failures of the account or the
    address (`security.login_failures_*`), TooManyAttempts whatever the password."""
    username, address = username[:NAME_LENGTH], address[:ADDRESS_LENGTH]
    await _throttled(session, username, address)
    user = await session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    known = user is not None and user.password_hash is not None
    stored = user.password_hash if user is not None and user.password_hash else _nobody()
    try:
        await asyncio.to_thread(_hasher.verify, stored, password)
    except VerificationError:
        known = False
    if not known or user is None:
        window = timedelta(minutes=policy.current().security.login_failure_window_minutes)
        await session.execute(delete(LoginFailure).where(LoginFailure.at <= clock.now() - window))
        session.add(LoginFailure(username=username, address=address, at=clock.now()))
        await session.flush()
        raise Unauthorized("wrong username or password", code="bad_credentials")
    await session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    return user.actor()


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def start_session(session: AsyncSession, actor: Actor) -> str:
    """A new console session of `actor`; its key, for the signed cookie (only its hash is kept)."""
    key = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(
        ConsoleSession(key_hash=_key_hash(key), user_id=actor.user_id, created_at=now, last_seen_at=now)
    )
    await session.flush()
    return key


# A session's last_seen_at is written at most this often, not on every page.
SEEN_EVERY = timedelta(minutes=1)


async def session_actor(session: AsyncSession, key: str) -> Actor | None:
    """The user of the console session with this key while it lasts: not ended, its user
    active, seen within `security.console_session_hours` (within SEEN_EVERY)."""
    now = clock.now()
    since = now - timedelta(hours=policy.current().security.console_session_hours)
    stmt = (
        select(
            ConsoleSession.id, ConsoleSession.last_seen_at, User.id.label("user_id"), User.username, User.role
        )
        .join(User, User.id == ConsoleSession.user_id)
        .where(
            ConsoleSession.key_hash == _key_hash(key),
            ConsoleSession.ended_at.is_(None),
            ConsoleSession.last_seen_at > since,
            User.active.is_(True),
        )
    )
    found = (await session.execute(stmt)).first()
    if found is None:
        return None
    if now - found.last_seen_at >= SEEN_EVERY:
        await session.execute(
            update(ConsoleSession).where(ConsoleSession.id == found.id).values(last_seen_at=now)
        )
    return Actor(user_id=found.user_id, name=found.username, role=found.role)


async def end_session(session: AsyncSession, key: str) -> None:
    """Sign-out: the session with this key no longer lets anyone in, whoever kept its cookie."""
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.key_hash == _key_hash(key), ConsoleSession.ended_at.is_(None))
        .values(ended_at=clock.now())
    )
