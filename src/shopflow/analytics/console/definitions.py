"""The metric dictionary's definitions as the console shows them (ANA-1): each metric's name
(the reports' own, `reports.labels.METRICS`), formula, which orders count, which date, gross or
net, and when it is n/a, in the reader's language. `docs/metrics.md` is the long form; the
formulas here say the same thing in short, and every metric `metrics.compute` gives has an entry
(the `sla_compliance.<kind>` family one)."""

from __future__ import annotations

from dataclasses import dataclass

from shopflow.analytics.reports.labels import METRICS
from shopflow.core.console.i18n import N_, Label, label

SLA_FAMILY = "sla_compliance"


@dataclass(frozen=True, slots=True)
class Definition:
    name: Label
    formula: str  # msgids (N_), translated when shown
    counts: str
    dated: str
    basis: str
    edge: str


# Which orders count, and on which day: the common rules most metrics share.
COUNTED = N_(
    "Counted orders: paid (on credit terms: confirmed). Unpaid orders, orders cancelled before "
    "payment and replacement orders (exchanges) never count; an order cancelled after payment "
    "still counts."
)
COUNT_DAY = N_(
    "The store-local day of the order's count time: its first captured payment, or its "
    "confirmation on credit terms."
)
NOT_MONEY = N_("Not an amount.")
CUSTOMERS = N_(
    "Customers of the period's counted orders (a guest is a customer by phone); orders without a "
    "customer are left out."
)
COMPLAINTS = N_("Complaint tickets about the period's counted orders.")
CLOCKS = N_("Clocks, not orders: every clock of the kind due in the period (any channel).")
CLOCK_DAY = N_("The clock's deadline.")
TRAFFIC = N_("The daily traffic counts (visitors, inquiries) of the period and channel.")
TRAFFIC_DAY = N_("The day the traffic was counted.")

DEFINITIONS: dict[str, Definition] = {
    "orders": Definition(
        METRICS["orders"],
        N_("Number of counted orders in the period."),
        COUNTED,
        COUNT_DAY,
        NOT_MONEY,
        N_("Never n/a: 0 when nothing counted."),
    ),
    "sales": Definition(
        METRICS["sales"],
        N_("Σ captured payment amounts of the period's counted orders."),
        COUNTED,
        COUNT_DAY,
        N_("Gross: refunds are not subtracted."),
        N_("Never n/a. Credit orders add only what was captured so far."),
    ),
    "net_sales": Definition(
        METRICS["net_sales"],
        N_("Sales − Σ refunds settled in the period."),
        COUNTED,
        N_(
            "Sales on the order's count day; a refund on the day it settled, whichever period "
            "its order counted in."
        ),
        N_("Net of refunds; requested or pending refunds are not subtracted."),
        N_("Never n/a; may be negative when refunds exceed the period's sales."),
    ),
    "average_order_value": Definition(
        METRICS["average_order_value"],
        N_("Sales / orders."),
        COUNTED,
        COUNT_DAY,
        N_("Gross (sales before refunds)."),
        N_("n/a when no order counted."),
    ),
    "repurchase_rate": Definition(
        METRICS["repurchase_rate"],
        N_(
            "Customers of the period with ≥ 2 counted orders (any channel) up to the period's end "
            "÷ customers with a counted order in the period."
        ),
        CUSTOMERS,
        COUNT_DAY,
        NOT_MONEY,
        N_("n/a when no customer bought."),
    ),
    "repurchase_cycle_days": Definition(
        METRICS["repurchase_cycle_days"],
        N_(
            "Mean days between consecutive counted orders of a customer, over the gaps whose later "
            "order counts in the period."
        ),
        CUSTOMERS,
        N_("The count day of the later order of each gap."),
        NOT_MONEY,
        N_("n/a when no customer's second order counts in the period."),
    ),
    "refund_rate": Definition(
        METRICS["refund_rate"],
        N_("Counted orders with a settled refund / orders."),
        COUNTED,
        COUNT_DAY,
        N_("Any settled refund, partial or full."),
        N_("n/a when no order counted."),
    ),
    "complaint_rate": Definition(
        METRICS["complaint_rate"],
        N_("Counted orders with a complaint ticket / orders."),
        COUNTED,
        COUNT_DAY,
        NOT_MONEY,
        N_("n/a when no order counted."),
    ),
    "complaint_resolution_rate": Definition(
        METRICS["complaint_resolution_rate"],
        N_("Complaint tickets resolved / complaint tickets."),
        COMPLAINTS,
        COUNT_DAY,
        NOT_MONEY,
        N_("n/a when there is no complaint."),
    ),
    "resolution_24h_rate": Definition(
        METRICS["resolution_24h_rate"],
        N_("Complaint tickets resolved within 24 hours of being opened / complaint tickets."),
        COMPLAINTS,
        COUNT_DAY,
        N_("The hours are the policy's analytics.resolution_within_hours (24)."),
        N_("n/a when there is no complaint."),
    ),
    "on_time_shipment_rate": Definition(
        METRICS["on_time_shipment_rate"],
        N_("Ship clocks met by their deadline / decided ship clocks (met or breached)."),
        CLOCKS,
        CLOCK_DAY,
        N_("A running clock past its deadline counts as breached; cancelled ones are left out."),
        N_("n/a when no clock was decided."),
    ),
    "on_time_delivery_rate": Definition(
        METRICS["on_time_delivery_rate"],
        N_("Delivery clocks met by their deadline / decided delivery clocks (met or breached)."),
        CLOCKS,
        CLOCK_DAY,
        N_("A running clock past its deadline counts as breached; cancelled ones are left out."),
        N_("n/a when no clock was decided."),
    ),
    "gross_margin": Definition(
        METRICS["gross_margin"],
        N_("(Net sales − cost of goods sold) / net sales; COGS = Σ line cost at sale × quantity."),
        COUNTED,
        COUNT_DAY,
        N_("On net sales; the cost of refunded goods stays in COGS."),
        N_("n/a when net sales are 0."),
    ),
    "inventory_turnover": Definition(
        METRICS["inventory_turnover"],
        N_("Cost of goods sold / mean daily inventory value (Σ closing stock × current cost)."),
        COUNTED,
        N_("COGS on the count day; stock at the close of each store day of the period up to today."),
        N_("Stock is valued at each SKU's current cost; not per channel."),
        N_("n/a when no day has closed yet or there is no stock."),
    ),
    "traffic_conversion": Definition(
        METRICS["traffic_conversion"],
        N_("Inquiries / visitors."),
        TRAFFIC,
        TRAFFIC_DAY,
        NOT_MONEY,
        N_("n/a when no visitor was counted."),
    ),
    "order_conversion": Definition(
        METRICS["order_conversion"],
        N_("Buyers (customers with a counted order in the period) / inquiries."),
        CUSTOMERS,
        N_("Buyers on the count day; inquiries on the day they were counted."),
        NOT_MONEY,
        N_("n/a when no inquiry was counted."),
    ),
    SLA_FAMILY: Definition(
        label("metric", "SLA compliance"),
        N_("Per clock kind: clocks met / decided clocks (met or breached), as GET /sla/compliance."),
        CLOCKS,
        CLOCK_DAY,
        N_("One figure per clock kind with a clock due in the period."),
        N_("n/a when no clock of the kind was decided."),
    ),
}


def anchor(metric: str) -> str:
    """The definitions page's anchor of a metric: its name, or its family's
    (`sla_compliance.order.pay` → `sla_compliance`)."""
    family, _, _ = metric.partition(".")
    return SLA_FAMILY if family == SLA_FAMILY else metric
