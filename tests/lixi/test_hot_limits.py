"""The hot paths' limiter (lixi/hotlimits.py): one Redis call per request, one cluster slot per call,
the limits as configured, and 503 at once when Redis is down or hung."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
import redis
from redis.crc import key_slot

from harness.localredis import RedisServer
from tests.conftest import error_code, fresh_app

STOP = "lixi-test-monitor-stop"
BACKGROUND = {"PING", "ECHO", "SUBSCRIBE", "CLIENT"}  # the key cache's listener; connection set-up


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    if server.process is not None:
        server.process.send_signal(signal.SIGCONT)
    server.stop()


@pytest.fixture
def app(migrated, redis_server, request):
    overrides = getattr(request, "param", {})
    with fresh_app(migrated, redis_server.url, **overrides) as app:
        yield app


@contextmanager
def monitored(url: str) -> Iterator[list[list[str]]]:
    """The commands Redis received meanwhile (MONITOR), each as its words, background ones left out."""
    seen: list[list[str]] = []
    client = redis.Redis.from_url(url)
    ready = threading.Event()

    def listen() -> None:
        with client.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                words = command["command"].split(" ")  # the keys and arguments here have no spaces
                if words[:2] == ["ECHO", STOP]:
                    return
                # Commands a script runs are shown too, as the "lua" client's: one call is its EVALSHA.
                if command["client_type"] != "lua" and words[0].upper() not in BACKGROUND:
                    seen.append(words)

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(5)
    time.sleep(0.1)  # MONITOR is on before the block's first command
    try:
        yield seen
    finally:
        redis.Redis.from_url(url).echo(STOP)
        thread.join(5)
        assert not thread.is_alive()


def _keys(command: list[str]) -> list[str]:
    """The keys of an EVALSHA: the words after its key count."""
    assert command[0].upper() == "EVALSHA", command
    return command[3 : 3 + int(command[2])]


@pytest.fixture
def hot(api, client, brand, merchant, offer, issue, make_campaign):
    """One of each hot request (a fresh voucher for each redeem), warmed up once (the first call
    loads the scripts into Redis)."""
    campaign = make_campaign(offer["id"])
    api.post("/members", {"external_id": "m-1"})
    api.post("/members/m-1/plays", {"campaign_id": campaign["id"], "plays": 50})
    link = api.post("/members/m-1/links", {"campaign_id": campaign["id"]}).get_json()
    url = urlsplit(link["url"])
    html = client.get(f"{url.path}?{url.query}").get_data(as_text=True)
    csrf = html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    codes = iter(v["code"] for v in issue(offer["id"], 20))
    validated = issue(offer["id"])[0]["code"]

    def validate():
        return api.post("/vouchers/validate", {"code": validated, "merchant_id": merchant["id"]})

    def redeem():
        return api.post("/redemptions", {"code": next(codes), "merchant_id": merchant["id"]})

    def play():
        return api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-1"})

    def page_play():
        token = url.query.split("t=", 1)[1]
        return client.post(
            url.path, data={"t": token, "csrf_token": csrf}, headers={"Accept": "application/json"}
        )

    calls = {"validate": validate, "redeem": redeem, "play": play, "page_play": page_play}
    for call in calls.values():
        assert call().status_code in (200, 201)
    return calls


def test_each_hot_request_makes_one_redis_call(hot, redis_server):
    for name, call in hot.items():
        with monitored(redis_server.url) as commands:
            for _ in range(3):
                assert call().status_code in (200, 201), name
        assert [c[0].upper() for c in commands] == ["EVALSHA"] * 3, (name, commands)


def test_a_failed_look_up_costs_one_more_call_and_a_refusal_none(api, merchant, redis_server):
    api.post("/vouchers/validate", {"code": "warm-up"})
    with monitored(redis_server.url) as commands:
        assert api.post("/vouchers/validate", {"code": "nope"}).status_code == 404
    assert [c[0].upper() for c in commands] == ["EVALSHA", "EVALSHA"]  # check, then count the failure
    for i in range(8):
        api.post("/redemptions", {"code": f"nope-{i}", "merchant_id": merchant["id"]})
    with monitored(redis_server.url) as commands:
        assert api.post("/vouchers/validate", {"code": "nope"}).status_code == 429
    assert [c[0].upper() for c in commands] == ["EVALSHA"]


def _calls(commands: list[list[str]]) -> list[list[str]]:
    """The script calls (a script's first use on a Redis also shows its SCRIPT LOAD)."""
    return [command for command in commands if command[0].upper() == "EVALSHA"]


def test_every_key_of_a_call_is_in_the_brands_slot(hot, api, brand, redis_server, make_brand, client):
    with monitored(redis_server.url) as commands:
        for call in hot.values():
            call()
        api.post("/vouchers/validate", {"code": "nope"})  # a 404: its failure is counted by a second call
    # The failure script's first call is retried after loading it.
    assert len(_calls(commands)) >= len(hot) + 2
    for command in _calls(commands):
        keys = _keys(command)
        assert all(f"{{b{brand.id}}}" in key for key in keys), keys
        assert len({key_slot(key.encode()) for key in keys}) == 1, keys

    other = make_brand("Trà Sữa")
    with monitored(redis_server.url) as commands:
        client.post("/api/v1/vouchers/validate", json={"code": "nope"}, headers=other.headers)
    keys = [key for command in _calls(commands) for key in _keys(command)]
    assert len({key_slot(key.encode()) for key in keys}) == 1 and all(f"{{b{other.id}}}" in k for k in keys)


def test_a_refused_play_is_counted_in_the_same_call(app, api, offer, make_campaign, redis_server):
    app.config["RATE_LIMIT_PLAYS_PER_MEMBER"] = "2 per minute"
    campaign = make_campaign(offer["id"])
    api.post("/members", {"external_id": "m-1"})
    api.post("/members/m-1/plays", {"campaign_id": campaign["id"], "plays": 10})
    path = f"/campaigns/{campaign['id']}/plays"
    assert [api.post(path, {"member_external_id": "m-1"}).status_code for _ in range(2)] == [201, 201]
    with monitored(redis_server.url) as commands:
        refused = api.post(path, {"member_external_id": "m-1"})
    assert refused.status_code == 429 and error_code(refused) == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert [c[0].upper() for c in commands] == ["EVALSHA"]
    assert api.get(f"/campaigns/{campaign['id']}/stats").get_json()["refused_for_abuse"] == 1


@pytest.mark.parametrize("app", [{"RATE_LIMIT_PLAYS_PER_IP": "3 per minute"}], indirect=True)
def test_plays_are_limited_per_client_ip(api, client, brand, offer, make_campaign):
    campaign = make_campaign(offer["id"])
    for member in ("m-1", "m-2"):
        api.post("/members", {"external_id": member})
        api.post(f"/members/{member}/plays", {"campaign_id": campaign["id"], "plays": 10})

    def play(member: str, ip: str) -> int:
        return client.post(
            f"/api/v1/campaigns/{campaign['id']}/plays",
            json={"member_external_id": member},
            headers=brand.headers,
            environ_overrides={"REMOTE_ADDR": ip},
        ).status_code

    assert [play(m, "10.0.0.1") for m in ("m-1", "m-2", "m-1", "m-2")] == [201, 201, 201, 429]
    assert play("m-2", "10.0.0.2") == 201


@pytest.mark.parametrize("app", [{"RATE_LIMIT_PLAYS_PER_DEVICE": "2 per minute"}], indirect=True)
def test_page_plays_are_limited_per_device(api, client, offer, make_campaign):
    campaign = make_campaign(offer["id"])
    statuses = []
    for member in ("m-1", "m-2", "m-3"):  # one phone, three members' links
        api.post("/members", {"external_id": member})
        api.post(f"/members/{member}/plays", {"campaign_id": campaign["id"], "plays": 5})
        url = urlsplit(
            api.post(f"/members/{member}/links", {"campaign_id": campaign["id"]}).get_json()["url"]
        )
        html = client.get(f"{url.path}?{url.query}").get_data(as_text=True)
        csrf = html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        token = url.query.split("t=", 1)[1]
        statuses.append(client.post(url.path, data={"t": token, "csrf_token": csrf}).status_code)
    assert statuses == [200, 200, 429]
    client.delete_cookie("lixi_device")  # another phone (a new cookie on its first page)
    html = client.get(f"{url.path}?{url.query}").get_data(as_text=True)
    csrf = html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post(url.path, data={"t": token, "csrf_token": csrf}).status_code == 200


@pytest.mark.parametrize("app", [{"RATE_LIMIT_REDEEM_PER_KEY": "2 per minute"}], indirect=True)
def test_redeems_are_limited_per_key_and_each_brand_counts_its_own(
    api, client, merchant, offer, issue, make_brand
):
    codes = [v["code"] for v in issue(offer["id"], 3)]
    statuses = [
        api.post("/redemptions", {"code": c, "merchant_id": merchant["id"]}).status_code for c in codes
    ]
    assert statuses == [201, 201, 429]
    other = make_brand("Trà Sữa")
    store = client.post("/api/v1/merchants", json={"name": "Q3"}, headers=other.headers).get_json()
    deal = client.post(
        "/api/v1/offers", json={"name": "10k", "kind": "fixed_amount", "value": 10000}, headers=other.headers
    ).get_json()
    voucher = client.post("/api/v1/vouchers", json={"offer_id": deal["id"]}, headers=other.headers).get_json()
    redeemed = client.post(
        "/api/v1/redemptions",
        json={"code": voucher["vouchers"][0]["code"], "merchant_id": store["id"]},
        headers=other.headers,
    )
    assert redeemed.status_code == 201


def test_redis_killed_is_503_on_every_hot_route(hot, redis_server):
    redis_server.stop()
    for name, call in hot.items():
        response = call()
        assert response.status_code == 503, name
        assert response.headers["Retry-After"]


def test_redis_hung_is_503_within_a_second(hot, redis_server):
    assert redis_server.process is not None
    redis_server.process.send_signal(signal.SIGSTOP)  # accepts connections, never answers
    try:
        for name, call in hot.items():
            started = time.monotonic()
            response = call()
            elapsed = time.monotonic() - started
            assert response.status_code == 503, name
            if name != "page_play":  # the page's answer is an HTML error page
                assert error_code(response) == "unavailable"
            assert elapsed < 1.0, (name, elapsed)
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
    assert hot["validate"]().status_code == 200
