from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shopflow.core.api import Pages, Session, paged, problems, require
from shopflow.core.audit import Actor
from shopflow.core.schemas import Id, Page
from shopflow.stockcontrol.models import CountState, TransferState
from shopflow.stockcontrol.schemas import (
    CountIn,
    CountLineOut,
    CountLinesIn,
    CountOut,
    PostIn,
    SuggestionOut,
    TransferIn,
    TransferLineOut,
    TransferOut,
)
from shopflow.stockcontrol.service import counts, transfers
from shopflow.stockcontrol.service.counts import CountView
from shopflow.stockcontrol.service.transfers import TransferView

router = APIRouter(tags=["stock control"], responses=problems(401, 403))


def count_out(view: CountView) -> CountOut:
    count = view.count
    return CountOut(
        id=count.id,
        warehouse=view.warehouse.code,
        kind=count.kind,
        state=count.state,
        period=count.period,
        needs_manager=count.needs_manager,
        reason=count.reason,
        created_at=count.created_at,
        approved_at=count.approved_at,
        posted_at=count.posted_at,
        counted_lines=sum(1 for line in count.lines if line.counted is not None),
        lines=[
            CountLineOut(
                sku=line.sku_code,
                snapshot=line.snapshot,
                expected=line.expected,
                counted=line.counted,
                variance=line.variance,
            )
            for line in count.lines
        ],
    )


def transfer_out(view: TransferView) -> TransferOut:
    transfer = view.transfer
    return TransferOut(
        id=transfer.id,
        from_warehouse=view.source.code,
        to_warehouse=view.destination.code,
        state=transfer.state,
        note=transfer.note,
        in_transit=transfer.in_transit,
        created_at=transfer.created_at,
        shipped_at=transfer.shipped_at,
        received_at=transfer.received_at,
        lines=[TransferLineOut(sku=line.sku_code, quantity=line.quantity) for line in transfer.lines],
    )


@router.get("/counts", response_model=Page[CountOut])
async def list_counts(
    session: Session,
    pages: Pages,
    _: Annotated[Actor, require("inventory.read")],
    state: Annotated[CountState | None, Query()] = None,
) -> Page[CountOut]:
    """INV-6: counts, the newest first, with their lines."""
    found, total = await counts.page(session, state, (pages.page - 1) * pages.page_size, pages.page_size)
    return Page[CountOut](**pages.of([count_out(view) for view in found], total))


@router.post("/counts", status_code=201, response_model=CountOut, responses=problems(422))
async def start_count(
    data: CountIn, session: Session, actor: Annotated[Actor, require("counts.write")]
) -> CountOut:
    """INV-6: a count of the SKUs named, or (none named) a partial count of those due by ABC class
    or a full count of every SKU stocked in the warehouse; on-hand is snapshotted now."""
    return count_out(await counts.start(session, actor, data))


@router.post("/counts/{count_id}/lines", response_model=CountOut, responses=problems(404, 409, 422))
async def key_count(
    count_id: Id, data: CountLinesIn, session: Session, actor: Annotated[Actor, require("counts.write")]
) -> CountOut:
    """Counted quantities of an open count; each line's expected quantity is the on-hand now."""
    return count_out(await counts.key(session, actor, count_id, data))


@router.post("/counts/{count_id}/approve", response_model=CountOut, responses=problems(404, 409))
async def approve_count(
    count_id: Id, session: Session, actor: Annotated[Actor, require("counts.approve")]
) -> CountOut:
    """Every line counted; a variance above the policy's threshold needs a manager (403)."""
    return count_out(await counts.approve(session, actor, count_id))


@router.post("/counts/{count_id}/post", response_model=CountOut, responses=problems(404, 409, 422))
async def post_count(
    count_id: Id, data: PostIn, session: Session, actor: Annotated[Actor, require("counts.approve")]
) -> CountOut:
    """The approved variances into the ledger with `reason`; 409 `below_reserved`, nothing posted,
    if a SKU's on-hand would fall below its reserved units."""
    return count_out(await counts.post(session, actor, count_id, data.reason))


@router.get("/transfers", response_model=Page[TransferOut])
async def list_transfers(
    session: Session,
    pages: Pages,
    _: Annotated[Actor, require("inventory.read")],
    state: Annotated[TransferState | None, Query()] = None,
) -> Page[TransferOut]:
    """INV-7: transfers, the newest first; `in_transit`: units shipped and not yet received."""
    found, total = await transfers.page(session, state, (pages.page - 1) * pages.page_size, pages.page_size)
    return Page[TransferOut](**pages.of([transfer_out(view) for view in found], total))


@router.get("/transfers/suggestions", response_model=Page[SuggestionOut])
async def transfer_suggestions(
    session: Session, pages: Pages, _: Annotated[Actor, require("inventory.read")]
) -> Page[SuggestionOut]:
    """INV-7: transfers that would match each warehouse's stock to its region's recent sales."""
    found = [
        SuggestionOut(
            sku=view.sku,
            from_warehouse=view.source,
            to_warehouse=view.destination,
            quantity=view.suggestion.quantity,
            demand_share=round(view.suggestion.demand_share, 4),
        )
        for view in await transfers.suggestions(session)
    ]
    return Page[SuggestionOut](**paged(found, pages))


@router.post("/transfers", status_code=201, response_model=TransferOut, responses=problems(422))
async def create_transfer(
    data: TransferIn, session: Session, actor: Annotated[Actor, require("transfers.write")]
) -> TransferOut:
    """A draft transfer between two warehouses; nothing moves until it ships."""
    return transfer_out(await transfers.create(session, actor, data))


@router.post("/transfers/{transfer_id}/ship", response_model=TransferOut, responses=problems(404, 409))
async def ship_transfer(
    transfer_id: Id, session: Session, actor: Annotated[Actor, require("transfers.write")]
) -> TransferOut:
    """Out of the source through the ledger, never below its reserved units; now in transit."""
    return transfer_out(await transfers.ship(session, actor, transfer_id))


@router.post("/transfers/{transfer_id}/receive", response_model=TransferOut, responses=problems(404, 409))
async def receive_transfer(
    transfer_id: Id, session: Session, actor: Annotated[Actor, require("transfers.write")]
) -> TransferOut:
    """Into the destination through the ledger; no longer in transit."""
    return transfer_out(await transfers.receive(session, actor, transfer_id))
