"""Console pages of risk (RSK-1, RSK-2): the review queue (the oldest first, late ones in red), an
order's review with its reasons, scores and the customer's history, the rules with what their
shadow versions would have held in the last 7 days, and the blocklist."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit
from shopflow.core.api import Session
from shopflow.core.console.forms import (
    Pager,
    attempt,
    chosen,
    filled,
    form_errors,
    form_values,
    page_size,
    parsed,
    step_back,
)
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import NavItem, Pages
from shopflow.core.console.render import redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError, FieldError, Invalid
from shopflow.orders.models import OrderClock
from shopflow.risk.models import BlockKind, Decision, ReviewState, RuleMode
from shopflow.risk.rules import RULES, THRESHOLDS
from shopflow.risk.schemas import BlockIn, DecisionIn, RuleIn
from shopflow.risk.service import blocklist, reviews, rulebook
from shopflow.risk.service.scoring import rules_in_force

router = APIRouter(include_in_schema=False)
OrderId = Annotated[int, Path(ge=1, le=2**63 - 1)]

REVIEW_STATES = {
    ReviewState.OPEN: label("risk review", "open"),
    ReviewState.APPROVED: label("risk review", "approved"),
    ReviewState.REJECTED: label("risk review", "rejected"),
}
DECISIONS = {
    Decision.PASS: label("risk decision", "pass"),
    Decision.REVIEW: label("risk decision", "review"),
    Decision.REJECT: label("risk decision", "reject"),
}
MODES = {RuleMode.ACTIVE: label("rule mode", "active"), RuleMode.SHADOW: label("rule mode", "shadow")}
RULE_NAMES = {
    "velocity_ip": label("risk rule", "Many orders from one IP"),
    "velocity_device": label("risk rule", "Many orders from one device"),
    "duplicate": label("risk rule", "Duplicate order"),
    "sensitive_words": label("risk rule", "Sensitive words in the address"),
    "remote_area": label("risk rule", "Remote area"),
    "name_mismatch": label("risk rule", "Name differs from the customer profile"),
    "first_order_value": label("risk rule", "First order of unusual value"),
    "blocked": label("risk rule", "On the blocklist"),
    "failed_payments": label("risk rule", "Many failed payments"),
    THRESHOLDS: label("risk rule", "Thresholds"),
}
BLOCK_KINDS = {
    BlockKind.PHONE: label("block kind", "phone"),
    BlockKind.ADDRESS: label("block kind", "address"),
    BlockKind.IP: label("block kind", "IP address"),
    BlockKind.DEVICE: label("block kind", "device"),
}
MESSAGES = (
    ("Field required", N_("is required")),
    (r"String should have at least (?P<n>\d+) characters?", N_("at least %(n)s characters")),
    (r"String should have at most (?P<n>\d+) characters?", N_("at most %(n)s characters")),
    (r"Input should be greater than or equal to (?P<n>\d+)", N_("must be at least %(n)s")),
    (r"Input should be less than or equal to (?P<n>\d+)", N_("must be at most %(n)s")),
    (r"Input should be a valid integer.*", N_("must be a whole number")),
    ("must be 11 digits starting with 1", N_("must be 11 digits starting with 1")),
    ("must be an IP address", N_("must be an IP address")),
    ("must name an address", N_("must name an address")),
    ("must be in the future", N_("must be in the future")),
    ("reject must be at least review", N_("reject must be at least review")),
    ("is not JSON", N_("is not JSON")),
    (r"this (?P<kind>\w+) is already on the blocklist", N_("This %(kind)s is already on the blocklist.")),
    (r"order (?P<order>\d+) has no risk review", N_("Order %(order)s has no risk review.")),
    (r"no blocklist entry (?P<entry>\d+) in force", N_("There is no blocklist entry %(entry)s in force.")),
)


@router.get("/risk")
async def queue_page(
    session: Session,
    c: Annotated[Console, can_view("risk.read")],
    state: str = ReviewState.OPEN,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    """RSK-2: the reviews in a state, the oldest first; open ones past their clock in red."""
    chosen_state = chosen(ReviewState, state)
    size = page_size()
    items, total = await reviews.queue(session, chosen_state, page, size)
    return render(
        c,
        "risk/queue.html",
        items=items,
        states=REVIEW_STATES,
        decisions=DECISIONS,
        rule_names=RULE_NAMES,
        filters={"state": chosen_state or ""},
        pager=Pager(page, size, total),
    )


async def _review(
    session: AsyncSession,
    c: Console,
    order_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    view = await reviews.review_of(session, order_id)
    return render(
        c,
        "risk/review.html",
        status,
        view=view,
        states=REVIEW_STATES,
        decisions=DECISIONS,
        modes=MODES,
        rule_names=RULE_NAMES,
        similar_days=reviews.SIMILAR_DAYS,
        trail=await audit.trail(session, "risk_review", order_id),
        values=values or {},
        errors=errors or {},
    )


@router.get("/risk/reviews/{order_id}")
async def review_page(
    order_id: OrderId, session: Session, c: Annotated[Console, can_view("risk.read")]
) -> HTMLResponse:
    return await _review(session, c, order_id)


async def _decide(session: AsyncSession, c: Console, order_id: int, approve: bool) -> Response:
    values = await form_values(c.request)
    address = f"/risk/reviews/{order_id}"

    async def work() -> None:
        data = parsed(DecisionIn, filled(values, "reason"))
        decide = reviews.approve if approve else reviews.reject
        await decide(session, c.actor, order_id, data.reason)  # type: ignore[arg-type]

    async def refused(exc: AppError) -> Response:
        return await _review(session, c, order_id, values, form_errors(exc, c), exc.status)

    done = N_("Approved: the hold is released.") if approve else N_("Rejected: the order is cancelled.")
    return await step_back(c, session, address, work, done, refused)


@router.post("/risk/reviews/{order_id}/approve")
async def approve(
    order_id: OrderId, session: Session, c: Annotated[Console, can_do("risk.review")]
) -> Response:
    return await _decide(session, c, order_id, approve=True)


@router.post("/risk/reviews/{order_id}/reject")
async def reject(
    order_id: OrderId, session: Session, c: Annotated[Console, can_do("risk.review")]
) -> Response:
    return await _decide(session, c, order_id, approve=False)


@router.post("/risk/reviews/{order_id}/assign")
async def assign_to_me(
    order_id: OrderId, session: Session, c: Annotated[Console, can_do("risk.review")]
) -> Response:
    """The review goes to the reader (its clock charged to them)."""
    address = f"/risk/reviews/{order_id}"

    async def work() -> None:
        assert c.actor is not None
        await reviews.assign(session, c.actor, order_id, c.actor.user_id)

    async def refused(exc: AppError) -> Response:
        return await _review(session, c, order_id, None, form_errors(exc, c), exc.status)

    return await step_back(c, session, address, work, N_("The review is yours."), refused)


async def _rules(
    session: AsyncSession,
    c: Console,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    rule_set = await rules_in_force(session)
    shadow = await rulebook.shadow_results(session)
    return render(
        c,
        "risk/rules.html",
        status,
        rule_set=rule_set,
        shadow=shadow,
        modes=MODES,
        decisions=DECISIONS,
        rule_names=RULE_NAMES,
        codes=[*RULES, THRESHOLDS],
        params={r.code: json.dumps(dict(r.params), ensure_ascii=False) for r in rule_set.rules}
        | {THRESHOLDS: json.dumps({"review": rule_set.review, "reject": rule_set.reject})},
        values=values or {},
        errors=errors or {},
    )


@router.get("/risk/rules")
async def rules_page(session: Session, c: Annotated[Console, can_view("risk.read")]) -> HTMLResponse:
    return await _rules(session, c)


def _rule_in(values: dict[str, str]) -> RuleIn:
    """The form as a rule's new version: `params` typed as JSON (blank: the rule's current ones)."""
    data: dict[str, Any] = filled(values, "code", "weight", "mode", "note")
    text = values.get("params", "").strip()
    if text:
        try:
            data["params"] = json.loads(text)
        except json.JSONDecodeError:
            raise Invalid("the form has errors", errors=[FieldError("params", "is not JSON")]) from None
    return parsed(RuleIn, data)


@router.post("/risk/rules")
async def change_rule(session: Session, c: Annotated[Console, can_do("risk.rules")]) -> Response:
    """A new version of a rule from the form (RSK-1); refused, nothing is stored."""
    values = await form_values(c.request)

    async def work() -> Response:
        await rulebook.save_rule(session, c.actor, _rule_in(values))  # type: ignore[arg-type]
        c.flash(c.gettext("The rule's new version is in force."))
        return redirect("/risk/rules")

    async def refused(exc: AppError) -> Response:
        return await _rules(session, c, values, form_errors(exc, c), exc.status)

    return await attempt(c, session, work, refused, address="/risk/rules")


async def _blocklist(
    session: AsyncSession,
    c: Console,
    page: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    size = page_size()
    entries, total = await blocklist.page(session, None, page, size)
    return render(
        c,
        "risk/blocklist.html",
        status,
        entries=entries,
        kinds=BLOCK_KINDS,
        values=values if values is not None else {"kind": BlockKind.PHONE},
        errors=errors or {},
        pager=Pager(page, size, total),
    )


@router.get("/risk/blocklist")
async def blocklist_page(
    session: Session, c: Annotated[Console, can_view("risk.read")], page: Annotated[int, Query(ge=1)] = 1
) -> HTMLResponse:
    return await _blocklist(session, c, page)


@router.post("/risk/blocklist")
async def add_block(session: Session, c: Annotated[Console, can_do("risk.blocklist")]) -> Response:
    values = await form_values(c.request)

    async def work() -> Response:
        data = parsed(BlockIn, filled(values, "kind", "value", "reason"))
        await blocklist.add(session, c.actor, data)  # type: ignore[arg-type]
        c.flash(c.gettext("Added to the blocklist."))
        return redirect("/risk/blocklist")

    async def refused(exc: AppError) -> Response:
        return await _blocklist(session, c, 1, values, form_errors(exc, c), exc.status)

    return await attempt(c, session, work, refused, address="/risk/blocklist")


@router.post("/risk/blocklist/{block_id}/remove")
async def remove_block(
    block_id: OrderId, session: Session, c: Annotated[Console, can_do("risk.blocklist")]
) -> Response:
    async def work() -> None:
        await blocklist.remove(session, c.actor, block_id)  # type: ignore[arg-type]

    async def refused(exc: AppError) -> Response:
        return await _blocklist(session, c, 1, None, form_errors(exc, c), exc.status)

    return await step_back(c, session, "/risk/blocklist", work, N_("Removed from the blocklist."), refused)


PAGES = Pages(
    router,
    # After the alerts, as coupons: tests/web/test_browser.py reads the menu from Today to Alerts.
    nav=(
        NavItem("/risk", label("nav", "Risk review"), "risk.read", 93),
        NavItem("/risk/rules", label("nav", "Risk rules"), "risk.read", 94),
        NavItem("/risk/blocklist", label("nav", "Blocklist"), "risk.read", 94),
    ),
    states={"risk_review": REVIEW_STATES},
    clocks={OrderClock.RISK_REVIEW: label("clock", "Risk review")},  # RSK-2
    actions={
        "risk_review.opened": label("audit action", "Held for risk review"),
        "risk_review.assigned": label("audit action", "Review assigned"),
        "risk_rule.changed": label("audit action", "Risk rule changed"),
        "risk_block.added": label("audit action", "Added to the blocklist"),
        "risk_block.removed": label("audit action", "Removed from the blocklist"),
    },
    messages=MESSAGES,
)
