"""ABC grading (CRM-3), pure: the policy's rule table weighs a lead's signals into an intent and
a buying-power score; the grade follows from the thresholds, and the reasons say which signals
counted, in words ("asked for a quote of 200 units; budget stated 50,000 yuan")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shopflow.core.policy import Crm, GradingRule, LeadSignal
from shopflow.crm.leads.models import Grade

NO_SIGNAL = "no sign of intent or buying power yet"


@dataclass(frozen=True, slots=True)
class Signals:
    need_tags: tuple[str, ...] = ()
    source: str = "form"
    quote_asked: bool = False
    quantity: int | None = None
    budget: int | None = None  # fen

    @classmethod
    def of(cls, need_tags: Sequence[str], source: str, stored: dict[str, Any]) -> Signals:
        """A lead's signals from its columns (`Lead.signals` holds the three besides tags and source)."""
        return cls(
            tuple(need_tags),
            source,
            bool(stored.get("quote_asked")),
            stored.get("quantity"),
            stored.get("budget"),
        )

    def stored(self) -> dict[str, Any]:
        return {"quote_asked": self.quote_asked, "quantity": self.quantity, "budget": self.budget}

    def merged(self, other: Signals) -> Signals:
        """What two requests of one person say together: every need, the larger quantity and budget."""
        return Signals(
            tuple(dict.fromkeys((*self.need_tags, *other.need_tags))),
            self.source,
            self.quote_asked or other.quote_asked,
            _larger(self.quantity, other.quantity),
            _larger(self.budget, other.budget),
        )


def _larger(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass(frozen=True, slots=True)
class Graded:
    grade: Grade
    reasons: tuple[str, ...]
    intent: int = 0
    buying_power: int = 0
    sentence: str = field(default="")


def yuan_words(fen: int) -> str:
    """An amount as a reason says it: 50,000 yuan; 99.50 yuan."""
    whole, cents = divmod(fen, 100)
    return f"{whole:,} yuan" if cents == 0 else f"{whole:,}.{cents:02d} yuan"


def _fires(rule: GradingRule, signals: Signals) -> bool:
    match rule.signal:
        case LeadSignal.QUOTE_ASKED:
            return signals.quote_asked
        case LeadSignal.QUANTITY:
            return signals.quantity is not None and signals.quantity >= rule.at_least
        case LeadSignal.BUDGET:
            return signals.budget is not None and signals.budget >= rule.amount_at_least
        case LeadSignal.NEED_TAGS:
            return len(signals.need_tags) >= rule.at_least
        case LeadSignal.SOURCE:
            return signals.source in rule.sources


def _phrases(fired: set[LeadSignal], signals: Signals) -> list[str]:
    """One phrase per signal that counted; a quote and its quantity read as one."""
    found: list[str] = []
    if LeadSignal.QUOTE_ASKED in fired:
        if signals.quantity is not None:
            found.append(f"asked for a quote of {signals.quantity} units")
            fired = fired - {LeadSignal.QUANTITY}
        else:
            found.append("asked for a quote")
    if LeadSignal.QUANTITY in fired:
        found.append(f"asked for {signals.quantity} units")
    if LeadSignal.BUDGET in fired and signals.budget is not None:
        found.append(f"budget stated {yuan_words(signals.budget)}")
    if LeadSignal.NEED_TAGS in fired:
        found.append(f"needs {', '.join(signals.need_tags)}")
    if LeadSignal.SOURCE in fired:
        found.append(f"came by {signals.source}")
    return found


def grade(signals: Signals, rules: Crm) -> Graded:
    """CRM-3: A when intent and buying power both reach the A thresholds, B when intent reaches
    B's, else C; with the reasons that counted, in the order people weigh them."""
    scores = {"intent": 0, "buying_power": 0}
    fired: set[LeadSignal] = set()
    for rule in rules.grading:
        if rule.weight and _fires(rule, signals):
            scores[rule.kind] += rule.weight
            fired.add(rule.signal)
    intent, power = scores["intent"], scores["buying_power"]
    if intent >= rules.a_intent_at_least and power >= rules.a_buying_power_at_least:
        found = Grade.A
    elif intent >= rules.b_intent_at_least:
        found = Grade.B
    else:
        found = Grade.C
    reasons = tuple(_phrases(fired, signals)) or (NO_SIGNAL,)
    return Graded(found, reasons, intent, power, f"{found}: {'; '.join(reasons)}")


def follow_up_within(grade_: Grade, rules: Crm) -> timedelta:
    """CRM-3: how long a lead of this grade may wait for its next follow-up."""
    match grade_:
        case Grade.A:
            return timedelta(hours=rules.grade_a_follow_up_hours)
        case Grade.B:
            return timedelta(days=rules.grade_b_follow_up_days)
        case Grade.C:
            return timedelta(days=rules.grade_c_follow_up_days)


def follow_up_due(last: datetime, grade_: Grade, rules: Crm) -> datetime:
    return last + follow_up_within(grade_, rules)
