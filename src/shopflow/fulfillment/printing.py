"""Pick lists and packing slips as PDF (FUL-1), Chinese included; their printable HTML pages are
templates (`fulfillment/pick_list.html`, `fulfillment/packing_slip.html`) rendered by the console.

Text is set in Adobe's STSong-Light, a CID font every PDF reader carries, so no font file is
shipped or embedded; reportlab writes the text as Unicode, so it can be searched and copied.
Times are shown in the store's zone (policy calendar.timezone).
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import KeepTogether

from shopflow.core.clock import local_text
from shopflow.fulfillment.schemas import PackingSlip, PickList, SlipLine

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

TITLE = ParagraphStyle("title", fontName=FONT, fontSize=16, leading=22, spaceAfter=4 * mm)
HEADING = ParagraphStyle("heading", fontName=FONT, fontSize=11, leading=15, spaceBefore=3 * mm)
BODY = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13)
GRID = TableStyle(
    [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 9.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ALIGN", (-1, 1), (-1, -1), "RIGHT"),
    ]
)
COLUMNS = [35 * mm, 105 * mm, 20 * mm]


def _text(value: str, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(escape(value), style)


def _lines(lines: list[SlipLine]) -> Table:
    rows: list[list[object]] = [["SKU", "商品 Item", "数量 Qty"]]
    rows += [[_text(ln.sku_code), _text(ln.name), str(ln.quantity)] for ln in lines]
    table = Table(rows, colWidths=COLUMNS, repeatRows=1)
    table.setStyle(GRID)
    return table


def _render(title: str, story: list[Flowable]) -> bytes:
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out, pagesize=A4, title=title, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm
    )
    document.build(story)
    return out.getvalue()


def pick_list_pdf(doc: PickList) -> bytes:
    created = local_text(doc.created_at)
    story: list[Flowable] = [
        _text(f"拣货单 Pick list {doc.wave_no}", TITLE),
        _text(f"仓库 Warehouse: {doc.warehouse_name} ({doc.warehouse}) · 生成 Created: {created}"),
        _text(f"订单 Orders: {len(doc.orders)}"),
        _text("汇总 Totals per SKU", HEADING),
        _lines(doc.totals),
    ]
    for number, order in enumerate(doc.orders, start=1):
        heading = _text(f"{number}. 订单 Order {order.order_no} · 任务 Task {order.task_id}", HEADING)
        story.append(KeepTogether([heading, Spacer(1, 1 * mm), _lines(order.lines)]))
    return _render(f"Pick list {doc.wave_no}", story)


def packing_slip_pdf(doc: PackingSlip) -> bytes:
    story: list[Flowable] = [
        _text(f"装箱单 Packing slip · 订单 Order {doc.order_no}", TITLE),
        _text(f"包裹 Parcel {doc.parcel} · 发货仓 From: {doc.warehouse_name}"),
        _text("收件人 Recipient", HEADING),
        _text(doc.recipient),
        _text(f"{doc.address}  {doc.postcode}"),
    ]
    if doc.note:
        story.append(_text(f"备注 Note: {doc.note}"))
    story += [
        _text("商品 Goods", HEADING),
        _lines(doc.lines),
        Spacer(1, 4 * mm),
        _text(f"打印 Printed: {local_text(doc.printed_at)}"),
    ]
    return _render(f"Packing slip {doc.order_no}", story)
