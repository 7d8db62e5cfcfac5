"""Console pages of stock control: the counts (INV-6) with a printable count sheet and a page to
key counts on a phone, and the transfers (INV-7) with the suggestions report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit
from shopflow.core.api import Session
from shopflow.core.console.forms import (
    Pager,
    attempt,
    chosen,
    form_errors,
    form_values,
    page_size,
    parsed,
    step_back,
)
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import Pages
from shopflow.core.console.render import redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError
from shopflow.inventory import service as inventory
from shopflow.stockcontrol.models import CountKind, CountState, TransferState
from shopflow.stockcontrol.schemas import CountIn, CountLinesIn, PostIn, TransferIn
from shopflow.stockcontrol.service import counts, transfers

router = APIRouter(include_in_schema=False)
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]
TRANSFER_ROWS = 5  # lines on the transfer form
SUGGESTIONS_SHOWN = 20  # the largest suggested transfers on the page; the API pages through all

COUNT_STATES = {
    CountState.OPEN: label("count state", "open"),
    CountState.APPROVED: label("count state", "approved"),
    CountState.POSTED: label("count state", "posted"),
}
COUNT_KINDS = {
    CountKind.PARTIAL: label("count kind", "partial (weekly)"),
    CountKind.FULL: label("count kind", "full (monthly)"),
}
TRANSFER_STATES = {
    TransferState.DRAFT: label("transfer state", "draft"),
    TransferState.SHIPPED: label("transfer state", "in transit"),
    TransferState.RECEIVED: label("transfer state", "received"),
}
MESSAGES = (
    (r"unknown warehouse ['\"](?P<code>.*)['\"]", N_("unknown warehouse %(code)s")),
    (r"unknown SKU ['\"](?P<sku>.*)['\"]", N_("unknown SKU %(sku)s")),
    ("listed twice", N_("listed twice")),
    ("must differ from from_warehouse", N_("must differ from the source")),
    (r"no SKU is due in (?P<code>.*)", N_("no SKU is due in %(code)s")),
    (r"not counted: (?P<skus>.*)", N_("not counted: %(skus)s")),
    (r"(?P<sku>.*): would fall below reserved", N_("%(sku)s: on hand would fall below reserved")),
    ("more than available", N_("more than available")),
    (
        r"variances of (?P<skus>.*) are large; a manager must approve them",
        N_("large variances (%(skus)s): a manager must approve"),
    ),
)


async def _counts(
    session: AsyncSession, c: Console, state: str, page: int, errors: dict[str, str], status: int = 200
) -> HTMLResponse:
    size = page_size()
    found, total = await counts.page(session, chosen(CountState, state), (page - 1) * size, size)
    return render(
        c,
        "stockcontrol/counts.html",
        status,
        counts=found,
        state=state,
        states=COUNT_STATES,
        kinds=COUNT_KINDS,
        warehouses=await inventory.list_warehouses(session),
        errors=errors,
        pager=Pager(page, size, total),
    )


@router.get("/counts")
async def counts_page(
    session: Session,
    c: Annotated[Console, can_view("inventory.read")],
    state: Annotated[str, Query(max_length=20)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    return await _counts(session, c, state, page, {})


@router.post("/counts")
async def start_count(session: Session, c: Annotated[Console, can_do("counts.write")]) -> Response:
    values = await form_values(c.request)
    skus = values.get("skus", "").split()

    async def work() -> Response:
        data = parsed(
            CountIn,
            {"warehouse": values.get("warehouse", ""), "kind": values.get("kind", "")}
            | ({"skus": skus} if skus else {}),
        )
        view = await counts.start(session, c.actor, data)  # type: ignore[arg-type]
        c.flash(
            c.gettext("Count %(id)s started: %(lines)d SKUs.", id=view.count.id, lines=len(view.count.lines))
        )
        return redirect(f"/counts/{view.count.id}")

    async def refused(exc: AppError) -> Response:
        return await _counts(session, c, "", 1, form_errors(exc, c), exc.status)

    return await attempt(c, session, work, refused, address="/counts")


async def _count(
    session: AsyncSession, c: Console, count_id: int, errors: dict[str, str] | None = None, status: int = 200
) -> HTMLResponse:
    view = await counts.get(session, count_id)
    large = {line.sku_code for line in view.count.lines if counts.line_needs_manager(line)}
    return render(
        c,
        "stockcontrol/count.html",
        status,
        view=view,
        large=large,
        states=COUNT_STATES,
        kinds=COUNT_KINDS,
        errors=errors or {},
        trail=await audit.trail(session, "count", count_id),
    )


@router.get("/counts/{count_id}")
async def count_page(
    count_id: RecordId, session: Session, c: Annotated[Console, can_view("inventory.read")]
) -> HTMLResponse:
    """The keying page: one large number field per SKU, for a phone in the aisle."""
    return await _count(session, c, count_id)


@router.get("/counts/{count_id}/sheet")
async def count_sheet(
    count_id: RecordId, session: Session, c: Annotated[Console, can_view("inventory.read")]
) -> HTMLResponse:
    """The printable count sheet: SKUs in code order, a blank to write each count in."""
    view = await counts.get(session, count_id)
    return render(c, "stockcontrol/sheet.html", view=view, kinds=COUNT_KINDS)


@router.post("/counts/{count_id}/lines")
async def key_count(
    count_id: RecordId, session: Session, c: Annotated[Console, can_do("counts.write")]
) -> Response:
    values = await form_values(c.request)
    typed = [
        {"sku": name[len("counted:") :], "counted": value.strip()}
        for name, value in values.items()
        if name.startswith("counted:") and value.strip()
    ]

    def form_field(name: str) -> str:
        """`lines[1].counted` of the input is the field of the second SKU filled in."""
        if name.startswith("lines[") and "]" in name:
            return f"counted:{typed[int(name[6 : name.index(']')])]['sku']}"
        return name

    async def work() -> None:
        await counts.key(session, c.actor, count_id, parsed(CountLinesIn, {"lines": typed}))  # type: ignore[arg-type]

    async def refused(exc: AppError) -> Response:
        return await _count(session, c, count_id, form_errors(exc, c, form_field), exc.status)

    return await step_back(c, session, f"/counts/{count_id}", work, N_("Counts saved."), refused)


@router.post("/counts/{count_id}/approve")
async def approve_count(
    count_id: RecordId, session: Session, c: Annotated[Console, can_do("counts.approve")]
) -> Response:
    async def work() -> None:
        await counts.approve(session, c.actor, count_id)  # type: ignore[arg-type]

    async def refused(exc: AppError) -> Response:
        return await _count(session, c, count_id, form_errors(exc, c), exc.status)

    return await step_back(c, session, f"/counts/{count_id}", work, N_("Count approved."), refused)


@router.post("/counts/{count_id}/post")
async def post_count(
    count_id: RecordId, session: Session, c: Annotated[Console, can_do("counts.approve")]
) -> Response:
    values = await form_values(c.request)

    async def work() -> None:
        data = parsed(PostIn, {"reason": values.get("reason", "").strip()})
        await counts.post(session, c.actor, count_id, data.reason)  # type: ignore[arg-type]

    async def refused(exc: AppError) -> Response:
        return await _count(session, c, count_id, form_errors(exc, c), exc.status)

    return await step_back(
        c, session, f"/counts/{count_id}", work, N_("Variances posted to the ledger."), refused
    )


async def _transfers(
    session: AsyncSession,
    c: Console,
    state: str,
    page: int,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    size = page_size()
    found, total = await transfers.page(session, chosen(TransferState, state), (page - 1) * size, size)
    largest = sorted(await transfers.suggestions(session), key=lambda s: -s.suggestion.quantity)
    return render(
        c,
        "stockcontrol/transfers.html",
        status,
        transfers=found,
        suggestions=largest[:SUGGESTIONS_SHOWN],
        more_suggestions=max(len(largest) - SUGGESTIONS_SHOWN, 0),
        state=state,
        states=TRANSFER_STATES,
        warehouses=await inventory.list_warehouses(session),
        rows=range(TRANSFER_ROWS),
        values=values,
        errors=errors,
        pager=Pager(page, size, total),
    )


@router.get("/transfers")
async def transfers_page(
    session: Session,
    c: Annotated[Console, can_view("inventory.read")],
    state: Annotated[str, Query(max_length=20)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    return await _transfers(session, c, state, page, {}, {})


@router.post("/transfers")
async def create_transfer(session: Session, c: Annotated[Console, can_do("transfers.write")]) -> Response:
    """A draft transfer from the form (or from a suggestion's button)."""
    values = await form_values(c.request)
    rows = [
        row
        for row in range(TRANSFER_ROWS)
        if values.get(f"lines[{row}].sku", "").strip() or values.get(f"lines[{row}].quantity", "").strip()
    ]
    lines = [
        {
            "sku": values.get(f"lines[{row}].sku", "").strip(),
            "quantity": values.get(f"lines[{row}].quantity", "").strip(),
        }
        for row in rows
    ]

    def form_field(name: str) -> str:
        if name.startswith("lines[") and "]" in name:
            return f"lines[{rows[int(name[6 : name.index(']')])]}]{name[name.index(']') + 1 :]}"
        return name

    async def work() -> Response:
        data = {
            "from_warehouse": values.get("from_warehouse", ""),
            "to_warehouse": values.get("to_warehouse", ""),
        }
        view = await transfers.create(session, c.actor, parsed(TransferIn, data | {"lines": lines}))  # type: ignore[arg-type]
        c.flash(c.gettext("Transfer %(id)s drafted.", id=view.transfer.id))
        return redirect(f"/transfers/{view.transfer.id}")

    async def refused(exc: AppError) -> Response:
        return await _transfers(session, c, "", 1, values, form_errors(exc, c, form_field), exc.status)

    return await attempt(c, session, work, refused, address="/transfers")


async def _transfer(
    session: AsyncSession,
    c: Console,
    transfer_id: int,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        c,
        "stockcontrol/transfer.html",
        status,
        view=await transfers.get(session, transfer_id),
        states=TRANSFER_STATES,
        errors=errors or {},
        trail=await audit.trail(session, "transfer", transfer_id),
    )


@router.get("/transfers/{transfer_id}")
async def transfer_page(
    transfer_id: RecordId, session: Session, c: Annotated[Console, can_view("inventory.read")]
) -> HTMLResponse:
    return await _transfer(session, c, transfer_id)


async def _step(session: AsyncSession, c: Console, transfer_id: int, ship: bool) -> Response:
    async def work() -> None:
        step = transfers.ship if ship else transfers.receive
        await step(session, c.actor, transfer_id)  # type: ignore[arg-type]

    async def refused(exc: AppError) -> Response:
        return await _transfer(session, c, transfer_id, form_errors(exc, c), exc.status)

    done = N_("Shipped: the units are in transit.") if ship else N_("Received into the destination.")
    return await step_back(c, session, f"/transfers/{transfer_id}", work, done, refused)


@router.post("/transfers/{transfer_id}/ship")
async def ship_transfer(
    transfer_id: RecordId, session: Session, c: Annotated[Console, can_do("transfers.write")]
) -> Response:
    return await _step(session, c, transfer_id, ship=True)


@router.post("/transfers/{transfer_id}/receive")
async def receive_transfer(
    transfer_id: RecordId, session: Session, c: Annotated[Console, can_do("transfers.write")]
) -> Response:
    return await _step(session, c, transfer_id, ship=False)


PAGES = Pages(
    router,
    states={"count": COUNT_STATES, "transfer": TRANSFER_STATES},
    subjects={
        "count": ("/counts/{id}", label("subject", "Count")),
        "transfer": ("/transfers/{id}", label("subject", "Transfer")),
    },
    messages=MESSAGES,
    actions={
        "count.started": label("audit action", "count started"),
        "count.keyed": label("audit action", "counts keyed"),
        "count.approved": label("audit action", "count approved"),
        "count.posted": label("audit action", "count posted"),
        "transfer.created": label("audit action", "transfer drafted"),
        "transfer.shipped": label("audit action", "transfer shipped"),
        "transfer.received": label("audit action", "transfer received"),
    },
)
