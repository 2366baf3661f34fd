"""GitHub issue tracker: `tracker: github` in `.pirun.yaml`.

Issues and their native "blocked by" relations come from GitHub's GraphQL API, up
to 50 issues per request (REST when the server's schema lacks the dependency
fields, or with `github.graphql: false`). Each issue is fetched once per run.

Optionally (`github.on_success`), a completed issue gets a comment naming its
branch, or a pull request from it (see `publish`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pirun.api import (
    Config,
    Option,
    Outcome,
    Register,
    StackedWork,
    StashKey,
    Status,
    StatusRecord,
    Workspace,
    hookimpl,
)

if TYPE_CHECKING:
    from .tracker import GitHubTracker

# The HTTP machinery (httpx, tenacity) is imported on first use, not with the
# plugin: every pirun command and every session's exec wrapper loads this module.

__all__ = ["tracker_for"]

#: The configuration's one tracker (one httpx connection pool, one issue cache), shared
#: by the kernel's fetches and `on_success`, made on first use.
TRACKER = StashKey["GitHubTracker"]()


def tracker_for(config: Config) -> GitHubTracker:
    def make() -> GitHubTracker:
        from .tracker import GitHubTracker

        return GitHubTracker.from_config(config)

    return config.stash.setdefault(TRACKER, make)


@hookimpl
def pirun_config_options() -> Mapping[str, Any]:
    return {
        "github": {
            "repo": Option(
                str, None, "Repository as owner/name (default: from the origin remote)."
            ),
            "api_url": Option(
                str, "https://api.github.com",
                "API root; for GitHub Enterprise Server https://HOST/api/v3.",
            ),
            "graphql": Option(
                bool, True, "Use GraphQL (one request per 50 issues); false forces REST."
            ),
            "max_retries": Option(
                int, 5, "Retries of a request after rate limits, network errors or 5xx."
            ),
            "max_wait": Option(
                (int, float), 900,
                "Longest rate-limit wait in seconds; a longer one fails instead.",
            ),
            "timeout": Option((int, float), 30, "Seconds before one HTTP request gives up."),
            "on_success": Option(
                str, "none",
                "When an issue completes: none, comment (on the issue, naming its branch) "
                "or pull_request (from its branch).",
            ),
            "push": Option(
                bool, True, "on_success: pull_request pushes the branch to origin first."
            ),
            "pr_draft": Option(bool, True, "on_success: pull_request opens a draft."),
        }
    }


@hookimpl
def pirun_configure(config: Config) -> None:
    if config.get("github.on_success") not in (None, "none"):
        from .publish import on_success_action

        on_success_action(config)  # a misspelt action is a configuration error at once


@hookimpl
def pirun_register_trackers(register: Register) -> None:
    register("github", tracker_for)


@hookimpl
def pirun_session_finished(
    config: Config, record: StatusRecord, outcome: Outcome, workspace: Workspace | None
) -> None:
    if config.tracker != "github" or record.status is not Status.COMPLETE or workspace is None:
        return
    action = config.get("github.on_success")
    if action in (None, "none"):
        return
    from .publish import publish

    publish(tracker_for, config, record, workspace, action)


@hookimpl
def pirun_workspace_restacked(
    config: Config, workspace: Workspace, before: list[StackedWork], after: list[StackedWork]
) -> None:
    if config.tracker != "github" or config.get("github.on_success") != "pull_request":
        return
    from .publish import restacked

    landed = {work.branch for work in before} - {work.branch for work in after}
    restacked(tracker_for, config, workspace, landed)
