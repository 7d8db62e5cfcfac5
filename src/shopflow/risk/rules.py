"""The risk rules (RSK-1): each a small pure function of an order's signals, its parameters and
its weight, returning a `Hit` (score and a reason sentence). A signal the order does not have
(no IP, no device, no customer profile) scores 0: a missing signal is never a risk.

The rules' defaults come from the policy (`default_rules`); their database rows override them
(`risk.models.RiskRule`). `assess` totals a set of rules into a decision."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from shopflow.core import money
from shopflow.core.risk_policy import Risk
from shopflow.risk.models import Decision, RuleMode

THRESHOLDS = "thresholds"  # the code of the rows holding `review` and `reject`


@dataclass(frozen=True, slots=True)
class Signals:
    """What is known of an order when it is scored. None: the signal is missing (scores 0)."""

    total: int = 0  # fen
    ip_orders: int | None = None  # orders from its IP in the rule's window, this one included
    device_orders: int | None = None  # … from its device
    duplicates: int | None = None  # earlier orders of the same customer, items and address
    address: str | None = None  # normalised (`normalised_address`)
    order_name: str | None = None
    profile_name: str | None = None  # the name on the customer profile of the order's phone
    first_order: bool | None = None  # None: no customer profile
    usual_most: int | None = None  # fen: the store's `quantile` of order totals; None: too few orders
    blocked: tuple[str, ...] = ()  # the kinds of the order's values found on the blocklist
    exempt: bool = False  # a customer with enough completed orders (policy)
    failed_payments: int | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    score: int
    reason: str = ""


NO_HIT = Hit(0)
Rule = Callable[[Signals, Mapping[str, Any], int], Hit]


def velocity_ip(signals: Signals, params: Mapping[str, Any], weight: int) -> Hit:
    return _velocity(signals.ip_orders, "IP address", signals.exempt, params, weight)


def velocity_device(signals: Signals, params: Mapping[str, Any], weight: int) -> Hit:
    return _velocity(signals.device_orders, "device", signals.exempt, params, weight)


def _velocity(count: int | None, what: str, exempt: bool, params: Mapping[str, Any], weight: int) -> Hit:
    limit, minutes = int(params["limit"]), int(params["window_minutes"])
    if count is None or exempt or count <= limit:
        return NO_HIT
    return Hit(weight, f"{count} orders from one {what} in {minutes} minutes (more than {limit})")


def duplicate(signals: Signals, params: Mapping[str, Any], weight: int) -> Hit:
    if not signals.duplicates:
        return NO_HIT
    minutes = int(params["window_minutes"])
    return Hit(
        weight,
        f"the same customer ordered the same items to the same address {signals.duplicates} "
        f"time(s) in the last {minutes} minutes",
    )


def sensitive_words(signals: Signals, params: Mapping[str, Any], weight: int) -> Hit:
    found = _found(signals.address, params["words"])
    return Hit(weight, f"the address contains {', '.join(found)}") if found else NO_HIT


def remote_area(signals: Signals, params: Mapping[str, Any], weight: int) -> Hit:
    found = _found(signals.address, params["areas"])
    return Hit(weight, f"the address is in a remote area ({', '.join(found)})") if found else NO_HIT


def _found(address: str | None, words: Iterable[str]) -> list[str]:
    if not address:
        return []
    return [word for word in words if word and _normalised_word(word) in address]


@lru_cache(maxsize=1024)
def _normalised_word(word: str) -> str:
    """A listed word as addresses are compared (`normalised`), worked out once per word."""
    return normalised(word)


def name_mismatch(signals: Signals, params: Mapping[str, Any], weight: int) -> Hit:
    order, profile = signals.order_name, signals.profile_name
    if not order or not profile or normalised(order) == normalised(profile):
        return NO_HIT
    return Hit(weight, "the order's name differs from the customer profile of its phone")


def first_order_value(signals: Signals, params: Mapping[str, Any], weight: int) -> Hit:
    """Against the store's distribution (`usual_most`) when it has enough orders, else `over`."""
    usual = signals.usual_most
    over = money.parse(str(params["over"])) if usual is None else usual
    if not signals.first_order or signals.total <= over:
        return NO_HIT
    if usual is None:
        return Hit(weight, f"a first order worth {money.fmt(signals.total)} (more than {money.fmt(over)})")
    share = f"{float(params['quantile']):.0%}"
    return Hit(
        weight,
        f"a first order worth {money.fmt(signals.total)}, more than {share} of the store's orders"
        f" ({money.fmt(over)})",
    )


def blocked(signals: Signals, params: Mapping[str, Any], weight: int) -> Hit:
    if not signals.blocked or signals.exempt:
        return NO_HIT
    return Hit(weight, f"its {', '.join(signals.blocked)} is on the blocklist")


def failed_payments(signals: Signals, params: Mapping[str, Any], weight: int) -> Hit:
    limit = int(params["limit"])
    if signals.failed_payments is None or signals.failed_payments < limit:
        return NO_HIT
    return Hit(weight, f"{signals.failed_payments} failed payments (the limit is {limit})")


RULES: dict[str, Rule] = {
    "velocity_ip": velocity_ip,
    "velocity_device": velocity_device,
    "duplicate": duplicate,
    "sensitive_words": sensitive_words,
    "remote_area": remote_area,
    "name_mismatch": name_mismatch,
    "first_order_value": first_order_value,
    "blocked": blocked,
    "failed_payments": failed_payments,
}
# Scored at payment, not at intake (RSK-1); the others at intake only.
PAYMENT_RULES = frozenset({"failed_payments"})
INTAKE_RULES = frozenset(RULES) - PAYMENT_RULES


@dataclass(frozen=True, slots=True)
class RuleSetting:
    """A rule as it is in force: its weight, mode and parameters, and its version (0: policy)."""

    code: str
    weight: int
    mode: RuleMode
    params: Mapping[str, Any]
    version: int = 0


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: Sequence[RuleSetting]
    review: int
    reject: int
    version: int = 0  # the latest rule row in force (0: the policy's defaults alone)
    thresholds_version: int = 0

    def rule(self, code: str) -> RuleSetting:
        return next(r for r in self.rules if r.code == code)


def default_rules(risk: Risk) -> RuleSet:
    """The rules as the policy sets them (RSK-1), every one active, at version 0."""
    velocity = {"limit": risk.velocity_limit, "window_minutes": risk.velocity_window_minutes}
    defaults: list[tuple[str, int, dict[str, Any]]] = [
        ("velocity_ip", risk.velocity_weight, velocity),
        ("velocity_device", risk.velocity_weight, velocity),
        ("duplicate", risk.duplicate_weight, {"window_minutes": risk.duplicate_window_minutes}),
        ("sensitive_words", risk.sensitive_words_weight, {"words": list(risk.sensitive_words)}),
        ("remote_area", risk.remote_area_weight, {"areas": list(risk.remote_areas)}),
        ("name_mismatch", risk.name_mismatch_weight, {}),
        (
            "first_order_value",
            risk.first_order_weight,
            {
                "over": money.fmt(risk.first_order_over),
                "quantile": risk.first_order_quantile,
                "days": risk.first_order_days,
                "min_orders": risk.first_order_min_orders,
            },
        ),
        ("blocked", risk.blocked_weight, {}),
        ("failed_payments", risk.failed_payments_weight, {"limit": risk.failed_payments_limit}),
    ]
    rules = [RuleSetting(code, weight, RuleMode.ACTIVE, params) for code, weight, params in defaults]
    return RuleSet(rules, risk.review_score, risk.reject_score)


def decide(score: int, review: int, reject: int) -> Decision:
    """Below `review`: pass; from `review`: held for review; from `reject`: held to be cancelled."""
    if score >= reject:
        return Decision.REJECT
    return Decision.REVIEW if score >= review else Decision.PASS


@dataclass(frozen=True, slots=True)
class Assessment:
    score: int
    decision: Decision
    shadow_score: int
    shadow_decision: Decision
    reasons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return self.decision is not Decision.PASS


def assess(rule_set: RuleSet, signals: Signals, skip: Iterable[str] = PAYMENT_RULES) -> Assessment:
    """Every rule of `rule_set` (but `skip`) scored on `signals`: the active ones' total decides;
    the shadow ones' scores are recorded and decide only `shadow_decision` (what they would do)."""
    skipped = frozenset(skip)
    score = shadow = 0
    reasons = []
    for rule in rule_set.rules:
        if rule.code in skipped:
            continue
        hit = RULES[rule.code](signals, rule.params, rule.weight)
        if hit.score <= 0:
            continue
        if rule.mode is RuleMode.SHADOW:
            shadow += hit.score
        else:
            score += hit.score
        reasons.append(
            {
                "rule": rule.code,
                "version": rule.version,
                "mode": rule.mode,
                "score": hit.score,
                "reason": hit.reason,
            }
        )
    return Assessment(
        score,
        decide(score, rule_set.review, rule_set.reject),
        shadow,
        decide(score + shadow, rule_set.review, rule_set.reject),
        reasons,
    )


_PUNCTUATION = re.compile(r"[\s\W_]+", re.UNICODE)


def normalised(text: str) -> str:
    """`text` compared as a person reads it: full-width forms folded (NFKC), lower case, without
    spaces or punctuation."""
    return _PUNCTUATION.sub("", unicodedata.normalize("NFKC", text).casefold())


def normalised_address(address: Mapping[str, Any]) -> str:
    """The address's province, city, district and street, normalised: what the blocklist matches
    (by its keyed hash) and the address words are found in."""
    parts = (str(address.get(name) or "") for name in ("province", "city", "district", "street"))
    return normalised("".join(parts))


def normalised_ip(text: str) -> str:
    """An IP address as the blocklist keeps it (`ipaddress`'s form: 2001:db8::1, not 2001:DB8:0::1);
    anything else trimmed, as given."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return text.strip()


def order_fingerprint(phone_hash: str, items: Iterable[tuple[str, int]], address: str) -> str:
    """What makes two orders duplicates (RSK-1): the same customer (phone), items and address."""
    lines = ",".join(f"{sku}x{quantity}" for sku, quantity in sorted(items))
    return hashlib.sha256(f"{phone_hash}\n{lines}\n{address}".encode()).hexdigest()


def in_force(defaults: RuleSet, rows: Iterable[Any]) -> RuleSet:
    """The policy's `defaults` with each rule's latest row (`risk.models.RiskRule`, by `code`)
    in their place, and the thresholds' latest row; `version` is the latest row's id. A parameter
    a row leaves out (None, or saved before the parameter existed) is the policy's."""
    latest = {row.code: row for row in rows}
    rules = [
        rule
        if rule.code not in latest
        else RuleSetting(
            rule.code,
            latest[rule.code].weight,
            RuleMode(latest[rule.code].mode),
            {**rule.params, **{k: v for k, v in latest[rule.code].params.items() if v is not None}},
            latest[rule.code].version,
        )
        for rule in defaults.rules
    ]
    thresholds = latest.get(THRESHOLDS)
    review, reject = defaults.review, defaults.reject
    if thresholds is not None:
        review, reject = int(thresholds.params["review"]), int(thresholds.params["reject"])
    return RuleSet(
        rules,
        review,
        reject,
        version=max((row.id for row in latest.values()), default=0),
        thresholds_version=0 if thresholds is None else thresholds.version,
    )
