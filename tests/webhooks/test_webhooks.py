"""Webhooks end to end: a real RQ worker on real Redis POSTs signed events to a local HTTP receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flask import Flask

from lixi import jobs
from lixi.audit import list_audit_events
from lixi.errors import InvalidRequest, NotFound
from lixi.extensions import db
from lixi.models import OutboxMessage
from tests.conftest import fresh_app
from webhooks.client import signature_header, verify_signature
from webhooks.delivery import deliver, dispatch_message
from webhooks.endpoints import (
    create_endpoint,
    disable_endpoint,
    get_endpoint,
    list_deliveries,
    list_endpoints,
)
from webhooks.models import WebhookDelivery
from webhooks.sweep import sweep


class Receiver:
    """A brand's webhook receiver: records each POST and answers from a script, then 200."""

    def __init__(self, script: list[int | str] | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._lock:
                    receiver.requests.append((dict(self.headers), body))
                    answer = receiver.script.pop(0) if receiver.script else 200
                if answer == "slow":
                    time.sleep(1.0)  # longer than the test's WEBHOOK_TIMEOUT_SECONDS
                    answer = 200
                self.send_response(int(answer))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def app(migrated: str, redis_url: str, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """Private addresses allowed (the receiver is on 127.0.0.1) and a tiny back-off, unless a test says."""
    overrides = {
        "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": True,
        "WEBHOOK_RETRY_BASE_SECONDS": 0.01,
        **getattr(request, "param", {}),
    }
    with fresh_app(migrated, redis_url, **overrides) as app:
        yield app


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    started: list[Receiver] = []
    yield started
    for receiver in started:
        receiver.stop()


@pytest.fixture
def make_receiver(receivers: list[Receiver]):
    def make(script: list[int | str] | None = None) -> Receiver:
        receiver = Receiver(script)
        receivers.append(receiver)
        return receiver

    return make


def work(app: Flask) -> None:
    jobs.work(app, burst=True, in_process=True)


def issue_voucher(api) -> int:
    """voucher.issued through the public API; returns the outbox message's id."""
    offer = api.post("/offers", {"name": "50k off", "kind": "fixed_amount", "value": 50000})
    assert offer.status_code == 201, offer.get_json()
    issued = api.post("/vouchers", {"offer_id": offer.get_json()["id"]})
    assert issued.status_code == 201, issued.get_json()
    return latest_message_id()


def latest_message_id() -> int:
    fresh()
    return db.session.execute(db.select(db.func.max(OutboxMessage.id))).scalar_one()


def fresh() -> None:
    """End the test's read snapshot and forget its objects (kept across commits), to see the worker's."""
    db.session.commit()
    db.session.expire_all()


def deliveries(endpoint_id: int) -> list[WebhookDelivery]:
    fresh()
    return list(
        db.session.execute(
            db.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
        ).scalars()
    )


def wait_until_due(delivery: WebhookDelivery) -> None:
    """Sleep past next_attempt_at, rounded up to RQ's whole-second schedule (at most ~1 s)."""
    assert delivery.next_attempt_at is not None
    due = delivery.next_attempt_at.timestamp()
    time.sleep(max(0.0, int(due) + 1 - time.time()) + 0.05)


def test_a_failed_delivery_is_retried_signed_and_delivered_once(app, api, brand, make_receiver):
    hooks, other = make_receiver([500]), make_receiver()
    endpoint = create_endpoint(brand.id, hooks.url, ["voucher.issued"])
    elsewhere = create_endpoint(brand.id, other.url, ["prize.won", "voucher.redeemed"])
    secret, endpoint_id = endpoint.secret, endpoint.id
    assert secret.startswith("whsec_") and len(secret) > 40
    message_id = issue_voucher(api)

    work(app)  # fans out, sends once: the receiver answers 500
    assert len(hooks.requests) == 1
    [delivery] = deliveries(endpoint_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.last_error.startswith("HTTP 500")
    assert delivery.next_attempt_at is not None

    wait_until_due(delivery)
    work(app)  # RQ's scheduler releases the retry; the receiver answers 200
    assert len(hooks.requests) == 2
    [delivery] = deliveries(endpoint_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
    assert delivery.delivered_at is not None and delivery.last_error is None

    headers, body = hooks.requests[-1]
    assert verify_signature(secret, headers["Lixi-Signature"], body)
    assert headers["Content-Type"] == "application/json"
    assert headers["Lixi-Event"] == "voucher.issued"
    assert headers["Lixi-Delivery"] == str(delivery.id)
    assert headers["Lixi-Message"] == str(message_id)
    event = json.loads(body)
    assert (event["id"], event["type"], event["brand_id"]) == (message_id, "voucher.issued", brand.id)
    assert event["data"]["count"] == 1 and len(event["data"]["codes"]) == 1
    assert event["created_at"].endswith("+00:00")
    # Both tries carried the same event; each was signed on its own.
    assert hooks.requests[0][1] == body

    # A tampered body, the wrong secret, or a stale signature do not verify.
    assert not verify_signature(secret, headers["Lixi-Signature"], body.replace(b'"count":1', b'"count":9'))
    assert not verify_signature("whsec_wrong", headers["Lixi-Signature"], body)
    assert not verify_signature(secret, headers["Lixi-Signature"], body, now=time.time() + 3600)

    # Nothing more goes out: not from a sweep, a repeated fan-out, a stray job or another worker run.
    assert sweep(grace_seconds=0) == {"dispatched": 0, "enqueued": 0}
    dispatch_message(message_id)
    deliver(delivery.id)
    work(app)
    assert len(hooks.requests) == 2
    assert len(deliveries(endpoint_id)) == 1

    # The endpoint subscribed to other topics got nothing, not even a delivery row.
    assert other.requests == [] and deliveries(elsewhere.id) == []

    # The dashboard's delivery log shows it.
    [logged] = list_deliveries(brand.id, endpoint_id=endpoint_id)
    assert (logged.id, logged.status, logged.attempts) == (delivery.id, "delivered", 2)
    assert logged.message.topic == "voucher.issued" and logged.endpoint.url == hooks.url
    assert [d.id for d in list_deliveries(brand.id)] == [delivery.id]


def test_an_endpoint_with_no_topics_gets_every_event(app, api, brand, make_receiver):
    hooks = make_receiver()
    endpoint = create_endpoint(brand.id, hooks.url, [])
    issue_voucher(api)
    work(app)
    assert [h["Lixi-Event"] for h, _ in hooks.requests] == ["voucher.issued"]
    assert [d.status for d in deliveries(endpoint.id)] == ["delivered"]


def test_a_message_whose_enqueue_failed_is_delivered_by_the_sweep(app, api, brand, make_receiver):
    hooks = make_receiver()
    endpoint = create_endpoint(brand.id, hooks.url, ["voucher.issued"])
    real_redis = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # the job queue is down while the change commits
    try:
        message_id = issue_voucher(api)  # still 201: the event is in the outbox
    finally:
        app.config["REDIS_URL"] = real_redis

    work(app)
    assert hooks.requests == []
    assert db.session.get(OutboxMessage, message_id).sent_at is None
    # A fresh message is left to the normal path for a grace period.
    assert sweep() == {"dispatched": 0, "enqueued": 0}

    assert sweep(grace_seconds=0) == {"dispatched": 1, "enqueued": 1}
    work(app)
    assert len(hooks.requests) == 1
    assert verify_signature(endpoint.secret, hooks.requests[0][0]["Lixi-Signature"], hooks.requests[0][1])
    fresh()
    assert db.session.get(OutboxMessage, message_id).sent_at is not None
    assert [d.status for d in deliveries(endpoint.id)] == ["delivered"]
    assert sweep(grace_seconds=0) == {"dispatched": 0, "enqueued": 0}


def test_a_lost_retry_job_is_requeued_by_the_sweep(app, api, brand, make_receiver):
    hooks = make_receiver([500])
    endpoint = create_endpoint(brand.id, hooks.url, [])
    issue_voucher(api)
    work(app)
    [delivery] = deliveries(endpoint.id)
    assert delivery.attempts == 1
    jobs.queue().scheduled_job_registry.remove(jobs.queue().scheduled_job_registry.get_job_ids()[0])
    time.sleep(max(0.0, delivery.next_attempt_at.timestamp() - time.time()) + 0.05)

    assert sweep(grace_seconds=0) == {"dispatched": 0, "enqueued": 1}
    work(app)
    assert len(hooks.requests) == 2
    assert [(d.status, d.attempts) for d in deliveries(endpoint.id)] == [("delivered", 2)]


def test_a_delivery_being_sent_is_not_sent_again_at_the_same_time(app, api, brand, make_receiver):
    hooks = make_receiver()
    endpoint = create_endpoint(brand.id, hooks.url, [])
    message_id = issue_voucher(api)
    jobs.queue().empty()  # the worker never sees the nudge; we play two workers by hand
    dispatch_message(message_id)
    [delivery] = deliveries(endpoint.id)

    from lixi.jobs import claim_try
    from webhooks.models import WebhookDelivery

    # a first worker takes it (its lease: 80 s) and is still sending…
    assert claim_try(WebhookDelivery.__table__, delivery.id, 0, 80.0)
    deliver(delivery.id)  # …a second one (a sweep's duplicate job) backs off
    assert hooks.requests == []
    assert [(d.status, d.attempts) for d in deliveries(endpoint.id)] == [("pending", 1)]


@pytest.mark.parametrize("app", [{"WEBHOOK_MAX_ATTEMPTS": 2, "WEBHOOK_TIMEOUT_SECONDS": 0.3}], indirect=True)
def test_after_the_last_attempt_a_delivery_is_failed(app, api, brand, make_receiver):
    hooks = make_receiver(["slow", 503])
    endpoint = create_endpoint(brand.id, hooks.url, [])
    issue_voucher(api)

    work(app)
    [delivery] = deliveries(endpoint.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert delivery.last_error == "Timed out after 0.3 s."

    wait_until_due(delivery)
    work(app)
    [delivery] = deliveries(endpoint.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 2, 503)
    assert delivery.next_attempt_at is None and delivery.delivered_at is None

    assert sweep(grace_seconds=0) == {"dispatched": 0, "enqueued": 0}
    deliver(delivery.id)
    assert len(hooks.requests) == 2


def test_disabling_an_endpoint_stops_its_deliveries_and_is_audited(app, api, brand, make_receiver):
    hooks = make_receiver()
    endpoint = create_endpoint(brand.id, hooks.url, ["voucher.issued"])
    message_id = issue_voucher(api)
    jobs.queue().empty()
    dispatch_message(message_id)  # a delivery is pending when the endpoint is disabled
    jobs.queue().empty()

    disabled = disable_endpoint(brand.id, endpoint.id)
    assert disabled.disabled_at is not None
    assert disable_endpoint(brand.id, endpoint.id).disabled_at == disabled.disabled_at
    [delivery] = deliveries(endpoint.id)
    assert (delivery.status, delivery.last_error) == ("failed", "The endpoint was disabled.")

    issue_voucher(api)
    sweep(grace_seconds=0)
    work(app)
    assert hooks.requests == []
    assert len(deliveries(endpoint.id)) == 1

    actions = [(e.action, e.subject_id) for e in list_audit_events(brand.id, action="webhook.")]
    assert actions == [("webhook.disabled", str(endpoint.id)), ("webhook.created", str(endpoint.id))]


def test_another_brand_cannot_see_or_disable_an_endpoint(app, api, brand, make_brand, make_receiver):
    hooks = make_receiver()
    endpoint = create_endpoint(brand.id, hooks.url, [])
    issue_voucher(api)
    work(app)
    other = make_brand("Trà Sữa")

    with pytest.raises(NotFound):
        get_endpoint(other.id, endpoint.id)
    with pytest.raises(NotFound):
        disable_endpoint(other.id, endpoint.id)
    with pytest.raises(NotFound):
        list_deliveries(other.id, endpoint_id=endpoint.id)
    assert list_endpoints(other.id) == [] and list_deliveries(other.id) == []
    fresh()
    assert get_endpoint(brand.id, endpoint.id).disabled_at is None
    assert [e.id for e in list_endpoints(brand.id)] == [endpoint.id]


def field_error(error: pytest.ExceptionInfo[InvalidRequest]) -> str:
    [(field, [message])] = error.value.details["fields"].items()
    return f"{field}: {message}"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "http://localhost/hooks",
        "https://10.1.2.3/hooks",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data/",  # the cloud metadata service
        "http://[::1]/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://0.0.0.0/",
    ],
)
@pytest.mark.parametrize("app", [{"WEBHOOK_ALLOW_PRIVATE_ADDRESSES": False}], indirect=True)
def test_private_addresses_are_refused(app, brand, url):
    with pytest.raises(InvalidRequest) as refused:
        create_endpoint(brand.id, url, [])
    assert field_error(refused) == "url: The URL points to a private, loopback or link-local address."
    assert list_endpoints(brand.id) == []


def test_a_host_that_turns_private_after_sign_up_is_not_sent_to(app, api, brand, make_receiver):
    hooks = make_receiver()
    endpoint = create_endpoint(brand.id, hooks.url, [])  # allowed while the setting is on
    app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = False  # as if its DNS now pointed inside
    issue_voucher(api)
    work(app)
    assert hooks.requests == []
    [delivery] = deliveries(endpoint.id)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_error == "Refused to connect to the private address 127.0.0.1."


@pytest.mark.parametrize(
    ("url", "topics", "expected"),
    [
        ("ftp://example.com/hooks", [], "url: Use an http:// or https:// URL."),
        ("example.com/hooks", [], "url: Use an http:// or https:// URL."),
        ("", [], "url: Give the endpoint's URL."),
        ("https://example.com/" + "a" * 2000, [], "url: The URL may be at most 2000 characters."),
        ("https://exa mple.com/", [], "url: The URL may not contain spaces or control characters."),
        ("https://example.com:99999/", [], "url: This is not a valid URL."),
        (
            "https://user:pw@example.com/",
            [],
            "url: The URL may not carry a user name or password; check Lixi-Signature.",
        ),
        (
            "https://example.com/",
            ["voucher.issued", "voucher.eaten"],
            "topics: Unknown topic 'voucher.eaten'",
        ),
    ],
)
def test_bad_input_is_refused_on_its_field(app, brand, url, topics, expected):
    with pytest.raises(InvalidRequest) as refused:
        create_endpoint(brand.id, url, topics)
    assert field_error(refused).startswith(expected)


def test_create_keeps_the_topics_and_audits(app, brand):
    endpoint = create_endpoint(brand.id, "https://hooks.example.com/lixi", ["prize.won", "prize.won"])
    assert endpoint.topics == ["prize.won"] and endpoint.disabled_at is None
    [audit] = list_audit_events(brand.id, action="webhook.")
    assert audit.action == "webhook.created"
    assert audit.data == {"url": "https://hooks.example.com/lixi", "topics": ["prize.won"]}
    assert endpoint.secret not in json.dumps(audit.data)


def test_verify_signature():
    body, secret = b'{"id":1}', "whsec_test"
    header = signature_header(secret, body, timestamp=1_700_000_000)
    assert verify_signature(secret, header, body, now=1_700_000_100)
    assert verify_signature(secret, header, body, now=1_699_999_900)
    assert not verify_signature(secret, header, body, now=1_700_000_301)  # too old: a replay
    assert not verify_signature(secret, header, body + b" ", now=1_700_000_000)
    assert not verify_signature("whsec_other", header, body, now=1_700_000_000)
    # While a receiver rolls its secret it may be sent several v1 values: any one will do.
    rolled = header + ",v1=" + "0" * 64
    assert verify_signature(secret, rolled, body, now=1_700_000_000)
    assert verify_signature(secret, "v1=" + "0" * 64 + "," + header, body, now=1_700_000_000)
    for bad in ["", "t=abc,v1=00", "v1=00", "t=1700000000", header.replace("v1=", "v2="), "garbage"]:
        assert not verify_signature(secret, bad, body, now=1_700_000_000)
    # The current time by default.
    assert verify_signature(secret, signature_header(secret, body), body)
