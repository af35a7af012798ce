"""Gifts hold under real concurrency: a live gunicorn (several workers × threads) on the run's
database, requests released at once by a barrier against one gift, one lì xì, one voucher.

Each racer is a browser of its own on the claim page (its own session cookie and the CSRF token
its page served), posting the page's real forms. The one-time codes are read where the live
server wrote them (the code mail's row in its database: nothing delivers mail in these tests).
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests
from sqlalchemy import Engine, create_engine, text

from tests.live import LiveLixi, running_lixi
from tests.vouchers.merchant_helpers import form_token

pytestmark = [pytest.mark.live, pytest.mark.slow]

CODE = re.compile(r"\b(\d{6})\b")


@pytest.fixture(scope="module")
def live(tmp_path_factory, redis_url, migrated) -> Iterator[LiveLixi]:
    # Limits off (the claim page's per-client one too): 50 racers come from one address.
    with running_lixi(tmp_path_factory.mktemp("gifting-live"), redis_url, workers=4, threads=8) as lixi:
        yield lixi


@pytest.fixture(scope="module")
def database(live: LiveLixi) -> Iterator[Engine]:
    """The live server's database, read beside it (SQLite: its own file; PostgreSQL: the suite's)."""
    url = live.server.env["DATABASE_URL"]
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    engine = create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def brand_id(live: LiveLixi, database: Engine) -> int:
    with database.connect() as connection:
        return connection.execute(
            text("SELECT id FROM brands WHERE slug = :s"), {"s": live.brand_slug}
        ).scalar_one()


@pytest.fixture(scope="module")
def store(live: LiveLixi) -> int:
    response = live.post("/merchants", {"name": "Quầy 1"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _offer(live: LiveLixi, **fields: object) -> int:
    body = {"name": "Thẻ quà", "kind": "gift_card", "value": 200000, **fields}
    response = live.post("/offers", body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _gift(live: LiveLixi, **body: object) -> dict:
    response = live.post("/gifts", {"recipient": {"name": "Lan"}, **body})
    assert response.status_code == 201, response.text
    return response.json()


def _rows(database: Engine, sql: str, **params: object) -> list:
    with database.connect() as connection:
        return list(connection.execute(text(sql), params))


# --- The claim page, as a browser sees it --------------------------------------------------------


@dataclass
class Visitor:
    """One browser on a gift's claim page: its session (cookie) and the CSRF token its page served."""

    live: LiveLixi
    path: str  # /g/<token>
    session: requests.Session
    token: str = ""

    def open(self) -> str:
        page = self.session.get(self.live.server.url + self.path, timeout=60)
        assert page.status_code == 200, page.text
        self.token = form_token(page.text)
        return page.text

    def post(self, action: str, **fields: str) -> requests.Response:
        """Post one of the page's forms (without following the redirect that ends a good post)."""
        data = {"csrf_token": self.token, **fields}
        return self.session.post(
            f"{self.live.server.url}{self.path}/{action}", data=data, allow_redirects=False, timeout=60
        )


def _visitors(live: LiveLixi, gift: dict, count: int) -> list[Visitor]:
    path = "/" + gift["claim_url"].split("/", 3)[3]  # the claim URL's path, on this server
    visitors = [Visitor(live, path, requests.Session()) for _ in range(count)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(Visitor.open, visitors))
    return visitors


def _close(visitors: list[Visitor]) -> None:
    for visitor in visitors:
        visitor.session.close()


def _claimed(response: requests.Response) -> bool:
    """A claim the page accepted: it redirects to the gift's page, which shows the voucher."""
    return response.status_code in (302, 303)


def _all_at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """The calls on as many threads, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def fire(call: Callable[[], requests.Response]) -> requests.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(fire, calls))


def _code_mailed_to(database: Engine, brand_id: int, address: str) -> str:
    """The one-time code in the newest mail to `address` (its subject or its text)."""
    rows = _rows(
        database,
        "SELECT subject, text_body FROM mail_messages WHERE brand_id = :b AND to_address = :to"
        " ORDER BY id DESC",
        b=brand_id,
        to=address,
    )
    assert rows, f"no mail to {address}"
    subject, body = rows[0]
    match = CODE.search(subject) or CODE.search(body)
    assert match, body
    return match.group(1)


def _page_error(response: requests.Response) -> str:
    return f"{response.status_code}: {response.text[:300]}"


# --- 1. One gift, twenty claims ------------------------------------------------------------------


def _voucher_of(database: Engine, gift_id: int) -> dict:
    (row,) = _rows(
        database,
        "SELECT v.id, v.code, v.status, v.held_by, v.balance"
        " FROM gifts g JOIN vouchers v ON v.id = g.voucher_id WHERE g.id = :g",
        g=gift_id,
    )
    return row._asdict()


def _events(database: Engine, brand_id: int, topic: str, gift_id: int) -> list[dict]:
    rows = _rows(
        database,
        "SELECT payload FROM outbox_messages WHERE brand_id = :b AND topic = :t",
        b=brand_id,
        t=topic,
    )
    payloads = [row[0] if isinstance(row[0], dict) else json.loads(row[0]) for row in rows]
    return [payload for payload in payloads if payload.get("gift_id") == gift_id]


def _audits(database: Engine, brand_id: int, action: str, gift_id: int) -> int:
    rows = _rows(
        database,
        "SELECT id FROM audit_events WHERE brand_id = :b AND action = :a AND subject_id = :s",
        b=brand_id,
        a=action,
        s=str(gift_id),
    )
    return len(rows)


def _assert_claimed_once(
    live: LiveLixi, database: Engine, brand_id: int, gift: dict, old_code: str, store: int
):
    """The gift is claimed; its voucher has a new code that works, the sender's old one is gone
    (validate and redeem answer 404); one gift.claimed event and one audit row."""
    assert live.get(f"/gifts/{gift['id']}").json()["status"] == "claimed"
    voucher = _voucher_of(database, gift["id"])
    assert voucher["code"] != old_code and voucher["held_by"] is None
    assert live.post("/vouchers/validate", {"code": voucher["code"]}).status_code == 200
    for path, body in (("/vouchers/validate", {}), ("/redemptions", {"merchant_id": store, "amount": 1000})):
        refused = live.post(path, {"code": old_code, **body})
        assert refused.status_code == 404, refused.text
        assert refused.json()["error"]["code"] == "not_found"
    assert len(_events(database, brand_id, "gift.claimed", gift["id"])) == 1
    assert _audits(database, brand_id, "gift.claimed", gift["id"]) == 1


def test_twenty_claims_of_a_gift_with_a_code_succeed_once(live, database, brand_id, store):
    # The recipient's email is a member's: the claimed voucher becomes that member's.
    member = live.post("/members", {"external_id": "race-lan", "email": "lan.race@example.vn"})
    assert member.status_code == 201, member.text
    gift = _gift(live, offer_id=_offer(live), recipient={"name": "Lan", "email": "lan.race@example.vn"})
    old_code = _voucher_of(database, gift["id"])["code"]
    visitors = _visitors(live, gift, 20)
    try:
        asked = visitors[0].post("code")
        assert asked.status_code in (200, 302, 303), _page_error(asked)
        code = _code_mailed_to(database, brand_id, "lan.race@example.vn")
        responses = _all_at_once([lambda v=v: v.post("claim", code=code) for v in visitors])
    finally:
        _close(visitors)
    outcomes = Counter(_claimed(r) for r in responses)
    assert outcomes == {True: 1, False: 19}, [_page_error(r) for r in responses]
    assert all(r.status_code < 500 for r in responses)
    _assert_claimed_once(live, database, brand_id, gift, old_code, store)
    owner = _rows(
        database, "SELECT member_id FROM vouchers WHERE id = :v", v=_voucher_of(database, gift["id"])["id"]
    )
    assert owner == [(member.json()["id"],)]


def test_twenty_claims_of_a_link_only_gift_succeed_once(live, database, brand_id, store):
    gift = _gift(live, offer_id=_offer(live, kind="fixed_amount", value=50000))
    old_code = _voucher_of(database, gift["id"])["code"]
    visitors = _visitors(live, gift, 20)
    try:
        responses = _all_at_once([lambda v=v: v.post("claim") for v in visitors])
    finally:
        _close(visitors)
    outcomes = Counter(_claimed(r) for r in responses)
    assert outcomes == {True: 1, False: 19}, [_page_error(r) for r in responses]
    assert all(r.status_code < 500 for r in responses)
    _assert_claimed_once(live, database, brand_id, gift, old_code, store)


# --- 2, 3. Lì xì envelopes -----------------------------------------------------------------------


def _lixi(live: LiveLixi, count: int, total: int, mode: str = "random") -> dict:
    return _gift(
        live,
        offer_id=_offer(live, value=total),
        design="tet",
        sender={"name": "Bố"},
        split={"count": count, "total": total, "mode": mode},
    )


def _envelopes(database: Engine, gift_id: int) -> list[dict]:
    rows = _rows(
        database,
        "SELECT e.position, e.amount, e.claimed_at, e.claimer_contact, e.voucher_id, v.balance, v.code"
        " FROM gift_envelopes e LEFT JOIN vouchers v ON v.id = e.voucher_id WHERE e.gift_id = :g"
        " ORDER BY e.position",
        g=gift_id,
    )
    return [row._asdict() for row in rows]


def test_fifty_claimers_share_ten_envelopes_one_each(live, database, brand_id):
    total = 1_000_000
    gift = _lixi(live, 10, total)
    emails = [f"chau{i}@example.vn" for i in range(50)]
    visitors = _visitors(live, gift, 50)
    try:
        # Each claimer asks for their own code first (that is not the race), then all claim at once.
        def ask(pair: tuple[Visitor, str]) -> str:
            visitor, email = pair
            asked = visitor.post("code", contact=email, name=email.split("@")[0])
            assert asked.status_code in (200, 302, 303), _page_error(asked)
            return _code_mailed_to(database, brand_id, email)

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(ask, zip(visitors, emails, strict=True)))
        calls = [
            lambda v=v, e=e, c=c: v.post("claim", contact=e, code=c, name=e.split("@")[0])
            for v, e, c in zip(visitors, emails, codes, strict=True)
        ]
        responses = _all_at_once(calls)
    finally:
        _close(visitors)
    assert all(r.status_code < 500 for r in responses), [_page_error(r) for r in responses]
    winners = [email for email, r in zip(emails, responses, strict=True) if _claimed(r)]
    assert len(winners) == 10, [_page_error(r) for r in responses]

    envelopes = _envelopes(database, gift["id"])
    assert len(envelopes) == 10 and all(e["claimed_at"] is not None for e in envelopes)
    assert sorted(e["claimer_contact"] for e in envelopes) == sorted(winners)  # one each, the winners
    assert sum(e["amount"] for e in envelopes) == total
    # Each claimer holds a new gift card of their envelope's amount; the held card is drained.
    assert all(e["balance"] == e["amount"] for e in envelopes)
    assert len({e["voucher_id"] for e in envelopes}) == 10
    assert live.get(f"/gifts/{gift['id']}").json()["status"] == "claimed"  # the last envelope ends it
    held = _voucher_of(database, gift["id"])
    assert held["balance"] == 0 and held["id"] not in {e["voucher_id"] for e in envelopes}
    assert _audits(database, brand_id, "gift.envelope_claimed", gift["id"]) == 10


def test_one_person_racing_for_two_envelopes_gets_one(live, database, brand_id):
    gift = _lixi(live, 5, 500_000, mode="equal")
    visitors = _visitors(live, gift, 5)
    try:
        asked = visitors[0].post("code", contact="tham.an@example.vn", name="Tham")
        assert asked.status_code in (200, 302, 303), _page_error(asked)
        code = _code_mailed_to(database, brand_id, "tham.an@example.vn")
        responses = _all_at_once(
            [
                lambda v=v: v.post("claim", contact="tham.an@example.vn", code=code, name="Tham")
                for v in visitors
            ]
        )
    finally:
        _close(visitors)
    assert all(r.status_code < 500 for r in responses), [_page_error(r) for r in responses]
    assert Counter(_claimed(r) for r in responses) == {True: 1, False: 4}, [_page_error(r) for r in responses]
    taken = [e for e in _envelopes(database, gift["id"]) if e["claimed_at"] is not None]
    assert [e["claimer_contact"] for e in taken] == ["tham.an@example.vn"]
    assert _voucher_of(database, gift["id"])["balance"] == 400_000


# --- 4. One voucher, two gifts; a gift and a redeem ----------------------------------------------


def _member_voucher(live: LiveLixi, external_id: str, offer_id: int) -> str:
    member = live.post("/members", {"external_id": external_id, "name": "Minh"})
    assert member.status_code in (200, 201), member.text
    issued = live.post("/vouchers", {"offer_id": offer_id, "member_external_id": external_id})
    assert issued.status_code == 201, issued.text
    return issued.json()["vouchers"][0]["code"]


def _gift_of(live: LiveLixi, code: str, external_id: str, session: requests.Session | None = None):
    body = {
        "voucher_code": code,
        "sender": {"member_external_id": external_id},
        "recipient": {"name": "Hoa", "email": "hoa@example.vn"},
    }
    return live.post("/gifts", body, session=session)


def test_ten_gifts_of_one_voucher_make_one(live, database, brand_id):
    code = _member_voucher(live, "race-giver", _offer(live, kind="fixed_amount", value=30000))
    sessions = [requests.Session() for _ in range(10)]
    try:
        responses = _all_at_once([lambda s=s: _gift_of(live, code, "race-giver", s) for s in sessions])
    finally:
        for session in sessions:
            session.close()
    outcomes = Counter(
        (r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else None) for r in responses
    )
    assert outcomes == {(201, None): 1, (409, "not_transferable"): 9}, outcomes
    (made,) = [r.json() for r in responses if r.status_code == 201]
    held = _rows(database, "SELECT held_by FROM vouchers WHERE code = :c", c=code)
    assert held == [(f"gift:{made['id']}",)]
    gifts = _rows(
        database,
        "SELECT g.id FROM gifts g JOIN vouchers v ON v.id = g.voucher_id WHERE v.code = :c",
        c=code,
    )
    assert [row[0] for row in gifts] == [made["id"]]


def test_a_gift_and_a_redeem_of_one_voucher_never_both_happen(live, database, store):
    offer_id = _offer(live, kind="fixed_amount", value=20000)
    outcomes = Counter()
    for round_ in range(8):
        external_id = f"race-both-{round_}"
        code = _member_voucher(live, external_id, offer_id)
        with requests.Session() as one, requests.Session() as other:
            gift, redeem = _all_at_once(
                [
                    lambda c=code, e=external_id: _gift_of(live, c, e, one),
                    lambda c=code: live.post(
                        "/redemptions", {"code": c, "merchant_id": store}, session=other
                    ),
                ]
            )
        assert (gift.status_code, redeem.status_code) in ((201, 409), (409, 201)), (gift.text, redeem.text)
        (status, held_by) = _rows(database, "SELECT status, held_by FROM vouchers WHERE code = :c", c=code)[0]
        if gift.status_code == 201:
            assert redeem.json()["error"]["code"] == "held"
            assert (status, held_by) == ("issued", f"gift:{gift.json()['id']}")
            outcomes["gift"] += 1
        else:
            assert gift.json()["error"]["code"] == "not_transferable"
            assert (status, held_by) == ("redeemed", None)
            outcomes["redeem"] += 1
    assert sum(outcomes.values()) == 8


def test_a_claim_and_a_cancel_of_one_gift_never_both_happen(live, database, brand_id):
    """The sender takes a member's gift back while the recipient claims it: the voucher goes one
    way, to the recipient (claimed) or back to the sender under a new code (cancelled)."""
    offer_id = _offer(live, kind="fixed_amount", value=25000)
    winners = Counter()
    for round_ in range(8):
        external_id = f"race-cancel-{round_}"
        code = _member_voucher(live, external_id, offer_id)
        body = {"voucher_code": code, "sender": {"member_external_id": external_id}, "recipient": {}}
        gift = _gift(live, **body)
        (visitor,) = _visitors(live, gift, 1)
        try:
            claim, cancel = _all_at_once(
                [lambda v=visitor: v.post("claim"), lambda g=gift: live.post(f"/gifts/{g['id']}/cancel", {})]
            )
        finally:
            _close([visitor])
        assert claim.status_code < 500 and cancel.status_code < 500, (_page_error(claim), cancel.text)
        assert _claimed(claim) != (cancel.status_code == 200), (_page_error(claim), cancel.text)
        status = live.get(f"/gifts/{gift['id']}").json()["status"]
        voucher = _voucher_of(database, gift["id"])
        (owner,) = _rows(database, "SELECT member_id FROM vouchers WHERE id = :v", v=voucher["id"])[0]
        (sender,) = _rows(
            database,
            "SELECT id FROM members WHERE brand_id = :b AND external_id = :e",
            b=brand_id,
            e=external_id,
        )[0]
        assert voucher["held_by"] is None and voucher["code"] != code and voucher["status"] == "issued"
        if _claimed(claim):
            assert status == "claimed" and owner != sender
            assert cancel.json()["error"]["code"] == "gift_claimed"
        else:
            assert status == "cancelled" and owner == sender
        # One ending written down: the claim's or the cancel's, never both.
        endings = [
            _audits(database, brand_id, action, gift["id"]) for action in ("gift.claimed", "gift.cancelled")
        ]
        assert sorted(endings) == [0, 1]
        winners[status] += 1
    assert sum(winners.values()) == 8, winners
