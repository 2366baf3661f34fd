"""Plugins import pirun only through `pirun.api`, the surface that stays stable; the
kernel's other modules may move. Bundled plugins are held to it like third-party
ones, so the boundary is real."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pirun.api

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_SOURCES = sorted(
    [*(ROOT / "plugins").rglob("*.py"), *(ROOT / "examples").rglob("*.py")]
)


def pirun_imports(path: Path) -> list[str]:
    """`module` or `module:name` of every import of pirun (not pirun_*) in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "pirun"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "pirun":
                found += [f"pirun:{a.name}" for a in node.names]
            elif node.module.startswith("pirun."):
                found.append(node.module)
    return found


def _public(path: Path) -> set[str]:
    # A plugin's own tests may also use the conformance suites.
    return {"pirun.api", "pirun.testing"} if "tests" in path.parts else {"pirun.api"}


def test_plugins_and_examples_import_pirun_only_through_pirun_api() -> None:
    outside = {
        str(path.relative_to(ROOT)): bad
        for path in PLUGIN_SOURCES
        if (bad := [name for name in pirun_imports(path) if name not in _public(path)])
    }
    assert outside == {}, f"import these from pirun.api instead: {outside}"


@pytest.mark.parametrize("name", pirun.api.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(pirun.api, name) is not None, f"pirun.api.{name} is listed but missing"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = pirun.api.no_such_thing  # type: ignore[attr-defined]
