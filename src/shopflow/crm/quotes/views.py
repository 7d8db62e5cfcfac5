"""Quotes and contracts as the API and the console show them (their schemas from their rows);
the contact as the viewer may see it (`core.personal_data.Viewer`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.personal_data import Viewer
from shopflow.crm.quotes.models import BASIS_POINTS, Contract, Quote, QuoteState
from shopflow.crm.quotes.schemas import ContractLineOut, ContractOut, QuoteLineOut, QuoteOut, QuoteSummary
from shopflow.orders.models import PaymentTerms


def _percent(bp: int) -> float:
    return bp * 100 / BASIS_POINTS


def summary(quote: Quote, contact: dict[str, Any]) -> QuoteSummary:
    return QuoteSummary(
        id=quote.id,
        state=QuoteState(quote.state),
        customer_id=quote.customer_id,
        lead_id=quote.lead_id,
        buyer=contact["buyer"]["name"],
        payment_terms=PaymentTerms(quote.payment_terms),
        total=quote.total,
        expires_at=quote.expires_at,
        created_at=quote.created_at,
    )


def quote_out(quote: Quote, contact: dict[str, Any], contract_id: int | None) -> QuoteOut:
    return QuoteOut(
        **summary(quote, contact).model_dump(),
        phone=contact["buyer"]["phone"],
        lines=[
            QuoteLineOut(
                sku=line.sku_code,
                name=line.name,
                spec=line.spec,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_percent=_percent(line.discount_bp),
                list_price=line.list_price,
                price_band=line.price_band,
                net_unit_price=line.net_unit_price,
                line_total=line.line_total,
            )
            for line in quote.lines
        ],
        delivery_date=quote.delivery_date,
        aftersales_terms=quote.aftersales_terms,
        note=quote.note,
        subtotal=quote.subtotal,
        discount=quote.discount,
        reasons=quote.reasons,
        approval_id=quote.approval_id,
        decision_note=quote.decision_note,
        contract_id=contract_id,
        submitted_at=quote.submitted_at,
        approved_at=quote.approved_at,
        sent_at=quote.sent_at,
        answered_at=quote.answered_at,
    )


def contract_out(contract: Contract, contact: dict[str, Any]) -> ContractOut:
    return ContractOut(
        id=contract.id,
        contract_no=contract.contract_no,
        quote_id=contract.quote_id,
        order_id=contract.order_id,
        customer_id=contract.customer_id,
        buyer=contact["buyer"]["name"],
        lines=[
            ContractLineOut(
                sku=line["sku"],
                name=line["name"],
                spec=line["spec"],
                quantity=line["quantity"],
                unit_price=line["unit_price"],
                discount_percent=_percent(line["discount_bp"]),
                net_unit_price=line["net_unit_price"],
                line_total=line["line_total"],
            )
            for line in contract.lines
        ],
        delivery_date=contract.delivery_date,
        payment_terms=PaymentTerms(contract.payment_terms),
        payment_due_at=contract.payment_due_at,
        aftersales_terms=contract.aftersales_terms,
        subtotal=contract.subtotal,
        discount=contract.discount,
        total=contract.total,
        created_at=contract.created_at,
    )


def quote_contact(session: AsyncSession, viewer: Viewer, quote: Quote) -> dict[str, Any]:
    return viewer.contact(session, "quote", quote.id, quote.contact)


def contract_contact(session: AsyncSession, viewer: Viewer, contract: Contract) -> dict[str, Any]:
    return viewer.contact(session, "contract", contract.id, contract.contact)
