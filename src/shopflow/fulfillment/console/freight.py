"""Console page of freight bills: a carrier's bill reconciled against its shipments (FUL-8).

A refused bill stores nothing and its form comes back as typed, each error at its field.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from shopflow.core import clock
from shopflow.core.api import Session
from shopflow.core.console.forms import attempt, field_errors, filled, form_errors, parsed
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.render import render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError
from shopflow.core.schemas import Input
from shopflow.fulfillment.errors import CarrierNotFound, DuplicateBill
from shopflow.fulfillment.models.freight import BillOutcome
from shopflow.fulfillment.schemas import CarrierCode
from shopflow.fulfillment.service import carriers, reports

router = APIRouter(include_in_schema=False)

OUTCOMES = {
    BillOutcome.MATCHED: label("bill outcome", "matched"),
    BillOutcome.OVER_CHARGED: label("bill outcome", "over-charged"),
    BillOutcome.UNKNOWN_WAYBILL: label("bill outcome", "unknown waybill"),
    BillOutcome.MISSING_BILL: label("bill outcome", "not billed"),
}
MESSAGES = (
    ("the waybill is missing", N_("the waybill is missing")),
    (r"bad amount ['\"](?P<value>.*)['\"]", N_("bad amount %(value)s: write it like 12.50")),
    (
        r"the file needs the columns (?P<columns>.*); missing: (?P<missing>.*)",
        N_("The file needs the columns %(columns)s; missing: %(missing)s."),
    ),
    (
        r"bill ['\"](?P<reference>.*)['\"] of (?P<carrier>\S+) was imported already",
        N_("Bill %(reference)s of %(carrier)s was imported already."),
    ),
)


class BillIn(Input):
    """The freight bill form's fields besides the file and the period."""

    carrier: CarrierCode
    reference: str = Field(min_length=1, max_length=120)


async def _freight(
    session: AsyncSession,
    c: Console,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
    result: reports.BillResult | None = None,
) -> HTMLResponse:
    return render(
        c,
        "fulfillment/carriers_freight.html",
        status,
        carriers=await carriers.list_carriers(session),
        values=values,
        errors=errors,
        result=result,
        outcomes=OUTCOMES,
    )


@router.get("/fulfillment/freight-bills")
async def freight_form(
    session: Session, c: Annotated[Console, can_view("freight.reconcile")]
) -> HTMLResponse:
    return await _freight(session, c, {}, {})


async def _bill_text(c: Console, upload: object) -> tuple[str | None, str | None]:
    """The uploaded bill's text, or why there is none."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None, c.gettext("Choose the bill's CSV file.")
    try:
        return (await upload.read()).decode("utf-8"), None
    except UnicodeDecodeError:
        return None, c.gettext("The bill must be UTF-8 text (save the CSV as UTF-8).")


def _bill_error(c: Console, exc: AppError) -> dict[str, str]:
    """A refused bill's reason at the field it concerns."""
    if isinstance(exc, DuplicateBill):
        return {"reference": c.error(exc)}
    if isinstance(exc, CarrierNotFound):
        return {"carrier": c.error(exc)}
    if exc.code == "bad_file":
        return {"file": c.error(exc)}
    return form_errors(exc, c)


@router.post("/fulfillment/freight-bills")
async def reconcile_bill(session: Session, c: Annotated[Console, can_do("freight.reconcile")]) -> Response:
    """FUL-8: a carrier's bill (CSV: waybill, amount) matched against its shipments, as
    `shopflow import freight-bill` does; the bill's reference is the file name unless typed. The
    period's days are the store's, the last one included; without a first day every unbilled
    parcel of the carrier up to the last counts. On errors nothing is stored."""
    form = await c.request.form()
    values = {key: value.strip() for key, value in form.items() if isinstance(value, str)}
    upload = form.get("file")
    content, file_error = await _bill_text(c, upload)
    if not values.get("reference") and isinstance(upload, UploadFile) and upload.filename:
        values["reference"] = upload.filename
    errors: dict[str, str] = {"file": file_error} if file_error else {}
    start, start_error = c.typed_day(values.get("from", ""))
    end, end_error = c.typed_day(values.get("to", ""))
    errors.update({name: text for name, text in (("from", start_error), ("to", end_error)) if text})
    if start and end and end < start:
        errors["to"] = c.gettext("must not be before the first day")
    data: BillIn | None = None
    try:
        data = parsed(BillIn, filled(values, "carrier", "reference"))
    except AppError as exc:
        errors.update(field_errors(exc.errors, c))
    if errors or data is None or content is None:
        return await _freight(session, c, values, errors, 422)

    async def reconcile() -> Response:
        result = await reports.reconcile_bill(
            session,
            c.actor,  # type: ignore[arg-type]
            data.carrier,
            data.reference,
            content,
            *clock.day_range(start, end),
        )
        return await _freight(session, c, {}, {}, 201, result)

    async def refused(exc: AppError) -> Response:
        return await _freight(session, c, values, _bill_error(c, exc), exc.status)

    return await attempt(c, session, reconcile, refused)
