"""Tests for pirun.plugin: entry points, `plugins:`, `disable:`, `-p no:NAME`, PIRUN_PLUGINS."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pirun.errors import ConfigError
from pirun.model import SessionSpec
from pirun.plugin import describe_plugins
from pirun.protocols import SessionBackend
from pirun.runtime import Runtime

BUNDLED = {
    "local", "github", "textdeps", "worktree", "tmux",
    "process", "jsonstatus", "markers", "agents", "lifecycle",
}

HELLO_PLUGIN = '''
import typer

from pirun import hookimpl

CONFIGURED = []


@hookimpl
def pirun_configure(config):
    CONFIGURED.append(config.root)


@hookimpl
def pirun_register_commands(app: typer.Typer) -> None:
    @app.command()
    def hello(name: str = typer.Option("world", help="Who to greet.")) -> None:
        """Say hello (added by a repo plugin)."""
        print(f"hello {name} from pirun")
'''

BAD_HOOK_PLUGIN = '''
from pirun import hookimpl


@hookimpl
def pirun_nonexistent(config):
    return None
'''


def add_repo_plugin(repo, name: str, source: str) -> str:
    path = repo.path / ".pirun" / "plugins" / f"{name}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    return f".pirun/plugins/{name}.py"


def plugins_json(pirun, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = pirun(*args, "plugins", "--json", env=env)
    assert result.exit_code == 0, result.stderr
    return {entry["name"]: entry for entry in json.loads(result.stdout)["plugins"]}


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 3, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


# --- entry points ------------------------------------------------------------------------------


def test_plugins_json_lists_every_bundled_entry_point_with_its_hooks(pirun) -> None:
    plugins = plugins_json(pirun)
    assert set(plugins) >= BUNDLED
    for name in BUNDLED:
        entry = plugins[name]
        assert isinstance(entry["hooks"], list) and entry["hooks"], name
        assert all(hook.startswith("pirun_") for hook in entry["hooks"]), name
        assert "entry point (pirun " in entry["source"], entry
    assert "pirun_make_detectors" in plugins["markers"]["hooks"]
    assert "pirun_register_stores" in plugins["jsonstatus"]["hooks"]


def test_plugins_text_output_lists_names_and_hooks(pirun) -> None:
    result = pirun("plugins")
    assert result.exit_code == 0
    assert "markers" in result.stdout
    assert "pirun_make_detectors" in result.stdout


def test_dash_p_no_name_removes_that_plugin(pirun) -> None:
    plugins = plugins_json(pirun, "-p", "no:markers")
    assert "markers" not in plugins
    assert set(plugins) >= BUNDLED - {"markers"}


def test_dash_p_can_be_repeated(pirun) -> None:
    plugins = plugins_json(pirun, "-p", "no:markers", "-p", "no:github")
    assert not {"markers", "github"} & set(plugins)
    assert "jsonstatus" in plugins


def test_dash_p_without_no_prefix_is_a_usage_error(pirun) -> None:
    assert_one_line_error(pirun("-p", "markers", "plugins"), "no:NAME")


def test_config_disable_removes_that_plugin(repo, pirun) -> None:
    repo.write_config(disable=["markers"])
    plugins = plugins_json(pirun)
    assert "markers" not in plugins
    assert set(plugins) >= BUNDLED - {"markers"}


def test_pirun_plugins_env_loads_only_the_named_plugins(pirun) -> None:
    plugins = plugins_json(pirun, env={"PIRUN_PLUGINS": "local, jsonstatus"})
    assert set(plugins) == {"local", "jsonstatus"}


def test_empty_pirun_plugins_env_loads_no_installed_plugin(pirun) -> None:
    assert plugins_json(pirun, env={"PIRUN_PLUGINS": ""}) == {}


def test_pirun_plugins_env_and_disable_combine(repo, pirun) -> None:
    repo.write_config(disable=["local"])
    plugins = plugins_json(pirun, env={"PIRUN_PLUGINS": "local,jsonstatus"})
    assert set(plugins) == {"jsonstatus"}


def test_disabled_names_are_blocked_in_process(repo) -> None:
    rt = Runtime.load(repo.path, disabled=["markers", "tmux"])
    names = {info.name for info in describe_plugins(rt.pm)}
    assert names >= BUNDLED - {"markers", "tmux"}
    assert not names & {"markers", "tmux"}
    assert rt.pm.hook.pirun_make_detectors(config=rt.config, issue=1, prompt="") == []


# --- per-repo plugins ----------------------------------------------------------------------------


def test_repo_plugin_file_listed_in_config_is_loaded_with_its_hooks(repo, pirun) -> None:
    entry = add_repo_plugin(repo, "hello", HELLO_PLUGIN)
    repo.write_config(plugins=[entry])
    plugins = plugins_json(pirun)
    assert plugins["hello"]["hooks"] == ["pirun_configure", "pirun_register_commands"]
    assert plugins["hello"]["source"].endswith("hello.py")
    assert set(plugins) >= BUNDLED


def test_repo_plugin_receives_the_historic_configure_call(repo) -> None:
    entry = add_repo_plugin(repo, "hello", HELLO_PLUGIN)
    repo.write_config(plugins=[entry])
    rt = Runtime.load(repo.path)
    module = rt.pm.get_plugin("hello")
    assert [rt.config.root] == module.CONFIGURED


def test_repo_plugin_file_not_listed_in_config_is_not_loaded(repo, pirun) -> None:
    add_repo_plugin(repo, "hello", HELLO_PLUGIN)
    assert "hello" not in plugins_json(pirun)


def test_repo_plugin_can_be_disabled_by_its_name(repo, pirun) -> None:
    entry = add_repo_plugin(repo, "hello", HELLO_PLUGIN)
    repo.write_config(plugins=[entry])
    assert "hello" not in plugins_json(pirun, "-p", "no:hello")


def test_repo_plugin_adds_a_cli_command(repo, pirun) -> None:
    entry = add_repo_plugin(repo, "hello", HELLO_PLUGIN)
    repo.write_config(plugins=[entry])
    result = pirun("hello", "--name", "Ada")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "hello Ada from pirun"
    assert "hello" in pirun("--help").stdout


def test_repo_plugin_command_works_from_another_directory_with_dash_c(
    repo, pirun, tmp_path: Path
) -> None:
    entry = add_repo_plugin(repo, "hello", HELLO_PLUGIN)
    repo.write_config(plugins=[entry])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = pirun("-C", str(repo.path), "hello", cwd=elsewhere)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "hello world from pirun"


def test_command_of_an_unlisted_plugin_does_not_exist(repo, pirun) -> None:
    add_repo_plugin(repo, "hello", HELLO_PLUGIN)
    result = pirun("hello")
    assert result.exit_code == 3
    assert "hello" in result.stderr
    assert "Traceback" not in result.stderr


def test_plugin_implementing_an_unknown_hook_exits_3_with_one_line(repo, pirun) -> None:
    entry = add_repo_plugin(repo, "bad", BAD_HOOK_PLUGIN)
    repo.write_config(plugins=[entry])
    assert_one_line_error(pirun("plugins"), "pirun_nonexistent")


def test_plugin_implementing_an_unknown_hook_is_a_config_error_in_process(repo) -> None:
    entry = add_repo_plugin(repo, "bad", BAD_HOOK_PLUGIN)
    repo.write_config(plugins=[entry])
    with pytest.raises(ConfigError, match="pirun_nonexistent"):
        Runtime.load(repo.path)


def test_missing_repo_plugin_file_exits_3_naming_it(repo, pirun) -> None:
    repo.write_config(plugins=[".pirun/plugins/missing.py"])
    assert_one_line_error(pirun("plugins"), "missing.py")


def test_repo_plugin_failing_on_import_exits_3_with_one_line(repo, pirun) -> None:
    entry = add_repo_plugin(repo, "broken", "raise RuntimeError('boom at import')\n")
    repo.write_config(plugins=[entry])
    assert_one_line_error(pirun("plugins"), "broken.py", "boom at import")


def test_unimportable_plugin_module_exits_3_naming_it(repo, pirun) -> None:
    repo.write_config(plugins=["pirun_no_such_plugin_module"])
    assert_one_line_error(pirun("plugins"), "pirun_no_such_plugin_module")


NAME_PLUGIN = '''
from pirun import hookimpl


@hookimpl
def pirun_configure(config):
    print(__name__)
'''


def test_repo_plugin_named_like_a_bundled_plugin_is_a_config_error_naming_both(
    repo, pirun
) -> None:
    entry = add_repo_plugin(repo, "notify", NAME_PLUGIN)
    repo.write_config(plugins=[entry])
    assert_one_line_error(pirun("plugins"), ".pirun/plugins/notify.py", "'notify'",
                          "pirun_notify")


def test_repo_plugin_module_name_is_the_same_in_every_process(repo) -> None:
    entry = add_repo_plugin(repo, "team_alert", NAME_PLUGIN)
    repo.write_config(plugins=[entry])
    code = "from pirun.runtime import Runtime; Runtime.load(__import__('pathlib').Path('.'))"

    def module_name() -> str:
        return subprocess.run([sys.executable, "-c", code], cwd=repo.path, check=True,
                              capture_output=True, text=True).stdout.strip()

    first, second = module_name(), module_name()
    assert first.startswith("pirun_repo_plugin_team_alert_"), first
    assert first == second, "the repo plugin's module name changed between processes"


def test_plugin_command_with_a_broken_config_reports_the_config_error(repo, pirun) -> None:
    (repo.path / ".pirun.yaml").write_text("tracker: [\n", encoding="utf-8")
    assert_one_line_error(pirun("dashboard"), ".pirun.yaml", "line")
    assert "dashboard" in pirun("--help").stdout


def test_plugin_command_outside_a_repository_says_so(pirun, tmp_path: Path) -> None:
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()
    assert_one_line_error(pirun("dashboard", cwd=elsewhere), "not a git repository")


# --- a third-party package ----------------------------------------------------------------------

FAKE_PACKAGE = Path(__file__).resolve().parents[1] / "data" / "pirun-fakebackend"
FAKE_DIST = "pirun-fakebackend"


@pytest.fixture
def fakebackend_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`pirun-fakebackend` pip-installed for this test only.

    It goes into a private directory put on this process's `sys.path` and the
    subprocesses' PYTHONPATH rather than into the shared environment, so tests running
    at the same time in other workers never see its entry point.
    """
    target = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q",
         "--target", str(target), str(FAKE_PACKAGE)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    monkeypatch.syspath_prepend(str(target))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(target), os.environ.get("PYTHONPATH")])))
    importlib.invalidate_caches()
    yield
    sys.modules.pop("pirun_fakebackend", None)


def wait_for_file(path: Path, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.slow
def test_installed_third_party_package_adds_a_backend_and_options(
    fakebackend_installed, repo, pirun, tmp_path: Path
) -> None:
    repo.write_config(backend="fake", fake={"marker": "from-config"})

    plugins = plugins_json(pirun)
    assert FAKE_DIST in plugins["fakebackend"]["source"]
    assert plugins["fakebackend"]["hooks"] == ["pirun_config_options", "pirun_register_backends"]
    assert set(plugins) >= BUNDLED

    rt = Runtime.load(repo.path)
    assert rt.config.get("fake.marker") == "from-config"
    backend = rt.backend
    assert backend.name == "fake"
    assert type(backend).__module__ == "pirun_fakebackend"
    assert isinstance(backend, SessionBackend)

    # It really runs sessions: start one, see it, stop it.
    seen = tmp_path / "seen"
    script = (
        "import os, sys, time; "
        "open(sys.argv[1], 'w').write(os.environ.get('PIRUN_FAKE_MARKER', '')); "
        "time.sleep(120)"
    )
    spec = SessionSpec("pi-issue-1", (sys.executable, "-c", script, str(seen)), tmp_path)
    backend.start(spec)
    try:
        wait_for_file(seen)
        assert backend.exists("pi-issue-1")
        assert backend.list("pi-") == ["pi-issue-1"]
        assert seen.read_text() == "from-config"
    finally:
        backend.kill("pi-issue-1")
    assert not backend.exists("pi-issue-1")
    assert backend.list("pi-") == []


def test_third_party_options_are_unknown_without_the_package(repo, pirun) -> None:
    repo.write_config(backend="fake", fake={"marker": "x"})
    assert_one_line_error(pirun("plugins"), "'fake'")


# --- named registries --------------------------------------------------------------------------


def test_plugins_json_lists_backends_trackers_and_stores_by_name(pirun) -> None:
    result = pirun("plugins", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    kinds = ("backends", "trackers", "stores")
    names = {kind: {e["name"]: e for e in data[kind]} for kind in kinds}
    assert {"tmux", "process", "ray"} <= set(names["backends"]), names["backends"]
    assert {"local", "github"} <= set(names["trackers"]), names["trackers"]
    assert names["stores"]["json"]["plugin"] == "jsonstatus"
    assert names["trackers"]["local"]["selected"], "the default tracker is local"
    assert not names["trackers"]["github"]["selected"]


def test_unknown_backend_is_a_one_line_error_naming_the_installed_ones(repo, pirun) -> None:
    repo.write_config(backend="zellij")
    assert_one_line_error(pirun("list"), "unknown backend 'zellij'", "process", "tmux")


def test_unknown_tracker_is_a_one_line_error_naming_the_installed_ones(repo, pirun) -> None:
    repo.write_config(tracker="linear")
    assert_one_line_error(pirun("run", "1"), "unknown tracker 'linear'", "github", "local")


CLASHING_BACKEND = '''
from pirun import hookimpl


@hookimpl
def pirun_register_backends(register):
    register("tmux", lambda config: None)
'''


def test_a_name_registered_by_two_plugins_is_an_error_naming_both(repo, pirun) -> None:
    entry = add_repo_plugin(repo, "my_tmux", CLASHING_BACKEND)
    repo.write_config(plugins=[entry])
    assert_one_line_error(pirun("list"), "backend 'tmux'", "my_tmux", "tmux")
