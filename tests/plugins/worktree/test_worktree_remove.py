"""Finding, listing and removing worktrees without losing anyone's work."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from wtutil import commit_file, issue, run_git

from pirun.errors import WorkspaceError
from pirun.model import Workspace


def has_branch(repo, name: str) -> bool:
    return bool(repo.git("branch", "--list", name))


# -- find and list -------------------------------------------------------------------


def test_list_returns_only_pirun_worktrees_sorted_by_issue(manager, repo, tmp_path):
    workspaces = manager()
    twelve = workspaces.create(issue("12", "Twelve"), None, False)
    one = workspaces.create(issue("1", "One"), None, False)
    bare = workspaces.create(issue("5", "!!!"), None, False)
    repo.git("worktree", "add", "-q", str(tmp_path / "unrelated"))
    repo.git("worktree", "add", "-q", str(workspaces.config.state_dir / "notes"))
    (workspaces.config.state_dir / "issue-99-not-a-worktree").mkdir()
    assert workspaces.list() == [one, bare, twelve]
    assert bare.branch == "issue-5"


def test_find_matches_the_exact_issue_number(manager):
    workspaces = manager()
    twelve = workspaces.create(issue("12"), None, False)
    assert workspaces.find("12") == twelve
    assert workspaces.find("1") is None
    assert workspaces.find("2") is None


def test_find_and_list_work_for_name_keys(manager):
    workspaces = manager()
    ten = workspaces.create(issue("PROJ-10", "Ten"), None, False)
    nine = workspaces.create(issue("PROJ-9", "Nine"), None, False)
    two = workspaces.create(issue("2", "Two"), None, False)
    # `42-fix` is a name whose branch starts like issue 42's would.
    named = workspaces.create(issue("42-fix", "x"), None, False)
    forty_two = workspaces.create(issue("42", "fix x"), None, False)
    assert (named.branch, forty_two.branch) == ("issue-42-fix--x", "issue-42-fix-x")
    assert workspaces.find("PROJ-10") == ten
    assert workspaces.find("PROJ-9") == nine
    assert workspaces.find("PROJ-1") is None
    assert workspaces.find("42") == forty_two
    assert workspaces.find("42-fix") == named
    # Numbers first, then names in natural order (PROJ-9 before PROJ-10).
    assert workspaces.list() == [two, forty_two, named, nine, ten]


def test_remove_a_name_key_worktree_and_its_branch(manager, repo):
    workspaces = manager()
    ws = workspaces.create(issue("PROJ-7", "Fix login"), None, False)
    other = workspaces.create(issue("PROJ-70", "Fix login"), None, False)
    commit_file(ws.path, "work.txt")
    with pytest.raises(WorkspaceError) as excinfo:
        workspaces.remove(ws, force=False, delete_branch=True)
    assert str(excinfo.value) == (
        "issue PROJ-7: branch issue-PROJ-7--fix-login has 1 unmerged commit(s); "
        "use --force to delete it"
    )
    removed = workspaces.remove(ws, force=True, delete_branch=True)
    assert removed == [f"worktree {ws.path}", "branch issue-PROJ-7--fix-login"]
    assert not ws.path.exists()
    assert not has_branch(repo, ws.branch)
    assert workspaces.find("PROJ-7") is None
    assert workspaces.list() == [other]


def test_remove_never_deletes_another_keys_branch(manager, repo):
    workspaces = manager()
    ws = workspaces.create(issue("PROJ-7"), None, False)
    repo.git("branch", "issue-PROJ-70--fix-the-thing")
    repo.git("branch", "issue-7-fix-the-thing")
    for branch in ("issue-PROJ-70--fix-the-thing", "issue-7-fix-the-thing"):
        assert workspaces.remove(
            Workspace("PROJ-7", ws.path, branch), force=True, delete_branch=True
        ) in ([f"worktree {ws.path}"], [])
        assert has_branch(repo, branch)


def test_find_ignores_worktrees_whose_directory_was_deleted(manager):
    workspaces = manager()
    ws = workspaces.create(issue("2"), None, False)
    run_git(ws.path.parent, "worktree", "remove", "--force", str(ws.path))
    assert workspaces.find("2") is None


# -- remove --------------------------------------------------------------------------


def test_remove_clean_worktree_and_merged_branch(manager, repo):
    workspaces = manager()
    ws = workspaces.create(issue("1"), None, False)
    removed = workspaces.remove(ws, force=False, delete_branch=True)
    assert removed == [f"worktree {ws.path}", f"branch {ws.branch}"]
    assert not ws.path.exists()
    assert not has_branch(repo, ws.branch)
    assert workspaces.list() == []
    assert f"branch.{ws.branch}" not in repo.git("config", "--list")


def test_remove_keeps_branch_unless_asked(manager, repo):
    workspaces = manager()
    ws = workspaces.create(issue("1"), None, False)
    commit_file(ws.path, "work.txt")
    assert workspaces.remove(ws, force=False, delete_branch=False) == [f"worktree {ws.path}"]
    assert has_branch(repo, ws.branch)


@pytest.mark.parametrize("change", ["modified", "staged", "untracked"])
def test_remove_refuses_uncommitted_changes(manager, change):
    workspaces = manager()
    ws = workspaces.create(issue("3"), None, False)
    (ws.path / ("README.md" if change != "untracked" else "new.txt")).write_text("edit\n")
    if change == "staged":
        run_git(ws.path, "add", "README.md")
    with pytest.raises(WorkspaceError) as excinfo:
        workspaces.remove(ws, force=False, delete_branch=True)
    assert str(excinfo.value) == (
        "issue #3: worktree has uncommitted changes; use --force to discard them"
    )
    assert ws.path.is_dir()


def test_remove_ignores_the_prompt_file(manager, repo):
    workspaces = manager()
    ws = workspaces.create(issue("3"), None, False)
    (ws.path / ".pirun-prompt.md").write_text("prompt\n")
    # Even if the exclude entry is gone, the prompt file is not the agent's work.
    exclude = repo.path / ".git" / "info" / "exclude"
    exclude.write_text(exclude.read_text().replace(".pirun-prompt.md\n", ""))
    assert workspaces.remove(ws, force=False, delete_branch=True)
    assert not ws.path.exists()


def test_remove_refuses_unmerged_commits_and_removes_nothing(manager, repo):
    workspaces = manager()
    ws = workspaces.create(issue("4"), None, False)
    commit_file(ws.path, "a.txt")
    commit_file(ws.path, "b.txt")
    with pytest.raises(WorkspaceError) as excinfo:
        workspaces.remove(ws, force=False, delete_branch=True)
    assert str(excinfo.value) == (
        f"issue #4: branch {ws.branch} has 2 unmerged commit(s); use --force to delete it"
    )
    assert ws.path.is_dir()
    assert has_branch(repo, ws.branch)


def test_force_removes_uncommitted_changes_and_unmerged_commits(manager, repo):
    workspaces = manager()
    ws = workspaces.create(issue("4"), None, False)
    commit_file(ws.path, "a.txt")
    (ws.path / "README.md").write_text("dirty\n")
    removed = workspaces.remove(ws, force=True, delete_branch=True)
    assert removed == [f"worktree {ws.path}", f"branch {ws.branch}"]
    assert not ws.path.exists()
    assert not has_branch(repo, ws.branch)


def test_branch_merged_into_default_branch_is_deleted_without_force(manager, repo):
    workspaces = manager()
    ws = workspaces.create(issue("4"), None, False)
    commit_file(ws.path, "feature.txt")
    repo.git("merge", "-q", "--no-edit", "--no-ff", ws.branch)
    assert f"branch {ws.branch}" in workspaces.remove(ws, force=False, delete_branch=True)


def test_branch_merged_on_the_remote_counts_as_merged(manager, repo, remote):
    workspaces = manager()
    ws = workspaces.create(issue("4"), None, False)
    commit_file(ws.path, "feature.txt")
    # Merged upstream (a pull request), while the local main is still behind.
    repo.git("push", "-q", "origin", f"{ws.branch}:main")
    repo.git("fetch", "-q", "origin")
    assert f"branch {ws.branch}" in workspaces.remove(ws, force=False, delete_branch=True)


def test_merge_check_uses_the_base_the_branch_started_from(manager, repo):
    repo.git("checkout", "-q", "-b", "develop")
    commit_file(repo.path, "develop.txt")
    repo.git("checkout", "-q", "main")
    workspaces = manager()
    ws = workspaces.create(issue("6"), "develop", False)
    # Nothing new beyond develop, though develop's commit is not on main.
    assert f"branch {ws.branch}" in workspaces.remove(ws, force=False, delete_branch=True)


def test_remove_refuses_a_path_that_is_not_a_pirun_worktree(manager, repo, tmp_path):
    workspaces = manager()
    outside = tmp_path / "precious"
    outside.mkdir()
    with pytest.raises(WorkspaceError, match="not a pirun worktree"):
        workspaces.remove(Workspace("1", outside, "main"), force=True, delete_branch=True)
    assert outside.is_dir()
    assert has_branch(repo, "main")


def test_remove_never_deletes_a_branch_pirun_did_not_create(manager, repo):
    workspaces = manager()
    ws = workspaces.create(issue("1"), None, False)
    repo.git("branch", "keep-me")
    removed = workspaces.remove(Workspace("1", ws.path, "keep-me"), force=True, delete_branch=True)
    assert removed == [f"worktree {ws.path}"]
    assert has_branch(repo, "keep-me")


def test_remove_of_a_worktree_already_deleted_by_hand_prunes_it(manager, repo):
    workspaces = manager()
    ws = workspaces.create(issue("7"), None, False)
    shutil.rmtree(ws.path)
    assert workspaces.remove(ws, force=False, delete_branch=True) == [f"branch {ws.branch}"]
    assert workspaces.list() == []
    assert str(ws.path) not in repo.git("worktree", "list")


def test_remove_then_create_again_starts_fresh(manager, repo):
    workspaces = manager()
    ws = workspaces.create(issue("8"), None, False)
    commit_file(ws.path, "old.txt")
    workspaces.remove(ws, force=True, delete_branch=True)
    again = workspaces.create(issue("8"), None, False)
    assert not (again.path / "old.txt").exists()
    assert Path(again.path / "README.md").exists()


def test_remove_refuses_a_leftover_directory_git_does_not_know_unless_forced(manager):
    workspaces = manager()
    path = workspaces.path_for(issue("9"))
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("maybe someone's work\n")
    leftover = Workspace("9", path, "")
    with pytest.raises(WorkspaceError, match="not a git worktree"):
        workspaces.remove(leftover, force=False, delete_branch=True)
    assert (path / "notes.txt").exists()
    assert workspaces.remove(leftover, force=True, delete_branch=True) == [f"worktree {path}"]
    assert not path.exists()


def test_base_is_recorded_per_branch_and_forgotten_with_it(manager, repo):
    workspaces = manager()
    ws = workspaces.create(issue("2"), None, False)
    assert repo.git("config", "--get", f"branch.{ws.branch}.pirunbase") == "main"
    workspaces.remove(ws, force=False, delete_branch=True)
    assert "pirunbase" not in repo.git("config", "--list")


def test_merge_check_falls_back_to_default_branch_when_recorded_base_is_gone(manager, repo):
    repo.git("branch", "short-lived")
    workspaces = manager()
    ws = workspaces.create(issue("6"), "short-lived", False)
    commit_file(ws.path, "work.txt")
    repo.git("branch", "-D", "short-lived")
    with pytest.raises(WorkspaceError, match="1 unmerged commit"):
        workspaces.remove(ws, force=False, delete_branch=True)
