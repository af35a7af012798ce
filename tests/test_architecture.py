"""The layout's import rules (docs/STYLE.md), read from the code with ast: every import counts,
those inside functions too.

lixi ← vouchers ← games ← loyalty; vouchers ← gifting; webhooks and dashboard above the domains
they serve. The kernel imports no domain, no two modules import each other at any depth, the app
factory plugs the domains in an order where each comes after those it imports, and outbox topics
are named constants (a search finds every use), never strings built on the fly.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from lixi.app import DOMAINS
from lixi.config import ROOT
from lixi.plugins import plugged

# Which packages each package may import (besides itself).
MAY_IMPORT: dict[str, set[str]] = {
    "lixi": set(),
    "vouchers": {"lixi"},
    "games": {"lixi", "vouchers"},
    "loyalty": {"lixi", "vouchers", "games"},
    "gifting": {"lixi", "vouchers"},
    "webhooks": {"lixi", "vouchers", "games", "loyalty", "gifting"},
    "dashboard": {"lixi", "vouchers", "games", "loyalty", "gifting", "webhooks"},
}
Graph = dict[str, set[str]]


def module_files(root: Path) -> dict[str, Path]:
    """Every module of the packages above that exists, by dotted name (a package by its own name)."""
    found = {}
    for package in MAY_IMPORT:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(module: str, source: str, known: set[str], is_package: bool = False) -> set[str]:
    """The known modules `source` imports anywhere in its tree (functions included).

    `from package import name` is an import of package.name when that is a module, else of
    package (the parent package that Python also initialises is not counted: `import a.b` is
    an edge to a.b, as import-linter counts it).
    """
    edges: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            edges.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved from this module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                edges.add(submodule if submodule in known else base)
    return {edge for edge in edges if edge in known and edge != module}


def import_graph(root: Path = ROOT) -> Graph:
    files = module_files(root)
    known = set(files)
    return {
        module: imports_of(module, path.read_text(encoding="utf-8"), known, path.name == "__init__.py")
        for module, path in files.items()
    }


def layer_violations(graph: Graph) -> list[str]:
    wrong = []
    for module, targets in sorted(graph.items()):
        package = module.split(".")[0]
        for target in sorted(targets):
            other = target.split(".")[0]
            if other != package and other not in MAY_IMPORT[package]:
                wrong.append(f"{module} imports {target}")
    return wrong


def find_cycle(graph: Graph) -> list[str] | None:
    """One import cycle (its modules in order, the first repeated at the end), or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once fully explored
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def package_graph(graph: Graph) -> Graph:
    packages: Graph = {}
    for module, targets in graph.items():
        package = module.split(".")[0]
        packages.setdefault(package, set()).update(t.split(".")[0] for t in targets)
        packages[package].discard(package)
    return packages


def topics_built_on_the_fly(source: str) -> Iterator[int]:
    """Lines where publish() gets a topic that is not a named constant (a literal, an f-string, …)."""
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        # publish() as imported from lixi.outbox, or outbox.publish(); not Redis's client.publish()
        plain = isinstance(function, ast.Name) and function.id == "publish"
        dotted = (
            isinstance(function, ast.Attribute)
            and function.attr == "publish"
            and isinstance(function.value, ast.Name)
            and function.value.id == "outbox"
        )
        if not (plain or dotted):
            continue
        topic = next((kw.value for kw in node.keywords if kw.arg == "topic"), None)
        if topic is None and len(node.args) >= 2:
            topic = node.args[1]
        if topic is not None and not isinstance(topic, ast.Name | ast.Attribute):
            yield node.lineno


# --- The code as it is -------------------------------------------------------------------------


def test_the_scan_sees_every_package_and_imports_inside_functions() -> None:
    graph = import_graph()
    assert {"lixi.app", "vouchers.service", "webhooks.delivery", "dashboard.views"} <= set(graph)
    assert "lixi.outbox" in graph["vouchers.service"]


def test_no_package_imports_one_above_it() -> None:
    assert layer_violations(import_graph()) == []


def test_no_two_modules_import_each_other_at_any_depth() -> None:
    assert find_cycle(import_graph()) is None


def test_the_app_plugs_every_domain_in_after_those_it_imports() -> None:
    present = {module.split(".")[0] for module in import_graph()} - {"lixi"}
    assert set(DOMAINS) == present
    packages = package_graph(import_graph())
    for position, domain in enumerate(DOMAINS):
        assert packages[domain] - {"lixi"} <= set(DOMAINS[:position]), domain


def test_every_outbox_topic_is_a_named_constant() -> None:
    places = [
        f"{module}:{line}"
        for module, path in module_files(ROOT).items()
        for line in topics_built_on_the_fly(path.read_text(encoding="utf-8"))
    ]
    assert places == []


def test_the_domains_register_the_topics_they_name(app) -> None:
    from games import events as game_events
    from gifting import events as gift_events
    from loyalty import events as loyalty_events
    from vouchers import events as voucher_events

    assert plugged(app).topics == [
        *voucher_events.TOPICS,
        *gift_events.TOPICS,
        *game_events.TOPICS,
        *loyalty_events.TOPICS,
    ]


# --- The checks can fail -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}, ["a", "b", "c", "a"]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
    ],
)
def test_find_cycle_finds_a_cycle_of_any_length(graph: Graph, cycle: list[str] | None) -> None:
    assert find_cycle(graph) == cycle


@pytest.mark.parametrize(
    ("graph", "wrong"),
    [
        ({"lixi.cli": {"games.draws"}}, ["lixi.cli imports games.draws"]),
        ({"vouchers.service": {"games.plays"}}, ["vouchers.service imports games.plays"]),
        ({"games.api": {"dashboard.views"}}, ["games.api imports dashboard.views"]),
        ({"webhooks.endpoints": {"dashboard.access"}}, ["webhooks.endpoints imports dashboard.access"]),
        ({"dashboard.views": {"games.stats", "webhooks.endpoints", "lixi.auth"}}, []),
    ],
)
def test_layer_violations_name_each_upward_import(graph: Graph, wrong: list[str]) -> None:
    assert layer_violations(graph) == wrong


def test_imports_inside_functions_and_relative_ones_count() -> None:
    source = (
        "from . import models\n"
        "from .service import issue\n"
        "def seed():\n"
        "    from games import plays\n"
        "    import lixi.cli\n"
    )
    known = {"vouchers.models", "vouchers.service", "games", "games.plays", "lixi.cli", "vouchers.demo"}
    found = imports_of("vouchers.demo", source, known)
    assert found == {"vouchers.models", "vouchers.service", "games.plays", "lixi.cli"}


def test_a_topic_built_on_the_fly_is_found() -> None:
    source = (
        "publish(brand_id, events.VOUCHER_ISSUED, {})\n"
        "publish(brand_id, TOPIC, {})\n"
        'publish(brand_id, f"voucher.{status}", {})\n'
        'outbox.publish(brand_id, "prize.won", {})\n'
        'publish(brand_id, topic="a." + kind, payload={})\n'
        'redis.publish("channel", b"1")\n'
    )
    assert list(topics_built_on_the_fly(source)) == [3, 4, 5]
