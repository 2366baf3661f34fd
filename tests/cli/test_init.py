"""`pirun init`, and the configuration contract it writes for: file names, keys,
one-line errors naming a bad key."""

from __future__ import annotations

import json
import shlex
import sys

import pytest
import yaml
from clitools import DEMO_ENV, assert_error, wait_for, wait_for_status

from pirun.runtime import Runtime


def test_init_writes_a_config_that_loads(repo, pirun):
    result = pirun("init")

    assert result.exit_code == 0, result.stderr
    target = repo.path / ".pirun.yaml"
    data = yaml.safe_load(target.read_text())
    assert isinstance(data, dict)
    config = Runtime.load(repo.path).config
    assert config.path == target
    assert config.prefix == "pi" and config.max_concurrent == 0
    assert config.get("worktree.dir") == ".worktrees"
    assert pirun("status").exit_code == 0


def test_init_refuses_to_overwrite_without_force(repo, pirun):
    target = repo.write_config(backend="process")
    original = target.read_text()

    refused = pirun("init")

    assert_error(refused, 1, "already exists", "--force")
    assert target.read_text() == original

    forced = pirun("init", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert target.read_text() != original
    Runtime.load(repo.path)


def test_init_from_a_broken_config_with_force(repo, pirun):
    (repo.path / ".pirun.yaml").write_text("bogus: [1\n")

    assert pirun("init", "--force").exit_code == 0
    Runtime.load(repo.path)


def test_edited_init_config_runs_the_demo_agent(repo, pirun):
    assert pirun("init").exit_code == 0
    target = repo.path / ".pirun.yaml"
    text = target.read_text()
    assert "backend: tmux" in text and "preset: pi" in text
    target.write_text(text.replace("backend: tmux", "backend: process")
                      .replace("preset: pi", "preset: demo"))
    repo.add_issue(1, "Demo from init")

    assert pirun("run", "1", "--no-attach", env=DEMO_ENV).exit_code == 0

    assert wait_for_status(repo, 1, ("complete", "error"))["status"] == "complete"


def test_pi_runner_yaml_prefix_worktree_dir_and_string_command(repo, pirun, agent):
    """`.pi-runner.yaml` is read when `.pirun.yaml` is absent; `session.prefix` and
    `worktree.dir` move sessions, worktrees and records; a string command is split."""
    command = shlex.join([sys.executable, str(agent.script), "exit0"]) + " {issue} {prompt_file}"
    (repo.path / ".pi-runner.yaml").write_text(yaml.safe_dump({
        "backend": "process",
        "session": {"prefix": "alt"},
        "worktree": {"dir": "work/trees"},
        "agent": {"command": command},
    }))
    repo.add_issue(1, "Old name")

    result = pirun("run", "1", "--no-attach")

    assert result.exit_code == 0, result.stderr
    assert "alt-issue-1" in result.stdout
    status_file = repo.path / "work" / "trees" / ".status" / "1.json"
    record = json.loads(wait_for(lambda: status_file.exists() and "complete" in (
        text := status_file.read_text()) and text))
    assert record["session"] == "alt-issue-1"
    assert (repo.path / "work" / "trees" / "issue-1-old-name").is_dir()
    assert not (repo.path / ".worktrees").exists()


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"bogus": 1}, "'bogus'"),
        ({"parallel": {"max_concurrent": "two"}}, "'parallel.max_concurrent'"),
        ({"agent": "demo"}, "'agent'"),
    ],
)
def test_bad_config_is_exit_3_naming_the_key(repo, pirun, values, key):
    repo.write_config(backend="process", **values)
    repo.add_issue(1, "Anything")

    assert_error(pirun("run", "1", "--no-attach"), 3, key)
    assert not (repo.path / ".worktrees").exists() or repo.status(1) is None
