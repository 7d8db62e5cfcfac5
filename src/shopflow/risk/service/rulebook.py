"""The rules in force and their changes (RSK-1): each change is a new version of one rule (or of
the thresholds), audited (AUD-1); a rule may run in shadow mode (scored and recorded, no effect),
and what the shadow rules would have held shows for the last 7 days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError, Invalid, pydantic_message
from shopflow.risk import repository
from shopflow.risk.models import RiskRule, RiskScore, RuleMode
from shopflow.risk.rules import RULES, THRESHOLDS, RuleSet
from shopflow.risk.schemas import PARAMS, RuleIn
from shopflow.risk.service.scoring import forget_rules, rules_in_force

SHADOW_DAYS = 7
SHADOW_LISTED = 50


def _params(code: str, given: dict[str, Any]) -> dict[str, Any]:
    """`given` checked against the rule's parameters; Invalid naming each bad one (`params.limit`)."""
    try:
        return PARAMS[code].model_validate(given).model_dump(mode="json")
    except ValidationError as exc:
        errors = [
            FieldError(".".join(["params", *(str(p) for p in e["loc"])]), pydantic_message(e))
            for e in exc.errors()
        ]
        raise Invalid("the rule's parameters have errors; nothing was stored", errors=errors) from None


async def save_rule(session: AsyncSession, actor: Actor, data: RuleIn) -> RuleSet:
    """A new version of `data.code` from its current one and what `data` changes; the rules in
    force after it. A concurrent change of the same rule is refused (409, the version's key)."""
    if data.code not in RULES and data.code != THRESHOLDS:
        known = ", ".join([*RULES, THRESHOLDS])
        raise Invalid("no such rule", errors=[FieldError("code", f"must be one of {known}")])
    current = await rules_in_force(session)
    if data.code == THRESHOLDS:
        before = {"review": current.review, "reject": current.reject}
        weight, mode, version = 0, RuleMode.ACTIVE, current.thresholds_version
    else:
        rule = current.rule(data.code)
        before = {
            "version": rule.version,
            "weight": rule.weight,
            "mode": rule.mode,
            "params": dict(rule.params),
        }
        weight = rule.weight if data.weight is None else data.weight
        mode, version = data.mode or rule.mode, rule.version
    params = _params(
        data.code, data.params if data.params is not None else _current_params(current, data.code)
    )
    versions = await repository.rule_versions(session, data.code)
    at = clock.now()
    row = RiskRule(
        code=data.code,
        version=(versions[0].version if versions else version) + 1,
        weight=weight,
        mode=mode,
        params=params,
        note=data.note,
        created_by=actor.user_id,
        created_at=at,
    )
    session.add(row)
    await session.flush()
    forget_rules()
    after = {"version": row.version, "weight": weight, "mode": mode, "params": params, "note": data.note}
    await audit.record(
        session, audit.row(actor, "risk_rule.changed", "risk_rule", data.code, before, after, at)
    )
    found = await rules_in_force(session)
    forget_rules()  # read again after the commit: this transaction may yet roll back
    return found


def _current_params(current: RuleSet, code: str) -> dict[str, Any]:
    if code == THRESHOLDS:
        return {"review": current.review, "reject": current.reject}
    return dict(current.rule(code).params)


@dataclass(frozen=True, slots=True)
class ShadowResults:
    hits: dict[str, int]  # orders each shadow rule scored in the last 7 days
    would_hold: list[RiskScore]  # orders that passed but that the shadow rules would have held


async def shadow_results(session: AsyncSession) -> ShadowResults:
    since = clock.now() - timedelta(days=SHADOW_DAYS)
    return ShadowResults(
        await repository.shadow_counts(session, since),
        await repository.shadow_holds(session, since, SHADOW_LISTED),
    )
