from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from shopflow.core import clock
from shopflow.core.api import Pages, Session, problems, require
from shopflow.core.audit import Actor
from shopflow.core.schemas import Id, Page
from shopflow.risk.models import BlockEntry, BlockKind, Decision, ReviewState, RiskReview, RiskScore, RuleMode
from shopflow.risk.rules import RuleSet
from shopflow.risk.schemas import (
    AssignIn,
    BlockIn,
    BlockOut,
    DecisionIn,
    OrderRiskOut,
    ReasonOut,
    ReviewOut,
    RuleIn,
    RuleOut,
    RulesOut,
    ScoreOut,
    SimilarOut,
)
from shopflow.risk.service import blocklist, reviews, rulebook
from shopflow.risk.service.reviews import QueueItem
from shopflow.risk.service.scoring import rules_in_force

router = APIRouter(tags=["risk"], responses=problems(401, 403))


def reasons_out(reasons: list[dict[str, Any]]) -> list[ReasonOut]:
    return [ReasonOut.model_validate(reason) for reason in reasons]


def score_out(score: RiskScore) -> ScoreOut:
    return ScoreOut(
        stage=score.stage,
        score=score.score,
        decision=Decision(score.decision),
        shadow_score=score.shadow_score,
        shadow_decision=Decision(score.shadow_decision),
        rules_version=score.rules_version,
        reasons=reasons_out(score.reasons),
        created_at=score.created_at,
    )


def review_out(item: QueueItem) -> ReviewOut:
    review, order = item.review, item.order
    return ReviewOut(
        order_id=order.id,
        order_no=order.order_no,
        order_status=order.status,
        total=order.total,
        state=ReviewState(review.state),
        decision=Decision(review.decision),
        score=review.score,
        reasons=[] if item.score is None else reasons_out(item.score.reasons),
        assignee_id=review.assignee_id,
        opened_at=review.opened_at,
        due_at=review.due_at,
        late=item.late(clock.now()),
        decided_at=review.decided_at,
        reason=review.reason,
    )


@router.get("/risk/queue", response_model=Page[ReviewOut])
async def review_queue(
    session: Session,
    pages: Pages,
    _: Annotated[Actor, require("risk.read")],
    state: Annotated[ReviewState | None, Query()] = ReviewState.OPEN,
) -> Page[ReviewOut]:
    """RSK-2: reviews in `state` (default open: orders held for risk), the oldest first, each with
    its score, reasons and whether it is past its clock (`late`)."""
    items, total = await reviews.queue(session, state, pages.page, pages.page_size)
    return Page[ReviewOut](**pages.of([review_out(item) for item in items], total))


async def _decided(session: Session, review: RiskReview) -> ReviewOut:
    view = await reviews.review_of(session, review.order_id)
    return review_out(view.item)


@router.post("/risk/reviews/{order_id}/approve", response_model=ReviewOut, responses=problems(404, 409, 422))
async def approve_review(
    order_id: Id, data: DecisionIn, session: Session, actor: Annotated[Actor, require("risk.review")]
) -> ReviewOut:
    """RSK-2: the hold is released (the order confirmed, or paid if paid during the hold); audited
    with `reason`. A decided review answers 409."""
    return await _decided(session, await reviews.approve(session, actor, order_id, data.reason))


@router.post("/risk/reviews/{order_id}/reject", response_model=ReviewOut, responses=problems(404, 409, 422))
async def reject_review(
    order_id: Id, data: DecisionIn, session: Session, actor: Annotated[Actor, require("risk.review")]
) -> ReviewOut:
    """RSK-2: the order is cancelled and its captured money refunded through the refund ledger;
    audited with `reason`. A decided review answers 409."""
    return await _decided(session, await reviews.reject(session, actor, order_id, data.reason))


@router.post("/risk/reviews/{order_id}/assign", response_model=ReviewOut, responses=problems(404, 409, 422))
async def assign_review(
    order_id: Id, data: AssignIn, session: Session, actor: Annotated[Actor, require("risk.review")]
) -> ReviewOut:
    """The review goes to a reviewer (`assignee_id` null: to nobody); its clock is theirs."""
    return await _decided(session, await reviews.assign(session, actor, order_id, data.assignee_id))


def rules_out(rule_set: RuleSet, hits: dict[str, int]) -> RulesOut:
    return RulesOut(
        version=rule_set.version,
        review=rule_set.review,
        reject=rule_set.reject,
        rules=[
            RuleOut(
                code=r.code,
                version=r.version,
                weight=r.weight,
                mode=RuleMode(r.mode),
                params=dict(r.params),
                shadow_hits_7d=hits.get(r.code, 0),
            )
            for r in rule_set.rules
        ],
    )


@router.get("/risk/rules", response_model=RulesOut)
async def list_rules(session: Session, _: Annotated[Actor, require("risk.read")]) -> RulesOut:
    """RSK-1: every rule in force (version 0: the policy's default), its mode (active or shadow)
    and how many orders each shadow rule scored in the last 7 days; the thresholds."""
    shadow = await rulebook.shadow_results(session)
    return rules_out(await rules_in_force(session), shadow.hits)


@router.post("/risk/rules", status_code=201, response_model=RulesOut, responses=problems(409, 422))
async def change_rule(
    data: RuleIn, session: Session, actor: Annotated[Actor, require("risk.rules")]
) -> RulesOut:
    """A new version of one rule (`code`): its weight, `mode` (active, or shadow: scored and
    recorded, no effect) and parameters; code `thresholds` sets `review` and `reject`. Audited."""
    rule_set = await rulebook.save_rule(session, actor, data)
    return rules_out(rule_set, (await rulebook.shadow_results(session)).hits)


def block_out(entry: BlockEntry) -> BlockOut:
    return BlockOut(
        id=entry.id,
        kind=BlockKind(entry.kind),
        value=entry.shown,
        reason=entry.reason,
        author=entry.author,
        created_at=entry.created_at,
        expires_at=entry.expires_at,
    )


@router.get("/risk/blocklist", response_model=Page[BlockOut])
async def list_blocks(
    session: Session,
    pages: Pages,
    _: Annotated[Actor, require("risk.read")],
    kind: Annotated[BlockKind | None, Query()] = None,
) -> Page[BlockOut]:
    """The entries in force (not removed, not expired), the newest first; phones and addresses masked."""
    entries, total = await blocklist.page(session, kind, pages.page, pages.page_size)
    return Page[BlockOut](**pages.of([block_out(e) for e in entries], total))


@router.post("/risk/blocklist", status_code=201, response_model=BlockOut, responses=problems(409, 422))
async def add_block(
    data: BlockIn, session: Session, actor: Annotated[Actor, require("risk.blocklist")]
) -> BlockOut:
    """A phone, address, IP or device blocked with its reason until `expires_at` (default: the
    policy's `block_days`); audited."""
    return block_out(await blocklist.add(session, actor, data))


@router.delete("/risk/blocklist/{block_id}", status_code=204, responses=problems(404))
async def remove_block(
    block_id: Id, session: Session, actor: Annotated[Actor, require("risk.blocklist")]
) -> None:
    """The entry ends now (kept, with who removed it); audited."""
    await blocklist.remove(session, actor, block_id)


@router.get("/orders/{order_id}/risk", response_model=OrderRiskOut, responses=problems(404))
async def order_risk(
    order_id: Id, session: Session, _: Annotated[Actor, require("risk.read")]
) -> OrderRiskOut:
    """The order's risk: its intake score, decision, reasons and the rules' version they were made
    with (RSK-1), every score, and its review."""
    scores, review = await reviews.order_risk(session, order_id)
    first = scores[0] if scores else None
    shown, similar = None, []
    if review is not None:
        view = await reviews.review_of(session, order_id)
        shown = review_out(view.item)
        similar = [
            SimilarOut(
                order_id=o.id, order_no=o.order_no, status=o.status, total=o.total, created_at=o.created_at
            )
            for o in view.similar
        ]
    return OrderRiskOut(
        order_id=order_id,
        score=None if first is None else first.score,
        decision=None if first is None else Decision(first.decision),
        rules_version=None if first is None else first.rules_version,
        reasons=[] if first is None else reasons_out(first.reasons),
        scores=[score_out(s) for s in scores],
        review=shown,
        similar_orders=similar,
    )
