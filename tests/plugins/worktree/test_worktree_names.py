"""Branch and path names made from attacker-controlled issue titles."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pirun_worktree
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pirun_worktree import GitWorktrees, branch_name, slugify
from wtutil import issue, run_git

from pirun.errors import UsageError, WorkspaceError
from pirun.model import Workspace
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
    assert branch_name(issue("42", "Add OAuth2 login (Google & GitHub)!")) == (
        "issue-42-add-oauth2-login-google-github"
    )


def test_slug_transliterates_accents_to_ascii():
    assert slugify("Crème brûlée für Ångström") == "creme-brulee-fur-angstrom"


def test_empty_or_all_symbol_title_gives_bare_issue_branch():
    assert branch_name(issue("7", "")) == "issue-7"
    assert branch_name(issue("7", "!!! ??? ---")) == "issue-7"
    assert branch_name(issue("7", "日本語")) == "issue-7"


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
    name = workspaces.branch_name(issue("3", title))
    assert BRANCH.fullmatch(name)
    assert len(name.removeprefix("issue-3").removeprefix("-")) <= 40
    assert_valid_branch(name)
    path = workspaces.path_for(issue("3", title))
    state_dir = workspaces.config.state_dir
    assert path.resolve().parent == state_dir
    assert path.name == name


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_hostile_title_creates_worktree_without_running_anything(
    title, manager, repo, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    workspaces = manager()
    ws = workspaces.create(issue("3", title), None, False)
    assert ws.path.is_dir()
    assert ws.path.parent == workspaces.config.state_dir
    assert run_git(ws.path, "rev-parse", "--abbrev-ref", "HEAD") == ws.branch
    assert workspaces.find("3") == ws
    assert no_pwned_files(tmp_path)


@settings(max_examples=60, deadline=None)
@given(title=st.text(max_size=300), number=st.integers(min_value=0, max_value=10**9))
def test_any_title_gives_a_branch_git_accepts(title, number):
    name = branch_name(issue(str(number), title))
    assert BRANCH.fullmatch(name)
    assert name.startswith(f"issue-{number}")
    assert len(name) <= len(f"issue-{number}-") + 40
    assert_valid_branch(name)


@pytest.mark.parametrize(
    "key", [-1, 7, ""], ids=["negative-int", "int", "empty"]
)
def test_invalid_issue_key_is_refused(key):
    # Keys are strings; a number is written the one way trackers give it (`7`).
    with pytest.raises(WorkspaceError, match="invalid issue key"):
        branch_name(issue(key, "x"))


# -- keys that are not numbers -------------------------------------------------------


def test_name_key_gets_double_dash_between_name_and_slug():
    assert branch_name(issue("PROJ-7", "Fix login")) == "issue-PROJ-7--fix-login"


@pytest.mark.parametrize("title", ["", "!!! ??? ---", "日本語"])
def test_name_key_with_empty_slug_is_untitled(title):
    assert branch_name(issue("PROJ-7", title)) == "issue-PROJ-7--untitled"


def test_name_key_creates_branch_and_directory_of_that_name(manager, repo):
    workspaces = manager()
    ws = workspaces.create(issue("PROJ-7", "Fix login"), None, False)
    assert ws == Workspace(
        "PROJ-7", workspaces.config.state_dir / "issue-PROJ-7--fix-login", "issue-PROJ-7--fix-login"
    )
    assert run_git(ws.path, "branch", "--show-current") == "issue-PROJ-7--fix-login"
    assert (ws.path / "README.md").read_text() == "# test repo\n"
    untitled = workspaces.create(issue("PROJ-8", "???"), None, False)
    assert untitled.path.name == untitled.branch == "issue-PROJ-8--untitled"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("issue-42", "42"),
        ("issue-42-fix-login", "42"),
        ("issue-0-x", "0"),
        ("issue-PROJ-7--fix-login", "PROJ-7"),
        ("issue-PROJ-7--untitled", "PROJ-7"),
        ("issue-login-page--login-page", "login-page"),
        ("issue-o_2fr_237--fix", "o/r#7"),
        # The named key `42-fix`, never issue 42 with a slug that happens to hold `--`.
        ("issue-42-fix--x", "42-fix"),
    ],
)
def test_issue_of_reads_numbers_and_names_back(name, key):
    assert pirun_worktree._issue_of(name) == key


@pytest.mark.parametrize(
    "name",
    [
        "issue-",
        "issue-007-x",  # not how any issue number is written
        "issue-42--x",  # a number never gets `--`: not pirun's
        "issue-PROJ-7",  # a name key always has `--<slug>`
        "issue-PROJ-7-fix",
        "issue-_zz--x",  # not a key's name
        "issue--PROJ--x",
        "notes",
        "feature-42",
    ],
)
def test_issue_of_refuses_names_pirun_does_not_make(name):
    assert pirun_worktree._issue_of(name) is None


def test_issue_of_never_reads_a_named_branch_as_a_number():
    branch = branch_name(issue("42-fix", "x"))
    assert branch == "issue-42-fix--x"
    assert pirun_worktree._issue_of(branch) == "42-fix"
    assert pirun_worktree._issue_of(branch_name(issue("42", "fix x"))) == "42"


def test_key_with_slash_and_hash_gives_a_safe_branch(manager):
    name = branch_name(issue("o/r#7", "Fix login"))
    assert name == "issue-o_2fr_237--fix-login"
    assert_valid_branch(name)
    assert pirun_worktree._issue_of(name) == "o/r#7"
    workspaces = manager()
    ws = workspaces.create(issue("o/r#7", "Fix login"), None, False)
    assert ws.path.parent == workspaces.config.state_dir
    assert ws.path.name == ws.branch == name
    assert run_git(ws.path, "branch", "--show-current") == name
    assert workspaces.find("o/r#7") == ws


@settings(max_examples=80, deadline=None)
@given(key=st.text(min_size=1, max_size=30), title=st.text(max_size=80))
def test_any_key_gives_a_branch_git_accepts_that_reads_back(key, title):
    try:
        name = branch_name(issue(key, title))
    except (WorkspaceError, UsageError):
        # Only keys no name can stand for (lone surrogates, names over MAX_NAME) or
        # numbers not written the canonical way (`007`).
        assume(False)
    assert_valid_branch(name)
    assert pirun_worktree._issue_of(name) == key


def test_plugin_provides_a_workspace_manager(manager):
    workspaces = manager()
    assert isinstance(workspaces, GitWorktrees)
    assert isinstance(workspaces, WorkspaceManager)
    assert pirun_worktree.PROMPT_FILE == ".pirun-prompt.md"
