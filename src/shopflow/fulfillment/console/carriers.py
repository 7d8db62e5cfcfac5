"""Console pages of carriers: the carriers and their fees, the rule table that picks one with a
tester (FUL-3), and the scorecards over a period (FUL-7).

Every action calls the service the API calls; a refused one stores nothing and its form comes back
as typed, each error at its field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import clock, money
from shopflow.core.api import Session
from shopflow.core.console.forms import attempt, field_errors, filled, form_errors, form_values, parsed
from shopflow.core.console.i18n import N_
from shopflow.core.console.page import Console
from shopflow.core.console.render import after_action, redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError, FieldError
from shopflow.core.money import AmountText
from shopflow.core.schemas import Input
from shopflow.fulfillment.errors import NoCarrier
from shopflow.fulfillment.models.carriers import Carrier, Parcel, Scorecard
from shopflow.fulfillment.schemas import CarrierIn, CarrierPatch, RuleIn, Weight
from shopflow.fulfillment.service import carriers, reports

router = APIRouter(include_in_schema=False)

SCORECARD_DAYS = 30  # the default period of the scorecards, ending today
CARRIER_FIELDS = ("name", "tracking_url", "base_fee", "per_kg_fee")
RULE_FIELDS = (
    "carrier",
    "priority",
    "province",
    "min_weight_g",
    "max_weight_g",
    "min_order_value",
    "max_order_value",
)
TRIAL_FIELDS = ("province", "weight_g", "order_value")
# A rule's range check names its field in the message, not in the error's location.
RANGE_ERROR = re.compile(r"(?P<field>\w+) must be above the minimum")
MESSAGES = (
    (r"no carrier ['\"](?P<code>.*)['\"]", N_("There is no carrier %(code)s.")),
    (r"no carrier rule (?P<id>\d+)", N_("There is no carrier rule %(id)s.")),
    ("already exists", N_("already exists")),
    (
        r"the store works with at most (?P<n>\d+) active carriers .*",
        N_("The store works with at most %(n)s active carriers: deactivate one first."),
    ),
    (
        r"String should match pattern '\^\[A-Z0-9\]\[A-Z0-9_-\]\*\$'",
        N_("capital letters, digits, _ and -"),
    ),
    (r"must be an http\(s\) URL", N_("must start with https:// or http://")),
    (r"must contain \{tracking_no\}", N_("must contain {tracking_no}")),
    (r"['\"](?P<value>.*)['\"] is not an amount", N_("%(value)s is not an amount")),
    (r"['\"].*['\"] has more than two decimals", N_("at most two decimals")),
    (r"['\"].*['\"] is negative", N_("must not be negative")),
    (r"['\"].*['\"] is too large", N_("is too large")),
    ("Input should be greater than or equal to 0", N_("must not be negative")),
    (RANGE_ERROR.pattern, N_("must be above the minimum")),
)


class TrialIn(Input):
    """The rule tester's parcel, as `GET /carrier-rules/choice` takes it."""

    province: str = Field(min_length=1, max_length=40)
    weight_g: Weight
    order_value: AmountText


@dataclass(frozen=True, slots=True)
class Trial:
    """The tester's answer: the carrier and its expected charge, or why no rule applies."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    carrier: Carrier | None = None
    cost: int | None = None
    reason: str | None = None


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


# --- carriers -----------------------------------------------------------------------------------


async def _carriers(
    session: AsyncSession,
    c: Console,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
    created: tuple[Carrier, str] | None = None,
) -> HTMLResponse:
    return render(
        c,
        "fulfillment/carriers.html",
        status,
        carriers=await carriers.list_carriers(session),
        can_manage=c.can("carriers.manage"),
        values=values,
        errors=errors,
        created=created,
    )


@router.get("/fulfillment/carriers")
async def carrier_list(session: Session, c: Annotated[Console, can_view("carriers.read")]) -> HTMLResponse:
    return await _carriers(session, c, {}, {})


@router.post("/fulfillment/carriers")
async def create_carrier(session: Session, c: Annotated[Console, can_do("carriers.manage")]) -> Response:
    """A new active carrier; the reply shows its push secret this once. On errors nothing is
    stored and the form comes back as typed."""
    values = await form_values(c.request)

    async def create() -> Response:
        data = parsed(CarrierIn, filled(values, "code", *CARRIER_FIELDS))
        created = await carriers.create_carrier(session, c.actor, data)  # type: ignore[arg-type]
        return await _carriers(session, c, {}, {}, 201, created)

    async def refused(exc: AppError) -> Response:
        return await _carriers(session, c, values, form_errors(exc, c), exc.status)

    return await attempt(c, session, create, refused)


def _carrier_values(carrier: Carrier) -> dict[str, str]:
    return {
        "name": carrier.name,
        "tracking_url": carrier.tracking_url,
        "base_fee": money.fmt(carrier.base_fee),
        "per_kg_fee": money.fmt(carrier.per_kg_fee),
        "active": "true" if carrier.active else "",
    }


async def _carrier_form(
    c: Console, carrier: Carrier, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> HTMLResponse:
    return render(c, "fulfillment/carriers_edit.html", status, carrier=carrier, values=values, errors=errors)


@router.get("/fulfillment/carriers/{code}")
async def carrier_page(
    code: str, session: Session, c: Annotated[Console, can_view("carriers.manage")]
) -> HTMLResponse:
    carrier = await carriers.get_carrier(session, code)
    return await _carrier_form(c, carrier, _carrier_values(carrier), {})


@router.post("/fulfillment/carriers/{code}")
async def update_carrier(
    code: str, session: Session, c: Annotated[Console, can_do("carriers.manage")]
) -> Response:
    """Change a carrier's name, tracking link, fees or whether it takes parcels. Every field is
    required, as when it was created; on errors nothing changes and the form keeps what was typed."""
    values = await form_values(c.request)
    typed = filled(values, *CARRIER_FIELDS)
    await carriers.get_carrier(session, code)

    async def save() -> Response:
        parsed(CarrierIn, {"code": code, **typed})
        patch = parsed(CarrierPatch, {**typed, "active": values.get("active") == "true"})
        await carriers.update_carrier(session, c.actor, code, patch)  # type: ignore[arg-type]
        c.flash(c.gettext("Carrier %(code)s is saved.", code=code))
        return redirect("/fulfillment/carriers")

    async def refused(exc: AppError) -> Response:
        carrier = await carriers.get_carrier(session, code)
        return await _carrier_form(c, carrier, values, form_errors(exc, c), exc.status)

    return await attempt(c, session, save, refused)


# --- the rule table and its tester (FUL-3) ------------------------------------------------------


async def _rules(
    session: AsyncSession,
    c: Console,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
    trial: Trial | None = None,
) -> HTMLResponse:
    listed = await carriers.list_carriers(session)
    return render(
        c,
        "fulfillment/carriers_rules.html",
        status,
        rules=await carriers.list_rules(session),
        carriers=listed,
        by_id={carrier.id: carrier for carrier in listed},
        can_manage=c.can("carriers.manage"),
        values=values,
        errors=errors,
        trial=trial or Trial({}),
    )


async def _why_none(session: AsyncSession, c: Console, parcel: Parcel) -> str:
    """Why the rule table names no carrier: no rule matches, or those that do name inactive ones."""
    rules = await carriers.list_rules(session)
    by_id = {carrier.id: carrier for carrier in await carriers.list_carriers(session)}
    idle = [rule for rule in rules if rule.matches(parcel) and not by_id[rule.carrier_id].active]
    described = {"weight": parcel.weight_g, "province": parcel.province, "value": c.money(parcel.order_value)}
    if idle:
        return c.gettext(
            "Only rules of inactive carriers (%(rules)s) match a parcel of %(weight)d g to %(province)s"
            " for an order of %(value)s: no carrier applies.",
            rules=", ".join(f"#{rule.id} {by_id[rule.carrier_id].code}" for rule in idle),
            **described,
        )
    return c.gettext(
        "No rule matches a parcel of %(weight)d g to %(province)s for an order of %(value)s:"
        " no carrier applies.",
        **described,
    )


async def _trial(session: AsyncSession, c: Console, asked: dict[str, str]) -> Trial | None:
    """FUL-3: the carrier the rule table names for the tester's parcel (`carriers.choose`)."""
    if not any(value.strip() for value in asked.values()):
        return None
    try:
        data = parsed(TrialIn, filled(asked, *TRIAL_FIELDS))
    except AppError as exc:
        return Trial(asked, field_errors(exc.errors, c))
    parcel = Parcel(data.province, data.weight_g, data.order_value)
    try:
        carrier = await carriers.choose(session, parcel)
    except NoCarrier:
        return Trial(asked, reason=await _why_none(session, c, parcel))
    return Trial(asked, carrier=carrier, cost=carrier.cost(parcel.weight_g))


@router.get("/fulfillment/carrier-rules")
async def rule_list(
    session: Session,
    c: Annotated[Console, can_view("carriers.read")],
    province: Annotated[str, Query(max_length=80)] = "",
    weight_g: Annotated[str, Query(max_length=20)] = "",
    order_value: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """The rule table in the order it is read, and the tester's answer when it was asked."""
    trial = await _trial(session, c, {"province": province, "weight_g": weight_g, "order_value": order_value})
    status = 422 if trial is not None and trial.errors else 200
    return await _rules(session, c, {}, {}, status, trial)


def _rule_errors(c: Console, errors: list[FieldError]) -> dict[str, str]:
    """The service's errors by form field; a range's error belongs to its maximum."""
    placed = []
    for error in errors:
        found = RANGE_ERROR.fullmatch(error.message)
        placed.append(FieldError(error.field or (found["field"] if found else ""), error.message))
    return field_errors([error for error in placed if error.field], c)


@router.post("/fulfillment/carrier-rules")
async def add_rule(session: Session, c: Annotated[Console, can_do("carriers.manage")]) -> Response:
    values = await form_values(c.request)

    async def add() -> Response:
        data = parsed(RuleIn, filled(values, *RULE_FIELDS))
        rule = await carriers.add_rule(session, c.actor, data)  # type: ignore[arg-type]
        c.flash(
            c.gettext(
                "Rule %(id)d added: %(carrier)s at priority %(priority)d.",
                id=rule.id,
                carrier=data.carrier,
                priority=rule.priority,
            )
        )
        return redirect("/fulfillment/carrier-rules")

    async def refused(exc: AppError) -> Response:
        errors = _rule_errors(c, exc.errors) or {"form": c.error(exc)}
        return await _rules(session, c, values, errors, exc.status)

    return await attempt(c, session, add, refused)


@router.post("/fulfillment/carrier-rules/{rule_id}/delete")
async def delete_rule(
    rule_id: int, session: Session, c: Annotated[Console, can_do("carriers.manage")]
) -> Response:
    """Remove a rule (audited); from HTMX, after its confirm, the table reloads."""
    await carriers.delete_rule(session, c.actor, rule_id)  # type: ignore[arg-type]
    c.flash(c.gettext("Rule %(id)d is deleted.", id=rule_id))
    return after_action(c, "/fulfillment/carrier-rules")


# --- scorecards (FUL-7) -------------------------------------------------------------------------


def _on_time_chart(c: Console, cards: list[tuple[Carrier, Scorecard]]) -> str:
    """An ECharts option as JSON, drawn by static/console.js: on-time rate (%) per carrier."""
    rates = [None if card.on_time_rate is None else round(card.on_time_rate * 100, 1) for _, card in cards]
    option: dict[str, Any] = {
        "animation": False,
        "title": {"text": c.gettext("On-time rate (%)"), "textStyle": {"fontSize": 14, "fontWeight": 600}},
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 56, "right": 16, "top": 40, "bottom": 48},
        "xAxis": {"type": "category", "data": [carrier.name for carrier, _ in cards]},
        "yAxis": {"type": "value", "min": 0, "max": 100},
        "series": [{"type": "bar", "data": rates, "itemStyle": {"color": "#2f6fde"}}],
    }
    return json.dumps(option, ensure_ascii=False)


@router.get("/fulfillment/scorecards")
async def scorecard_page(
    session: Session,
    c: Annotated[Console, can_view("carriers.read")],
    first: Annotated[str, Query(alias="from", max_length=20)] = "",
    last: Annotated[str, Query(alias="to", max_length=20)] = "",
) -> HTMLResponse:
    """FUL-7 over the parcels shipped from the first to the last day (included) in the store's
    zone; by default the last 30 days."""
    today = clock.today()
    default = today - timedelta(days=SCORECARD_DAYS - 1), today
    (start, start_error), (end, end_error) = c.typed_day(first), c.typed_day(last)
    errors = {name: text for name, text in (("from", start_error), ("to", end_error)) if text}
    start, end = start or default[0], end or default[1]
    if end < start and not errors:
        errors["to"] = c.gettext("must not be before the first day")
    if errors:
        start, end = default
    cards = await reports.scorecards(session, *clock.day_range(start, end))
    return render(
        c,
        "fulfillment/carriers_scorecards.html",
        422 if errors else 200,
        cards=cards,
        chart=_on_time_chart(c, cards),
        percent=_percent,
        values={"from": first, "to": last} if errors else {"from": start.isoformat(), "to": end.isoformat()},
        errors=errors,
    )
