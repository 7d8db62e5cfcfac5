"""Coupons (LOY-4, ORD-2): created with their limits, codes generated in batches, checked for a
basket, and redeemed by order intake: the best combination chosen, one use of each reserved by a
conditional UPDATE in the order's own transaction, and given back when the order is cancelled."""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import service as catalog
from shopflow.core import audit, clock, crypto, db, money, policy
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError, Invalid
from shopflow.loyalty import points, repository
from shopflow.loyalty.errors import CouponCodeTaken, CouponInvalid, CouponNotFound
from shopflow.loyalty.models import (
    Choice,
    Coupon,
    CouponKind,
    CouponUse,
    Goods,
    Offer,
    choose,
    offer_error,
    offer_from,
    on_top,
    tier_cut,
)
from shopflow.loyalty.points import Redemption
from shopflow.loyalty.schemas import CheckIn, CouponIn

# Batch codes avoid look-alike characters (0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
MOBILE = re.compile(r"1[0-9]{10}")


@dataclass(frozen=True, slots=True)
class Sale:
    """An order line as intake hands it to coupons: its SKU, its product's category, its value."""

    sku: str
    category_id: int | None
    value: int


def normalised(code: str) -> str:
    return code.strip().upper()


def buyer_of(phone: str) -> str:
    """Who uses a coupon: the lookup hash of the order's phone (the same as `orders.phone_hash`)."""
    return crypto.vault().lookup_hash(phone)


# --- redemption by order intake ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deal:
    """What an order takes off its goods: the coupons applied (LOY-4), the member's tier discount
    (LOY-2) and the points redeemed (LOY-1), in that order."""

    coupons: Choice | None = None
    redeemed: Redemption | None = None
    tier: str | None = None
    tier_cut: int = 0  # fen

    @property
    def discount(self) -> int:
        coupons = 0 if self.coupons is None else self.coupons.discount
        return coupons + self.tier_cut + (0 if self.redeemed is None else self.redeemed.amount)

    def line_discounts(self, values: Sequence[int]) -> list[int]:
        """Each line's share (fen) of the discount: the coupons' on the lines they cover, then the
        tier's and the points' on what was left, each by largest remainder (ASV-4)."""
        shares = [0] * len(values) if self.coupons is None else list(self.coupons.line_discounts)
        if self.tier_cut:
            shares = on_top(values, shares, self.tier_cut)
        return shares if self.redeemed is None else on_top(values, shares, self.redeemed.amount)


NO_DEAL = Deal()


async def deal(
    session: AsyncSession,
    codes: Sequence[str],
    asked: int | None,
    buyer: str,
    customer: tuple[int, str] | None,
    sales: Sequence[Sale],
) -> Deal:
    """An order's coupons (every one valid, the best combination chosen), its `customer`'s (id,
    tier) tier discount on what they leave, and `asked` points (within the policy's share of what
    is left then); CouponInvalid or PointsRefused (422)."""
    tier = None if customer is None else customer[1]
    percent = next((t.discount_percent for t in policy.current().loyalty.tiers if t.name == tier), 0.0)
    if not codes and not asked and not percent:
        return NO_DEAL
    coupons = await choose_for(session, codes, buyer, sales) if codes else None
    goods = sum(sale.value for sale in sales) - (0 if coupons is None else coupons.discount)
    cut = tier_cut(goods, percent)
    customer_id = None if customer is None else customer[0]
    redeemed = points.redemption(customer_id, asked, goods - cut) if asked else None
    return Deal(coupons, redeemed, tier if cut else None, cut)


async def redeem(
    session: AsyncSession, order_id: int, order_no: str, buyer: str, customer_id: int | None, deal: Deal
) -> None:
    """The new order's coupon uses reserved and points taken, each by a conditional UPDATE in its
    transaction (`reserve`, `points.burn`); refused (422, the transaction rolled back) when another
    order took the last use or points meanwhile."""
    if deal.coupons is not None:
        await reserve(session, order_id, order_no, buyer, deal.coupons)
    if deal.redeemed is not None and customer_id is not None:
        await points.burn(session, order_id, customer_id, deal.redeemed)


async def choose_for(
    session: AsyncSession, codes: Sequence[str], buyer: str, sales: Sequence[Sale]
) -> Choice:
    """The best combination of the coupons named (ORD-2, LOY-4): every one must be valid for this
    buyer and basket, else CouponInvalid names each reason."""
    limit = policy.current().loyalty.coupons_per_order
    if len(codes) > limit:
        raise CouponInvalid([f"at most {limit} coupons per order, not {len(codes)}"])
    wanted = [normalised(code) for code in codes]
    reasons = [f"coupon {code!r} is named twice" for code, n in Counter(wanted).items() if n > 1]
    found = await repository.offers(session, set(wanted))
    offers = [offer_from(found[code]) for code in dict.fromkeys(wanted) if code in found]
    reasons += [f"no coupon with code {code!r}" for code in dict.fromkeys(wanted) if code not in found]
    limited = [o.coupon_id for o in offers if o.limit_per_customer is not None]
    held = await repository.allowances_used(session, buyer, limited) if limited else {}
    goods = await _goods(session, sales, offers)
    at = clock.now()
    reasons += [why for o in offers if (why := offer_error(o, goods, at, held.get(o.coupon_id, 0)))]
    if reasons:
        raise CouponInvalid(reasons)
    return choose(offers, goods)


async def _goods(session: AsyncSession, sales: Sequence[Sale], offers: Sequence[Offer]) -> list[Goods]:
    """The lines as coupons see them; their categories' parents are read only when a coupon
    names categories."""
    parents: dict[int, int | None] = {}
    if any(o.categories for o in offers):
        parents = await catalog.category_parents(session, {s.category_id for s in sales if s.category_id})
    goods = []
    for sale in sales:
        filed = {sale.category_id, parents.get(sale.category_id or 0)} - {None}
        goods.append(Goods(sale.sku, frozenset(c for c in filed if c is not None), sale.value))
    return goods


async def reserve(session: AsyncSession, order_id: int, order_no: str, buyer: str, choice: Choice) -> None:
    """One use of each applied coupon reserved for the order in its transaction: the coupons' and
    limited codes' counters and the buyer's allowances by conditional UPDATEs (`… < limit`), and
    the uses queued to be written with the order's lines. A limit used up meanwhile by another
    order raises CouponInvalid (the caller's transaction, order and all, is rolled back)."""
    if not choice.applied:
        return
    offers = sorted((p.offer for p in choice.applied), key=lambda o: o.coupon_id)
    # A coupon without a total limit has nothing to reserve: its uses are counted in the ledger,
    # and its row is not made a hot spot that every order of a busy sale waits on.
    limited = [o.coupon_id for o in offers if o.limit_total is not None]
    taken = await repository.take_uses(session, limited) if limited else set()
    short = [
        f"coupon {o.code!r}: limit reached ({o.limit_total} uses)"
        for o in offers
        if o.limit_total is not None and o.coupon_id not in taken
    ]
    codes = sorted(o.code_id for o in offers if o.code_max_uses is not None)
    if codes and not short:
        got = await repository.take_codes(session, codes)
        short += [
            f"coupon {o.code!r}: limit reached (the code is used)"
            for o in offers
            if o.code_id in set(codes) - got
        ]
    per_customer = [o.coupon_id for o in offers if o.limit_per_customer is not None]
    if per_customer and not short:
        got = await repository.take_allowances(session, buyer, per_customer)
        short += [
            f"coupon {o.code!r}: limit reached ({o.limit_per_customer} per customer)"
            for o in offers
            if o.coupon_id in set(per_customer) - got
        ]
    if short:
        raise CouponInvalid(short)
    at = clock.now()
    db.queue(
        session,
        CouponUse,
        *(
            {
                "coupon_id": p.offer.coupon_id,
                "code_id": p.offer.code_id,
                "code": p.offer.code,
                "order_id": order_id,
                "order_no": order_no,
                "buyer": buyer,
                "discount": p.discount,
                "used_at": at,
                "released_at": None,
            }
            for p in choice.applied
        ),
    )


async def release_for_order(session: AsyncSession, order_id: int) -> None:
    """The cancelled order's coupon uses given back (LOY-4): released in the ledger, and each
    coupon's, limited code's and buyer's counter brought down, so a cancelled order never
    consumes a use or a per-customer allowance; and its redeemed points returned (LOY-1)."""
    await points.return_for_order(session, order_id)
    released = await repository.release_uses(session, order_id, clock.now())
    if released:
        buyer = released[0][2]
        coupons = sorted(coupon for coupon, _, _ in released)
        await repository.give_back(session, coupons, sorted(code for _, code, _ in released), buyer)


async def discounts_of(session: AsyncSession, order_id: int) -> list[CouponUse]:
    """The order's discount lines: the coupons it used (released ones too, for a cancelled order)."""
    return await repository.uses_of_order(session, order_id)


# --- managing coupons --------------------------------------------------------------------------


def parse_value(kind: CouponKind, text: str) -> int:
    """A coupon's value as stored: fen for a fixed amount ("10.00"), basis points for a
    percentage ("15" is 1500, "12.5" 1250); a field-named 422 otherwise."""
    if kind == CouponKind.FIXED:
        try:
            fen = money.parse(text)
        except ValueError as exc:
            raise Invalid("the coupon has errors", errors=[FieldError("value", str(exc))]) from exc
        if fen <= 0:
            raise Invalid("the coupon has errors", errors=[FieldError("value", "must be more than 0.00")])
        return fen
    try:
        percent = Decimal(text.strip())
    except InvalidOperation as exc:
        raise Invalid(
            "the coupon has errors", errors=[FieldError("value", f"{text!r} is not a percentage")]
        ) from exc
    basis = percent * 100
    if not percent.is_finite() or basis != basis.to_integral_value() or not 0 < percent <= 100:
        raise Invalid(
            "the coupon has errors",
            errors=[
                FieldError("value", "a percentage is more than 0 and at most 100, with at most two decimals")
            ],
        )
    return int(basis)


def shown_value(coupon: Coupon) -> str:
    """A coupon's value as the API writes it: "10.00" (fixed) or "15" / "12.5" (percent)."""
    if coupon.kind == CouponKind.FIXED:
        return money.fmt(coupon.value)
    return f"{Decimal(coupon.value) / 100:f}".rstrip("0").rstrip(".")


async def create_coupon(session: AsyncSession, actor: Actor, data: CouponIn) -> Coupon:
    """A coupon with its own code (409 when the code is taken), audited (AUD-1)."""
    value = parse_value(data.kind, data.value)
    errors = []
    if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
        errors.append(FieldError("ends_at", "must be after starts_at"))
    unknown_skus = set(data.skus) - set(await catalog.sale_facts(session, list(data.skus)))
    if unknown_skus:
        errors.append(FieldError("skus", f"unknown SKUs: {', '.join(sorted(unknown_skus))}"))
    unknown = set(data.categories) - set(await catalog.category_parents(session, data.categories))
    if unknown:
        errors.append(FieldError("categories", f"unknown categories: {', '.join(map(str, sorted(unknown)))}"))
    if data.combines_with and data.stacking_group is None:
        errors.append(
            FieldError("stacking_group", "a coupon that combines with groups needs a group of its own")
        )
    if errors:
        raise Invalid("the coupon has errors", errors=errors)
    code = normalised(data.code)
    at = clock.now()
    coupon = Coupon(
        code=code,
        name=data.name,
        kind=data.kind,
        value=value,
        min_spend=data.min_spend,
        limit_total=data.limit_total,
        limit_per_customer=data.limit_per_customer,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        skus=sorted(set(data.skus)),
        categories=sorted(set(data.categories)),
        stacking_group=data.stacking_group,
        combines_with=sorted(set(data.combines_with)),
        used=0,
        created_by=actor.user_id,
        created_at=at,
    )
    session.add(coupon)
    try:
        async with session.begin_nested():
            await session.flush()
            if not await repository.insert_codes(session, coupon.id, [code], None):
                raise CouponCodeTaken(f"the code {code!r} is taken")
    except IntegrityError as exc:
        raise CouponCodeTaken(f"the code {code!r} is taken") from exc
    await audit.record(
        session, audit.row(actor, "coupon.created", "coupon", coupon.id, after=_trail(coupon), at=at)
    )
    return coupon


def _trail(coupon: Coupon) -> dict[str, object]:
    return {
        "code": coupon.code,
        "kind": coupon.kind,
        "value": shown_value(coupon),
        "min_spend": money.fmt(coupon.min_spend),
        "limit_total": coupon.limit_total,
        "limit_per_customer": coupon.limit_per_customer,
        "starts_at": None if coupon.starts_at is None else coupon.starts_at.isoformat(),
        "ends_at": None if coupon.ends_at is None else coupon.ends_at.isoformat(),
        "skus": coupon.skus,
        "categories": coupon.categories,
        "stacking_group": coupon.stacking_group,
        "combines_with": coupon.combines_with,
    }


async def get_coupon(session: AsyncSession, coupon_id: int) -> Coupon:
    coupon = await repository.get(session, coupon_id)
    if coupon is None:
        raise CouponNotFound(f"no coupon {coupon_id}")
    return coupon


@dataclass(frozen=True, slots=True)
class Tally:
    codes: int  # its own code and the generated ones
    used: int  # uses held by orders not cancelled (the ledger's count)


async def tallies(session: AsyncSession, coupon_ids: Sequence[int]) -> dict[int, Tally]:
    codes = await repository.code_counts(session, coupon_ids)
    held = await repository.uses_held(session, coupon_ids)
    return {i: Tally(codes.get(i, 0), held.get(i, 0)) for i in coupon_ids}


async def coupons_page(
    session: AsyncSession, page: int, size: int
) -> tuple[list[Coupon], int, dict[int, Tally]]:
    """Coupons newest first, how many there are, and each one's codes and uses."""
    coupons, total = await repository.page(session, (page - 1) * size, size)
    return coupons, total, await tallies(session, [c.id for c in coupons])


async def tally(session: AsyncSession, coupon_id: int) -> Tally:
    return (await tallies(session, [coupon_id]))[coupon_id]


async def add_codes(session: AsyncSession, actor: Actor, coupon_id: int, count: int) -> list[str]:
    """`count` new unique single-use codes of the coupon (`<CODE>-<random>`), each one use within
    the coupon's own limits; audited with how many."""
    rules = policy.current().loyalty
    if count > rules.coupon_batch_max:
        raise Invalid(
            "too many codes", errors=[FieldError("count", f"must be at most {rules.coupon_batch_max}")]
        )
    coupon = await get_coupon(session, coupon_id)
    made: list[str] = []
    while len(made) < count:
        # A code somebody already holds is skipped by the insert: draw again for what is missing.
        drawn = {_draw(coupon.code, rules.coupon_code_length) for _ in range(count - len(made))}
        made += sorted(await repository.insert_codes(session, coupon.id, drawn - set(made), 1))
    await audit.record(
        session, audit.row(actor, "coupon.codes_added", "coupon", coupon.id, after={"count": count})
    )
    return made


def _draw(prefix: str, length: int) -> str:
    return f"{prefix}-{''.join(secrets.choice(CODE_ALPHABET) for _ in range(length))}"


async def codes_csv(session: AsyncSession, coupon_id: int, batch: int = 5_000) -> str:
    """Every code of the coupon as CSV, oldest first: its own code (no use limit of its own) and
    each generated one, with how many uses each may take and has taken (the console's download)."""
    await get_coupon(session, coupon_id)
    out = io.StringIO()
    rows = csv.writer(out, lineterminator="\n")
    rows.writerow(("code", "max_uses", "used"))
    after = 0
    while found := await repository.codes_of(session, coupon_id, after, batch):
        rows.writerows(
            (code.code, "" if code.max_uses is None else code.max_uses, code.used) for code in found
        )
        after = found[-1].id
    return out.getvalue()


async def uses_page(
    session: AsyncSession, coupon_id: int, page: int, size: int
) -> tuple[list[CouponUse], int]:
    await get_coupon(session, coupon_id)
    return await repository.uses_page(session, coupon_id, (page - 1) * size, size)


@dataclass(frozen=True, slots=True)
class Checked:
    code: str
    choice: Choice | None
    reason: str | None
    skus: list[str]


async def check(session: AsyncSession, data: CheckIn) -> Checked:
    """What a coupon would take off a basket for the buyer of a phone (valid) or why it would
    not (LOY-4); the basket's SKUs must exist (422 naming the line)."""
    facts = await catalog.sale_facts(session, [line.sku for line in data.lines])
    errors = [
        FieldError(f"lines[{i}].sku", f"unknown SKU {line.sku!r}")
        for i, line in enumerate(data.lines)
        if line.sku not in facts
    ]
    phone = data.customer_phone.strip()
    if phone and not MOBILE.fullmatch(phone):
        errors.append(FieldError("customer_phone", "must be 11 digits starting with 1"))
    if errors:
        raise Invalid("the basket has errors", errors=errors)
    sales = [
        Sale(
            line.sku,
            facts[line.sku].category_id,
            (facts[line.sku].price if line.unit_price is None else line.unit_price) * line.quantity,
        )
        for line in data.lines
    ]
    skus = [line.sku for line in data.lines]
    try:
        choice = await choose_for(session, [data.code], buyer_of(phone) if phone else "", sales)
    except CouponInvalid as refused:
        return Checked(normalised(data.code), None, "; ".join(e.message for e in refused.errors), skus)
    return Checked(normalised(data.code), choice, None, skus)
