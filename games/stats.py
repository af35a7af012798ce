"""Live figures of a campaign: plays, wins, prizes, vouchers, budget spent and liability."""

from __future__ import annotations

from sqlalchemy import case, func, select

from games.abuse import refusals
from games.campaigns import get_campaign
from games.models import Campaign, Play, Prize
from lixi.extensions import db
from lixi.timeutil import utcnow
from vouchers.models import Offer, OfferKind, Voucher, VoucherStatus


def campaign_stats(brand_id: int, campaign_id: int) -> dict:
    campaign = get_campaign(brand_id, campaign_id)
    plays, wins = db.session.execute(
        select(func.count(Play.id), func.count(Play.voucher_id)).where(Play.campaign_id == campaign.id)
    ).one()
    won_by_prize = dict(
        db.session.execute(
            select(Play.prize_id, func.count(Play.id))
            .where(Play.campaign_id == campaign.id, Play.prize_id.is_not(None))
            .group_by(Play.prize_id)
        ).all()
    )
    remaining = dict(
        db.session.execute(select(Prize.id, Prize.remaining).where(Prize.campaign_id == campaign.id)).all()
    )
    # Liability: what the campaign's unredeemed, unexpired vouchers could still cost.
    now = utcnow()
    open_value = case(
        (Offer.kind == OfferKind.GIFT_CARD, Voucher.balance),
        else_=Offer.value,
    )
    issued, redeemed, liability = db.session.execute(
        select(
            func.count(Voucher.id),
            func.count(case((Voucher.status == VoucherStatus.REDEEMED, 1))),
            func.coalesce(
                func.sum(
                    case(
                        (
                            (Voucher.status == VoucherStatus.ISSUED)
                            & (Voucher.expires_at.is_(None) | (Voucher.expires_at > now)),
                            open_value,
                        ),
                        else_=0,
                    )
                ),
                0,
            ),
        )
        .join(Play, Play.voucher_id == Voucher.id)
        .join(Offer, Offer.id == Voucher.offer_id)
        .where(Play.campaign_id == campaign.id)
    ).one()
    return {
        "id": campaign.id,
        "status": campaign.status,
        "plays": plays,
        "wins": wins,
        "prizes": [
            {
                "id": prize.id,
                "label": prize.label,
                "won": won_by_prize.get(prize.id, 0),
                "stock": prize.stock,
                "stock_left": remaining[prize.id],
            }
            for prize in campaign.prizes
        ],
        "vouchers_issued": issued,
        "vouchers_redeemed": redeemed,
        "budget": campaign.budget,
        "budget_spent": db.session.execute(
            select(Campaign.budget_spent).where(Campaign.id == campaign.id)
        ).scalar_one(),
        "liability": int(liability),
        "refused_for_abuse": refusals(campaign.id),
    }
