"""Quotes and contracts over HTTP (CRM-6, CAT-2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.api import Pages, Session, Viewer, problems, require
from shopflow.core.audit import Actor
from shopflow.core.personal_data import Viewer as ViewerType
from shopflow.core.schemas import Id, Page
from shopflow.crm.quotes import service, views
from shopflow.crm.quotes.models import Quote, QuoteState
from shopflow.crm.quotes.printing import contract_pdf
from shopflow.crm.quotes.schemas import ContractOut, DecisionIn, QuoteIn, QuoteOut, QuoteSummary

router = APIRouter(tags=["quotes"], responses=problems(401))
QUOTES = "/quotes"
PDF = "application/pdf"


async def _out(session: AsyncSession, viewer: ViewerType, quote: Quote) -> QuoteOut:
    contract = await service.contract_of_quote(session, quote.id)
    contact = views.quote_contact(session, viewer, quote)
    return views.quote_out(quote, contact, None if contract is None else contract.id)


@router.post(QUOTES, status_code=201, response_model=QuoteOut, responses=problems(403, 422))
async def create_quote(
    data: QuoteIn, session: Session, viewer: Viewer, actor: Annotated[Actor, require("quotes.write")]
) -> QuoteOut:
    """A draft quote: lines priced against the SKUs' list prices, totals to the fen."""
    return await _out(session, viewer, await service.create(session, actor, data))


@router.get(QUOTES, response_model=Page[QuoteSummary], responses=problems(403))
async def list_quotes(
    session: Session,
    pages: Pages,
    viewer: Viewer,
    _: Annotated[Actor, require("quotes.read")],
    state: QuoteState | None = None,
) -> Page[QuoteSummary]:
    """Quotes newest first, in one state when asked."""
    found, total = await service.page(session, state, pages.page, pages.page_size)
    items = [views.summary(q, views.quote_contact(session, viewer, q)) for q in found]
    return Page[QuoteSummary](**pages.of(items, total))


@router.get(QUOTES + "/{quote_id}", response_model=QuoteOut, responses=problems(403, 404))
async def get_quote(
    quote_id: Id, session: Session, viewer: Viewer, _: Annotated[Actor, require("quotes.read")]
) -> QuoteOut:
    return await _out(session, viewer, await service.get_quote(session, quote_id))


@router.post(QUOTES + "/{quote_id}/submit", response_model=QuoteOut, responses=problems(403, 404, 409))
async def submit(
    quote_id: Id, session: Session, viewer: Viewer, actor: Annotated[Actor, require("quotes.write")]
) -> QuoteOut:
    """Approved at once, or `pending_approval` with the reasons (CAT-2: below a band's floor,
    beyond the submitter's discount authority)."""
    return await _out(session, viewer, await service.submit(session, actor, quote_id))


@router.post(QUOTES + "/{quote_id}/approve", response_model=QuoteOut, responses=problems(403, 404, 409, 422))
async def approve(
    quote_id: Id,
    data: DecisionIn,
    session: Session,
    viewer: Viewer,
    actor: Annotated[Actor, require("quotes.approve")],
) -> QuoteOut:
    """A supervisor approves the pending quote: 403 for one's own request or beyond one's authority."""
    return await _out(session, viewer, await service.decide(session, actor, quote_id, True, data.note))


@router.post(QUOTES + "/{quote_id}/reject", response_model=QuoteOut, responses=problems(403, 404, 409, 422))
async def reject(
    quote_id: Id,
    data: DecisionIn,
    session: Session,
    viewer: Viewer,
    actor: Annotated[Actor, require("quotes.write")],
) -> QuoteOut:
    """A pending quote refused by a supervisor (`quotes.approve`, within authority), or a sent one
    declined by the customer."""
    return await _out(session, viewer, await service.reject(session, actor, quote_id, data.note))


@router.post(QUOTES + "/{quote_id}/send", response_model=QuoteOut, responses=problems(403, 404, 409))
async def send(
    quote_id: Id, session: Session, viewer: Viewer, actor: Annotated[Actor, require("quotes.write")]
) -> QuoteOut:
    """Only an approved quote is sent (409 otherwise)."""
    return await _out(session, viewer, await service.send(session, actor, quote_id))


@router.post(
    QUOTES + "/{quote_id}/accept", response_model=ContractOut, responses=problems(403, 404, 409, 422)
)
async def accept(
    quote_id: Id, session: Session, viewer: Viewer, actor: Annotated[Actor, require("quotes.write")]
) -> ContractOut:
    """The customer accepted the sent quote: its contract, and its order placed with stock reserved."""
    contract = await service.accept(session, actor, quote_id)
    return views.contract_out(contract, views.contract_contact(session, viewer, contract))


@router.get(
    "/contracts/{contract_id}.pdf",
    response_class=Response,
    responses={200: {"content": {PDF: {}}}, **problems(403, 404)},
)
async def contract_as_pdf(
    contract_id: Id, session: Session, viewer: Viewer, _: Annotated[Actor, require("quotes.read")]
) -> Response:
    contract = await service.get_contract(session, contract_id)
    out = views.contract_out(contract, views.contract_contact(session, viewer, contract))
    headers = {"Content-Disposition": f'inline; filename="{contract.contract_no}.pdf"'}
    return Response(contract_pdf(out), media_type=PDF, headers=headers)


@router.get("/contracts/{contract_id}", response_model=ContractOut, responses=problems(403, 404))
async def get_contract(
    contract_id: Id, session: Session, viewer: Viewer, _: Annotated[Actor, require("quotes.read")]
) -> ContractOut:
    contract = await service.get_contract(session, contract_id)
    return views.contract_out(contract, views.contract_contact(session, viewer, contract))
