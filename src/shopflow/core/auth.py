"""Users, roles, API tokens and the one permission table used by API and console (STF-1)."""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TypedDict

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import Boolean, ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core import audit, clock, policy
from shopflow.core.audit import Actor
from shopflow.core.crypto import Sealed
from shopflow.core.db import Base, BigId, UTCDateTime
from shopflow.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from shopflow.core.privacy import mask_email
from shopflow.core.roles import USER_OWNER, Role

R = Role
_EVERYONE = frozenset(Role)

# Permission -> roles allowed. Admin is allowed everything (see `allowed`).
PERMISSIONS: dict[str, frozenset[Role]] = {
    "catalog.read": _EVERYONE,
    "catalog.write": frozenset({R.MANAGER, R.OPERATIONS}),
    "catalog.price": frozenset({R.MANAGER, R.OPERATIONS}),
    "catalog.override": frozenset({R.MANAGER}),  # CAT-4: publish a listing despite banned words
    "catalog.approve": frozenset({R.MANAGER}),  # CAT-2: decide a pending price (within authority)
    # LOY-4: coupons, their codes and uses
    "coupons.read": frozenset(
        {R.MANAGER, R.OPERATIONS, R.SALES, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR, R.FINANCE}
    ),
    "coupons.write": frozenset({R.MANAGER, R.OPERATIONS}),
    # LOY-1: a member's points adjusted by hand, with a reason
    "members.adjust": frozenset({R.MANAGER, R.CS_SUPERVISOR}),
    # LOY-2: a member's dedicated agent named by hand
    "members.assign_agent": frozenset({R.MANAGER, R.CS_SUPERVISOR}),
    "warehouses.write": frozenset({R.MANAGER, R.OPERATIONS}),
    "inventory.read": _EVERYONE,
    "inventory.receive": frozenset({R.MANAGER, R.OPERATIONS, R.WAREHOUSE, R.PURCHASING}),
    # INV-5: suppliers, purchase orders and replenishment suggestions (issue 18)
    "purchasing.read": frozenset({R.MANAGER, R.OPERATIONS, R.WAREHOUSE, R.PURCHASING, R.FINANCE}),
    "purchasing.write": frozenset({R.MANAGER, R.PURCHASING}),
    "counts.write": frozenset({R.MANAGER, R.OPERATIONS, R.WAREHOUSE}),  # INV-6: start and key counts
    "counts.approve": frozenset({R.MANAGER, R.OPERATIONS}),  # INV-6: approve, post (large: manager)
    "transfers.write": frozenset({R.MANAGER, R.OPERATIONS, R.WAREHOUSE}),  # INV-7
    "orders.read": _EVERYONE,
    "orders.create": frozenset({R.MANAGER, R.SALES, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR, R.OPERATIONS}),
    "orders.cancel": frozenset({R.MANAGER, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR, R.OPERATIONS}),
    "orders.hold": frozenset({R.MANAGER, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR, R.OPERATIONS}),
    # ORD-7: the customer's confirmation of receipt, relayed by the storefront or an agent.
    "orders.confirm_receipt": frozenset(
        {R.MANAGER, R.SALES, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR, R.OPERATIONS}
    ),
    # RSK-1, RSK-2 (issue 17): the review queue and its decisions, the rules, the blocklists
    "risk.read": frozenset({R.MANAGER, R.OPERATIONS, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR, R.FINANCE}),
    "risk.review": frozenset({R.MANAGER, R.OPERATIONS, R.CS_SUPERVISOR}),
    "risk.rules": frozenset({R.MANAGER}),
    "risk.blocklist": frozenset({R.MANAGER, R.OPERATIONS, R.CS_SUPERVISOR}),
    "payments.create": frozenset(
        {R.MANAGER, R.SALES, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR, R.OPERATIONS, R.FINANCE}
    ),
    "payments.read": frozenset({R.MANAGER, R.FINANCE, R.OPERATIONS, R.CS_SUPERVISOR}),
    # PAY-1: the sandbox gateway marks an order paid with no money: admin only.
    "payments.sandbox.complete": frozenset(),
    # PAY-3: the refund ledger (issue 11)
    "payments.refund": frozenset({R.MANAGER, R.FINANCE, R.CS_SUPERVISOR}),
    # CRM-1: customer profiles (issue 13); their personal data still needs personal_data.read.
    "customers.read": frozenset({R.MANAGER, R.SALES, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR, R.OPERATIONS}),
    "customers.write": frozenset({R.MANAGER, R.SALES, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    "analytics.traffic.write": frozenset({R.MANAGER, R.OPERATIONS}),
    "analytics.read": frozenset({R.MANAGER, R.OPERATIONS, R.FINANCE, R.CS_SUPERVISOR}),
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
    # PAY-3: the refund ledger (issue 11)
    "alerts.ack.refund_amount_mismatch": frozenset({R.MANAGER, R.FINANCE}),
    "alerts.ack.refund_beyond_captured": frozenset({R.MANAGER, R.FINANCE}),
    "alerts.ack.refund_failed": frozenset({R.MANAGER, R.FINANCE}),
    "alerts.ack.notification_failed": frozenset({R.OPERATIONS}),
    "sla.read": _EVERYONE,  # the clocks of an order, shipment, ticket… (SLA-1)
    "webhooks.manage": frozenset({R.OPERATIONS}),  # subscribers of signed event POSTs (NTF-1)
    "notifications.read": frozenset({R.MANAGER, R.OPERATIONS, R.CS_SUPERVISOR}),
    "notifications.retry": frozenset({R.OPERATIONS}),
    # --- after-sales (ASV-1..6, issue 11) ---
    "aftersales.read": _EVERYONE,
    "aftersales.open": frozenset({R.MANAGER, R.SALES, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    "aftersales.decide": frozenset({R.MANAGER, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    "aftersales.inspect": frozenset({R.MANAGER, R.WAREHOUSE, R.OPERATIONS}),
    "alerts.ack.sla.breach.aftersales": frozenset({R.MANAGER, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    # --- end of after-sales ---
    # --- leads (CRM-2..4, issue 13) ---
    "leads.read": frozenset({R.MANAGER, R.SALES, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    "leads.write": frozenset({R.MANAGER, R.SALES, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    "leads.assign": frozenset({R.MANAGER, R.CS_SUPERVISOR}),
    "quotes.read": frozenset({R.MANAGER, R.SALES, R.CS_SUPERVISOR, R.FINANCE}),
    "quotes.write": frozenset({R.MANAGER, R.SALES}),
    "quotes.approve": frozenset({R.MANAGER}),
    "alerts.ack.lead": frozenset({R.MANAGER, R.SALES, R.CS_SUPERVISOR}),
    "alerts.ack.sla.breach.lead": frozenset({R.MANAGER, R.SALES, R.CS_SUPERVISOR}),
    # --- end of leads ---
    # --- tickets (SVC-1..3, SVC-7) ---
    "tickets.read": _EVERYONE,
    "tickets.write": frozenset({R.MANAGER, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    "tickets.assign": frozenset({R.MANAGER, R.CS_SUPERVISOR}),
    "tickets.escalate": frozenset({R.MANAGER, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    "alerts.ack.sla.breach.ticket": frozenset({R.MANAGER, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    "alerts.ack.ticket": frozenset({R.MANAGER, R.CS_SUPERVISOR}),
    "alerts.ack.review": frozenset({R.MANAGER, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    "service.metrics.read": frozenset({R.MANAGER, R.CS_SUPERVISOR}),  # STF-2: the agents' month
    # --- end of tickets ---
    # --- knowledge base (SVC-4, issue 14) ---
    "kb.read": _EVERYONE,
    "kb.write": frozenset({R.MANAGER, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    # --- end of knowledge base ---
    "users.manage": frozenset(),  # staff accounts, their passwords and API tokens: admin only
    # RSK-3: customers' names, phones, emails and streets unmasked (every read logged), and that log.
    "personal_data.read": frozenset({R.MANAGER, R.SALES, R.CUSTOMER_SERVICE, R.CS_SUPERVISOR}),
    "customers.erase": frozenset({R.MANAGER}),  # RSK-3: a customer's personal data erased on request
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
    email: Mapped[str | None] = mapped_column(Sealed)  # personal data: encrypted at rest

    def actor(self) -> Actor:
        return Actor(user_id=self.id, name=self.username, role=self.role)


_hasher = PasswordHasher()


def check_name(field: str, value: str) -> None:
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
    check_name("username", username)
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
            check_name("team", team)
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
        """As the trail shows it: a manager by username, an email masked (the trail is in clear)."""
        if value is None:
            return value
        if field == "email":
            return mask_email(str(value))
        if field != "manager_id":
            return value
        return (await get_user(session, value)).username  # type: ignore[arg-type]

    before = {field.removesuffix("_id"): await shown(field, getattr(user, field)) for field in changed}
    after = {field.removesuffix("_id"): await shown(field, value) for field, value in changed.items()}
    for field, value in changed.items():
        setattr(user, field, value)
    await session.flush()
    await audit.record(session, audit.row(actor, "user.updated", "user", user.id, before, after))
    return user


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


@cache
def _nobody() -> str:
    """A hash of a password nobody has: an unknown user costs the same time to check as a known one."""
    return _hasher.hash(secrets.token_urlsafe(16))


async def password_matches(stored: str | None, password: str) -> bool:
    """Whether `password` is the one `stored` hashes; as slow without a stored hash (an unknown
    user, or one without a password), so the answer's time tells nothing."""
    try:
        await asyncio.to_thread(_hasher.verify, stored or _nobody(), password)
    except VerificationError:
        return False
    return stored is not None


async def user_exists(session: AsyncSession, username: str) -> bool:
    return await session.scalar(select(User.id).where(User.username == username)) is not None


async def list_users(session: AsyncSession) -> list[User]:
    return list((await session.scalars(select(User).order_by(User.id))).all())
