"""The reports' texts, marked for the message catalogs (`make messages`) and translated when a
report is made in a language (zh_CN or en)."""

from __future__ import annotations

from shopflow.analytics.reports.report import Kind
from shopflow.core.console.i18n import label

KINDS = {
    Kind.DAILY: label("report", "Daily report"),
    Kind.WEEKLY: label("report", "Weekly report"),
    Kind.MONTHLY: label("report", "Monthly report"),
}
METRICS = {
    "orders": label("metric", "Orders"),
    "sales": label("metric", "Sales"),
    "net_sales": label("metric", "Net sales"),
    "average_order_value": label("metric", "Average order value"),
    "repurchase_rate": label("metric", "Repurchase rate"),
    "repurchase_cycle_days": label("metric", "Repurchase cycle (days)"),
    "refund_rate": label("metric", "Refund rate"),
    "complaint_rate": label("metric", "Complaint rate"),
    "complaint_resolution_rate": label("metric", "Complaint resolution rate"),
    "resolution_24h_rate": label("metric", "Complaints resolved within 24 h"),
    "on_time_shipment_rate": label("metric", "On-time shipment rate"),
    "on_time_delivery_rate": label("metric", "On-time delivery rate"),
    "gross_margin": label("metric", "Gross margin"),
    "inventory_turnover": label("metric", "Inventory turnover"),
    "traffic_conversion": label("metric", "Traffic conversion"),
    "order_conversion": label("metric", "Order conversion"),
}
SLA_COMPLIANCE = label("metric", "SLA compliance: %(kind)s")
PIPELINES = {
    "orders": label("report", "Orders"),
    "cases": label("report", "After-sales cases"),
    "tickets": label("report", "Tickets"),
}
# Sheet names (XLSX), section titles (CSV, HTML).
SUMMARY = label("report", "Summary")
TREND = label("report", "Trend")
CATEGORIES = label("report", "Categories")
SKUS = label("report", "SKUs")
PIPELINE = label("report", "Pipeline")
# Column headings.
METRIC = label("report", "Metric")
VALUE = label("report", "Value")
PREVIOUS = label("report", "Previous period")
CHANGE = label("report", "Change")
PERIOD = label("report", "Period")
CATEGORY = label("report", "Category")
UNCATEGORISED = label("report", "(no category)")
SKU = label("report", "SKU")
NAME = label("report", "Name")
QUANTITY = label("report", "Units")
STATE = label("report", "State")
COUNT = label("report", "Count")
LATE = label("report", "Past a clock")
# The header lines.
RANGE = label("report", "%(first)s to %(last)s")
COMPARED = label("report", "Compared with %(first)s to %(last)s")
CHANNEL = label("report", "Channel: %(channel)s")
ALL_CHANNELS = label("report", "All channels")
MADE = label("report", "Made %(at)s")
NOT_AVAILABLE = label("report", "n/a")
POINTS = label("report", "pp")  # percentage points: a rate's change
DEFINITIONS = label("report", "Every figure is defined in docs/metrics.md (the metric dictionary).")
ATTACHED = label("report", "The full report, with its trend, categories, SKUs and pipeline, is attached.")
SALES_TREND = label("report", "Sales by period")
ORDERS_TREND = label("report", "Orders by period")
TOP_CATEGORIES = label("report", "Top categories by sales")
MAIL_SUBJECT = label("report", "[%(store)s] %(title)s")
