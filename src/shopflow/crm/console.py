"""Console pages of the customers (CRM-1): the list, found by exact phone or customer number
(names are sealed, so no search by name), and a customer's profile with a timeline of their
orders, payments, refunds and after-sales cases, and the merge of another profile into it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.api import Session
from shopflow.core.console.forms import Pager, attempt, form_errors, form_values, page_size, parsed
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import NavItem, Pages
from shopflow.core.console.render import fragment, redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError, FieldError, Invalid
from shopflow.core.personal_data import log
from shopflow.crm import service
from shopflow.crm.errors import CustomerMerged
from shopflow.crm.models import seen
from shopflow.crm.schemas import CustomerPatch, MergeIn
from shopflow.loyalty import points
from shopflow.orders.models import mobile

router = APIRouter(include_in_schema=False)

SOURCES = {
    "order": label("customer source", "order"),
    "console": label("customer source", "console"),
    "api": label("customer source", "API"),
    "import": label("customer source", "import"),
}
MESSAGES = (
    (r"no customer (?P<id>\d+)", N_("There is no customer %(id)s.")),
    ("is this customer", N_("is this customer")),
    (r"was merged into customer (?P<id>\d+)", N_("was merged into customer %(id)s")),
    ("must be 11 digits starting with 1", N_("must be 11 digits starting with 1")),
    ("is a customer number", N_("is a customer number")),
    (r"belongs to customer (?P<id>\d+)", N_("belongs to customer %(id)s")),
    ("belongs to another customer", N_("belongs to another customer")),
    ("is not a phone of this customer", N_("is not a phone of this customer")),
    ("would leave the customer without a phone", N_("would leave the customer without a phone")),
    ("removes a phone it adds", N_("removes a phone it adds")),
    ("is not one of the customer's phones after the change", N_("is not one of the customer's phones")),
    ("must not be in the future", N_("must not be in the future")),
)
ADDRESS_FIELDS = ("province", "city", "district", "street", "postcode")
TAG_SEPARATORS = ("，", "、", ";", "；")


@dataclass(frozen=True, slots=True)
class Moment:
    """One line of a profile's timeline."""

    at: datetime
    kind: str  # order, payment, refund, case
    text: str
    link: str | None
    amount: int | None = None


@router.get("/customers")
async def customer_list(
    session: Session,
    c: Annotated[Console, can_view("customers.read")],
    q: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    """Customers, the latest buyers first; `q` an exact mobile or a customer number."""
    said = q.strip()
    size = page_size()
    phone = said if mobile(said) else None
    number = int(said) if phone is None and said.isdigit() and len(said) < 16 else None
    if said and phone is None and number is None:
        found, total, error = [], 0, c.gettext("Type a mobile number or a customer number.")
    else:
        found, total = await service.find(session, phone=phone, number=number, page=page, page_size=size)
        error = None
    phones = await service.phones_of(session, [customer.id for customer in found])
    viewer = c.viewer()
    if viewer.revealed:
        log(session, viewer.actor, viewer.endpoint, "customer", [customer.id for customer in found])
    rows = [
        (customer, seen(customer.personal, [p.phone for p in phones[customer.id][:1]], viewer.revealed))
        for customer in found
    ]
    return render(
        c,
        "customers/list.html",
        rows=rows,
        q=said,
        error=error,
        pager=Pager(page, size, total),
        sources=SOURCES,
    )


def timeline(c: Console, profile: service.Profile) -> list[Moment]:
    """The customer's orders, payments, refunds and after-sales cases, the latest first."""
    numbers = {order.id: order.order_no for order in profile.orders}
    moments = [
        Moment(
            order.created_at,
            "order",
            c.gettext("Order %(no)s placed", no=order.order_no),
            f"/orders/{order.id}",
        )
        for order in profile.orders
    ]
    for entry in profile.values:
        number = numbers.get(entry.order_id, f"#{entry.order_id}")
        if entry.amount >= 0:
            text = c.gettext("Order %(no)s paid", no=number)
        else:
            text = c.gettext("Refund for order %(no)s", no=number)
        moments.append(
            Moment(
                entry.at,
                "payment" if entry.amount >= 0 else "refund",
                text,
                f"/orders/{entry.order_id}",
                entry.amount,
            )
        )
    for lead in profile.related["leads"]:
        text = c.gettext("Lead (grade %(grade)s) came in", grade=lead.grade)
        moments.append(Moment(lead.created_at, "lead", text, f"/leads/{lead.id}"))
    for case in profile.related.get("aftersales", []):
        text = c.gettext("After-sales case %(no)s opened", no=case.case_no)
        moments.append(Moment(case.created_at, "case", text, f"/aftersales/{case.id}"))
    return sorted(moments, key=lambda m: m.at, reverse=True)


async def _profile_page(
    session: AsyncSession,
    c: Console,
    customer_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    try:
        profile = await service.profile(session, customer_id)
    except CustomerMerged as merged:
        return redirect(f"/customers/{merged.kept_id}")
    viewer = c.viewer()
    if viewer.revealed:
        log(session, viewer.actor, viewer.endpoint, "customer", [customer_id])
    shown = seen(profile.customer.personal, [p.phone for p in profile.phones], viewer.revealed)
    can_edit = c.can("customers.write") and viewer.revealed
    return render(
        c,
        "customers/profile.html",
        status,
        customer=profile.customer,
        shown=shown,
        phones=list(zip(shown["phones"], profile.phones, strict=True)),
        moments=timeline(c, profile),
        balance=await points.balance(session, customer_id),
        sources=SOURCES,
        can_merge=c.can("customers.write"),
        can_edit=can_edit,
        address_fields=ADDRESS_FIELDS,
        values=(_edit_values(shown, profile.customer.tags) if can_edit else {}) | (values or {}),
        errors=errors or {},
    )


@router.get("/customers/{customer_id}")
async def customer_page(
    customer_id: int, session: Session, c: Annotated[Console, can_view("customers.read")]
) -> Response:
    return await _profile_page(session, c, customer_id)


def _edit_values(shown: dict[str, Any], tags: list[str]) -> dict[str, str]:
    """The edit form filled in with the profile as stored."""
    first = (shown.get("addresses") or [{}])[0]
    return {
        "name": shown.get("name") or "",
        "email": shown.get("email") or "",
        "birthday": shown.get("birthday") or "",
        "tags": ", ".join(tags),
        **{name: first.get(name, "") for name in ADDRESS_FIELDS},
    }


def _edit_field(name: str) -> str:
    """A service's or schema's field as the edit form names it."""
    if name.startswith("add_phones"):
        return "add_phone"
    if name.startswith("remove_phones"):
        return "remove_phone"
    if name.startswith("addresses"):
        return next((f for f in ADDRESS_FIELDS if name.endswith(f)), "street")
    return name.split("[")[0].split(".")[0]


def _patch(values: dict[str, str], addresses: list[dict[str, Any]]) -> dict[str, Any]:
    """The edit form as PATCH /customers/{id} takes it: its first address replaced (the others
    kept), one mobile added, one removed, one made primary."""
    tags = values.get("tags", "")
    for separator in TAG_SEPARATORS:
        tags = tags.replace(separator, ",")
    address = {name: values.get(name, "").strip() for name in ADDRESS_FIELDS}
    kept = addresses[1:]
    data: dict[str, Any] = {
        "name": values.get("name", ""),
        "email": values.get("email", "").strip() or None,
        "birthday": values.get("birthday", "").strip() or None,
        "tags": [t.strip() for t in tags.split(",") if t.strip()],
        "addresses": ([address] if any(address.values()) else []) + kept,
    }
    added = values.get("add_phone", "").strip()
    if added:
        data["add_phones"] = [added]
    if values.get("remove_phone"):
        data["remove_phones"] = [values["remove_phone"]]
    primary = added if added and values.get("added_primary") else values.get("primary_phone", "")
    if primary:
        data["primary_phone"] = primary
    return data


@router.post("/customers/{customer_id}/edit")
async def edit(
    customer_id: int, session: Session, c: Annotated[Console, can_do("customers.write")]
) -> Response:
    """The profile's edit form (the same use case as PATCH /api/v1/customers/{id})."""
    values = await form_values(c.request)
    address = f"/customers/{customer_id}"

    async def run() -> Response:
        stored = await service.get_customer(session, customer_id)
        data: Any = parsed(CustomerPatch, _patch(values, list(stored.personal.get("addresses", []))))
        await service.update_customer(session, c.actor, customer_id, data)
        c.flash(c.gettext("The profile is saved."))
        return redirect(address)

    async def refused(exc: AppError) -> Response:
        errors = form_errors(exc, c, _edit_field)
        return await _profile_page(session, c, customer_id, values, errors, exc.status)

    return await attempt(c, session, run, refused, address=address)


@router.post("/customers/{customer_id}/merge")
async def merge(
    customer_id: int, session: Session, c: Annotated[Console, can_do("customers.write")]
) -> Response:
    """Another profile of the same person (by its customer number) merged into this one."""
    values = await form_values(c.request)
    address = f"/customers/{customer_id}"

    async def run() -> Response:
        other = values.get("other_id", "").strip()
        if not other.isdigit():
            raise Invalid("the form has errors", errors=[FieldError("other_id", "is a customer number")])
        data: Any = parsed(MergeIn, {"other_id": other})
        await service.merge(session, c.actor, customer_id, data.other_id)  # type: ignore[arg-type]
        c.flash(c.gettext("Customer %(other)s was merged into this one.", other=data.other_id))
        return redirect(address)

    async def refused(exc: AppError) -> Response:
        return await _profile_page(session, c, customer_id, values, form_errors(exc, c), exc.status)

    return await attempt(c, session, run, refused, address=address)


async def _order_customer(session: AsyncSession, c: Console, order_id: int) -> str:
    """The order page's panel: who placed it (their number, orders paid and value), a link."""
    if not c.can("customers.read"):
        return ""
    customer = await service.of_order(session, order_id)
    return "" if customer is None else fragment(c, "customers/_order_customer.html", customer=customer)


PAGES = Pages(
    router,
    nav=(NavItem("/customers", label("nav", "Customers"), "customers.read", 22),),
    subjects={"customer": ("/customers/{id}", label("subject", "Customer"))},
    actions={
        "customer.created": label("audit action", "customer created"),
        "customer.merged": label("audit action", "profile merged in"),
        "customer.merged_into": label("audit action", "merged into another profile"),
        "customer.updated": label("audit action", "profile edited"),
    },
    messages=MESSAGES,
    panels={"order.side": (_order_customer,)},
)
