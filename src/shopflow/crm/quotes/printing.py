"""A contract as PDF (CRM-6), Chinese included, set in STSong-Light like the pick lists
(`fulfillment/printing.py`: a CID font every PDF reader carries, nothing shipped or embedded).
Its printable HTML page is the console's template `quotes/contract.html`."""

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

from shopflow.core import money
from shopflow.core.clock import local_text
from shopflow.crm.quotes.schemas import ContractOut

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
TITLE = ParagraphStyle("contract-title", fontName=FONT, fontSize=16, leading=22, spaceAfter=4 * mm)
HEADING = ParagraphStyle("contract-heading", fontName=FONT, fontSize=11, leading=15, spaceBefore=3 * mm)
BODY = ParagraphStyle("contract-body", fontName=FONT, fontSize=9.5, leading=13)
GRID = TableStyle(
    [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ALIGN", (2, 1), (-1, -1), "RIGHT"),
    ]
)

COLUMNS = [25 * mm, 45 * mm, 15 * mm, 20 * mm, 15 * mm, 20 * mm, 25 * mm]
TERMS = {"prepaid": "款到发货 Prepaid", "net30": "30 天账期 Net 30", "net60": "60 天账期 Net 60"}


def _lines(contract: ContractOut) -> Table:
    rows: list[list[object]] = [
        ["SKU", "商品 / 规格 Item", "数量 Qty", "单价 Price", "折扣 Disc.", "净价 Net", "金额 Amount"]
    ]
    rows += [
        [
            _text(line.sku),
            _text(f"{line.name} {line.spec}".strip()),
            str(line.quantity),
            money.fmt(line.unit_price),
            f"{line.discount_percent:g}%",
            money.fmt(line.net_unit_price),
            money.fmt(line.line_total),
        ]
        for line in contract.lines
    ]
    rows.append(["", _text("合计 Total"), "", "", "", "", money.fmt(contract.total)])
    table = Table(rows, colWidths=COLUMNS, repeatRows=1)
    table.setStyle(GRID)
    return table


def _text(value: str, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(escape(value), style)


def contract_pdf(contract: ContractOut) -> bytes:
    due = local_text(contract.payment_due_at) if contract.payment_due_at else "—"
    story: list[Flowable] = [
        _text(f"销售合同 Sales contract {contract.contract_no}", TITLE),
        _text(f"签订 Signed: {local_text(contract.created_at)} · 报价单 Quote: {contract.quote_id}"),
        _text(f"买方 Buyer: {contract.buyer}"),
        _text("货品 Goods", HEADING),
        _lines(contract),
        Spacer(1, 3 * mm),
        _text("条款 Terms", HEADING),
        _text(f"交货日期 Delivery date: {contract.delivery_date.isoformat()}", BODY),
        _text(f"付款条件 Payment terms: {TERMS[contract.payment_terms]} · 到期 Due: {due}", BODY),
        _text(f"售后条款 After-sales terms: {contract.aftersales_terms or '—'}", BODY),
    ]
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        title=f"Contract {contract.contract_no}",
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=18 * mm,
    )
    document.build(story)
    return out.getvalue()
