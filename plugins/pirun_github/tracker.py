"""Fetching issues for a run: batching, caching, and choosing GraphQL or REST."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import structlog

from pirun.api import Blocker, Config, Issue, IssueRef, TrackerError

from . import graphql, rest
from .auth import find_token
from .client import GitHubClient
from .remote import resolve_repo, valid_repo

log = structlog.get_logger("pirun.github")

#: (owner/name lower-cased, number): GitHub names are case-insensitive.
Key = tuple[str, int]


def _dedupe(blockers: Iterable[Blocker]) -> tuple[Blocker, ...]:
    return tuple({b.ref: b for b in blockers}.values())


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class GitHubTracker:
    """Issues of `repo` (and of any other repository a ref names), each fetched once."""

    name = "github"

    def __init__(self, repo: str, client: GitHubClient, *, use_graphql: bool = True) -> None:
        self.repo = repo
        self.client = client
        self.use_graphql = use_graphql
        self._rest_dependencies = True
        #: None remembers that an issue does not exist, so it is not asked for again.
        self._cache: dict[Key, Issue | None] = {}

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        token: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> GitHubTracker:
        repo = resolve_repo(config)
        api_url = config.get("github.api_url")
        client = GitHubClient(
            api_url,
            token if token is not None else find_token(api_url),
            max_retries=config.get("github.max_retries"),
            max_wait=config.get("github.max_wait"),
            timeout=config.get("github.timeout"),
            sleep=sleep,
            clock=clock,
        )
        return cls(repo, client, use_graphql=config.get("github.graphql"))

    def close(self) -> None:
        self.client.close()

    def own_repo(self) -> str | None:
        return self.repo

    # -- refs -------------------------------------------------------------------------

    def local(self, repo: str) -> str:
        """The `IssueRef.repo` for an issue of `repo`: "" when it is the configured one."""
        return "" if repo.lower() == self.repo.lower() else repo

    def _key(self, repo: str, number: int) -> Key:
        return (repo.lower(), number)

    def describe(self, repo: str, number: int) -> str:
        return str(IssueRef(self.local(repo), number))

    def _what(self, items: Sequence[tuple[str, int]]) -> str:
        names = [self.describe(repo, number) for repo, number in items[:5]]
        more = f" and {len(items) - 5} more" if len(items) > 5 else ""
        return ("issue " if len(items) == 1 else "issues ") + ", ".join(names) + more

    # -- fetching ---------------------------------------------------------------------

    def fetch(self, refs: Sequence[IssueRef]) -> list[Issue]:
        """The issues that exist, each under the ref it was asked for.

        Missing ones are left out (the kernel reports `Issue #N not found`).
        """
        wanted: dict[IssueRef, Key] = {}
        todo: dict[Key, tuple[str, int]] = {}
        for ref in refs:
            repo = ref.repo or self.repo
            if not valid_repo(repo):
                raise TrackerError(f"issue {ref}: '{repo}' is not a GitHub owner/name")
            key = self._key(repo, ref.number)
            wanted[ref] = key
            if key not in self._cache:
                todo.setdefault(key, (repo, ref.number))
        if todo:
            try:
                self._load(list(todo.values()))
            except TrackerError as exc:
                # Whatever a server echoed into a message, the token must not reach a log.
                raise TrackerError(self.client.redact(str(exc))) from None
        found = []
        for ref, key in wanted.items():
            issue = self._cache.get(key)
            if issue is None:
                continue
            found.append(issue if issue.ref == ref else dataclasses.replace(issue, ref=ref))
        return found

    def _load(self, items: list[tuple[str, int]]) -> None:
        for chunk in _chunks(items, graphql.BATCH_SIZE):
            if self.use_graphql:
                try:
                    self._load_graphql(chunk)
                    continue
                except graphql.NoDependencyFields as exc:
                    # An older GitHub Enterprise: remember it, so the run asks once.
                    log.warning("github.graphql_without_dependencies", reason=str(exc),
                                fallback="REST")
                    self.use_graphql = False
            self._load_rest(chunk)

    def _query(
        self, query: str, aliases: graphql.Aliases, what: str
    ) -> tuple[dict[str, Any], graphql.Problems]:
        body = self.client.graphql(query, what)
        problems = graphql.read_errors(body, aliases, what, self.describe)
        data = body.get("data")
        if not isinstance(data, dict):
            raise TrackerError(f"GitHub returned no GraphQL data while fetching {what}")
        for alias, message in problems.missing_repos.items():
            repo = aliases[alias][0]
            if self.local(repo) == "":
                raise TrackerError(
                    f"GitHub repository {repo} not found, or not readable with this token: "
                    f"{message}"
                )
            # Another repository's issue may be a blocker we cannot see; the kernel
            # decides what a missing blocker means.
            log.warning("github.repository_unreadable", repo=repo, reason=message)
        return data, problems

    def _load_graphql(self, chunk: Sequence[tuple[str, int]]) -> None:
        groups: dict[str, list[int]] = {}
        for repo, number in chunk:
            groups.setdefault(repo, []).append(number)
        query, aliases = graphql.issues_query(groups)
        what = self._what(chunk)
        data, problems = self._query(query, aliases, what)

        parsed: dict[Key, graphql.ParsedIssue] = {}
        for repo_alias, (repo, numbers) in aliases.items():
            repo_data = data.get(repo_alias)
            for issue_alias, number in numbers.items():
                key = self._key(repo, number)
                node = repo_data.get(issue_alias) if isinstance(repo_data, dict) else None
                if node is None:
                    if repo_alias not in problems.missing_repos and (
                        (repo_alias, issue_alias) not in problems.missing_issues
                    ):
                        raise TrackerError(
                            f"GitHub returned no data for issue {self.describe(repo, number)}"
                        )
                    self._cache[key] = None
                    continue
                ref = IssueRef(self.local(repo), number)
                parsed[key] = graphql.parse_issue(node, ref, self.local)

        self._follow_pages(parsed)
        self._merge_blocking(parsed)
        for key, item in parsed.items():
            self._cache[key] = Issue(
                ref=item.ref,
                title=item.title,
                body=item.body,
                state=item.state,
                url=item.url,
                labels=item.labels,
                blocked_by=_dedupe(item.blocked_by),
            )

    def _follow_pages(self, parsed: dict[Key, graphql.ParsedIssue]) -> None:
        """Fetch the rest of every `blockedBy` list longer than one page, batched."""
        while pending := [item for item in parsed.values() if item.next_cursor]:
            for chunk in _chunks(pending, graphql.BATCH_SIZE):
                groups: dict[str, dict[int, str]] = {}
                for item in chunk:
                    repo = item.ref.repo or self.repo
                    groups.setdefault(repo, {})[item.ref.number] = item.next_cursor or ""
                query, aliases = graphql.next_page_query(groups)
                what = "the blockers of " + self._what(
                    [(item.ref.repo or self.repo, item.ref.number) for item in chunk]
                )
                data, _ = self._query(query, aliases, what)
                for repo_alias, (repo, numbers) in aliases.items():
                    repo_data = data.get(repo_alias)
                    for issue_alias, number in numbers.items():
                        item = parsed[self._key(repo, number)]
                        node = repo_data.get(issue_alias) if isinstance(repo_data, dict) else None
                        if not isinstance(node, dict):
                            raise TrackerError(
                                f"GitHub returned no blockers page for issue {item.ref}"
                            )
                        page = graphql.parse_related(
                            node.get("blockedBy"), "blockedBy", f"issue {item.ref}", self.local
                        )
                        if page.next_cursor == item.next_cursor:
                            raise TrackerError(
                                f"GitHub repeated a blockers page for issue {item.ref}"
                            )
                        item.blocked_by += page.blockers
                        item.next_cursor = page.next_cursor

    def _merge_blocking(self, parsed: dict[Key, graphql.ParsedIssue]) -> None:
        """An issue's `blocking` list, read backwards, adds to the other's blockers.

        `blockedBy` is complete on its own (it is paginated); this only guards against
        a server that reports one side of a relation sooner than the other.
        """
        for item in parsed.values():
            for blocked in item.blocking:
                other = parsed.get(self._key(blocked.ref.repo or self.repo, blocked.ref.number))
                if other is not None and all(b.ref != item.ref for b in other.blocked_by):
                    other.blocked_by.append(Blocker(item.ref, item.title, item.state))

    def _load_rest(self, chunk: Sequence[tuple[str, int]]) -> None:
        base = self.client.api_url
        for repo, number in chunk:
            key = self._key(repo, number)
            ref = IssueRef(self.local(repo), number)
            what = f"issue {ref}"
            response = self.client.get(f"{base}/repos/{repo}/issues/{number}", what)
            issue = rest.parse_issue(self.client.json(response, what), ref) if response else None
            if issue is not None and self._rest_dependencies:
                items = self.client.get_list(
                    f"{base}/repos/{repo}/issues/{number}/dependencies/blocked_by",
                    "the blockers of " + what,
                    params={"per_page": rest.PER_PAGE},
                )
                if items is None:
                    # The issue exists, so the endpoint does not: a server without
                    # issue dependencies. Ask no more, for this run.
                    log.warning("github.rest_without_dependencies", api_url=base)
                    self._rest_dependencies = False
                else:
                    blockers = rest.parse_blockers(items, what, self.local)
                    issue = dataclasses.replace(issue, blocked_by=_dedupe(blockers))
            self._cache[key] = issue
