"""The package layout of DESIGN.md, checked by parsing the source with ``ast``.

* Raw SQL stays in the modules that own the tables: ``store/``, ``query.py`` (the ``actions``
  index), ``views.py`` (its checks), ``capture/`` (the capture state and content blobs, for
  now) and ``salvage.py`` (it reads a damaged file page by page). Everything else goes
  through the ``LogStore`` methods, the ``query`` functions or ``capture.content``.
* Imports point down the layers, never up: core and detectors, store, verify, ledger,
  {capture, query, evidence, export}, scan, compliance, report, {service, server, cli}.
  Function-level and ``TYPE_CHECKING`` imports count too: an upward import that is only
  deferred is still an upward dependency.
* No import cycles between modules, lazy imports included.

Each checker is also run on a small planted example, so a checker that finds nothing
because it looks at nothing fails here too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "affidavit"

# The collector's own tables (tokens, devices, shipped records, cosignatures, the org log's
# entries) are defined in server/schema.py and belong to the server package; the log tables
# it keeps go through store/postgres.py like any LogStore.
SQL_OWNERS = (
    "affidavit.store",
    "affidavit.query",
    "affidavit.views",
    "affidavit.capture",
    "affidavit.server",
    # The recorder service is the ledger's one writer in service mode: it hands its
    # connection to capture/state.py and the capture writer, as the hook does in direct mode.
    "affidavit.service",
)
SQL_OWNERS_EXACT = ("affidavit.salvage", "affidavit.salvage_tree")
SQL_CALLS = frozenset({"execute", "executemany", "executescript"})

# Lowest first. A module belongs to the layer of its longest matching prefix. DESIGN.md
# draws "ledger -> verify"; the verification core sits below the ledger instead, because
# Ledger.append enforces the erasure rule of verify/ (issue 9: one rule, in the ledger and in
# every verifier) and Ledger.verify runs verify_log. capture/redact.py is pure text -> text
# and the secret detector is built on its rules, so it ranks with the detectors.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "core and detectors",
        (
            "affidavit.errors",
            "affidavit.record",
            "affidavit.merkle",
            "affidavit.note",
            "affidavit.keys",
            "affidavit.files",
            "affidavit.locations",
            "affidavit.config",
            "affidavit.config_starter",
            "affidavit.subtree",
            "affidavit.detect",
            "affidavit.capture.redact",
            "affidavit.cosignature",
            "affidavit.http_body",
        ),
    ),
    ("store", ("affidavit.store",)),
    ("verify", ("affidavit.verify", "affidavit.salvage", "affidavit.salvage_tree")),
    ("ledger", ("affidavit.ledger", "affidavit.ledger_results", "affidavit.signing", "affidavit")),
    (
        "capture, query, evidence, export",
        (
            "affidavit.capture",
            "affidavit.query",
            "affidavit.views",
            "affidavit.evidence",
            "affidavit.export",
            "affidavit.sources",
            "affidavit.shipping",
            "affidavit.remote",
        ),
    ),
    ("scan", ("affidavit.detect.scan", "affidavit.detect.extract", "affidavit.detect.records")),
    ("compliance", ("affidavit.compliance",)),
    ("report", ("affidavit.report",)),
    (
        "service, server, cli",
        ("affidavit.service", "affidavit.server", "affidavit.cli", "affidavit.__main__"),
    ),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            exact_only = prefix == "affidavit"  # the package's own __init__, not its tree
            matches = module == prefix or (not exact_only and module.startswith(prefix + "."))
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), rank)
    return None if best is None else best[1]


def imports_of(
    tree: ast.AST, module: str, is_package: bool, known: set[str]
) -> Iterator[tuple[int, str]]:
    """``(line, module)`` of every affidavit module imported anywhere in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "affidavit":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            if name.split(".")[0] != "affidavit":
                continue
            for alias in node.names:
                sub = f"{name}.{alias.name}"
                yield node.lineno, sub if sub in known else name


def sql_touches(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "connection":
            yield node.lineno, ".connection"
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SQL_CALLS
        ):
            yield node.lineno, f".{node.func.attr}("


def owns_sql(module: str) -> bool:
    return module in SQL_OWNERS_EXACT or any(
        module == p or module.startswith(p + ".") for p in SQL_OWNERS
    )


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    edges: dict[str, set[str]] = {}
    for name, path in found.items():
        tree = ast.parse(path.read_text("utf-8"), str(path))
        targets = {t for _, t in imports_of(tree, name, path.name == "__init__.py", known)}
        edges[name] = {t for t in targets if t in known and t != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


# -- raw SQL ------------------------------------------------------------------------------------


def test_the_sql_checker_sees_a_planted_connection_and_execute() -> None:
    tree = ast.parse("rows = ledger.store.connection.execute('SELECT 1')\nc.executemany(s, r)\n")
    assert sorted(sql_touches(tree)) == [(1, ".connection"), (1, ".execute("), (2, ".executemany(")]


def test_no_raw_sql_outside_the_modules_that_own_the_tables() -> None:
    found = modules()
    assert "affidavit.compliance.gather" in found and "affidavit.export" in found
    offences = []
    for name, path in found.items():
        if owns_sql(name):
            continue
        tree = ast.parse(path.read_text("utf-8"), str(path))
        for line, what in sql_touches(tree):
            offences.append(f"{path.relative_to(SRC.parent)}:{line}: {what}")
    assert offences == [], (
        "SQL outside store/, query.py, views.py, capture/ and salvage.py; use the LogStore "
        "methods, a query.py function or capture.content:\n" + "\n".join(offences)
    )


# -- import direction ---------------------------------------------------------------------------


def test_every_module_has_a_layer() -> None:
    unplaced = [name for name in modules() if layer_of(name) is None]
    assert unplaced == [], f"add these modules to LAYERS in {Path(__file__).name}: {unplaced}"


@pytest.mark.parametrize(
    ("importer", "imported", "upward"),
    [
        ("affidavit.capture.hook", "affidavit.compliance.policy", True),
        ("affidavit.detect.detectors", "affidavit.detect.scan", True),
        ("affidavit.evidence.archive", "affidavit.compliance.signing", True),
        ("affidavit.ledger", "affidavit.query", True),
        ("affidavit.report.model", "affidavit.compliance.gather", False),
        ("affidavit.capture.policy", "affidavit.detect.detectors", False),
        ("affidavit.ledger", "affidavit.verify.erasure", False),
    ],
)
def test_the_layers_rank_known_imports(importer: str, imported: str, upward: bool) -> None:
    low, high = layer_of(importer), layer_of(imported)
    assert low is not None and high is not None
    assert (high > low) is upward


def test_imports_point_down_the_layers() -> None:
    found = modules()
    known = set(found)
    upward = []
    for name, path in found.items():
        here = layer_of(name)
        tree = ast.parse(path.read_text("utf-8"), str(path))
        for line, target in imports_of(tree, name, path.name == "__init__.py", known):
            there = layer_of(target)
            if here is not None and there is not None and there > here:
                upward.append(
                    f"{path.relative_to(SRC.parent)}:{line}: {name} ({LAYERS[here][0]}) imports "
                    f"{target} ({LAYERS[there][0]})"
                )
    assert upward == [], "imports that point up the layers of DESIGN.md:\n" + "\n".join(upward)


# -- cycles -------------------------------------------------------------------------------------


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]


def test_no_module_imports_itself_back() -> None:
    found = cycles(graph())
    assert found == [], f"import cycles (lazy imports included): {found}"
