"""Points from member events: games calls `earn_points` inside each event's transaction."""

from __future__ import annotations

from sqlalchemy import func, select

from games.earning import Refund
from games.models import MemberEvent
from lixi.audit import record_audit
from lixi.extensions import db
from lixi.models import Member
from lixi.outbox import publish
from loyalty import ledger, messages, referrals
from loyalty.account import Account
from loyalty.events import POINTS_CHANGED, POINTS_EARNED
from loyalty.models import EntryKind, PointsBucket, PointsDraw, PointsEntry
from loyalty.programme import find_programme
from loyalty.urls import member_page_url

PURCHASE = "purchase"


def earn_points(event: MemberEvent, member: Member, refund: Refund | None) -> list[dict]:
    """The programme's earnings for this event (or a refund's clawback), as grants."""
    programme = find_programme(event.brand_id)
    if programme is None:
        return []
    account = ledger.lock_account(programme, member)
    if refund is not None:
        return _claw_back(account, event, refund)
    grants: list[dict] = []
    # Purchases wait out the return window; other events are not refunded.
    pending_days = programme.pending_days if event.type == PURCHASE else 0
    for rule_key, points in programme.earnings(event.type, event.amount, account.tier):
        entry = ledger.credit(
            account,
            EntryKind.EARN,
            points,
            f"event:{event.id}:{rule_key}",
            reason=event.type,
            event_external_id=event.external_id,
            pending_days=pending_days,
        )
        grants.append(
            {
                "points": points,
                "kind": entry.kind,
                "rule": rule_key,
                "available_at": entry.available_at.isoformat() if entry.available_at else None,
                "expires_at": entry.expires_at.isoformat() if entry.expires_at else None,
            }
        )
    if grants:
        earned = sum(grant["points"] for grant in grants)
        payload = {
            "member_external_id": member.external_id,
            "event_external_id": event.external_id,
            "points": earned,
            "pending": pending_days > 0,
            "balance": account.row.points,
            "pending_points": account.row.pending_points,
        }
        record_audit(member.brand_id, POINTS_CHANGED, "member", member.external_id, payload)
        publish(member.brand_id, POINTS_EARNED, payload)
        if member.subscribed:  # messages would drop it anyway: skip signing the page link
            messages.points_earned(member, earned, account.row.points, member_page_url(member))
    if event.type == PURCHASE and account.row.referred_by_id is not None:
        grants += referrals.on_purchase(account)
    return grants


def _claw_back(account: Account, event: MemberEvent, refund: Refund) -> list[dict]:
    """Take back this refund's share of what the purchase earned and did not lose to expiry
    (expired points are gone already: taking them again would make the member pay twice)."""
    purchase = refund.purchase
    own = (
        PointsBucket.member_id == account.member.id,
        PointsBucket.event_external_id == purchase.external_id,
        PointsBucket.kind == EntryKind.EARN,
    )
    earned, clawed = db.session.execute(
        select(
            func.coalesce(func.sum(PointsBucket.points), 0),
            func.coalesce(func.sum(PointsBucket.clawed_back), 0),
        ).where(*own)
    ).one()
    expired = db.session.execute(
        select(func.coalesce(func.sum(PointsDraw.points), 0))
        .join(PointsEntry, PointsEntry.id == PointsDraw.entry_id)
        .join(PointsBucket, PointsBucket.id == PointsDraw.bucket_id)
        .where(PointsEntry.kind == EntryKind.EXPIRE, *own)
    ).scalar_one()
    due = refund.share(int(earned) - int(expired), refund.refunded_after) - int(clawed)
    if due <= 0:
        return []
    entries = ledger.claw_back(
        account, due, purchase.external_id, reason=f"refund {event.external_id} of {purchase.external_id}"
    )
    record_audit(
        account.member.brand_id,
        POINTS_CHANGED,
        "member",
        account.member.external_id,
        {"clawback": due, "refund": event.external_id, "balance": account.row.points},
    )
    return [{"points": entry.points, "kind": entry.kind} for entry in entries]
