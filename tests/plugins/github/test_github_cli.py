"""Issue 5's "done when", through the real `pirun` command in a subprocess.

The fake GitHub runs in this process (pytest-httpserver's thread); `pirun` reaches
it through `github.api_url`, so `httpserver.log` counts what the command sent.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from fakegithub import TOKEN, FakeGitHub

#: Everything a run needs, and nothing half-written elsewhere in the tree.
PLUGINS = "github,textdeps,worktree,process,jsonstatus,markers,agents"
ENV = {"GH_TOKEN": TOKEN, "GITHUB_TOKEN": "", "PIRUN_PLUGINS": PLUGINS}


@pytest.fixture
def configured(repo: Any, fake: FakeGitHub) -> FakeGitHub:
    """`.pirun.yaml` with `tracker: github` pointed at the fake, repository o/r."""
    repo.write_config(tracker="github", github={"repo": "o/r", "api_url": fake.api_url})
    return fake


def graphql_requests(fake: FakeGitHub) -> int:
    return len(fake.requests("/graphql"))


def assert_one_clean_line(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert TOKEN not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


# -- batch --dry-run -------------------------------------------------------------------


def test_batch_dry_run_plans_from_native_relations_in_one_request(
    pirun, configured: FakeGitHub
) -> None:
    fake = configured
    fake.add("o/r", 42, "Base")
    fake.add("o/r", 43, "Middle", blocked_by=[42])
    fake.add("o/r", 44, "Top", blocked_by=[43, ("other/lib", 7)])
    fake.add("o/r", 45, "Side")
    fake.add("other/lib", 7, "Upstream", state="CLOSED")
    fake.install()

    result = pirun("batch", "42", "43", "44", "--dry-run", env=ENV)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["Layer 0: #42", "Layer 1: #43", "Layer 2: #44"]
    assert len(fake.server.log) == 1
    assert graphql_requests(fake) == 1


def test_batch_dry_run_runs_independent_issues_together(pirun, configured: FakeGitHub) -> None:
    fake = configured
    fake.add("o/r", 42, "One")
    fake.add("o/r", 43, "Two")
    fake.add("o/r", 44, "Both", blocked_by=[43, 42])
    fake.install()

    result = pirun("batch", "44", "43", "42", "--dry-run", env=ENV)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["Layer 0: #42, #43", "Layer 1: #44"]
    assert len(fake.server.log) == 1


def test_batch_dry_run_with_a_missing_issue(pirun, configured: FakeGitHub) -> None:
    configured.add("o/r", 42, "Base")
    configured.install()
    result = pirun("batch", "42", "99", "--dry-run", env=ENV)
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: Issue #99 not found"
    assert len(configured.server.log) == 1


# -- run refuses blocked issues ------------------------------------------------------------


def test_run_refuses_an_issue_with_an_open_blocker(pirun, configured: FakeGitHub,
                                                    repo: Any) -> None:
    configured.add("o/r", 7, "Set up CI")
    configured.add("o/r", 8, "Done already", state="CLOSED")
    configured.add("o/r", 42, "Add the API", blocked_by=[7, 8])
    configured.install()

    result = pirun("run", "42", "--no-attach", env=ENV)

    assert result.exit_code == 2, result.stderr
    lines = [line.strip() for line in result.stderr.strip().splitlines()]
    assert lines[0].startswith("Error: Issue #42 has open blockers")
    assert lines[1:] == ["#7: Set up CI (OPEN)"]
    assert "Traceback" not in result.stderr
    assert len(configured.server.log) == 1
    assert not (repo.path / ".worktrees" / "issue-42-add-the-api").exists()


def test_run_names_an_open_blocker_in_another_repository(pirun, configured: FakeGitHub) -> None:
    configured.add("o/r", 7, "Local seven", state="CLOSED")
    configured.add("other/lib", 7, "Upstream fix")
    configured.add("o/r", 42, "Needs upstream", blocked_by=[7, ("other/lib", 7)])
    configured.install()

    result = pirun("run", "42", "--no-attach", env=ENV)

    assert result.exit_code == 2, result.stderr
    lines = [line.strip() for line in result.stderr.strip().splitlines()]
    assert lines[1:] == ["other/lib#7: Upstream fix (OPEN)"]


def test_run_of_a_missing_issue(pirun, configured: FakeGitHub) -> None:
    configured.install()
    result = pirun("run", "42", "--no-attach", env=ENV)
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: Issue #42 not found"
    assert_one_clean_line(result.stderr)


def test_bad_token_fails_cleanly(pirun, configured: FakeGitHub) -> None:
    configured.add("o/r", 42, "Anything")
    configured.install()
    wrong = "ghp_wrongTOKENwrongTOKEN0123456789"
    for args in (["run", "42", "--no-attach"], ["batch", "42", "--dry-run"]):
        result = pirun(*args, env={**ENV, "GH_TOKEN": wrong})
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: GitHub authentication failed")
        assert_one_clean_line(result.stderr)
        assert wrong not in result.stderr + result.stdout
    assert len(configured.server.log) == 2  # a 401 is not retried


def test_no_token_says_how_to_set_one(pirun, configured: FakeGitHub, tmp_path: Path) -> None:
    configured.install()
    env = {**ENV, "GH_TOKEN": "", "PATH": _path_without_gh(tmp_path)}
    result = pirun("run", "42", "--no-attach", env=env)
    assert result.exit_code == 1
    assert "GH_TOKEN" in result.stderr and "gh auth login" in result.stderr
    assert_one_clean_line(result.stderr)
    assert configured.server.log == []


def _path_without_gh(tmp_path: Path) -> str:
    """A PATH holding only git: no `gh`, whatever this machine has installed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    found = shutil.which("git")
    assert found is not None
    (bin_dir / "git").symlink_to(found)
    return str(bin_dir)


# -- the tracker's own repository spelled out -------------------------------------------


@pytest.fixture
def spelled_out(repo: Any, fake: FakeGitHub) -> FakeGitHub:
    """Repository from the origin remote; #44 names its blocker as o/r#43 in its body."""
    repo.git("remote", "add", "origin", "https://github.com/o/r.git")
    repo.write_config(tracker="github", github={"api_url": fake.api_url})
    fake.add("o/r", 43, "Middle")
    fake.add("o/r", 44, "Top", body="Blocked by o/r#43")
    return fake.install()


def test_batch_orders_a_same_repo_blocker_spelled_owner_name(pirun, spelled_out) -> None:
    result = pirun("batch", "43", "44", "--dry-run", env=ENV)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["Layer 0: #43", "Layer 1: #44"]


def test_run_names_a_same_repo_blocker_spelled_owner_name_as_local(pirun, spelled_out) -> None:
    result = pirun("run", "44", "--no-attach", env=ENV)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[1:] == ["  #43: Middle (OPEN)"]


# -- on success, end to end -----------------------------------------------------------------


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_a_completed_run_opens_a_pull_request(pirun, repo: Any, fake: FakeGitHub,
                                              tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main")
    fake.add("o/r", 42, "Add the API")
    fake.git_remote = origin
    fake.install()
    repo.write_config(
        tracker="github", backend="process", agent={"preset": "demo"},
        github={"repo": "o/r", "api_url": fake.api_url, "on_success": "pull_request"},
    )
    env = {**ENV, "PIRUN_DEMO_DELAY": "0"}

    started = pirun("run", "42", "--no-attach", env=env)
    assert started.exit_code == 0, started.stderr
    waited = pirun("wait", "42", "--timeout", "60", "--interval", "0.2", env=env)
    assert waited.exit_code == 0, waited.stdout + waited.stderr

    # The wrapper records the outcome, then opens the pull request: give it a moment.
    deadline = time.monotonic() + 30
    while not fake.pulls and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fake.pulls == [{
        "title": "#42: Add the API",
        "head": "issue-42-add-the-api",
        "base": "main",
        "body": "Closes #42",
        "draft": True,
    }]
    assert "demo: work for issue #42" in git(origin, "log", "-1", "--format=%s",
                                              "issue-42-add-the-api")
    assert repo.status(42)["status"] == "complete"
