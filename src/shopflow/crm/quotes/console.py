"""Console pages of B2B quotes (CRM-6, CAT-2): the list by state, the new-quote form, a quote's
page (lines, totals, why it needs approval, the approver's buttons, send and the customer's
answer), and the contract's printable page with its PDF."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import approvals, audit
from shopflow.core.api import Session
from shopflow.core.console.forms import Pager, attempt, chosen, form_errors, form_values, page_size, parsed
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import NavItem, Pages
from shopflow.core.console.render import redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.crm.quotes import service, views
from shopflow.crm.quotes.models import QuoteState
from shopflow.crm.quotes.printing import contract_pdf
from shopflow.crm.quotes.schemas import QuoteIn
from shopflow.orders.models import PaymentTerms

router = APIRouter(include_in_schema=False)
Q = QuoteState
LINE_ROWS = 5  # the new-quote form's line rows; blank ones are left out
ADDRESS_PARTS = ("name", "phone", "province", "city", "district", "street", "postcode")

STATES = {
    Q.DRAFT: label("quote state", "draft"),
    Q.PENDING_APPROVAL: label("quote state", "pending approval"),
    Q.APPROVED: label("quote state", "approved"),
    Q.SENT: label("quote state", "sent"),
    Q.ACCEPTED: label("quote state", "accepted"),
    Q.REJECTED: label("quote state", "rejected"),
    Q.EXPIRED: label("quote state", "expired"),
}
TERMS = {
    PaymentTerms.PREPAID: label("payment terms", "prepaid"),
    PaymentTerms.NET30: label("payment terms", "net 30 days"),
    PaymentTerms.NET60: label("payment terms", "net 60 days"),
}
APPROVAL_STATES = {
    approvals.A.PENDING: label("approval state", "pending"),
    approvals.A.APPROVED: label("approval state", "approved"),
    approvals.A.REJECTED: label("approval state", "rejected"),
}


@router.get("/quotes")
async def quote_list(
    session: Session,
    c: Annotated[Console, can_view("quotes.read")],
    state: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    size = page_size()
    found, total = await service.page(session, chosen(QuoteState, state), page, size)
    viewer = c.viewer()
    return render(
        c,
        "quotes/list.html",
        quotes=found,
        buyers={q.id: views.quote_contact(session, viewer, q)["buyer"]["name"] for q in found},
        filters={"state": state},
        states=STATES,
        terms=TERMS,
        pager=Pager(page, size, total),
    )


def _form(values: dict[str, str], errors: dict[str, str] | None = None) -> dict[str, Any]:
    return {"values": values, "errors": errors or {}, "rows": range(LINE_ROWS), "terms": TERMS}


@router.get("/quotes/new")
async def new_quote(c: Annotated[Console, can_view("quotes.write")]) -> HTMLResponse:
    return render(c, "quotes/new.html", **_form({"payment_terms": PaymentTerms.NET30}))


def _quote_in(values: dict[str, str]) -> QuoteIn:
    lines = []
    for i in range(LINE_ROWS):
        if not values.get(f"sku_{i}", "").strip():
            continue
        lines.append(
            {
                "sku": values[f"sku_{i}"].strip(),
                "spec": values.get(f"spec_{i}", "").strip(),
                "quantity": values.get(f"quantity_{i}", ""),
                "unit_price": values.get(f"unit_price_{i}", "").strip(),
                "discount_percent": values.get(f"discount_percent_{i}", "").strip() or "0",
            }
        )
    return parsed(
        QuoteIn,
        {
            "customer_id": values.get("customer_id", "").strip() or None,
            "lead_id": values.get("lead_id", "").strip() or None,
            "buyer": {"name": values.get("buyer_name", ""), "phone": values.get("buyer_phone", "")},
            "ship_to": {part: values.get(f"ship_{part}", "") for part in ADDRESS_PARTS},
            "lines": lines,
            "delivery_date": values.get("delivery_date", ""),
            "payment_terms": values.get("payment_terms", ""),
            "aftersales_terms": values.get("aftersales_terms", ""),
            "note": values.get("note") or None,
        },
    )


def _form_field(field: str) -> str:
    """A schema field named as the form names it: `lines[0].sku` -> `sku_0`, `ship_to.city` ->
    `ship_city`, `buyer.name` -> `buyer_name`."""
    if field.startswith("lines[") and "]." in field:
        index, name = field.removeprefix("lines[").split("].", 1)
        return f"{name}_{index}"
    return field.replace("ship_to.", "ship_").replace("buyer.", "buyer_")


@router.post("/quotes")
async def create_quote(session: Session, c: Annotated[Console, can_do("quotes.write")]) -> Response:
    values = await form_values(c.request)

    async def run() -> Response:
        quote = await service.create(session, c.actor, _quote_in(values))  # type: ignore[arg-type]
        c.flash(c.gettext(N_("The quote was saved as a draft.")))
        return redirect(f"/quotes/{quote.id}")

    async def refused(exc: Any) -> Response:
        errors = form_errors(exc, c, _form_field)
        return render(c, "quotes/new.html", exc.status, **_form(values, errors))

    return await attempt(c, session, run, refused, address="/quotes/new")


async def _quote_page(
    session: AsyncSession, c: Console, quote_id: int, errors: dict[str, str] | None = None, status: int = 200
) -> HTMLResponse:
    quote = await service.get_quote(session, quote_id)
    contract = await service.contract_of_quote(session, quote.id)
    return render(
        c,
        "quotes/quote.html",
        status,
        quote=quote,
        out=views.quote_out(quote, views.quote_contact(session, c.viewer(), quote), contract and contract.id),
        contract=contract,
        requests=await service.approvals_of(session, quote.id),
        trail=await audit.trail(session, "quote", quote.id),
        states=STATES,
        terms=TERMS,
        approval_states=APPROVAL_STATES,
        errors=errors or {},
    )


@router.get("/quotes/{quote_id}")
async def quote_page(
    quote_id: int, session: Session, c: Annotated[Console, can_view("quotes.read")]
) -> HTMLResponse:
    return await _quote_page(session, c, quote_id)


async def _act(c: Console, session: AsyncSession, quote_id: int, work: Any, done: str) -> Response:
    address = f"/quotes/{quote_id}"

    async def run() -> Response:
        await work()
        c.flash(c.gettext(done))
        return redirect(address)

    async def refused(exc: Any) -> Response:
        return await _quote_page(session, c, quote_id, form_errors(exc, c), exc.status)

    return await attempt(c, session, run, refused, address=address)


@router.post("/quotes/{quote_id}/submit")
async def submit(quote_id: int, session: Session, c: Annotated[Console, can_do("quotes.write")]) -> Response:
    return await _act(
        c,
        session,
        quote_id,
        lambda: service.submit(session, c.actor, quote_id),  # type: ignore[arg-type]
        N_("The quote was submitted."),
    )


@router.post("/quotes/{quote_id}/approve")
async def approve(
    quote_id: int, session: Session, c: Annotated[Console, can_do("quotes.approve")]
) -> Response:
    note = (await form_values(c.request)).get("note", "").strip()[:1000]
    return await _act(
        c,
        session,
        quote_id,
        lambda: service.decide(session, c.actor, quote_id, True, note),  # type: ignore[arg-type]
        N_("The quote was approved."),
    )


@router.post("/quotes/{quote_id}/reject")
async def reject(quote_id: int, session: Session, c: Annotated[Console, can_do("quotes.write")]) -> Response:
    note = (await form_values(c.request)).get("note", "").strip()[:1000]
    return await _act(
        c,
        session,
        quote_id,
        lambda: service.reject(session, c.actor, quote_id, note),  # type: ignore[arg-type]
        N_("The quote was rejected."),
    )


@router.post("/quotes/{quote_id}/send")
async def send(quote_id: int, session: Session, c: Annotated[Console, can_do("quotes.write")]) -> Response:
    return await _act(
        c,
        session,
        quote_id,
        lambda: service.send(session, c.actor, quote_id),  # type: ignore[arg-type]
        N_("The quote was sent."),
    )


@router.post("/quotes/{quote_id}/accept")
async def accept(quote_id: int, session: Session, c: Annotated[Console, can_do("quotes.write")]) -> Response:
    return await _act(
        c,
        session,
        quote_id,
        lambda: service.accept(session, c.actor, quote_id),  # type: ignore[arg-type]
        N_("The customer accepted: the contract and its order were made."),
    )


@router.get("/contracts/{contract_id}")
async def contract_page(
    contract_id: int, session: Session, c: Annotated[Console, can_view("quotes.read")]
) -> HTMLResponse:
    contract = await service.get_contract(session, contract_id)
    contact = views.contract_contact(session, c.viewer(), contract)
    return render(
        c,
        "quotes/contract.html",
        contract=views.contract_out(contract, contact),
        contact=contact,
        terms=TERMS,
    )


@router.get("/contracts/{contract_id}/pdf")
async def contract_as_pdf(
    contract_id: int, session: Session, c: Annotated[Console, can_view("quotes.read")]
) -> Response:
    contract = await service.get_contract(session, contract_id)
    out = views.contract_out(contract, views.contract_contact(session, c.viewer(), contract))
    headers = {"Content-Disposition": f'inline; filename="{contract.contract_no}.pdf"'}
    return Response(contract_pdf(out), media_type="application/pdf", headers=headers)


PAGES = Pages(
    router,
    nav=(NavItem("/quotes", label("nav", "Quotes"), "quotes.read", 24),),
    states={"quote": STATES, "approval": APPROVAL_STATES},
    subjects={
        "quote": ("/quotes/{id}", label("subject", "Quote")),
        "contract": ("/contracts/{id}", label("subject", "Contract")),
    },
    alert_kinds={approvals.PENDING_ALERT: label("alert kind", "Waiting for your approval")},
    actions={
        "quote.created": label("audit action", "quote written"),
        "quote.pending_approval": label("audit action", "waits for approval"),
        "quote.approved": label("audit action", "approved"),
        "quote.rejected": label("audit action", "rejected"),
        "quote.sent": label("audit action", "sent"),
        "quote.accepted": label("audit action", "accepted"),
        "quote.expired": label("audit action", "expired"),
        "contract.created": label("audit action", "contract made"),
        "approval.requested": label("audit action", "approval requested"),
        "approval.approved": label("audit action", "approved"),
        "approval.rejected": label("audit action", "rejected"),
    },
)
