"""Every module pirun's code imports comes from the standard library, from pirun
itself, or from a distribution pirun declares directly as a dependency (not one that
another dependency, or an extra such as `ray`, happens to install).

typer 0.29 stopped depending on click, and `import click` in the CLI broke the
README's first command for every new user while the test environment, which has
the `ray` extra and so click, stayed green. This test fails for such an import.
"""

from __future__ import annotations

import ast
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
#: Plugins that need an extra, and the extra they may import from.
EXTRA_PLUGINS = {"pirun_ray": "ray"}


def declared(extra: str = "") -> set[str]:
    """The distributions pirun's metadata lists directly, for `extra` ("": none)."""
    names = set()
    for text in metadata.requires("pirun") or []:
        requirement = Requirement(text)
        marker = requirement.marker
        if marker is None or marker.evaluate({"extra": extra}):
            names.add(canonicalize_name(requirement.name))
    return names


def imported_modules(path: Path) -> set[str]:
    """Top-level names of the absolute imports in one source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def source_files() -> list[tuple[Path, str]]:
    """Each source file of the kernel and bundled plugins, with the extra it may use."""
    kernel = ROOT / "src" / "pirun"
    files = [
        (path, "testing" if path.is_relative_to(kernel / "testing") else "")
        for path in kernel.rglob("*.py")
    ]
    for plugin in sorted((ROOT / "plugins").glob("pirun_*")):
        extra = EXTRA_PLUGINS.get(plugin.name, "")
        files += [(path, extra) for path in plugin.rglob("*.py")]
    return files


def test_code_imports_only_the_standard_library_and_declared_dependencies() -> None:
    owners = metadata.packages_distributions()
    undeclared: dict[str, set[str]] = {}
    for path, extra in source_files():
        allowed = declared(extra)
        for module in imported_modules(path):
            if module in sys.stdlib_module_names or module == "pirun" or module.startswith(
                "pirun_"
            ):
                continue
            dists = {canonicalize_name(d) for d in owners.get(module, [])}
            if not dists & allowed:
                where = str(path.relative_to(ROOT))
                undeclared.setdefault(module, set()).add(where)
    assert not undeclared, f"imported, but not a declared dependency: {undeclared}"


def test_the_check_knows_a_module_no_dependency_provides() -> None:
    owners = metadata.packages_distributions()
    assert not {canonicalize_name(d) for d in owners.get("click", [])} & declared(), (
        "click is not one of pirun's dependencies: the check above must flag `import click`"
    )
