"""Branch and path names made from attacker-controlled issue titles."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pirun_worktree
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pirun_worktree import GitWorktrees, branch_name, slugify
from wtutil import issue, run_git

from pirun.protocols import WorkspaceManager

BRANCH = re.compile(r"issue-\d+(?:-[a-z0-9]+)*")

HOSTILE_TITLES = [
    "$(touch PWNED)",
    "`touch PWNED`",
    "fix; touch PWNED",
    "fix && touch PWNED || touch PWNED",
    "it's \"quoted\" 'twice'",
    "line one\nline two\r\n$(touch PWNED)",
    "../../etc/passwd",
    "/absolute/../path",
    "\u202eevil\u202c right-to-left and zero\u200bwidth\u200d joiner\ufeff",
    "Ünïcödé café ﬁx Ⅻ",
    "日本語のタイトル",
    "x" * 1000,
    "word " * 200,
    "",
    "!@#$%^&*()_+=[]{}|\\:;\"'<>,.?/~`",
    "..",
    "a.lock",
    "@{-1}",
    "refs/heads/main",
    "-rf --force",
    "HEAD",
    "\x00\x01\x7f control",
]


def assert_valid_branch(name: str) -> None:
    proc = subprocess.run(
        ["git", "check-ref-format", "--branch", name], capture_output=True, text=True
    )
    assert proc.returncode == 0, (name, proc.stderr)


def no_pwned_files(*roots: Path) -> bool:
    return not any(
        "PWNED" in name
        for root in roots
        for _, dirs, files in os.walk(root)
        for name in dirs + files
    )


def test_branch_name_is_issue_number_and_slug_of_title():
    assert branch_name(issue(42, "Add OAuth2 login (Google & GitHub)!")) == (
        "issue-42-add-oauth2-login-google-github"
    )


def test_slug_transliterates_accents_to_ascii():
    assert slugify("Crème brûlée für Ångström") == "creme-brulee-fur-angstrom"


def test_empty_or_all_symbol_title_gives_bare_issue_branch():
    assert branch_name(issue(7, "")) == "issue-7"
    assert branch_name(issue(7, "!!! ??? ---")) == "issue-7"
    assert branch_name(issue(7, "日本語")) == "issue-7"


def test_long_title_is_cut_at_a_word_boundary():
    slug = slugify("implement the frobnicator for every widget in the dashboard view")
    assert len(slug) <= 40
    assert slug == "implement-the-frobnicator-for-every"


def test_long_single_word_is_cut_at_the_limit():
    assert slugify("a" * 100) == "a" * 40


def test_cut_exactly_before_a_dash_keeps_the_whole_word():
    assert slugify("a" * 40 + " tail") == "a" * 40


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_hostile_title_gives_valid_branch_and_path_inside_state_dir(title, manager):
    workspaces = manager()
    name = workspaces.branch_name(issue(3, title))
    assert BRANCH.fullmatch(name)
    assert len(name.removeprefix("issue-3").removeprefix("-")) <= 40
    assert_valid_branch(name)
    path = workspaces.path_for(issue(3, title))
    state_dir = workspaces.config.state_dir
    assert path.resolve().parent == state_dir
    assert path.name == name


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_hostile_title_creates_worktree_without_running_anything(
    title, manager, repo, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    workspaces = manager()
    ws = workspaces.create(issue(3, title), None, False)
    assert ws.path.is_dir()
    assert ws.path.parent == workspaces.config.state_dir
    assert run_git(ws.path, "rev-parse", "--abbrev-ref", "HEAD") == ws.branch
    assert workspaces.find(3) == ws
    assert no_pwned_files(tmp_path)


@settings(max_examples=60, deadline=None)
@given(title=st.text(max_size=300), number=st.integers(min_value=0, max_value=10**9))
def test_any_title_gives_a_branch_git_accepts(title, number):
    name = branch_name(issue(number, title))
    assert BRANCH.fullmatch(name)
    assert name.startswith(f"issue-{number}")
    assert len(name) <= len(f"issue-{number}-") + 40
    assert_valid_branch(name)


def test_negative_issue_number_is_refused():
    with pytest.raises(Exception, match="invalid issue number"):
        branch_name(issue(-1, "x"))


def test_plugin_provides_a_workspace_manager(manager):
    workspaces = manager()
    assert isinstance(workspaces, GitWorktrees)
    assert isinstance(workspaces, WorkspaceManager)
    assert pirun_worktree.PROMPT_FILE == ".pirun-prompt.md"
