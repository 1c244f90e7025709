"""Who may import whom (issue 8's layering), read from the source with ``ast``.

``drivers/`` imports nothing of ``controller/``, ``api/`` or ``simulators/``;
``api/`` never imports the store; ``controller/`` imports ``simulators/`` only
in its composition root, ``controller/app.py``.
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
