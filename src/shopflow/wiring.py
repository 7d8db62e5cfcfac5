"""How a later domain is told to an earlier one that cannot import it (ARCHITECTURE rule 1): the
earlier domain keeps a registry (`when_settled`, `aftersales_from`, `follow`, `customers_from`,
`related_from`, `when_completed`, intake's and payments' `risk_from`) and `connect` fills every
one. Whatever runs use cases calls it first: the app, the demo, the CLI's imports, the benchmarks
and tests that place orders without the app."""

from shopflow.aftersales import service as aftersales
from shopflow.crm import service as customers
from shopflow.fulfillment.service import tracking
from shopflow.orders.service import intake, lifecycle
from shopflow.orders.service import queries as order_queries
from shopflow.payments import refunds
from shopflow.payments import service as payments
from shopflow.risk.service import scoring as risk


def connect() -> None:
    """Register every later domain with the earlier ones (each registration is idempotent)."""
    refunds.when_settled(aftersales.settled_by_ledger)  # a case's refund settles its case (PAY-3)
    order_queries.aftersales_from(aftersales.order_aftersales)  # the order shows its cases (issue 11)
    tracking.follow(aftersales.RETURNS)  # carriers' events of return shipments (ASV-3, FUL-5)
    intake.customers_from(customers.for_order)  # the order's customer, found or created (CRM-1)
    intake.risk_from(risk.score_order)  # the new order scored, held for review when risky (RSK-1)
    payments.risk_from(risk.score_payment)  # the paid order scored with its failed payments (RSK-1)
    lifecycle.when_completed(customers.order_completed)  # the member's tier reviewed (LOY-2)
    customers.related_from("aftersales", aftersales.cases_of_customer)  # a profile lists its cases
