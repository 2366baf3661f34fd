"""The reference docs cover everything users can configure and hook into."""

from __future__ import annotations

import inspect
import runpy
import tomllib
from pathlib import Path

from pirun import hookspecs
from pirun.config import KERNEL_OPTIONS, Option, merge_schemas
from pirun.runtime import Runtime

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _dotted_keys(schema: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, value in schema.items():
        if isinstance(value, Option):
            keys.append(prefix + key)
        else:
            keys += _dotted_keys(value, prefix + key + ".")
    return keys


def _bundled_plugins() -> str:
    pyproject = tomllib.loads((DOCS.parent / "pyproject.toml").read_text())
    return ",".join(pyproject["project"]["entry-points"]["pirun"])


def test_configuration_reference_lists_every_declared_option(repo, monkeypatch) -> None:
    # Only pirun's own plugins: an installed third-party plugin documents itself.
    monkeypatch.setenv("PIRUN_PLUGINS", _bundled_plugins())
    rt = Runtime.load(repo.path)
    schema = merge_schemas(KERNEL_OPTIONS, *[o for o in rt.pm.hook.pirun_config_options() if o])
    text = (DOCS / "configuration.md").read_text()
    missing = [key for key in _dotted_keys(schema) if f"`{key}`" not in text]
    assert missing == []


def test_plugin_guide_documents_every_hook() -> None:
    text = (DOCS / "plugins.md").read_text()
    functions = inspect.getmembers(hookspecs, inspect.isfunction)
    hooks = [name for name, _ in functions if name.startswith("pirun_")]
    assert hooks, "hookspecs declares no hooks"
    assert [hook for hook in hooks if f"`{hook}(" not in text] == []


def test_hook_reference_is_the_one_generated_from_the_hookspecs() -> None:
    namespace = runpy.run_path(str(DOCS / "hook_reference.py"))
    text = (DOCS / "plugins.md").read_text()
    assert namespace["hook_reference"]() in text, (
        "docs/plugins.md is out of date: python docs/hook_reference.py prints the new reference"
    )


def test_every_hook_says_where_it_is_called_and_what_its_results_do() -> None:
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("pirun_"):
            doc = function.__doc__ or ""
            assert "Called in:" in doc and "Result:" in doc, f"{name} lacks Called in/Result"
            parameters = inspect.signature(function).parameters
            missing = [p for p in parameters if f":param {p}:" not in doc]
            assert not missing or name == "pirun_config_options", f"{name}: no :param for {missing}"
