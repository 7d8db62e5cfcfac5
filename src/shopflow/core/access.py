"""Access: API tokens and their revocation heard by every server process, console sessions kept
by the server, sign-in with its throttle, and disabling a user (which ends both) (issue 10)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
import time
from datetime import datetime, timedelta

import asyncpg
from sqlalchemy import ForeignKey, Index, String, delete, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core import audit, clock, policy
from shopflow.core.audit import Actor
from shopflow.core.auth import NAME_LENGTH, User, check_name, find_user, password_matches
from shopflow.core.db import Base, BigId, Database, UTCDateTime
from shopflow.core.errors import AppError, Conflict, NotFound, Unauthorized

ADDRESS_LENGTH = 64  # of a client's IP address as kept with a failed sign-in


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


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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


async def create_token(session: AsyncSession, actor: Actor, username: str, label: str) -> str:
    """A new bearer token for `username`; only its hash is stored."""
    check_name("label", label)
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
    known = await password_matches(None if user is None else user.password_hash, password)
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


PRUNE_BATCH = 500


async def prune_sessions(session: AsyncSession) -> int:
    """Delete a batch of console sessions that can no longer let anyone in: ended, or unused for
    `security.console_session_hours` (the worker drains them). Returns how many went."""
    since = clock.now() - timedelta(hours=policy.current().security.console_session_hours)
    dead = (
        select(ConsoleSession.id)
        .where((ConsoleSession.ended_at.is_not(None)) | (ConsoleSession.last_seen_at <= since))
        .limit(PRUNE_BATCH)
    )
    ids = list(await session.scalars(dead))
    if ids:
        await session.execute(delete(ConsoleSession).where(ConsoleSession.id.in_(ids)))
    return len(ids)


async def end_session(session: AsyncSession, key: str) -> None:
    """Sign-out: the session with this key no longer lets anyone in, whoever kept its cookie."""
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.key_hash == _key_hash(key), ConsoleSession.ended_at.is_(None))
        .values(ended_at=clock.now())
    )
