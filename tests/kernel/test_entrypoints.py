"""The entry-point cache: what is installed is read once, and read again as soon as a
package is installed or removed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pirun.entrypoints import installed_entry_points

GROUP = "pirun"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory on sys.path (after sys.path[0]), and a cache of our own."""
    directory = tmp_path / "site"
    directory.mkdir()
    settled = time.time() - 60  # a directory changed just now is never cached
    os.utime(directory, (settled, settled))
    monkeypatch.setattr(sys, "path", [sys.path[0], str(directory), *sys.path[1:]])
    monkeypatch.setenv("PIRUN_CACHE_DIR", str(tmp_path / "cache"))
    return directory


def install(site: Path, project: str, entry_points: dict[str, str]) -> None:
    """A distribution as pip leaves it: a `*.dist-info` directory with its metadata."""
    info = site / f"{project}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project}\nVersion: 1.0\n")
    lines = [f"[{GROUP}]", *(f"{name} = {value}" for name, value in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def names(site: Path) -> set[str]:
    return {entry.name for entry in installed_entry_points(GROUP)}


def test_the_bundled_plugins_are_found_and_kept_in_the_cache(site: Path, tmp_path: Path) -> None:
    found = names(site)
    assert {"local", "tmux", "jsonstatus", "markers"} <= found, found
    (cache,) = (tmp_path / "cache").iterdir()
    kept = {entry["name"] for entry in json.loads(cache.read_text())["entry_points"]}
    assert kept == found, "the cache does not hold what was found"


def test_the_cache_answers_while_nothing_is_installed(site: Path, tmp_path: Path) -> None:
    names(site)
    (cache,) = (tmp_path / "cache").iterdir()
    data = json.loads(cache.read_text())
    data["entry_points"] = [{"name": "only-in-cache", "value": "nowhere", "dist": "x",
                             "version": "0"}]
    cache.write_text(json.dumps(data))
    assert names(site) == {"only-in-cache"}, "the metadata was read again, not the cache"


def test_a_package_installed_afterwards_is_found(site: Path) -> None:
    assert "extra" not in names(site)
    install(site, "pirun-extra", {"extra": "pirun_extra"})
    entries = {entry.name: entry for entry in installed_entry_points(GROUP)}
    assert "extra" in entries, "the newly installed entry point was not seen"
    assert (entries["extra"].dist, entries["extra"].version) == ("pirun-extra", "1.0")


def test_a_package_removed_afterwards_is_gone(site: Path) -> None:
    install(site, "pirun-extra", {"extra": "pirun_extra"})
    assert "extra" in names(site)
    info = site / "pirun-extra-1.0.dist-info"
    for child in info.iterdir():
        child.unlink()
    info.rmdir()
    assert "extra" not in names(site), "the removed entry point is still listed"


def test_an_unwritable_cache_directory_only_costs_time(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("PIRUN_CACHE_DIR", str(blocker / "cache"))
    install(site, "pirun-extra", {"extra": "pirun_extra"})
    assert "extra" in names(site)
    assert "extra" in names(site)


def test_a_directory_changed_just_now_is_not_cached(site: Path, tmp_path: Path) -> None:
    install(site, "pirun-extra", {"extra": "pirun_extra"})
    assert "extra" in names(site)
    assert not (tmp_path / "cache").exists(), "a change within the clock's tick was cached"


def test_an_entry_point_names_a_module_or_an_attribute(site: Path) -> None:
    (site / "pirun_extra_module.py").write_text("VALUE = object()\n")
    install(site, "pirun-extra", {"whole": "pirun_extra_module",
                                  "part": "pirun_extra_module:VALUE"})
    entries = {entry.name: entry for entry in installed_entry_points(GROUP)}
    module = entries["whole"].load()
    assert module.__name__ == "pirun_extra_module"
    assert entries["part"].load() is module.VALUE
    sys.modules.pop("pirun_extra_module", None)


def test_the_cache_key_ignores_the_current_directory(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names(site)
    monkeypatch.setattr(sys, "path", [os.getcwd() + "/elsewhere", *sys.path[1:]])
    names(site)
    assert len(list((tmp_path / "cache").iterdir())) == 1, "one cache file per directory"


def test_an_installed_plugin_that_cannot_be_imported_is_one_line_exit_3(
    tmp_path: Path, repo: Any
) -> None:
    site = tmp_path / "broken-site"
    site.mkdir()
    install(site, "pirun-broken", {"broken": "pirun_broken_not_there"})
    result = subprocess.run(
        [sys.executable, "-m", "pirun", "plugins"], cwd=repo.path, capture_output=True,
        text=True, env={**os.environ, "PYTHONPATH": str(site),
                        "PIRUN_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip() == (
        "Error: installed plugin 'broken' (pirun-broken) cannot be imported: "
        "No module named 'pirun_broken_not_there'"
    )
