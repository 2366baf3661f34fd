"""The `jira` tracker: Jira Cloud issues by key, blockers from issue links."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from pirun.api import (
    Blocker,
    Config,
    ConfigError,
    Issue,
    IssueState,
    Selection,
    TrackerError,
    UsageError,
)

from .client import JiraClient, JiraError, normalize_key
from .model import CLOSED, FIELDS, issue_from_json

#: A query that already says which states it wants.
_STATE_WORDS = re.compile(r"(?i)\b(?:status|statusCategory|resolution)\b")

EMAIL_ENV = "JIRA_EMAIL"
TOKEN_ENV = "JIRA_API_TOKEN"


def _state(value: str) -> IssueState:
    return IssueState.CLOSED if value == CLOSED else IssueState.OPEN


class JiraTracker:
    """Jira Cloud issues by key (`PROJ-123`), blockers from "Blocks" links."""

    name = "jira"

    def __init__(
        self, client: JiraClient | Callable[[], JiraClient], link_type: str = "Blocks"
    ) -> None:
        # A function that makes the client is called on the first fetch: `pirun status
        # PROJ-1` parses its key through this tracker and needs no credentials for that.
        self._client = client
        self.link_type = link_type

    @property
    def client(self) -> JiraClient:
        if not isinstance(self._client, JiraClient):
            self._client = self._client()
        return self._client

    @classmethod
    def from_config(cls, config: Config) -> JiraTracker:
        url = config.get("jira.url")
        if not url:
            raise ConfigError(
                "configuration key 'jira.url' is required, e.g. https://acme.atlassian.net"
            )

        def connect() -> JiraClient:
            email = os.environ.get(EMAIL_ENV, "").strip()
            token = os.environ.get(TOKEN_ENV, "").strip()
            missing = [n for n, value in ((EMAIL_ENV, email), (TOKEN_ENV, token)) if not value]
            if missing:
                raise ConfigError(
                    f"set {' and '.join(missing)} to use the Jira tracker (an Atlassian "
                    "account email and an API token)"
                )
            try:
                return JiraClient(
                    url,
                    email,
                    token,
                    timeout=config.get("jira.timeout"),
                    max_retries=config.get("jira.max_retries"),
                )
            except JiraError as exc:
                raise ConfigError(f"configuration key 'jira.url': {exc}") from None

        return cls(connect, link_type=config.get("jira.link_type") or "Blocks")

    def parse_key(self, text: str) -> str | None:
        return normalize_key(text)

    def select(self, selection: Selection) -> list[str]:
        """The issues a JQL search finds for `selection` (`pirun batch --label ...`):
        its query is JQL, joined by AND to `labels = "NAME"` for each label and to
        `statusCategory != Done` unless it names a status or resolution itself."""
        if selection.milestone:
            raise UsageError(
                "Jira has no milestones: select a fix version with "
                "--query 'fixVersion = \"NAME\"'"
            )
        clauses = [f'labels = "{label.replace(chr(34), "")}"' for label in selection.labels]
        if not _STATE_WORDS.search(selection.query):
            clauses.append("statusCategory != Done")
        if selection.query:
            clauses.append(selection.query)
        jql = " AND ".join(clauses) + " ORDER BY key ASC"
        page = min(100, selection.limit or 100)
        try:
            raw = self.client.search(jql, ("summary",), max_results=page)
        except JiraError as exc:
            raise TrackerError(str(exc)) from None
        keys = [key for item in raw if (key := normalize_key(str(item.get("key", ""))))]
        return keys[: selection.limit]

    def fetch(self, keys: list[str]) -> list[Issue]:
        try:
            raw = self.client.issues_by_key(keys, FIELDS)
        except JiraError as exc:
            raise TrackerError(str(exc)) from None
        issues = []
        for item in raw:
            parsed = issue_from_json(item, self.client.base_url, self.link_type)
            if parsed is None:
                continue
            issues.append(
                Issue(
                    key=parsed.key,
                    title=parsed.title,
                    body=parsed.body,
                    # Closed with a resolution like "Won't Do": not done, so it
                    # still holds its dependents back.
                    state=IssueState.NOT_PLANNED if parsed.not_planned else _state(parsed.state),
                    url=parsed.url,
                    labels=parsed.labels,
                    blocked_by=tuple(
                        Blocker(key=b.key, title=b.title, state=_state(b.state))
                        for b in parsed.blocked_by
                    ),
                )
            )
        return issues

    def close(self) -> None:
        if isinstance(self._client, JiraClient):
            self._client.close()
