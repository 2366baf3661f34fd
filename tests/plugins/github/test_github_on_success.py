"""`github.on_success`: a comment naming the branch, or a pull request from it.

The run ends the way the kernel ends it (`record_outcome`, which fires
`pirun_session_finished`), in a real worktree whose `origin` is a bare repository
in `tmp_path`; the fake GitHub answers the API calls.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import pirun_github
import pytest
import structlog
from fakegithub import TOKEN, FakeGitHub

from pirun.errors import ConfigError
from pirun.model import Issue, Outcome, Status, StatusRecord, Workspace
from pirun.outcomes import record_outcome
from pirun.runtime import Runtime

PLUGINS = "github,textdeps,worktree,jsonstatus"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def origin(repo: Any, tmp_path: Path) -> Path:
    """A bare repository as `origin`, holding `main`."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    repo.git("remote", "add", "origin", str(bare))
    repo.git("push", "-q", "origin", "main")
    return bare


@pytest.fixture
def setup(repo: Any, origin: Path, fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("PIRUN_PLUGINS", PLUGINS)
    fake.add("o/r", 42, "Fix the parser")
    fake.git_remote = origin
    fake.install()

    def load(**github: Any) -> Runtime:
        repo.write_config(
            tracker="github", backend="process",
            github={"repo": "o/r", "api_url": fake.api_url, **github},
        )
        return Runtime.load(repo.path)

    return load


def start(rt: Runtime, number: int | str = 42, title: str = "Fix the parser",
          base: str | None = None) -> Workspace:
    """What `pirun run` leaves behind: a worktree with the agent's commit, a running record."""
    workspace = rt.workspaces.create(Issue(str(number), title), base, False)
    return agent_commits(rt, workspace, title, "fix.txt", "fix")


def agent_commits(rt: Runtime, workspace: Workspace, title: str, name: str,
                  message: str) -> Workspace:
    """The agent's commit of `name` in `workspace`, and the run's `running` record."""
    (workspace.path / name).write_text(f"{message}\n")
    git(workspace.path, "add", name)
    git(workspace.path, "commit", "-q", "-m", message)
    rt.store.put(StatusRecord(
        issue=workspace.issue, status=Status.RUNNING,
        session=rt.config.session_name(workspace.issue), run_id="run-1", title=title,
    ))
    return workspace


def finish(rt: Runtime, number: int | str = 42, outcome: Outcome | None = None) -> StatusRecord:
    record = record_outcome(rt, str(number), outcome or Outcome.complete("marker"), run_id="run-1")
    assert record is not None
    return record


def writes(fake: FakeGitHub) -> list[Any]:
    return [req for req in fake.requests() if req.method != "GET"]


def remote_branches(origin: Path) -> list[str]:
    return git(origin, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()


# -- comment -----------------------------------------------------------------------------


def test_comment_names_the_branch(setup, fake: FakeGitHub) -> None:
    rt = setup(on_success="comment")
    workspace = start(rt)
    finish(rt)

    (request,) = fake.requests()
    assert request.method == "POST"
    assert request.path == "/repos/o/r/issues/42/comments"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/vnd.github+json"
    assert request.get_json() == {
        "body": f"pirun finished this issue on branch `{workspace.branch}`."
    }
    assert workspace.branch == "issue-42-fix-the-parser"


def test_comment_does_not_push(setup, fake: FakeGitHub, origin: Path) -> None:
    rt = setup(on_success="comment")
    start(rt)
    finish(rt)
    assert remote_branches(origin) == ["main"]


# -- pull request ------------------------------------------------------------------------


def test_pull_request_after_pushing_the_branch(setup, fake: FakeGitHub, origin: Path) -> None:
    rt = setup(on_success="pull_request")
    workspace = start(rt)
    finish(rt)

    assert sorted(remote_branches(origin)) == ["issue-42-fix-the-parser", "main"]
    assert git(origin, "rev-parse", workspace.branch) == git(workspace.path, "rev-parse", "HEAD")
    # -u: the branch now tracks its pushed copy.
    assert git(workspace.path, "rev-parse", "--abbrev-ref", "@{upstream}") == (
        "origin/issue-42-fix-the-parser"
    )
    (request,) = writes(fake)
    assert request.path == "/repos/o/r/pulls"
    assert request.get_json() == {
        "title": "#42: Fix the parser",
        "head": "issue-42-fix-the-parser",
        "base": "main",
        "body": "Closes #42",
        "draft": True,
    }
    assert len(fake.pulls) == 1
    assert all(req.method == "POST" for req in fake.requests())  # base came from git config


def test_pull_request_base_is_the_recorded_base(setup, fake: FakeGitHub, repo: Any,
                                                 origin: Path) -> None:
    repo.git("branch", "release-2")
    repo.git("push", "-q", "origin", "release-2")
    rt = setup(on_success="pull_request", pr_draft=False)
    start(rt, base="release-2")
    finish(rt)
    (request,) = writes(fake)
    assert request.get_json()["base"] == "release-2"
    assert request.get_json()["draft"] is False


def test_pull_request_base_falls_back_to_the_default_branch(
    setup, fake: FakeGitHub, repo: Any
) -> None:
    fake.default_branch = "trunk"
    repo.git("push", "-q", "origin", "main:trunk")
    rt = setup(on_success="pull_request")
    workspace = start(rt)
    repo.git("config", "--unset", f"branch.{workspace.branch}.pirunbase")
    finish(rt)
    assert [req.path for req in fake.requests()] == ["/repos/o/r", "/repos/o/r/pulls"]
    assert fake.pulls[0]["base"] == "trunk"


def test_pull_request_that_already_exists_is_not_an_error(setup, fake: FakeGitHub) -> None:
    fake.pulls.append({"head": "issue-42-fix-the-parser", "base": "main"})
    rt = setup(on_success="pull_request")
    start(rt)
    with structlog.testing.capture_logs() as logs:
        record = finish(rt)
    assert record.status is Status.COMPLETE
    (request,) = writes(fake)
    assert request.path == "/repos/o/r/pulls"
    assert [entry["event"] for entry in logs] == ["github.pull_request_exists"]
    assert logs[0]["log_level"] == "info"


def test_push_failure_opens_no_pull_request(setup, fake: FakeGitHub, origin: Path,
                                             repo: Any) -> None:
    rt = setup(on_success="pull_request")
    start(rt)
    repo.git("remote", "set-url", "origin", str(origin.parent / "gone.git"))
    with structlog.testing.capture_logs() as logs:
        record = finish(rt)
    assert record.status is Status.COMPLETE
    assert fake.requests() == []
    (entry,) = logs
    assert entry["event"] == "github.push_failed"
    assert entry["log_level"] == "warning"
    assert entry["branch"] == "issue-42-fix-the-parser"
    assert "gone.git" in entry["reason"]


def test_push_false_opens_the_pull_request_without_pushing(
    setup, fake: FakeGitHub, origin: Path, repo: Any
) -> None:
    rt = setup(on_success="pull_request", push=False)
    workspace = start(rt)
    repo.git("push", "-q", "origin", workspace.branch)  # pushed some other way
    finish(rt)
    assert len(fake.pulls) == 1


def test_unpushed_head_refused_by_github_is_logged(setup, fake: FakeGitHub) -> None:
    rt = setup(on_success="pull_request", push=False)
    start(rt)
    with structlog.testing.capture_logs() as logs:
        record = finish(rt)
    assert record.status is Status.COMPLETE
    assert fake.pulls == []
    (entry,) = logs
    assert entry["event"] == "github.on_success_failed"
    assert entry["reason"] == (
        "GitHub answered HTTP 422 while opening a pull request for issue #42: Validation Failed"
    )


# -- when nothing is sent ----------------------------------------------------------------


def test_off_by_default(setup, fake: FakeGitHub, origin: Path) -> None:
    rt = setup()
    assert rt.config.get("github.on_success") == "none"
    assert rt.config.get("github.push") is True
    assert rt.config.get("github.pr_draft") is True
    start(rt)
    finish(rt)
    assert fake.requests() == []
    assert remote_branches(origin) == ["main"]


@pytest.mark.parametrize("action", ["comment", "pull_request"])
def test_a_failed_run_sends_nothing(setup, fake: FakeGitHub, origin: Path, action: str) -> None:
    rt = setup(on_success=action)
    start(rt)
    record = finish(rt, outcome=Outcome.error("tests fail", "marker"))
    assert record.status is Status.ERROR
    assert fake.requests() == []
    assert remote_branches(origin) == ["main"]


def test_other_trackers_send_nothing(setup, fake: FakeGitHub, repo: Any) -> None:
    rt = setup(on_success="comment")
    start(rt)
    repo.write_config(tracker="local", backend="process",
                      github={"repo": "o/r", "api_url": fake.api_url, "on_success": "comment"})
    rt = Runtime.load(repo.path)
    finish(rt)
    assert fake.requests() == []


@pytest.mark.parametrize("action", ["comment", "pull_request"])
def test_another_repository_s_issue_gets_nothing_here(
    setup, fake: FakeGitHub, origin: Path, action: str
) -> None:
    # `pirun run other/lib#7` works on it here, but a comment on o/r#7 or a pull
    # request saying "Closes #7" would be about another issue altogether.
    fake.add("other/lib", 7, "Upstream fix")
    rt = setup(on_success=action)
    start(rt, "other/lib#7", "Upstream fix")
    with structlog.testing.capture_logs() as logs:
        record = finish(rt, "other/lib#7")
    assert record.status is Status.COMPLETE
    assert record.issue == "other/lib#7"
    assert fake.requests() == []
    assert remote_branches(origin) == ["main"]
    (entry,) = logs
    assert entry["event"] == "github.on_success_failed"
    assert entry["reason"] == "issue other/lib#7 is not an issue of o/r"


def test_no_workspace_sends_nothing(setup, fake: FakeGitHub) -> None:
    rt = setup(on_success="comment")
    record = StatusRecord(issue="42", status=Status.COMPLETE, session="pi-issue-42", title="x")
    rt.pm.hook.pirun_session_finished(
        config=rt.config, record=record, outcome=Outcome.complete("marker"), workspace=None
    )
    assert fake.requests() == []


def test_unknown_action_is_a_configuration_error(setup) -> None:
    with pytest.raises(ConfigError, match=(
        r"^configuration key 'github.on_success' must be none, comment or pull_request, "
        r"got 'pr'$"
    )):
        setup(on_success="pr")


# -- failures never change the run -------------------------------------------------------


def test_api_failure_is_logged_once_without_the_token(setup, fake: FakeGitHub) -> None:
    fake.server.expect_oneshot_request("/repos/o/r/issues/42/comments", method="POST")\
        .respond_with_json({"message": f"Resource not accessible by {TOKEN}"}, status=403)
    rt = setup(on_success="comment")
    start(rt)
    with structlog.testing.capture_logs() as logs:
        record = finish(rt)
    assert record.status is Status.COMPLETE
    assert rt.store.get("42").status is Status.COMPLETE
    (entry,) = logs
    assert entry["event"] == "github.on_success_failed"
    assert entry["reason"] == (
        "GitHub answered HTTP 403 while commenting on issue #42: "
        "Resource not accessible by [token]"
    )
    assert TOKEN not in repr(logs)
    assert len(fake.requests()) == 1  # a refusal is not retried


def test_comment_is_not_repeated_after_a_server_error(setup, fake: FakeGitHub) -> None:
    # GitHub may have created the comment before failing: a retry could post it twice.
    fake.server.expect_oneshot_request("/repos/o/r/issues/42/comments", method="POST")\
        .respond_with_json({"message": "Server Error"}, status=502)
    rt = setup(on_success="comment")
    start(rt)
    with structlog.testing.capture_logs() as logs:
        finish(rt)
    assert len(fake.requests()) == 1
    assert fake.comments == []
    assert logs[-1]["reason"] == (
        "GitHub answered HTTP 502 while commenting on issue #42 (not retried)"
    )


def test_pull_request_is_retried_after_a_server_error(setup, fake: FakeGitHub) -> None:
    fake.server.expect_oneshot_request("/repos/o/r/pulls", method="POST")\
        .respond_with_json({"message": "Server Error"}, status=502)
    rt = setup(on_success="pull_request", max_retries=2)
    start(rt)
    pirun_github.tracker_for(rt.config).client._sleep = lambda seconds: None
    finish(rt)
    assert len(writes(fake)) == 2
    assert len(fake.pulls) == 1


def test_rate_limited_comment_waits_and_is_sent(setup, fake: FakeGitHub) -> None:
    fake.server.expect_oneshot_request("/repos/o/r/issues/42/comments", method="POST")\
        .respond_with_json(
            {"message": "You have exceeded a secondary rate limit."}, status=403,
            headers={"Retry-After": "3"},
        )
    rt = setup(on_success="comment")
    start(rt)
    waits: list[float] = []
    pirun_github.tracker_for(rt.config).client._sleep = waits.append
    finish(rt)
    assert waits == [3.0]
    assert len(fake.comments) == 1


def test_unreachable_github_is_logged(setup, fake: FakeGitHub, repo: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rt = setup(on_success="comment", api_url=f"http://127.0.0.1:{port}", max_retries=1)
    start(rt)
    pirun_github.tracker_for(rt.config).client._sleep = lambda seconds: None
    with structlog.testing.capture_logs() as logs:
        record = finish(rt)
    assert record.status is Status.COMPLETE
    failures = [entry for entry in logs if entry["event"] == "github.on_success_failed"]
    assert len(failures) == 1
    assert failures[0]["reason"].startswith(f"cannot reach GitHub at http://127.0.0.1:{port}")
    assert failures[0]["reason"].endswith(
        "while commenting on issue #42 (gave up after 2 attempts)"
    )


def test_missing_token_is_logged(setup, fake: FakeGitHub,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    rt = setup(on_success="comment")
    start(rt)
    monkeypatch.delenv("GH_TOKEN")
    monkeypatch.setattr("shutil.which", lambda name, *args, **kwargs: None)  # and no `gh`
    with structlog.testing.capture_logs() as logs:
        record = finish(rt)
    assert record.status is Status.COMPLETE
    (entry,) = logs
    assert entry["event"] == "github.on_success_failed"
    assert entry["reason"].startswith("no GitHub token")
    assert fake.requests() == []


# -- stacked pull requests ---------------------------------------------------------------


def start_stacked(rt: Runtime, blocker: int, number: int, title: str) -> Workspace:
    """A dependent started from its blocker's branch, as `worktree.stack` does."""
    tip = rt.workspaces.tip(Issue(str(blocker), "Fix the parser"))
    assert tip is not None, f"#{blocker} has no branch to stack on"
    workspace = rt.workspaces.create_stacked(Issue(str(number), title), None, False, [tip])
    return agent_commits(rt, workspace, title, "use.txt", "use the fix")


def test_a_stacked_pull_request_targets_its_blockers_branch(setup, fake: FakeGitHub) -> None:
    fake.add("o/r", 43, "Use the parser")
    rt = setup(on_success="pull_request")
    blocker = start(rt)
    finish(rt)
    start_stacked(rt, 42, 43, "Use the parser")
    finish(rt, 43)

    assert fake.pulls[1]["base"] == blocker.branch, fake.pulls[1]
    assert fake.pulls[1]["body"].startswith(
        f"Closes #43\n\nStacked on #42 (`{blocker.branch}`): review and merge that first."
    ), fake.pulls[1]["body"]


def test_restack_retargets_the_pull_request_once_the_blocker_merged(
    setup, fake: FakeGitHub, repo: Any, origin: Path
) -> None:
    from pirun.restack import restack

    fake.add("o/r", 43, "Use the parser")
    rt = setup(on_success="pull_request")
    blocker = start(rt)
    finish(rt)
    dependent = start_stacked(rt, 42, 43, "Use the parser")
    finish(rt, 43)
    # The blocker's pull request merged on GitHub: main moved on the remote.
    repo.git("merge", "-q", "--no-ff", "-m", "Merge #42", blocker.branch)
    repo.git("push", "-q", "origin", "main")

    (result,) = restack(rt, ["43"], dry_run=False)

    assert result.changes == ["merge main (#42 landed there)"], result
    assert fake.pulls[1]["base"] == "main", "the pull request still targets the blocker"
    (patch,) = [req for req in fake.requests() if req.method == "PATCH"]
    assert patch.path == "/repos/o/r/pulls/102" and patch.get_json() == {"base": "main"}
    assert git(origin, "rev-parse", dependent.branch) == git(dependent.path, "rev-parse", "HEAD")
