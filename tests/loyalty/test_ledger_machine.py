"""The ledger as a hypothesis state machine: random purchases, reward exchanges, manual ± points,
refunds and the clock moving on (expiry), checked after every step against a model of the buckets:
the balance equals the ledger, no spent point expires, the balance is negative only by a clawback
debt, and `flask loyalty-check` passes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import redis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from lixi.auth import forget_cached_keys
from lixi.brands import create_brand
from lixi.extensions import db
from lixi.timeutil import end_of_local_day, local_date
from tests.conftest import _empty_all_tables, error_code
from tests.loyalty.conftest import run_cli
from webhooks.endpoints import forget_subscriptions

TZ = "Asia/Ho_Chi_Minh"
EXPIRE_DAYS = 5
PER = 10000  # 1 point per 10,000 ₫
COSTS = (5, 30, 70)  # the rewards' prices


@dataclass
class Bucket:
    """The model of one credit: what is left of it and when it ends."""

    remaining: int
    expires_at: datetime
    order: int
    purchase: str | None = None


@dataclass
class Purchase:
    amount: int
    earned: int
    clawed: int = 0
    refunded: int = 0
    expired: int = 0  # of its points, lost to expiry before any refund could take them back


@dataclass
class Model:
    balance: int = 0
    expired: int = 0
    clawed_back: bool = False
    buckets: list[Bucket] = field(default_factory=list)
    purchases: dict[str, Purchase] = field(default_factory=dict)

    def credit(self, points: int, now: datetime, purchase: str | None = None) -> None:
        debt = max(0, -self.balance)
        self.balance += points
        expires_at = end_of_local_day(local_date(now, TZ) + timedelta(days=EXPIRE_DAYS), TZ)
        self.buckets.append(Bucket(points - min(debt, points), expires_at, len(self.buckets), purchase))

    def draw(self, points: int, first: str | None = None) -> None:
        """Soonest-expiring first (a clawback takes from its own purchase's buckets before others)."""
        order = sorted(
            self.buckets, key=lambda b: (b.purchase != first if first else False, b.expires_at, b.order)
        )
        for bucket in order:
            take = min(bucket.remaining, points)
            bucket.remaining -= take
            points -= take

    def debit(self, points: int) -> bool:
        if self.balance < points:
            return False
        self.balance -= points
        self.draw(points)
        return True

    def expiring(self) -> list[tuple[int, datetime]]:
        """What is left to expire, by end of day, soonest first (as the API lists it: five at most)."""
        left: dict[datetime, int] = {}
        for bucket in self.buckets:
            if bucket.remaining:
                left[bucket.expires_at] = left.get(bucket.expires_at, 0) + bucket.remaining
        return [(left[at], at) for at in sorted(left)[:5]]

    def expire(self, now: datetime) -> None:
        for bucket in self.buckets:
            if bucket.expires_at <= now and bucket.remaining:
                self.expired += bucket.remaining
                if bucket.purchase:
                    self.purchases[bucket.purchase].expired += bucket.remaining
                self.balance -= bucket.remaining
                bucket.remaining = 0


class LedgerMachine(RuleBasedStateMachine):
    """One brand, one member, a programme of 1 point per 10,000 ₫ expiring after EXPIRE_DAYS."""

    app = None  # set by the test: the app whose context is pushed, the fake clock
    clock = None

    def __init__(self) -> None:
        super().__init__()
        app = type(self).app
        db.session.remove()  # no object of the previous example stays in the session's identity map
        redis.Redis.from_url(app.config["REDIS_URL"]).flushdb()
        forget_cached_keys()
        forget_subscriptions()
        _empty_all_tables()
        self.clock = type(self).clock
        self.clock.now = datetime(2030, 1, 1, 3, 0, tzinfo=UTC)
        brand, secret = create_brand("Máy Trạng Thái")
        self.headers = {"Authorization": f"Bearer {secret}"}
        self.client = app.test_client()
        self.model = Model()
        self.events = 0

    def post(self, path: str, body: dict):
        return self.client.post(f"/api/v1{path}", json=body, headers=self.headers)

    def get(self, path: str):
        return self.client.get(f"/api/v1{path}", headers=self.headers)

    @initialize()
    def set_up(self) -> None:
        programme = {
            "name": "Máy",
            "earn": [{"event": "purchase", "points_per": {"amount": PER, "points": 1}}],
            "expire_days": EXPIRE_DAYS,
        }
        response = self.client.put("/api/v1/loyalty", json=programme, headers=self.headers)
        assert response.status_code == 200, response.get_json()
        assert self.post("/members", {"external_id": "m"}).status_code == 201
        offer = self.post("/offers", {"name": "Quà", "kind": "free_item", "value": 0}).get_json()
        self.rewards = {}
        for cost in COSTS:
            reward = self.post("/rewards", {"name": f"R{cost}", "offer_id": offer["id"], "cost_points": cost})
            assert reward.status_code == 201, reward.get_json()
            self.rewards[cost] = reward.get_json()["id"]

    # --- steps ------------------------------------------------------------------------------------

    @rule(amount=st.integers(min_value=0, max_value=900_000))
    def purchase(self, amount: int) -> None:
        self.events += 1
        external_id = f"bill-{self.events}"
        body = {"member_external_id": "m", "type": "purchase", "external_id": external_id, "amount": amount}
        response = self.post("/events", body)
        assert response.status_code == 201, response.get_json()
        points = amount // PER
        assert sum(g.get("points", 0) for g in response.get_json()["grants"]) == points
        self.model.purchases[external_id] = Purchase(amount, points)
        if points:
            self.model.credit(points, self.clock.now, external_id)

    @rule(cost=st.sampled_from(COSTS))
    def exchange(self, cost: int) -> None:
        response = self.post(f"/rewards/{self.rewards[cost]}/exchanges", {"member_external_id": "m"})
        if self.model.debit(cost):
            assert response.status_code == 201, response.get_json()
            assert response.get_json()["points"] == self.model.balance
        else:
            assert response.status_code == 409 and error_code(response) == "insufficient_points"

    @rule(points=st.integers(min_value=-40, max_value=40).filter(bool))
    def adjust(self, points: int) -> None:
        response = self.post("/members/m/points", {"points": points, "reason": "máy"})
        if points > 0:
            assert response.status_code == 201, response.get_json()
            self.model.credit(points, self.clock.now)
        elif self.model.debit(-points):
            assert response.status_code == 201, response.get_json()
        else:
            assert response.status_code == 409 and error_code(response) == "insufficient_points"
        if response.status_code == 201:
            assert response.get_json()["balance_after"] == self.model.balance

    @rule(hours=st.integers(min_value=1, max_value=24 * 4), run_daily=st.booleans())
    def time_passes(self, hours: int, run_daily: bool) -> None:
        self.clock.advance(hours=hours)
        if run_daily:
            result = run_cli(type(self).app, "loyalty-daily")
            assert result.exit_code == 0, (result.output, result.exception)
        self.model.expire(self.clock.now)

    @precondition(lambda self: any(p.earned and p.refunded < p.amount for p in self.model.purchases.values()))
    @rule(choice=st.integers(min_value=0, max_value=10**6), quarters=st.integers(min_value=1, max_value=4))
    def refund(self, choice: int, quarters: int) -> None:
        open_ = [(k, p) for k, p in self.model.purchases.items() if p.earned and p.refunded < p.amount]
        external_id, purchase = open_[choice % len(open_)]
        amount = min(purchase.amount - purchase.refunded, max(1, purchase.amount * quarters // 4))
        self.events += 1
        body = {
            "member_external_id": "m",
            "type": "refund",
            "external_id": f"refund-{self.events}",
            "refund_of": external_id,
            "amount": amount,
        }
        before = self.get("/members/m/loyalty").get_json()["points"]
        response = self.post("/events", body)
        assert response.status_code == 201, response.get_json()
        taken = before - self.get("/members/m/loyalty").get_json()["points"]
        purchase.refunded += amount
        # in proportion, rounded down, never past what the purchase earned; points of it that
        # expired need not be taken back a second time
        exact = Fraction(purchase.earned * purchase.refunded, purchase.amount)
        assert taken >= 0 and purchase.clawed + taken <= exact, (purchase, taken)
        assert purchase.clawed + taken > exact - 1 - purchase.expired, (purchase, taken)
        if purchase.refunded == purchase.amount and not purchase.expired:
            assert purchase.clawed + taken == purchase.earned  # the whole refunded: all of it back
        purchase.clawed += taken
        if taken:
            self.model.clawed_back = True
            self.model.balance -= taken
            self.model.draw(taken, first=external_id)

    # --- after every step ---------------------------------------------------------------------------

    @invariant()
    def balance_equals_the_ledger(self) -> None:
        if not hasattr(self, "rewards"):
            return
        loyalty = self.get("/members/m/loyalty").get_json()
        points = loyalty["points"]
        # which buckets the spends drew from shows in what is left to expire, day by day
        expiring = [(e["points"], datetime.fromisoformat(e["expires_at"])) for e in loyalty["expiring"]]
        assert expiring == self.model.expiring(), (expiring, self.model)
        entries = []
        path = "/members/m/ledger?limit=200"
        while path:
            page = self.get(path).get_json()
            entries += page["entries"]
            path = f"/members/m/ledger?limit=200&after={page['next']}" if page["next"] else ""
        assert points == self.model.balance, (points, self.model)
        assert sum(e["points"] for e in entries if e["kind"] != "pending") == points
        assert not entries or entries[0]["balance_after"] == points
        # no spent point expires: exactly what the model left unspent in the buckets has expired
        assert -sum(e["points"] for e in entries if e["kind"] == "expire") == self.model.expired
        assert points >= 0 or self.model.clawed_back
        result = run_cli(type(self).app, "loyalty-check")
        assert result.exit_code == 0, result.output


def test_the_ledger_holds_under_random_steps(app, clock):
    LedgerMachine.app, LedgerMachine.clock = app, clock
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=15,
            deadline=None,
            database=None,
            # Each step is a few requests: a failure is reported as found (no shrinking, no
            # explaining), so it comes within seconds instead of after the test's timeout.
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
