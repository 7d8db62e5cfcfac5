"""The print handler of pick lists and packing slips (FUL-1), behind both the API's routes and the
console's: the printable page a browser prints, or its PDF."""

from __future__ import annotations

from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import personal_data
from shopflow.core.console.render import document
from shopflow.fulfillment import printing
from shopflow.fulfillment.service import waves

PDF = "application/pdf"


async def pick_list(session: AsyncSession, wave_id: int, *, pdf: bool) -> Response:
    doc = await waves.pick_list(session, wave_id)
    if pdf:
        return _pdf(printing.pick_list_pdf(doc), f"pick-list-{doc.wave_no}.pdf")
    return HTMLResponse(document("fulfillment/pick_list.html", doc=doc))


async def packing_slip(
    session: AsyncSession, viewer: personal_data.Viewer, task_id: int, *, pdf: bool
) -> Response:
    """The slip, whose street address is logged as a read of personal data (RSK-3) whoever prints it."""
    doc = await waves.packing_slip(session, task_id)
    personal_data.log(session, viewer.actor, viewer.endpoint, "order", [doc.order_id])
    if pdf:
        return _pdf(printing.packing_slip_pdf(doc), f"packing-slip-{doc.order_no}-{task_id}.pdf")
    return HTMLResponse(document("fulfillment/packing_slip.html", doc=doc))


def _pdf(content: bytes, filename: str) -> Response:
    return Response(
        content, media_type=PDF, headers={"Content-Disposition": f'inline; filename="{filename}"'}
    )
