"""Console pages of the price rules (CAT-3, CAT-2): the list with the new-rule form, a supervisor's
approval or rejection, and a six-week calendar of the rules in force."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import pricing, service
from shopflow.catalog.console import decision_error  # the catalog's messages translate these pages' too
from shopflow.catalog.models import PriceRuleKind, PriceRuleState
from shopflow.catalog.schemas import PriceRuleIn
from shopflow.core import clock
from shopflow.core.api import Session
from shopflow.core.console.forms import Pager, attempt, form_errors, form_values, page_size, parsed
from shopflow.core.console.i18n import label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import Pages
from shopflow.core.console.render import redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError, FieldError, Invalid, NotFound

router = APIRouter(include_in_schema=False)
RULE_KINDS = {
    PriceRuleKind.PROMOTION: label("price rule kind", "promotion"),
    PriceRuleKind.MARKDOWN: label("price rule kind", "markdown"),
}
RULE_STATES = {
    PriceRuleState.PENDING: label("price rule state", "pending approval"),
    PriceRuleState.ACTIVE: label("price rule state", "approved"),
    PriceRuleState.REJECTED: label("price rule state", "rejected"),
}
RULE_FIELDS = (
    "name",
    "kind",
    "sku",
    "category",
    "price",
    "percent",
    "floor",
    "starts_at",
    "ends_at",
    "stock_above",
    "stock_days",
)
CALENDAR_WEEKS = 6
RuleId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _typed_time(text: str) -> str | None:
    """A time typed in the store's zone ("2027-01-20T10:00"), as UTC ISO text for the service."""
    if not text:
        return None
    try:
        typed = datetime.fromisoformat(text)
    except ValueError:
        return text  # the service's validation names it
    if typed.tzinfo is None:
        typed = typed.replace(tzinfo=clock.store_zone())
    return typed.isoformat()


def _local_input(at: datetime | None) -> str:
    return "" if at is None else at.astimezone(clock.store_zone()).strftime("%Y-%m-%dT%H:%M")


async def _rules(session: AsyncSession, c: Console, page: int, **shown: Any) -> dict[str, Any]:
    size = page_size()
    rules, total = await pricing.list_rules(session, (page - 1) * size, size)
    return {
        "rules": rules,
        "codes": await pricing.sku_codes(session, rules),
        "paths": await service.category_paths(session, {r.category_id for r in rules}),
        "kinds": RULE_KINDS,
        "states": RULE_STATES,
        "now": clock.now(),
        "percent": pricing.percent_text,
        "pager": Pager(page, size, total),
        "values": {"starts_at": _local_input(clock.now())},
        "errors": {},
    } | shown


@router.get("/price-rules")
async def price_rules(
    session: Session, c: Annotated[Console, can_view("catalog.read")], page: Annotated[int, Query(ge=1)] = 1
) -> HTMLResponse:
    return render(c, "catalog/price_rules.html", **await _rules(session, c, page))


@router.post("/price-rules")
async def create_price_rule(session: Session, c: Annotated[Console, can_do("catalog.price")]) -> Response:
    """A new price rule (CAT-3); beyond the floor or the creator's authority it waits for a
    supervisor (CAT-2). On an error nothing is stored and the form comes back as typed."""
    values = await form_values(c.request)
    typed = {field: values.get(field, "").strip() for field in RULE_FIELDS}

    async def create() -> Response:
        data: dict[str, Any] = {key: value for key, value in typed.items() if value and key != "category"}
        if typed["category"]:
            path = [part.strip() for part in typed["category"].split("/")]
            found = await service.find_category(session, path)
            if found is None:
                raise Invalid(
                    "the price rule has errors", errors=[FieldError("category", "no such category")]
                )
            data["category"] = found
        for field in ("starts_at", "ends_at"):
            if typed[field]:
                data[field] = _typed_time(typed[field])
        rule = await pricing.create_rule(session, c.actor, parsed(PriceRuleIn, data))  # type: ignore[arg-type]
        if rule.state == PriceRuleState.PENDING:
            c.flash(
                c.gettext("Price rule %(name)s waits for a supervisor's approval.", name=rule.name), "error"
            )
        else:
            c.flash(c.gettext("Price rule %(name)s created.", name=rule.name))
        return redirect("/price-rules")

    async def refused(exc: AppError) -> Response:
        shown = await _rules(session, c, 1, values=typed, errors=form_errors(exc, c))
        return render(c, "catalog/price_rules.html", exc.status, **shown)

    return await attempt(c, session, create, refused, address="/price-rules")


@router.post("/price-rules/{rule_id}/{verdict}")
async def decide_price_rule(
    rule_id: RuleId, verdict: str, session: Session, c: Annotated[Console, can_do(pricing.APPROVE)]
) -> Response:
    """A supervisor approves or rejects a pending rule (CAT-2)."""
    if verdict not in ("approve", "reject"):
        raise NotFound(f"no action {verdict!r}")
    note = (await form_values(c.request)).get("note", "").strip()

    async def decide() -> Response:
        rule = await pricing.decide_rule(session, c.actor, rule_id, verdict == "approve", note)
        c.flash(
            c.gettext("Price rule %(name)s is approved.", name=rule.name)
            if verdict == "approve"
            else c.gettext("Price rule %(name)s is rejected.", name=rule.name)
        )
        return redirect("/price-rules")

    async def refused(exc: AppError) -> Response:
        shown = await _rules(session, c, 1, errors={"decision": decision_error(c, exc)})
        return render(c, "catalog/price_rules.html", exc.status, **shown)

    return await attempt(c, session, decide, refused, address="/price-rules")


@router.get("/price-rules/calendar")
async def price_calendar(session: Session, c: Annotated[Console, can_view("catalog.read")]) -> HTMLResponse:
    """The next six weeks, Monday to Sunday, each day with the rules whose window meets it."""
    today = clock.today()
    first = today - timedelta(days=today.weekday())
    days = await pricing.calendar(session, first, 7 * CALENDAR_WEEKS)
    ordered = sorted(days)
    rules = {rule.id: rule for found in days.values() for rule in found}
    return render(
        c,
        "catalog/price_calendar.html",
        weeks=[ordered[i : i + 7] for i in range(0, len(ordered), 7)],
        days=days,
        today=today,
        codes=await pricing.sku_codes(session, rules.values()),
        paths=await service.category_paths(session, {r.category_id for r in rules.values()}),
        states=RULE_STATES,
        percent=pricing.percent_text,
    )


PAGES = Pages(
    router,
    states={"price_rule": RULE_STATES},
    actions={
        "price_rule.created": label("audit action", "Price rule created"),
        "price_rule.approved": label("audit action", "Price rule approved"),
        "price_rule.rejected": label("audit action", "Price rule rejected"),
    },
)
