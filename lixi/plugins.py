"""How a domain plugs into the kernel: what its register(app) adds, kept per app in app.extensions.

The kernel imports no domain; a domain's `register(app)` adds its blueprints and CLI commands
through Flask, and the rest here: log-in pages, JSON paths, outbox topics and hooks, its part of
seed-demo and the sweeps the worker runs. Each kernel module reads its list with `plugged()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

_KEY = "lixi_plugins"


@dataclass(frozen=True)
class OutboxHook:
    """A reader of the outbox: asked inside the publishing transaction whether it wants a message
    (brand id, topic), and handed the ids of those it wanted after the commit (it must not raise)."""

    wants: Callable[[int, str], bool]
    after_commit: Callable[[list[int]], None]


@dataclass(frozen=True)
class Sweep:
    """Catch-up work the worker command runs every `app.config[every]` seconds."""

    run: Callable[[], Any]
    every: str


@dataclass(frozen=True)
class ScanTarget:
    """Something other than a voucher that the merchant's scanner may read (a member card): a QR
    whose URL path starts with `path_prefix`, or typed text matching `typed` (a regular expression
    the page's script runs), opens the staff page `endpoint` with ?code=<what was read>. `label`
    names a link to that page on the counter (for typing without the scanner)."""

    endpoint: str
    path_prefix: str
    typed: str | None = None
    label: Any = None  # a lazy_gettext string, translated when the counter is drawn


@dataclass(frozen=True)
class VoucherAction:
    """A link the member's wallet offers beside each of their usable vouchers (gifting's "Tặng
    bạn"): `endpoint` opens with ?t=<member link>&code=<voucher code>; `label` is a lazy string."""

    endpoint: str
    label: Any


@dataclass
class Plugins:
    login_pages: dict[str, str] = field(default_factory=dict)  # path prefix -> its log-in endpoint
    json_paths: list[str] = field(default_factory=list)  # path prefixes whose errors are JSON
    topics: list[str] = field(default_factory=list)  # outbox topics, in the order domains added them
    outbox_hooks: list[OutboxHook] = field(default_factory=list)
    demo_seeders: list[tuple[int, Callable[[Any], None]]] = field(default_factory=list)
    sweeps: list[Sweep] = field(default_factory=list)
    scan_targets: list[ScanTarget] = field(default_factory=list)
    member_hooks: list[Callable[[Any, bool, dict[str, Any]], None]] = field(default_factory=list)
    member_home: str | None = None  # the endpoint of the member's own page (takes ?t=<member link>)
    voucher_actions: list[VoucherAction] = field(default_factory=list)


def plugged(app: Flask | None = None) -> Plugins:
    """What the domains added to this app (the current one by default)."""
    return (app or current_app).extensions[_KEY]


def init_plugins(app: Flask) -> Plugins:
    return app.extensions.setdefault(_KEY, Plugins())


def add_login_page(app: Flask, prefix: str, endpoint: str) -> None:
    """Staff who must log in under `prefix` are sent to `endpoint` (with ?next=)."""
    plugged(app).login_pages[prefix] = endpoint


def add_json_paths(app: Flask, *prefixes: str) -> None:
    """Errors under these path prefixes are JSON (API.md's shape) instead of an HTML page."""
    plugged(app).json_paths.extend(prefixes)


def add_topics(app: Flask, *topics: str) -> None:
    """The outbox topics a domain publishes: publish() refuses others, webhooks offer these."""
    known = plugged(app).topics
    known.extend(topic for topic in topics if topic not in known)


def add_outbox_hook(
    app: Flask, wants: Callable[[int, str], bool], after_commit: Callable[[list[int]], None]
) -> None:
    plugged(app).outbox_hooks.append(OutboxHook(wants, after_commit))


def add_demo_seeder(app: Flask, order: int, seeder: Callable[[Any], None]) -> None:
    """A part of seed-demo: `seeder(demo)` runs in `order` (lower first) and adds what it prints."""
    plugged(app).demo_seeders.append((order, seeder))


def add_sweep(app: Flask, run: Callable[[], Any], every: str) -> None:
    """`run()` is called by the worker command every `app.config[every]` seconds, in an app context."""
    plugged(app).sweeps.append(Sweep(run, every))


def add_scan_target(
    app: Flask, endpoint: str, path_prefix: str, typed: str | None = None, label: Any = None
) -> None:
    """The merchant's scanner sends what it reads to `endpoint` when it is not a voucher (ScanTarget)."""
    plugged(app).scan_targets.append(ScanTarget(endpoint, path_prefix, typed, label))


def add_member_home(app: Flask, endpoint: str) -> None:
    """The member's own page: a member link made without a campaign opens `endpoint` (?t=<token>)."""
    plugged(app).member_home = endpoint


def add_member_hook(app: Flask, hook: Callable[[Any, bool, dict[str, Any]], None]) -> None:
    """`hook(member, created, fields)` runs inside the transaction of every member upsert, with the
    posted fields (a domain's own ones too, such as loyalty's `referred_by`); it may raise a 422."""
    plugged(app).member_hooks.append(hook)


def add_voucher_action(app: Flask, endpoint: str, label: Any) -> None:
    """The wallet offers a link to `endpoint` beside each usable voucher (VoucherAction)."""
    plugged(app).voucher_actions.append(VoucherAction(endpoint, label))
