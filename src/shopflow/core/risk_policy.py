"""The policy's risk section (RSK-1, RSK-2): the defaults of the risk rules, their thresholds, the
address lists, the review clock and the blocklists' expiry and exemption. The rules' database rows
(`risk.models.RiskRule`) override these defaults; a store with no rows scores by these."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from shopflow.core.money import AmountText
from shopflow.core.sections import Positive, Section

Weight = Annotated[int, Field(ge=0, le=1000)]
Quantile = Annotated[float, Field(gt=0, lt=1)]  # a share of the store's orders, e.g. 0.99


class Risk(Section):
    # RSK-1: every new order is scored at intake; false only where orders are screened elsewhere
    # (or to measure scoring's cost: `bench/order_intake.py --risk`).
    scoring: bool = True
    review_response_hours: Positive = 2  # RSK-2: the customer hears back within 2 hours
    # RSK-1: a total score at `review` or more holds the order for review; at `reject` or more it is
    # held and marked for cancellation review. Cancelled without a person only when
    # `auto_cancel_rejected` says so.
    review_score: Weight = 50
    reject_score: Weight = 100
    auto_cancel_rejected: bool = False
    # Many orders from one IP or device (default: more than 5 in 10 minutes holds on its own).
    velocity_weight: Weight = 60
    velocity_limit: Positive = 5
    velocity_window_minutes: Positive = 10
    # The same customer, items and address again within minutes.
    duplicate_weight: Weight = 40
    duplicate_window_minutes: Positive = 30
    # Words in the address (sensitive words, remote areas), matched after normalisation.
    sensitive_words_weight: Weight = 30
    sensitive_words: tuple[str, ...] = ("代收", "代收点", "转寄", "转运", "寄存")
    remote_area_weight: Weight = 20
    remote_areas: tuple[str, ...] = ("西藏", "新疆", "青海", "阿里地区", "那曲")
    # The order's name differs from the customer profile of its phone.
    name_mismatch_weight: Weight = 20
    # A customer's first order worth more than the store's usual: more than this share of its
    # orders of the last days, once it has enough orders to say; until then more than `over`.
    first_order_weight: Weight = 30
    first_order_over: AmountText = 300_000  # fen: ¥3,000
    first_order_quantile: Quantile = 0.99
    first_order_days: Positive = 90
    first_order_min_orders: Positive = 200
    # A phone, address, IP or device on the blocklist.
    blocked_weight: Weight = 100
    # Failed payments of one order (scored at payment, added to its intake score): enough alone.
    failed_payments_weight: Weight = 50
    failed_payments_limit: Positive = 3
    # Blocklist entries expire after this many days unless given another expiry; a customer with at
    # least this many completed orders is exempt from the blocklist and velocity rules.
    block_days: Positive = 180
    exempt_after_completed_orders: Positive = 5

    @model_validator(mode="after")
    def _thresholds_rise(self) -> Risk:
        if not 0 < self.review_score <= self.reject_score:
            raise ValueError("review_score must be above 0 and at most reject_score")
        return self
