"""Fetching issues for a run: batching, caching, and choosing GraphQL or REST."""

from __future__ import annotations

import dataclasses
import re
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pirun.api import (
    Blocker,
    Config,
    Issue,
    Selection,
    TrackerError,
    display_key,
    get_logger,
)

from . import graphql, rest
from .auth import find_token
from .client import GitHubClient
from .remote import repo_resolver, valid_repo

log = get_logger("pirun.github")

#: (owner/name lower-cased, number): GitHub names are case-insensitive.
Key = tuple[str, int]

_OWN_KEY = re.compile(r"#?([0-9]+)")
_OTHER_KEY = re.compile(r"([^\s#/]+/[^\s#/]+)#([0-9]+)")


def _dedupe(blockers: Iterable[Blocker]) -> tuple[Blocker, ...]:
    return tuple({b.key: b for b in blockers}.values())


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class _Connection:
    """The tracker's GitHub client, made on first use (from a function that makes
    it, or given), and closed once."""

    def __init__(self, client: GitHubClient | Callable[[], GitHubClient]) -> None:
        self._connect = None if isinstance(client, GitHubClient) else client
        self._client = client if isinstance(client, GitHubClient) else None

    def client(self) -> GitHubClient:
        if self._client is None:
            assert self._connect is not None, "the GitHub client was closed"
            self._client = self._connect()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class GitHubTracker:
    """Issues of `repo` (and of any other repository a key names), each fetched once.

    Keys: `12` for issue 12 of the configured repository, `owner/name#12` (lower-case)
    for one of another repository.
    """

    name = "github"

    def __init__(
        self,
        repo: str | Callable[[], str],
        client: GitHubClient | Callable[[], GitHubClient],
        *,
        use_graphql: bool = True,
    ) -> None:
        # Either may be given as a function that makes it: `pirun status 42` parses a
        # key through this tracker, and must not need a token, a `gh` call or even an
        # origin remote for that.
        self._repo = repo
        self._connection = _Connection(client)
        # Closed when this tracker is unreachable: not before, whoever still uses it.
        weakref.finalize(self, self._connection.close)
        self.use_graphql = use_graphql
        self._rest_dependencies = True
        #: None remembers that an issue does not exist, so it is not asked for again.
        self._cache: dict[Key, Issue | None] = {}

    @property
    def repo(self) -> str:
        if callable(self._repo):
            self._repo = self._repo()
        return self._repo

    @property
    def client(self) -> GitHubClient:
        return self._connection.client()

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        token: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> GitHubTracker:
        # The functions below hold values read from `config`, never `config` itself.
        api_url = config.get("github.api_url")
        options = {
            "max_retries": config.get("github.max_retries"),
            "max_wait": config.get("github.max_wait"),
            "timeout": config.get("github.timeout"),
        }

        def connect() -> GitHubClient:
            return GitHubClient(
                api_url,
                token if token is not None else find_token(api_url),
                sleep=sleep,
                clock=clock,
                **options,
            )

        return cls(repo_resolver(config), connect, use_graphql=config.get("github.graphql"))

    def close(self) -> None:
        self._connection.close()

    # -- keys -------------------------------------------------------------------------

    def key_of(self, repo: str, number: int) -> str:
        """The key of issue `number` of `repo`: the number for the configured repository,
        `owner/name#N` lower-cased for another (GitHub names are case-insensitive, and
        one issue must have one key: one session, one status file, one blocker)."""
        repo = repo.lower()
        return str(number) if repo == self.repo.lower() else f"{repo}#{number}"

    def parse_key(self, text: str) -> str | None:
        text = text.strip()
        own = _OWN_KEY.fullmatch(text)
        if own:
            return str(int(own[1])) if int(own[1]) > 0 else None
        other = _OTHER_KEY.fullmatch(text)
        if other and valid_repo(other[1]) and int(other[2]) > 0:
            return self.key_of(other[1], int(other[2]))
        return None

    def _split(self, key: str) -> tuple[str, int] | None:
        """(owner/name, number) of a key this tracker made, or None for another's."""
        if _OWN_KEY.fullmatch(key) and not key.startswith("#"):
            return self.repo, int(key)
        other = _OTHER_KEY.fullmatch(key)
        if other and valid_repo(other[1]):
            return other[1], int(other[2])
        return None

    def _key(self, repo: str, number: int) -> Key:
        return (repo.lower(), number)

    def describe(self, repo: str, number: int) -> str:
        return display_key(self.key_of(repo, number))

    def _what(self, items: Sequence[tuple[str, int]]) -> str:
        names = [self.describe(repo, number) for repo, number in items[:5]]
        more = f" and {len(items) - 5} more" if len(items) > 5 else ""
        return ("issue " if len(items) == 1 else "issues ") + ", ".join(names) + more

    # -- fetching ---------------------------------------------------------------------

    def fetch(self, keys: Sequence[str]) -> list[Issue]:
        """The issues that exist, each under the key it was asked for.

        Missing ones are left out (the kernel reports `Issue #N not found`), and so
        are keys that are not GitHub's.
        """
        wanted: dict[str, Key] = {}
        todo: dict[Key, tuple[str, int]] = {}
        for asked in keys:
            split = self._split(asked)
            if split is None:
                continue
            repo, number = split
            key = self._key(repo, number)
            wanted[asked] = key
            if key not in self._cache:
                todo.setdefault(key, (repo, number))
        if todo:
            try:
                self._load(list(todo.values()))
            except TrackerError as exc:
                # Whatever a server echoed into a message, the token must not reach a log.
                raise TrackerError(self.client.redact(str(exc))) from None
        found = []
        for asked, key in wanted.items():
            issue = self._cache.get(key)
            if issue is None:
                continue
            found.append(issue if issue.key == asked else dataclasses.replace(issue, key=asked))
        return found

    # -- selecting ----------------------------------------------------------------------

    def search_text(self, selection: Selection) -> str:
        """`selection` in GitHub's search syntax, within the configured repository,
        issues only, open ones unless the query says which."""
        parts = [f"repo:{self.repo}", "is:issue"]
        if not _STATE_QUALIFIER.search(selection.query):
            parts.append("is:open")
        parts += [f"label:{_quoted(label)}" for label in selection.labels]
        if selection.milestone:
            parts.append(f"milestone:{_quoted(selection.milestone)}")
        if selection.query:
            parts.append(selection.query)
        return " ".join(parts)

    def select(self, selection: Selection) -> list[str]:
        """The issues GitHub's search finds for `selection`: one request per 100."""
        text = self.search_text(selection)
        what = f"issues for {selection.describe()!r}"
        keys: list[str] = []
        after = None
        try:
            while selection.limit is None or len(keys) < selection.limit:
                first = graphql.SEARCH_PAGE_SIZE
                if selection.limit is not None:
                    first = min(first, selection.limit - len(keys))
                body = self.client.graphql(graphql.search_query(text, first, after), what)
                found, after = graphql.parse_search(body, what)
                keys += [self.key_of(repo, number) for repo, number in found]
                if after is None:
                    break
        except TrackerError as exc:
            raise TrackerError(self.client.redact(str(exc))) from None
        return keys[: selection.limit]

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
            if repo.lower() == self.repo.lower():
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
                parsed[key] = graphql.parse_issue(
                    node, self.key_of(repo, number), number, self.key_of
                )

        self._follow_pages(parsed)
        self._merge_blocking(parsed)
        for key, item in parsed.items():
            self._cache[key] = Issue(
                key=item.key,
                title=item.title,
                body=item.body,
                state=item.state,
                url=item.url,
                labels=item.labels,
                blocked_by=_dedupe(item.blocked_by),
            )

    def _follow_pages(self, parsed: dict[Key, graphql.ParsedIssue]) -> None:
        """Fetch the rest of every `blockedBy` list longer than one page, batched."""
        while pending := [key for key, item in parsed.items() if item.next_cursor]:
            for chunk in _chunks(pending, graphql.BATCH_SIZE):
                groups: dict[str, dict[int, str]] = {}
                for repo, number in chunk:
                    groups.setdefault(repo, {})[number] = parsed[(repo, number)].next_cursor or ""
                query, aliases = graphql.next_page_query(groups)
                what = "the blockers of " + self._what(chunk)
                data, _ = self._query(query, aliases, what)
                for repo_alias, (repo, numbers) in aliases.items():
                    repo_data = data.get(repo_alias)
                    for issue_alias, number in numbers.items():
                        item = parsed[self._key(repo, number)]
                        shown = display_key(item.key)
                        node = repo_data.get(issue_alias) if isinstance(repo_data, dict) else None
                        if not isinstance(node, dict):
                            raise TrackerError(
                                f"GitHub returned no blockers page for issue {shown}"
                            )
                        page = graphql.parse_related(
                            node.get("blockedBy"), "blockedBy", f"issue {shown}", self.key_of
                        )
                        if page.next_cursor == item.next_cursor:
                            raise TrackerError(
                                f"GitHub repeated a blockers page for issue {shown}"
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
                split = self._split(blocked.key)
                other = parsed.get(self._key(*split)) if split else None
                if other is not None and all(b.key != item.key for b in other.blocked_by):
                    other.blocked_by.append(Blocker(item.key, item.title, item.state))

    def _load_rest(self, chunk: Sequence[tuple[str, int]]) -> None:
        base = self.client.api_url
        for repo, number in chunk:
            key = self._key(repo, number)
            asked = self.key_of(repo, number)
            what = f"issue {display_key(asked)}"
            response = self.client.get(f"{base}/repos/{repo}/issues/{number}", what)
            issue = (
                rest.parse_issue(self.client.json(response, what), asked, number)
                if response else None
            )
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
                    blockers = rest.parse_blockers(items, what, self.key_of)
                    issue = dataclasses.replace(issue, blocked_by=_dedupe(blockers))
            self._cache[key] = issue


#: A query that already says which states it wants.
_STATE_QUALIFIER = re.compile(r"(?:^|\s)(?:is|state):(?:open|closed)\b", re.I)


def _quoted(value: str) -> str:
    """A qualifier's value as GitHub's search reads it: quoted when it has spaces."""
    clean = value.replace('"', "")
    return f'"{clean}"' if re.search(r"\s", clean) else clean
