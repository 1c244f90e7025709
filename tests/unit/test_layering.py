"""Who may import whom, read from the source with ``ast``.

``drivers/`` imports nothing of ``controller/``, ``api/`` or ``simulators/``;
``api/`` never imports the store; ``controller/`` imports ``simulators/`` only
in its composition root, ``controller/app.py``.  Inside ``controller/`` the rooms
(packages by job) keep to their floors: the store and config are the ground, the
sale and how money comes in stand on them, the panel, the fleet and ops on top;
no room imports one above it, and no module import forms a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (``from x import y`` gives x)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def reaches(package: str, forbidden: tuple[str, ...],
            allowed_files: tuple[str, ...] = ()) -> list[str]:
    bad: list[str] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if name in allowed_files:
            continue
        for module in sorted(imported_modules(path)):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                bad.append(f"{name} imports {module}")
    return bad


def test_the_rule_reader_sees_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom controller.store import db\n"
                      "def f() -> None:\n    import simulators.world\n", encoding="utf-8")
    assert imported_modules(sample) == {"os", "controller.store", "simulators.world"}


@pytest.mark.parametrize(("package", "forbidden", "allowed"), [
    ("drivers", ("controller", "api", "simulators"), ()),
    ("api", ("controller.store",), ()),
    ("controller", ("simulators",), ("controller/app.py",)),
])
def test_layers(package: str, forbidden: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    assert reaches(package, forbidden, allowed) == []


ROOMS_BELOW_SALE = ("controller/store", "controller/config", "controller/sale",
                    "controller/payment", "controller/accounts", "controller/catalog")


@pytest.mark.parametrize(("package", "forbidden"), [
    ("controller/store", ("controller.sale", "controller.payment", "controller.accounts",
                          "controller.catalog", "controller.panel", "controller.fleet",
                          "controller.ops", "controller.machine")),
    ("controller/config", ("controller.store", "controller.sale", "controller.payment",
                           "controller.panel", "controller.fleet", "controller.ops")),
    ("controller/sale", ("controller.payment", "controller.panel", "controller.fleet",
                         "controller.ops", "controller.machine")),
    ("controller/panel", ("controller.store", "controller.fleet", "controller.ops")),
    ("controller/fleet", ("controller.panel", "controller.sale", "controller.payment")),
])
def test_rooms(package: str, forbidden: tuple[str, ...]) -> None:
    assert reaches(package, forbidden) == []


@pytest.mark.parametrize("package", ROOMS_BELOW_SALE)
def test_nothing_below_the_sale_imports_the_fleet_or_ops(package: str) -> None:
    assert reaches(package, ("controller.fleet", "controller.ops", "controller.panel")) == []


def test_the_top_of_controller_is_a_table_of_contents() -> None:
    top = sorted(p.name for p in (ROOT / "controller").glob("*.py"))
    assert len(top) <= 16, top
    for room in (ROOT / "controller").iterdir():
        if room.is_dir() and any(room.glob("*.py")):
            init = room / "__init__.py"
            assert init.exists(), f"{room.name} has no __init__.py"
            assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), room.name


def module_graph() -> dict[str, set[str]]:
    """Each controller module and the controller modules it imports at run time
    (imports under ``if TYPE_CHECKING:`` are left out: they never run)."""
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / "controller").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        found: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
        graph[name] = found
    return {name: {m for m in deps if m in graph and m != name} for name, deps in graph.items()}


def test_no_import_circle() -> None:
    graph = module_graph()
    # A package's __init__ re-exporting its own modules is not a circle.
    for name, deps in graph.items():
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                circles.append([*path[path.index(dep):], dep] if dep in path else [node, dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert circles == []
