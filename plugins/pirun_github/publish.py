"""After a successful run: comment on the issue naming its branch, or open a pull request.

`github.on_success` chooses: `none` (the default), `comment` or `pull_request`.
A pull request needs the branch on GitHub, so it is pushed first (`git push -u
origin <branch>` in the worktree, unless `github.push: false`); its base is the
branch the worktree started from (`branch.<b>.pirunbase`, recorded by the worktree
plugin), else `base` from `.pirun.yaml`, else the repository's default branch.

A branch stacked on one blocker's work (`branch.<b>.pirunstack`, see
`worktree.stack`) opens its pull request against that blocker's branch when it is
on GitHub, so the pull request shows only its own commits; `pirun restack`, once
the blocker has landed, retargets it to the base (`pirun_workspace_restacked`).

Nothing here can fail a run: the run's status is recorded before this is called,
and every failure is logged as one warning line.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

from pirun.api import (
    Config,
    ConfigError,
    PirunError,
    StatusRecord,
    TrackerError,
    Workspace,
    get_logger,
    git,
    is_number,
)

from .client import one_line
from .remote import redact_userinfo
from .tracker import GitHubTracker

log = get_logger("pirun.github")

ACTIONS = ("none", "comment", "pull_request")
REMOTE = "origin"
#: `branch.<name>.pirunbase`: the base the worktree plugin records for each branch.
BASE_KEY = "pirunbase"
#: `branch.<name>.pirunstack`: `<branch> <commit> <issue>` per blocker it stands on.
STACK_KEY = "pirunstack"
#: A push waiting on a credential prompt or a dead network must not hang the wrapper.
GIT_TIMEOUT = 300.0
#: How GitHub words the 422 for a head that already has an open pull request.
PR_EXISTS = "a pull request already exists"


def on_success_action(config: Config) -> str:
    action = config.get("github.on_success")
    if action not in ACTIONS:
        raise ConfigError(
            "configuration key 'github.on_success' must be none, comment or pull_request, "
            f"got '{action}'"
        )
    return action


def _git_failure(proc: subprocess.CompletedProcess[str]) -> str:
    """git's own reason: its `fatal:`/`error:` lines (advice after them says little)."""
    lines = [line.strip() for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
    reasons = [line for line in lines if line.startswith(("fatal:", "error:"))] or lines[-1:]
    # A remote URL in git's message may carry credentials.
    return redact_userinfo(one_line("; ".join(reasons))) if reasons else (
        f"exit code {proc.returncode}"
    )


class Publisher:
    """Tells GitHub about one finished issue, with the tracker's client and repository."""

    def __init__(self, tracker: GitHubTracker, config: Config) -> None:
        self.tracker = tracker
        self.client = tracker.client
        self.config = config
        self.repo = tracker.repo

    def _url(self, path: str) -> str:
        return f"{self.client.api_url}/repos/{self.repo}{path}"

    def _failed(self, response: Any, verb: str, what: str) -> TrackerError:
        reason = self.client.message_of(response) or response.reason_phrase
        return self.client.error(
            f"GitHub answered HTTP {response.status_code} while {verb} {what}: {reason}"
        )

    # -- comment --------------------------------------------------------------------

    def comment(self, record: StatusRecord, workspace: Workspace) -> None:
        verb, what = "commenting on", f"issue #{record.issue}"
        body = f"pirun finished this issue on branch `{workspace.branch}`."
        response = self.client.post(
            self._url(f"/issues/{record.issue}/comments"), what, {"body": body}, verb=verb
        )
        if response.status_code >= 400:
            raise self._failed(response, verb, what)
        answer = self.client.json(response, what, verb)
        url = answer.get("html_url") if isinstance(answer, dict) else None
        log.info("github.commented", issue=record.issue, branch=workspace.branch, url=url)

    # -- pull request ---------------------------------------------------------------

    def push(self, workspace: Workspace) -> bool:
        proc = git.run(workspace.path, "push", "-u", REMOTE, workspace.branch,
                       error=TrackerError, check=False, timeout=GIT_TIMEOUT)
        if proc.returncode != 0:
            log.warning(
                "github.push_failed",
                issue=workspace.issue,
                branch=workspace.branch,
                reason=self.client.redact(_git_failure(proc)),
                pull_request="not opened",
            )
            return False
        return True

    def base_of(self, workspace: Workspace) -> str:
        recorded = git.run(workspace.path, "config", "--get",
                           f"branch.{workspace.branch}.{BASE_KEY}",
                           error=TrackerError, check=False, timeout=30.0)
        if recorded.returncode == 0 and recorded.stdout.strip():
            return recorded.stdout.strip()
        configured = self.config.get("base")
        if configured:
            return configured
        what = f"repository {self.repo}"
        response = self.client.get(f"{self.client.api_url}/repos/{self.repo}", what)
        answer = self.client.json(response, what) if response is not None else None
        branch = answer.get("default_branch") if isinstance(answer, dict) else None
        if not isinstance(branch, str) or not branch:
            raise TrackerError(
                f"cannot tell the base branch of {workspace.branch}: GitHub gave no default "
                f"branch for {self.repo}"
            )
        return branch

    def stacked_on(self, workspace: Workspace) -> list[tuple[str, str]]:
        """The blockers (branch, issue) the branch stands on, as the worktree recorded."""
        recorded = git.run(workspace.path, "config", "--get-all",
                           f"branch.{workspace.branch}.{STACK_KEY}",
                           error=TrackerError, check=False, timeout=30.0)
        found = []
        for line in recorded.stdout.splitlines():
            parts = line.split()
            if len(parts) == 3:
                found.append((parts[0], parts[2]))
        return found

    def on_github(self, workspace: Workspace, branch: str) -> bool:
        """Whether `branch` was pushed (its remote-tracking ref exists here)."""
        return git.run(workspace.path, "rev-parse", "--verify", "--quiet",
                       f"refs/remotes/{REMOTE}/{branch}",
                       error=TrackerError, check=False, timeout=30.0).returncode == 0

    def title_of(self, record: StatusRecord) -> str:
        if record.title:
            return record.title
        issues = self.tracker.fetch([record.issue])
        return issues[0].title if issues else ""

    def pull_request(self, record: StatusRecord, workspace: Workspace) -> None:
        if self.config.get("github.push") and not self.push(workspace):
            return
        verb, what = "opening a pull request for", f"issue #{record.issue}"
        title = self.title_of(record)
        base = self.base_of(workspace)
        text = f"Closes #{record.issue}"
        stack = self.stacked_on(workspace)
        if len(stack) == 1 and self.on_github(workspace, stack[0][0]):
            blocker_branch, blocker = stack[0]
            text += (
                f"\n\nStacked on #{blocker} (`{blocker_branch}`): review and merge that "
                f"first. Once it has landed, `pirun restack` retargets this pull request "
                f"to `{base}`."
            )
            base = blocker_branch
        elif stack:
            shown = ", ".join(f"#{issue} (`{branch}`)" for branch, issue in stack)
            text += (
                f"\n\nBuilds on {shown}: their commits show here until they have landed "
                f"on `{base}`."
            )
        body = {
            "title": f"#{record.issue}: {title}" if title else f"#{record.issue}",
            "head": workspace.branch,
            "base": base,
            "body": text,
            "draft": bool(self.config.get("github.pr_draft")),
        }
        # A second copy is refused with "already exists", so retrying cannot duplicate it.
        response = self.client.post(self._url("/pulls"), what, body, verb=verb, repeatable=True)
        if response.status_code == 422 and PR_EXISTS in self._errors_of(response):
            log.info("github.pull_request_exists", issue=record.issue, head=workspace.branch)
            return
        if response.status_code >= 400:
            raise self._failed(response, verb, what)
        answer = self.client.json(response, what, verb)
        url = answer.get("html_url") if isinstance(answer, dict) else None
        log.info(
            "github.pull_request_opened", issue=record.issue, head=workspace.branch,
            base=body["base"], url=url,
        )

    def retarget(self, workspace: Workspace, landed: set[str]) -> None:
        """Point the branch's open pull request at the base when it targets a blocker's
        branch that has landed there; push the restacked branch first."""
        if self.config.get("github.push") and not self.push(workspace):
            return
        if not landed:
            return
        owner = self.repo.split("/")[0]
        what = f"the pull requests of {workspace.branch}"
        pulls = self.client.get_list(
            self._url("/pulls"), what, {"head": f"{owner}:{workspace.branch}", "state": "open"}
        ) or []
        base = self.base_of(workspace)
        for pull in pulls:
            target = pull.get("base", {}).get("ref") if isinstance(pull, dict) else None
            number = pull.get("number") if isinstance(pull, dict) else None
            if target not in landed or not isinstance(number, int):
                continue
            verb, what = "retargeting", f"pull request #{number}"
            response = self.client.patch(self._url(f"/pulls/{number}"), what, {"base": base},
                                         verb=verb)
            if response.status_code >= 400:
                raise self._failed(response, verb, what)
            log.info("github.pull_request_retargeted", pull_request=number,
                     head=workspace.branch, old_base=target, base=base)

    def _errors_of(self, response: Any) -> str:
        """Every message of a 422 (`message` plus each `errors[].message`), lower-cased."""
        try:
            answer = response.json()
        except ValueError:
            return ""
        if not isinstance(answer, dict):
            return ""
        messages = [answer.get("message")]
        errors = answer.get("errors")
        if isinstance(errors, list):
            messages += [e.get("message") if isinstance(e, dict) else e for e in errors]
        return " ".join(m for m in messages if isinstance(m, str)).lower()


def restacked(
    tracker_for: Callable[[Config], GitHubTracker],
    config: Config,
    workspace: Workspace,
    landed: set[str],
) -> None:
    """After `pirun restack`: push, and retarget a pull request off landed blockers."""
    redact: Callable[[str], str] = str
    try:
        tracker = tracker_for(config)
        redact = tracker.client.redact
        Publisher(tracker, config).retarget(workspace, landed)
    except PirunError as exc:
        log.warning("github.retarget_failed", issue=workspace.issue, reason=redact(str(exc)))


def publish(
    tracker_for: Callable[[Config], GitHubTracker],
    config: Config,
    record: StatusRecord,
    workspace: Workspace,
    action: str,
) -> None:
    """Do `action` for a completed issue; log a failure, never raise one."""
    redact: Callable[[str], str] = str
    try:
        tracker = tracker_for(config)
        redact = tracker.client.redact
        publisher = Publisher(tracker, config)
        if not workspace.branch or workspace.branch.startswith("-"):
            raise TrackerError(f"worktree {workspace.path} is not on a branch pirun can name")
        if not is_number(record.issue):
            # Another repository's issue: a comment or pull request here would be
            # on the wrong project.
            raise TrackerError(f"issue {record.issue} is not an issue of {tracker.repo}")
        if action == "comment":
            publisher.comment(record, workspace)
        elif action == "pull_request":
            publisher.pull_request(record, workspace)
    except PirunError as exc:
        log.warning("github.on_success_failed", issue=record.issue, action=action,
                    reason=redact(str(exc)))
    except Exception as exc:  # a bug here must not take the wrapper or a command down
        log.warning("github.on_success_failed", issue=record.issue, action=action,
                    reason=redact(f"{type(exc).__name__}: {one_line(exc)}"))
