"""The policy document (POL-1): every number of PROCESS_SPEC as data, overridable by TOML.

Defaults are the manuals' values; (†) marks values the spec chose where a manual left a blank.
Unknown keys and bad values are errors naming the key, e.g. ``orders.unpaid_cancel_minutes``.
"""

from __future__ import annotations

import tomllib
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, ValidationError

from shopflow.core.calendar import Calendar
from shopflow.core.errors import FieldError, Invalid, pydantic_message
from shopflow.core.loyalty_policy import Loyalty
from shopflow.core.money import AmountText
from shopflow.core.risk_policy import Risk
from shopflow.core.roles import USER_OWNER, Role
from shopflow.core.sections import Percent, Positive, Section


class Shortage(StrEnum):
    HOLD = "hold"
    REJECT = "reject"


class BandFloors(Section):
    """Per price band (CAT-1); a section, so overriding one band keeps the others' defaults."""

    traffic: Percent = 60.0
    profit: Percent = 80.0
    image: Percent = 90.0


# CAT-4: words a listing must not use (the advertising law's absolutes), checked on product titles
# and descriptions; Latin words match whole, in any case.
DEFAULT_BANNED_WORDS = (
    "最",
    "第一",
    "唯一",
    "首个",
    "首选",
    "顶级",
    "极品",
    "国家级",
    "世界级",
    "独家",
    "绝无仅有",
    "史无前例",
    "万能",
    "best",
    "No.1",
    "number one",
    "world-class",
)
BannedWord = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class Catalog(Section):
    # CAT-2: lowest price as a percent of list price per band before a supervisor must approve.
    band_floor_percent: BandFloors = BandFloors()
    # CAT-4: the banned words of a listing; a product using one is not published until
    # edited, or published by a manager with a reason.
    banned_words: tuple[BannedWord, ...] = DEFAULT_BANNED_WORDS


# ORD-1: the channels every store has; a store adds its marketplaces (taobao, jd, douyin, ...).
BUILT_IN_CHANNELS = ("web", "manual", "exchange", "import")
# A channel as stored in orders.channel: a lower-case name of at most 40 characters.
Channel = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


def _with_built_in(added: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*BUILT_IN_CHANNELS, *added)))


class Orders(Section):
    unpaid_cancel_minutes: Positive = 30  # ORD-5 (†)
    ship_within_hours: Positive = 48  # ORD-6
    deliver_within_hours: Positive = 72  # ORD-6
    auto_receipt_days: Positive = 7  # ORD-7 (†)
    on_shortage: Shortage = Shortage.HOLD  # ORD-4
    page_size: Annotated[int, Field(gt=0, le=500)] = 50
    # ORD-1: the built-in channels and the store's own (`channels = ["taobao", "jd"]` adds two).
    channels: Annotated[tuple[Channel, ...], AfterValidator(_with_built_in)] = BUILT_IN_CHANNELS
    # ORD-2 (†): a line's quantity at most this (at most 2**31 - 1, what its INTEGER column holds).
    max_line_quantity: Annotated[int, Field(gt=0, le=2**31 - 1)] = 999
    max_order_value: Annotated[AmountText, Field(gt=0)] = 50_000_000  # ORD-2 (†): ¥500,000 of goods


class Allocation(StrEnum):
    PRIORITY = "priority"
    WHOLE_ORDER = "whole_order"
    NEAREST = "nearest"  # the warehouse nearest the destination province, else a split


class Inventory(Section):
    allocation: Allocation = Allocation.PRIORITY  # INV-3
    safety_stock: Annotated[int, Field(ge=0)] = 50  # INV-4
    partial_count_every_days: Positive = 7  # INV-6 weekly
    full_count_every_days: Positive = 30  # INV-6 monthly
    # INV-6: how long a SKU of each ABC class (by units sold over `abc_window_days`) may go
    # uncounted before the weekly partial count takes it: A weekly, B monthly, C quarterly.
    count_a_every_days: Positive = 7
    count_b_every_days: Positive = 30
    count_c_every_days: Positive = 90
    abc_window_days: Positive = 90
    abc_a_share: Annotated[float, Field(gt=0, lt=1)] = 0.8  # the SKUs making the first 80 % of units
    abc_b_share: Annotated[float, Field(gt=0, lt=1)] = 0.95  # the next 15 %; the rest are C
    # INV-6: a count line whose variance is above this many units, or this share of the
    # expected quantity, needs a manager's approval.
    count_manager_units: Annotated[int, Field(ge=0)] = 10
    count_manager_share: Annotated[float, Field(ge=0)] = 0.1
    # INV-7: transfer suggestions weigh each province's paid units over this many days.
    transfer_window_days: Positive = 30


class Planning(Section):
    """INV-4, INV-5, ANA-5: how replenishment is sized and forecasts are made (issue 18)."""

    review_period_days: Positive = 7  # INV-4 (†): stock is reviewed weekly; an order covers a week more
    handling_days: Positive = 2  # ORD-4 (†): a PO's goods ship this long after they arrive
    forecast_horizon_days: Annotated[int, Field(ge=7, le=366)] = 28  # ANA-5 (†): days forecast ahead
    history_days: Annotated[int, Field(ge=14, le=1830)] = 730  # ANA-5 (†): the history forecasts use
    backtest_weeks: Annotated[int, Field(ge=1, le=52)] = 8  # ANA-5: weeks the backtest judges
    abc_a_percent: Percent = 80.0  # the SKUs making this share of revenue are class A
    abc_b_percent: Percent = 95.0  # up to this share, class B; the rest C


class Payments(Section):
    methods: tuple[str, ...] = ("alipay", "wechat", "card", "card_instalment", "bank_transfer")
    # PAY-3 (†): a cancelled order's refund that failed at the gateway is tried again after this.
    refund_retry_seconds: Positive = 300
    # PAY-3 (†): a case's refund that failed is tried again this many times by the worker, under
    # its own key, waiting refund_retry_seconds, then twice that, …; after the last, an alert.
    refund_retry_attempts: Positive = 5
    # PAY-2 (†): a payment with Alipay or WeChat Pay still pending this long (its notification
    # missed) is asked about by the worker, and again after as long again while it stays pending.
    query_pending_after_seconds: Positive = 600


class Fulfillment(Section):
    carriers_min: Positive = 2  # FUL-3
    carriers_max: Positive = 3  # FUL-3
    shipping_fee: AmountText = 1000  # (†) flat fee below the free-shipping threshold
    free_shipping_threshold: AmountText = 9900  # (†) FUL-3
    stuck_without_event_hours: Positive = 48  # FUL-6 (†)
    exception_contact_hours: Positive = 12  # FUL-6
    wave_size: Annotated[int, Field(gt=0, le=5000)] = 200  # FUL-1 (†): orders taken into one wave build


class Aftersales(Section):
    no_reason_return_days: Positive = 7  # ASV-1
    quality_return_days: Positive = 15  # ASV-1 (†)
    review_hours: Positive = 24  # ASV-3
    refund_min_working_days: Positive = 3  # ASV-4
    refund_max_working_days: Positive = 5  # ASV-4
    replacement_ship_hours: Positive = 24  # ASV-6
    # ASV-4 (†): the return postage the store refunds when it bears it (quality, wrong, damaged).
    return_shipping_fee: AmountText = 1000
    # (†) The customer's page: a link sent before delivery works this many days from when it is
    # sent (the delivery promise and the longest return window, with room for a delay); once the
    # order is delivered every link ends with its after-sales window (ORD-7).
    customer_link_days: Positive = 30


class Assignment(StrEnum):
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"


TicketChannel = Literal["chat", "phone", "email", "review_site", "marketplace"]


class Holiday(Section):
    """A holiday the customers are greeted on (SVC-8): its date, its key and names."""

    on: date
    occasion: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,30}$")]
    zh: Annotated[str, Field(min_length=1, max_length=40)]
    en: Annotated[str, Field(min_length=1, max_length=40)]


class Service(Section):
    first_response_seconds: Positive = 30  # SVC-2: online (chat)
    phone_answer_rings: Positive = 3  # SVC-2 (†)
    # SVC-2: a ticket's first-response clock by the channel it came in through beside chat's
    # (above): (†) phone 18 s (3 rings of about 6 s), a marketplace's chat 60 s, email 4 hours, a
    # review site 1 hour (SVC-7). Overriding one channel keeps the others.
    first_response_seconds_by_channel: Annotated[
        dict[TicketChannel, Positive], AfterValidator(lambda given: DEFAULT_FIRST_RESPONSE | given)
    ] = Field(default_factory=lambda: dict(DEFAULT_FIRST_RESPONSE))
    resolution_hours: Positive = 24  # SVC-2
    survey_after_delivery_days: Positive = 3  # SVC-6
    satisfaction_within_days: Positive = 7  # SVC-6
    negative_review_response_hours: Positive = 1  # SVC-7
    conversation_retention_years: Positive = 3  # SVC-9
    # (†) A resolved or closed ticket may be reopened this many days after it was resolved.
    reopen_within_days: Positive = 7
    # SVC-3 (†): how a new ticket finds its agent among the on-duty customer-service staff.
    assignment: Assignment = Assignment.ROUND_ROBIN
    # SVC-3: ticket types that go to a supervisor at once (formal complaints).
    escalate_types: frozenset[Literal["inquiry", "complaint", "feedback", "negative_review"]] = frozenset(
        {"complaint"}
    )
    page_size: Annotated[int, Field(gt=0, le=500)] = 50
    # SVC-7 (†): a review rated at most this, or whose text holds one of these words, is negative
    # and opens a `negative_review` ticket.
    negative_rating_at_most: Annotated[int, Field(ge=0, le=5)] = 2
    # SVC-6 (†): a survey's 1-2 score opens a follow-up ticket; at most this score does.
    follow_up_score_at_most: Annotated[int, Field(ge=1, le=5)] = 2
    # SVC-5 (†): the call-back task after a resolution is due this many days later.
    callback_after_days: Positive = 3
    # SVC-8 (†): a customer who has ordered gets a periodic call-back task every this many days.
    callback_every_days: Positive = 90
    # SVC-8 (†): the holidays greeted, each date with its occasion's names; birthdays are greeted too.
    holidays: tuple[Holiday, ...] = (
        Holiday(on=date(2027, 1, 1), occasion="new_year", zh="元旦", en="New Year's Day"),
        Holiday(on=date(2027, 2, 6), occasion="spring_festival", zh="春节", en="Spring Festival"),
        Holiday(on=date(2027, 6, 9), occasion="dragon_boat", zh="端午节", en="Dragon Boat Festival"),
        Holiday(on=date(2027, 9, 15), occasion="mid_autumn", zh="中秋节", en="Mid-Autumn Festival"),
    )
    # SVC-8 (†): bought-together SKUs offered to the agent on a ticket's page.
    recommendations: Annotated[int, Field(ge=0, le=50)] = 5
    # (†) Rows a care or retention sweep handles per transaction.
    care_batch: Annotated[int, Field(gt=0, le=10_000)] = 500
    negative_keywords: tuple[Annotated[str, Field(min_length=1, max_length=40)], ...] = (
        "差评",
        "投诉",
        "假货",
        "骗",
        "破损",
        "退款",
        "fake",
        "broken",
        "scam",
        "refund",
    )


# Chat is `first_response_seconds`, unless this table names it.
DEFAULT_FIRST_RESPONSE: dict[TicketChannel, int] = {
    "phone": 18,
    "marketplace": 60,
    "email": 4 * 3600,
    "review_site": 3600,
}


class LeadSignal(StrEnum):
    """What a lead tells about itself that grading weighs (CRM-3)."""

    QUOTE_ASKED = "quote_asked"  # asked for a quotation
    QUANTITY = "quantity"  # units asked for (`at_least`)
    BUDGET = "budget"  # a budget stated (`amount_at_least`)
    NEED_TAGS = "need_tags"  # needs named (`at_least` of them)
    SOURCE = "source"  # came through one of `sources` (a call, a fair: someone took the trouble)


class GradingRule(Section):
    """One row of the grading table: a signal that, when present, adds `weight` to the lead's
    intent or buying-power score."""

    signal: LeadSignal
    kind: Literal["intent", "buying_power"]
    weight: Annotated[int, Field(ge=0, le=100)]
    at_least: Positive = 1  # quantity: units; need_tags: how many tags
    amount_at_least: AmountText = 1  # budget: the least budget that counts
    sources: tuple[str, ...] = ()  # source: which sources count


# CRM-3 (†): the seeds' signals of intent (a quote, a quantity, a stated need) and of buying power
# (a budget, a large quantity).
DEFAULT_GRADING_RULES: tuple[GradingRule, ...] = (
    GradingRule(signal=LeadSignal.QUOTE_ASKED, kind="intent", weight=40),
    GradingRule(signal=LeadSignal.NEED_TAGS, kind="intent", weight=20),
    GradingRule(signal=LeadSignal.QUANTITY, kind="intent", weight=10, at_least=10),
    GradingRule(signal=LeadSignal.BUDGET, kind="intent", weight=20),
    GradingRule(signal=LeadSignal.SOURCE, kind="intent", weight=10, sources=("phone", "fair", "chat")),
    GradingRule(signal=LeadSignal.QUANTITY, kind="buying_power", weight=30, at_least=100),
    GradingRule(signal=LeadSignal.BUDGET, kind="buying_power", weight=40, amount_at_least="10000.00"),  # type: ignore[arg-type],
)


Grade = Literal["A", "B", "C"]


class Crm(Section):
    grade_a_follow_up_hours: Positive = 24  # CRM-3
    grade_b_follow_up_days: Positive = 3  # CRM-3
    grade_c_follow_up_days: Positive = 7  # CRM-3
    first_contact_working_days: Positive = 1  # CRM-3 (†)
    # CRM-3 (†): A needs both scores at these; B needs intent at `b_intent_at_least`; else C.
    grading: tuple[GradingRule, ...] = DEFAULT_GRADING_RULES
    a_intent_at_least: Annotated[int, Field(ge=0)] = 50
    a_buying_power_at_least: Annotated[int, Field(ge=0)] = 30
    b_intent_at_least: Annotated[int, Field(ge=0)] = 30
    # CRM-4 (†): how a new lead of each grade finds its owner among the on-duty sales staff.
    assignment: dict[Grade, Assignment] = Field(
        default_factory=lambda: {
            "A": Assignment.LEAST_LOADED,
            "B": Assignment.ROUND_ROBIN,
            "C": Assignment.ROUND_ROBIN,
        }
    )
    # (†) The storefront's lead form (`POST /leads/intake`): requests per address and minute, per
    # server process; beyond, 429.
    intake_requests_per_minute: Positive = 10
    # CRM-5 (†): a repeater has at least this many counted (paid) orders up to the period's end;
    # a funnel spans at most `funnel_max_days` store days.
    repeat_orders_at_least: Annotated[int, Field(ge=2)] = 2
    funnel_max_days: Annotated[int, Field(gt=0, le=3660)] = 366
    # CRM-6 (†): a quote is valid this many days after it is approved; a sent or approved quote
    # past it expires (the worker's `quotes.expiry` sweep).
    quote_valid_days: Positive = 15
    # CRM-6, ORD-5: an order on credit terms is due this many days after its contract.
    net30_days: Positive = 30
    net60_days: Positive = 60


class Staff(Section):
    response_timeout_rate_percent: Percent = 5.0  # STF-3
    performance_deduction_percent: Percent = 10.0  # STF-3


class Security(Section):
    # STF-1 (†): console passwords shorter than this are refused; a store may ask for more, not less.
    password_min_length: Annotated[int, Field(ge=8)] = 8
    # RSK-3: requests to list endpoints a token may make per minute (per server process); beyond, 429.
    list_requests_per_minute: Positive = 120
    # (†) Requests to the customer's page (`/my/orders/…`) per address and minute, per server
    # process; beyond, 429.
    customer_page_requests_per_minute: Positive = 60
    # (†) Console sign-in: after this many failed attempts within the window, an account (or an
    # address, for every account tried from it) is refused, even with the right password, until
    # the oldest failure leaves the window.
    login_failures_per_account: Positive = 5
    login_failures_per_address: Positive = 20
    login_failure_window_minutes: Positive = 15
    # (†) A console session ends after this long without a request (or at sign-out, or when its
    # user is disabled).
    console_session_hours: Positive = 12


class Authority(Section):
    """What one member of a role may grant on their own (issue 10): a discount up to this percent
    of the price, compensation up to this amount; `None` is no limit."""

    discount_percent: Percent = 0.0
    compensation_amount: AmountText | None = 0


# (†) By role; a role not named may grant nothing. An admin has no limit unless the store sets one.
DEFAULT_AUTHORITY: dict[str, Authority] = {
    role: Authority(discount_percent=percent, compensation_amount=amount)
    for role, percent, amount in (
        (Role.SALES, 5.0, "0.00"),
        (Role.CUSTOMER_SERVICE, 0.0, "500.00"),  # ASV-5: an agent grants up to 500 yuan
        (Role.CS_SUPERVISOR, 10.0, "5000.00"),
        (Role.MANAGER, 30.0, "20000.00"),
        (Role.ADMIN, 100.0, None),
    )
}
NO_AUTHORITY = Authority()


def _role(name: str) -> str:
    if name not in Role.__members__.values():
        raise ValueError(f"{name!r} is not a role ({', '.join(Role)})")
    return name


def _over_default_authority(limits: dict[str, Authority]) -> dict[str, Authority]:
    return DEFAULT_AUTHORITY | limits


class Sla(Section):
    breach_detection_seconds: Positive = 60  # SLA-2 (†)
    # SLA-1 (issue 14): the clock kinds that run in business time (`calendar.hours`, holidays and
    # make-up days) when started with `sla.start_for`; every kind not named runs in calendar time.
    # A key may be a kind's dotted prefix ("ticket": every ticket clock) or finer than a kind
    # ("ticket.first_response.email": a ticket's first response by channel); the longest wins.
    basis: dict[Annotated[str, Field(min_length=1, max_length=40)], Literal["calendar", "business"]] = Field(
        default_factory=dict
    )

    def in_business_time(self, kind: str) -> bool:
        """Whether clocks of `kind` run in business time: the longest key of `basis` that is the
        kind or a dotted prefix of it decides ("ticket.first_response.email", then
        "ticket.first_response", then "ticket"); calendar time when none is named."""
        parts = kind.split(".")
        for end in range(len(parts), 0, -1):
            found = self.basis.get(".".join(parts[:end]))
            if found is not None:
                return found == "business"
        return False


class Notify(Section):
    language: Literal["zh_CN", "en"] = "zh_CN"  # NTF-1: the language of customer notices
    customer_channels: frozenset[Literal["email", "sms"]] = frozenset({"email", "sms"})  # ORD-8
    max_attempts: Positive = 6  # NTF-1 (†): a delivery is dead after this many failed attempts
    backoff_seconds: Positive = 30  # NTF-1 (†): the first retry's delay, doubled after each failure
    store_name: str = Field(default="Shopflow", min_length=1, max_length=40)  # signs every notice
    # NTF-1 (†), issue 10: a worker's claim on a delivery; after it another worker sends again
    # (same idempotency id). Longer than any send (SHOPFLOW_SMTP_TIMEOUT, SHOPFLOW_WEBHOOK_TIMEOUT).
    lease_seconds: Positive = 120
    # NTF-1 (†): a delivery whose worker died mid-send this many times in a row is dead (it may be
    # what kills the worker); a person requeues it.
    max_interruptions: Positive = 3


class Audit(Section):
    # AUD-1: kept this long, then purged by the worker (`service.retention`); never less than the
    # spec's 3 years (the database refuses to delete younger rows).
    retention_years: Annotated[int, Field(ge=3)] = 3


def _report_recipient(name: str) -> str:
    """An email address, a role (its on-duty members with an address) or "user:<username>"."""
    if "@" in name:
        local, _, domain = name.partition("@")
        if not local or "." not in domain or any(c.isspace() for c in name):
            raise ValueError(f"{name!r} is not an email address")
        return name
    return _owner(name)


class Analytics(Section):
    # ANA-1: the metric set is computed per day, week or month over at most this many store days
    # (all-time figures, without a range, have no limit).
    metrics_max_days: Annotated[int, Field(gt=0, le=36600)] = 3660
    # ANA-1: `resolution_24h_rate` counts the complaints resolved within this many hours.
    resolution_within_hours: Positive = 24
    # ANA-1 at size: the worker keeps the metric set of each whole store day, ISO week and month
    # of the last `rollup_days`, `rollup_weeks`, `rollup_months` (all channels), computed anew once
    # older than half `rollup_max_age_minutes`; a request reads a period's rollup while it is
    # younger than that, else computes the period. A change to an earlier period (a late refund, a
    # complaint) shows within that age. 0 (days, weeks, months or age): none kept, or never read.
    rollup_days: Annotated[int, Field(ge=0, le=366)] = 62
    rollup_weeks: Annotated[int, Field(ge=0, le=106)] = 27
    rollup_months: Annotated[int, Field(ge=0, le=120)] = 24
    rollup_max_age_minutes: Annotated[int, Field(ge=0, le=1440)] = 60
    # ANA-4 (†): the reports the worker emails (XLSX attached) once their period has ended, at
    # this hour of the store's next day, to each recipient: an email address, a role (its on-duty
    # members with an address) or "user:<username>".
    report_kinds: frozenset[Literal["daily", "weekly", "monthly"]] = frozenset({"weekly", "monthly"})
    report_hour: Annotated[int, Field(ge=0, le=23)] = 8
    report_recipients: tuple[Annotated[str, AfterValidator(_report_recipient)], ...] = ("finance", "manager")


# ANA-3: who owns each kind of alert. Keys are alert kinds or their dotted prefixes, the longest
# matching one wins ("sla.breach.order.ship", then "sla.breach.order", "sla.breach", "sla").
DEFAULT_ALERT_OWNERS: dict[str, str] = {
    "sla.breach.order": "operations",  # an order's pay, ship, deliver clocks (ORD-5, ORD-6)
    "sla.breach.shipment": "operations",  # a parcel without tracking events (FUL-6)
    "sla.breach.shipment.exception_contact": "cs_supervisor",  # the customer not contacted in time (FUL-6)
    "logistics_exception": "operations",  # FUL-6
    "low_stock": "purchasing",  # INV-4
    "sla.breach.aftersales": "cs_supervisor",  # a case's review and refund clocks (SLA-1, ASV-3, ASV-4)
    "payment_amount_mismatch": "finance",  # PAY-2
    "payment_for_unpayable_order": "finance",
    # PAY-3: the refund ledger
    "refund_amount_mismatch": "finance",
    "refund_beyond_captured": "finance",
    "refund_failed": "finance",  # a case's refund still failing after the worker's last retry
    "notification_failed": "admin",  # NTF-1
    # CRM-3: a lead's clocks alert its owner and their manager by name; this owns them when the
    # lead has no owner yet.
    "sla.breach.lead": "manager",
    # SVC-3: a ticket's clocks and its escalations go to the customer-service supervisors.
    "sla.breach.ticket": "cs_supervisor",
    "ticket": "cs_supervisor",
    "review.negative": "cs_supervisor",  # ANA-3, SVC-7
    # CAT-2: a change waiting for a supervisor's approval (a quote's discount, a price).
    "approval": "manager",
}


def _owner(name: str) -> str:
    """A role ("operations") or one user ("user:alice")."""
    if name.startswith(USER_OWNER) and len(name) > len(USER_OWNER):
        return name
    if name not in Role.__members__.values():
        raise ValueError(f"{name!r} is neither a role ({', '.join(Role)}) nor 'user:<username>'")
    return name


def _over_default_owners(owners: dict[str, str]) -> dict[str, str]:
    return DEFAULT_ALERT_OWNERS | owners


Owner = Annotated[str, AfterValidator(_owner)]


class Alerts(Section):
    # Kinds no key matches belong to this owner.
    default_owner: Owner = "admin"
    # Overrides by kind or kind prefix; the keys not named keep their defaults.
    owners: Annotated[dict[str, Owner], AfterValidator(_over_default_owners)] = DEFAULT_ALERT_OWNERS
    # ANA-3: each alert is also emailed, once, to its owner: the user it names, or every active,
    # on-duty member of its role who has an email address.
    email_owners: bool = True

    def owner_of(self, kind: str) -> str:
        """The owner of an alert kind: the longest dotted prefix the table names, else the default."""
        parts = kind.split(".")
        for end in range(len(parts), 0, -1):
            found = self.owners.get(".".join(parts[:end]))
            if found is not None:
                return found
        return self.default_owner


class Policy(Section):
    calendar: Calendar = Calendar()
    catalog: Catalog = Catalog()
    orders: Orders = Orders()
    inventory: Inventory = Inventory()
    planning: Planning = Planning()
    payments: Payments = Payments()
    fulfillment: Fulfillment = Fulfillment()
    aftersales: Aftersales = Aftersales()
    service: Service = Service()
    crm: Crm = Crm()
    loyalty: Loyalty = Loyalty()
    risk: Risk = Risk()
    staff: Staff = Staff()
    security: Security = Security()
    sla: Sla = Sla()
    notify: Notify = Notify()
    audit: Audit = Audit()
    analytics: Analytics = Analytics()
    alerts: Alerts = Alerts()
    # `[authority.<role>]`: the keys not named keep their defaults (DEFAULT_AUTHORITY).
    authority: Annotated[
        dict[Annotated[str, AfterValidator(_role)], Authority], AfterValidator(_over_default_authority)
    ] = DEFAULT_AUTHORITY


class PolicyError(Invalid):
    code = "invalid_policy"


def _key(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def validate(document: dict[str, Any]) -> Policy:
    """Build a Policy from an override document; every bad key is named in the error."""
    try:
        return Policy.model_validate(document)
    except ValidationError as exc:
        errors = [
            FieldError(
                _key(err["loc"]),
                "unknown key" if err["type"] == "extra_forbidden" else pydantic_message(err),
            )
            for err in exc.errors()
        ]
        listing = "; ".join(f"{e.field}: {e.message}" for e in errors)
        raise PolicyError(f"invalid policy: {listing}", errors=errors) from None


def load(path: Path | None) -> Policy:
    if path is None:
        return Policy()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"policy file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {path} is not valid TOML: {exc}") from None
    return validate(document)


_current = Policy()


def current() -> Policy:
    return _current


def authority(role: str) -> Authority:
    """The limits of what a member of `role` may grant on their own in the effective policy."""
    return _current.authority.get(role, NO_AUTHORITY)


def install(policy: Policy) -> None:
    """Make `policy` the effective policy of this process (at start, or in a test)."""
    global _current
    _current = policy
