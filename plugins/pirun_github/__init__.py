"""GitHub issue tracker: `tracker: github` in `.pirun.yaml`.

Issues and their native "blocked by" relations come from GitHub's GraphQL API, up
to 50 issues per request (REST when the server's schema lacks the dependency
fields, or with `github.graphql: false`). Each issue is fetched once per run.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from pirun import hookimpl
from pirun.config import Config, Option
from pirun.model import Issue, IssueRef

from .tracker import GitHubTracker

__all__ = ["GitHubTracker", "tracker_for"]

# One tracker (one httpx connection pool and one issue cache) per configuration,
# that is per run. Keyed by identity because Config is not hashable; the entry goes
# when the configuration does.
_TRACKERS: dict[int, GitHubTracker] = {}


def _forget(key: int) -> None:
    tracker = _TRACKERS.pop(key, None)
    if tracker is not None:
        tracker.close()


def tracker_for(config: Config) -> GitHubTracker:
    key = id(config)
    tracker = _TRACKERS.get(key)
    if tracker is None:
        tracker = GitHubTracker.from_config(config)
        _TRACKERS[key] = tracker
        weakref.finalize(config, _forget, key)
    return tracker


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
        }
    }


@hookimpl
def pirun_fetch_issues(config: Config, refs: list[IssueRef]) -> list[Issue] | None:
    if config.tracker != "github":
        return None
    if not refs:
        return []
    return tracker_for(config).fetch(refs)
