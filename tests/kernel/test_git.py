"""`pirun.git.run`: git as an argv list, non-interactive, every failure one error of
the caller's type."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from pirun import git
from pirun.errors import PirunError, TrackerError, WorkspaceError


class Failed(PirunError):
    """The caller's own error type."""


def fake_git(directory: Path, body: str) -> Path:
    """A `git` on PATH running `body` (Python); the only git there is."""
    directory.mkdir(exist_ok=True)
    script = directory / "git"
    script.write_text(f"#!{sys.executable}\n{body}\n", encoding="utf-8")
    script.chmod(0o755)
    return directory


def test_returns_the_completed_process(repo: Any) -> None:
    proc = git.run(repo.path, "rev-parse", "--abbrev-ref", "HEAD")
    assert proc.returncode == 0
    assert proc.stdout.strip() == "main"


def test_a_failure_raises_the_callers_error_quoting_git(repo: Any) -> None:
    with pytest.raises(Failed) as excinfo:
        git.run(repo.path, "rev-parse", "--verify", "no-such-ref", error=Failed)
    assert str(excinfo.value) == "git rev-parse failed: fatal: Needed a single revision"


@pytest.mark.parametrize("error", [WorkspaceError, TrackerError])
def test_each_plugin_gets_its_own_error_type(repo: Any, error: type[PirunError]) -> None:
    with pytest.raises(error, match=r"^git checkout failed: "):
        git.run(repo.path, "checkout", "no-such-branch", error=error)


def test_without_check_the_caller_reads_the_exit_code(repo: Any) -> None:
    proc = git.run(repo.path, "config", "--get", "no.such-key", error=Failed, check=False)
    assert proc.returncode == 1
    assert proc.stdout == ""


def test_a_failure_without_output_names_the_exit_code(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("PATH", str(fake_git(tmp_path / "bin", "raise SystemExit(7)")))
    with pytest.raises(Failed, match=r"^git status failed: exit code 7$"):
        git.run(tmp_path, "status", error=Failed)


def test_no_pager_and_no_editor(repo: Any) -> None:
    assert git.run(repo.path, "var", "GIT_PAGER").stdout.strip() == "cat"
    assert git.run(repo.path, "var", "GIT_EDITOR").stdout.strip() == "true"


def test_no_credential_prompt_and_no_stdin(tmp_path: Path, monkeypatch: Any) -> None:
    body = (
        "import os, sys\n"
        "print(os.environ.get('GIT_TERMINAL_PROMPT'), sys.stdin.read() == '')"
    )
    monkeypatch.setenv("PATH", str(fake_git(tmp_path / "bin", body)))
    assert git.run(tmp_path, "fetch").stdout.split() == ["0", "True"]


def test_git_not_installed(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(Failed) as excinfo:
        git.run(tmp_path, "status", error=Failed)
    assert str(excinfo.value) == "git is not installed (not found on PATH)"


def test_a_missing_directory_is_not_a_missing_git(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    with pytest.raises(Failed) as excinfo:
        git.run(gone, "status", error=Failed)
    assert str(excinfo.value) == f"git status failed: No such file or directory: {gone}"


def test_a_git_that_hangs_is_stopped(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("PATH", str(fake_git(tmp_path / "bin", "import time; time.sleep(30)")))
    with pytest.raises(Failed) as excinfo:
        git.run(tmp_path, "fetch", error=Failed, timeout=0.5)
    assert str(excinfo.value) == "git fetch timed out after 0.5s"


def test_the_default_error_is_a_pirun_error(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PirunError, match="git is not installed"):
        git.run(tmp_path, "status")
