"""Creating worktrees: base branch, remote freshness, copy_files, setup, reuse and --force."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from wtutil import commit_file, issue, push_from_elsewhere, run_git

from pirun.errors import ConfigError, WorkspaceError
from pirun.model import Workspace


def head(path: Path) -> str:
    return run_git(path, "rev-parse", "HEAD")


def has_branch(repo, name: str) -> bool:
    return bool(repo.git("branch", "--list", name))


# -- base branch -----------------------------------------------------------------------


def test_create_branches_from_default_branch(manager, repo):
    workspaces = manager()
    ws = workspaces.create(issue("1", "Add login"), None, False)
    branch = "issue-1-add-login"
    assert ws == Workspace("1", workspaces.config.state_dir / branch, branch)
    assert (ws.path / "README.md").read_text() == "# test repo\n"
    assert head(ws.path) == repo.git("rev-parse", "main")
    assert run_git(ws.path, "branch", "--show-current") == "issue-1-add-login"


def test_default_branch_without_remote_is_main_worktrees_current_branch(manager, repo):
    repo.git("checkout", "-q", "-b", "develop")
    tip = commit_file(repo.path, "dev.txt")
    ws = manager().create(issue("1"), None, False)
    assert head(ws.path) == tip


def test_create_from_explicit_base(manager, repo):
    repo.git("branch", "feature")
    repo.git("checkout", "-q", "feature")
    tip = commit_file(repo.path, "feature.txt")
    repo.git("checkout", "-q", "main")
    ws = manager().create(issue("2"), "feature", False)
    assert head(ws.path) == tip
    assert (ws.path / "feature.txt").exists()


def test_config_base_is_used_when_no_base_is_given(manager, repo):
    repo.git("checkout", "-q", "-b", "release")
    tip = commit_file(repo.path, "release.txt")
    repo.git("checkout", "-q", "main")
    ws = manager(base="release").create(issue("2"), None, False)
    assert head(ws.path) == tip


def test_missing_base_is_an_error_and_creates_nothing(manager, repo):
    workspaces = manager()
    with pytest.raises(WorkspaceError, match="base branch 'nope' not found"):
        workspaces.create(issue("4"), "nope", False)
    assert workspaces.list() == []
    assert not has_branch(repo, "issue-4-*")


def test_base_that_looks_like_an_option_is_refused(manager):
    with pytest.raises(WorkspaceError, match="not a valid branch name"):
        manager().create(issue("4"), "--upload-pack=touch PWNED", False)


@pytest.mark.parametrize("origin_head", [True, False], ids=["origin-HEAD", "no-origin-HEAD"])
def test_remote_base_is_fetched_so_agents_never_start_from_a_stale_base(
    manager, repo, remote, tmp_path, origin_head
):
    if origin_head:
        repo.git("remote", "set-head", "origin", "main")
    local_main = repo.git("rev-parse", "main")
    newer = push_from_elsewhere(remote, tmp_path)
    ws = manager().create(issue("5"), None, False)
    assert head(ws.path) == newer
    assert (ws.path / "upstream-main.txt").exists()
    # The user's own branch is left alone, and the new branch tracks nothing (an agent's
    # plain `git push` must never target main).
    assert repo.git("rev-parse", "main") == local_main
    upstream = repo.git("for-each-ref", "--format=%(upstream)", f"refs/heads/{ws.branch}")
    assert upstream == ""


def test_remote_explicit_base_is_fetched(manager, repo, remote, tmp_path):
    repo.git("push", "-q", "origin", "main:develop")
    newer = push_from_elsewhere(remote, tmp_path, "develop")
    ws = manager().create(issue("5"), "develop", False)
    assert head(ws.path) == newer


def test_base_only_in_local_repo_is_used_when_not_on_remote(manager, repo, remote):
    repo.git("checkout", "-q", "-b", "local-only")
    tip = commit_file(repo.path, "local.txt")
    repo.git("checkout", "-q", "main")
    with capture_logs() as logs:
        ws = manager().create(issue("6"), "local-only", False)
    assert head(ws.path) == tip
    assert any("not on the remote" in entry["event"] for entry in logs)


def test_base_missing_locally_and_on_remote_is_not_found(manager, remote):
    with pytest.raises(WorkspaceError, match="base branch 'ghost' not found"):
        manager().create(issue("6"), "ghost", False)


def test_failed_fetch_is_an_error_naming_the_base(manager, repo, tmp_path):
    repo.git("remote", "add", "origin", str(tmp_path / "does-not-exist.git"))
    workspaces = manager()
    with pytest.raises(WorkspaceError, match="cannot fetch base branch 'main' from origin"):
        workspaces.create(issue("6"), "main", False)
    assert workspaces.list() == []


# -- prompt file and status ----------------------------------------------------------


def test_prompt_file_is_excluded_from_git_once(manager, repo):
    workspaces = manager()
    first = workspaces.create(issue("1"), None, False)
    workspaces.create(issue("2"), None, False)
    exclude = (repo.path / ".git" / "info" / "exclude").read_text().splitlines()
    assert exclude.count(".pirun-prompt.md") == 1
    (first.path / ".pirun-prompt.md").write_text("do the thing\n")
    run_git(first.path, "add", "-A")
    assert run_git(first.path, "status", "--porcelain") == ""


def test_main_repository_does_not_see_the_worktrees_as_untracked(manager, repo):
    manager().create(issue("1"), None, False)
    assert ".worktrees" not in repo.git("status", "--porcelain")


def test_state_dir_outside_the_repository(manager, repo, tmp_path):
    workspaces = manager(worktree={"dir": "../elsewhere"})
    ws = workspaces.create(issue("1"), None, False)
    assert ws.path.parent == (tmp_path / "elsewhere").resolve()
    assert workspaces.find("1") == ws


# -- copy_files ---------------------------------------------------------------------


def test_copy_files_copies_globs_preserving_paths_and_skips_missing(manager, repo):
    (repo.path / ".env").write_text("SECRET=1\n")
    (repo.path / "config").mkdir()
    (repo.path / "config" / "db.local").write_text("db\n")
    (repo.path / "config" / "cache.local").write_text("cache\n")
    (repo.path / "config" / "other.txt").write_text("no\n")
    workspaces = manager(worktree={"copy_files": [".env", "config/*.local", "missing.txt"]})
    with capture_logs() as logs:
        ws = workspaces.create(issue("1"), None, False)
    assert (ws.path / ".env").read_text() == "SECRET=1\n"
    assert (ws.path / "config" / "db.local").read_text() == "db\n"
    assert (ws.path / "config" / "cache.local").read_text() == "cache\n"
    assert not (ws.path / "config" / "other.txt").exists()
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert [e["pattern"] for e in warnings] == ["missing.txt"]


@pytest.mark.parametrize("pattern", ["../secret", "/etc/passwd", "config/../../secret", "~/x"])
def test_copy_files_refuses_patterns_outside_the_repository(manager, repo, pattern):
    workspaces = manager(worktree={"copy_files": [pattern]})
    with pytest.raises(ConfigError, match="relative to the repository root"):
        workspaces.create(issue("1"), None, False)
    assert workspaces.list() == []


def test_copy_files_does_not_follow_symlinks_out_of_the_repository(manager, repo, tmp_path):
    (tmp_path / "secret").write_text("outside\n")
    (repo.path / ".env").symlink_to(tmp_path / "secret")
    workspaces = manager(worktree={"copy_files": [".env"]})
    with capture_logs() as logs:
        ws = workspaces.create(issue("1"), None, False)
    assert not (ws.path / ".env").exists()
    assert any("outside the repository" in e["event"] for e in logs)


def test_copy_files_never_copies_from_other_worktrees(manager, repo):
    (repo.path / ".env").write_text("root\n")
    workspaces = manager(worktree={"copy_files": ["**/.env"]})
    first = workspaces.create(issue("1"), None, False)
    (first.path / ".env").write_text("changed by agent 1\n")
    second = workspaces.create(issue("2"), None, False)
    assert (second.path / ".env").read_text() == "root\n"
    assert not (second.path / ".worktrees").exists()


# -- setup --------------------------------------------------------------------------


def test_setup_commands_run_in_order_in_the_new_worktree(manager, repo):
    script = "import pathlib; p = pathlib.Path('order.txt'); p.write_text(p.read_text() + '{}')"
    workspaces = manager(
        worktree={
            "setup": [
                [sys.executable, "-c", "open('order.txt', 'w').close()"],
                [sys.executable, "-c", script.format("a")],
                f'{sys.executable} -c "{script.format("b")}"',
            ]
        }
    )
    ws = workspaces.create(issue("8"), None, False)
    assert (ws.path / "order.txt").read_text() == "ab"
    log = (workspaces.config.log_dir / "issue-8-setup.log").read_text()
    assert log.count("$ ") == 3


def test_setup_log_of_a_name_key_is_never_another_keys_agent_log(manager, repo):
    dump = "import os; print('issue', os.environ['PIRUN_ISSUE'])"
    workspaces = manager(worktree={"setup": [[sys.executable, "-c", dump]]})
    ws = workspaces.create(issue("PROJ-7"), None, False)
    log_dir = workspaces.config.log_dir
    assert ws.branch == "issue-PROJ-7--fix-the-thing"
    assert (log_dir / "issue-PROJ-7--setup.log").read_text().endswith("issue PROJ-7\n")
    # `PROJ-7-setup` is a key as well; its agent log must stay its own.
    assert workspaces.config.log_path("PROJ-7-setup") == log_dir / "issue-PROJ-7-setup.log"
    assert not (log_dir / "issue-PROJ-7-setup.log").exists()
    workspaces.create(issue("o/r#7"), None, False)
    assert (log_dir / "issue-o_2fr_237--setup.log").read_text().endswith("issue o/r#7\n")


def test_setup_strings_are_split_not_run_by_a_shell(manager, repo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hostile = "echo $(touch PWNED) ; touch PWNED2 && `touch PWNED3`"
    workspaces = manager(worktree={"setup": [hostile]})
    ws = workspaces.create(issue("8"), None, False)
    log = (workspaces.config.log_dir / "issue-8-setup.log").read_text()
    assert "$(touch PWNED) ; touch PWNED2 && `touch PWNED3`" in log
    assert not list(tmp_path.rglob("PWNED*"))
    assert not list(ws.path.glob("PWNED*"))


def test_setup_failure_names_command_and_log_and_leaves_nothing_behind(manager, repo):
    workspaces = manager(
        worktree={
            "setup": [
                [sys.executable, "-c", "print('installing'); raise SystemExit(3)"],
                [sys.executable, "-c", "open('never.txt', 'w')"],
            ]
        }
    )
    log = workspaces.config.log_dir / "issue-9-setup.log"
    with pytest.raises(WorkspaceError) as excinfo:
        workspaces.create(issue("9"), None, False)
    assert str(excinfo.value) == f"setup failed: {sys.executable} exited with code 3 (see {log})"
    assert "installing" in log.read_text()
    # A failed setup does not make the next attempt demand --force.
    assert workspaces.find("9") is None
    assert not has_branch(repo, "issue-9-fix-the-thing")
    repo.write_config()
    assert manager().create(issue("9"), None, False).path.is_dir()


def test_setup_command_that_does_not_exist_is_a_workspace_error(manager):
    workspaces = manager(worktree={"setup": [["no-such-command-pirun-test", "x"]]})
    with pytest.raises(WorkspaceError, match="setup failed: no-such-command-pirun-test"):
        workspaces.create(issue("9"), None, False)


def test_setup_string_that_cannot_be_split_is_a_config_error(manager):
    workspaces = manager(worktree={"setup": ["echo 'unclosed"]})
    with pytest.raises(ConfigError, match=r"worktree\.setup"):
        workspaces.create(issue("9"), None, False)


# -- existing worktree or branch -----------------------------------------------------


def test_existing_worktree_without_force_is_refused(manager):
    workspaces = manager()
    ws = workspaces.create(issue("3"), None, False)
    with pytest.raises(WorkspaceError) as excinfo:
        workspaces.create(issue("3"), None, False)
    assert str(excinfo.value) == (
        f"worktree for issue #3 already exists: {ws.path} (use --force to replace it)"
    )


def test_existing_worktree_is_found_even_after_the_title_changed(manager):
    workspaces = manager()
    workspaces.create(issue("3", "old title"), None, False)
    with pytest.raises(WorkspaceError, match="issue-3-old-title"):
        workspaces.create(issue("3", "new title"), None, False)


def test_force_replaces_worktree_and_branch_keeping_nothing_stale(manager, repo):
    workspaces = manager()
    old = workspaces.create(issue("3"), None, False)
    commit_file(old.path, "agent-work.txt")
    (old.path / "scratch.txt").write_text("untracked\n")
    new = workspaces.create(issue("3"), None, True)
    assert new.path == old.path
    assert head(new.path) == repo.git("rev-parse", "main")
    assert not (new.path / "agent-work.txt").exists()
    assert not (new.path / "scratch.txt").exists()
    assert workspaces.list() == [new]


def test_force_with_changed_title_removes_the_old_worktree_and_branch(manager, repo):
    workspaces = manager()
    old = workspaces.create(issue("3", "old title"), None, False)
    new = workspaces.create(issue("3", "new title"), None, True)
    assert not old.path.exists()
    assert workspaces.list() == [new]
    assert not has_branch(repo, old.branch)


def test_force_with_missing_base_keeps_the_old_worktree(manager):
    workspaces = manager()
    old = workspaces.create(issue("3"), None, False)
    commit_file(old.path, "agent-work.txt")
    with pytest.raises(WorkspaceError, match="not found"):
        workspaces.create(issue("3"), "nope", True)
    assert (old.path / "agent-work.txt").exists()


def test_leftover_branch_is_reused_with_its_commits(manager, repo):
    workspaces = manager()
    ws = workspaces.create(issue("4"), None, False)
    work = commit_file(ws.path, "progress.txt", "half done\n")
    workspaces.remove(ws, force=False, delete_branch=False)
    assert has_branch(repo, ws.branch)
    with capture_logs() as logs:
        again = workspaces.create(issue("4"), None, False)
    assert again == ws
    assert head(again.path) == work
    assert any(e["event"] == "reusing existing branch" and e["branch"] == ws.branch for e in logs)


def test_stale_directory_without_worktree_is_refused_then_replaced_with_force(manager):
    workspaces = manager()
    path = workspaces.path_for(issue("5"))
    path.mkdir(parents=True)
    (path / "junk").write_text("left by a crash\n")
    with pytest.raises(WorkspaceError, match="already exists"):
        workspaces.create(issue("5"), None, False)
    ws = workspaces.create(issue("5"), None, True)
    assert not (ws.path / "junk").exists()
    assert (ws.path / "README.md").exists()


# -- concurrency -------------------------------------------------------------------------


def test_worktrees_created_by_many_threads_and_processes_at_once_all_succeed(manager, repo):
    # A batch starts several issues at a time, and other pirun commands may run too:
    # `git worktree list`/`prune` of one must never read another's half-made worktree.
    managers = [manager(), manager()]  # two managers: two pirun processes' worth
    numbers = range(1, 25)
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(
            lambda n: managers[n % 2].create(issue(str(n)), None, False), numbers
        ))

    assert [ws.issue for ws in made] == [str(n) for n in numbers]
    assert sorted(int(ws.issue) for ws in managers[0].list()) == list(numbers)
    assert all((ws.path / "README.md").exists() for ws in made)
