"""A local stand-in for GitHub's API, answering in GitHub's documented shapes.

It holds issues of any number of repositories and answers the two kinds of GraphQL
query the plugin sends (aliased issues, and next pages of `blockedBy`), the REST
endpoints of the fallback, and the ones used on success (get a repository, create
an issue comment, create a pull request). The shapes are the ones of the JSON files in `fixtures/`,
which a test compares against (`test_fake_answers_like_the_recorded_fixture`).

Also used by `benchmarks/bench_github_requests.py`.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

FIXTURES = Path(__file__).parent / "fixtures"

#: Distinctive, so a test can tell it never reached a log line or an error message.
TOKEN = "ghp_pirunTESTtoken0123456789abcdefXYZ"

#: The `load` fixture: `load(**github_options) -> pirun.runtime.Runtime`.
LoadRuntime = Callable[..., Any]

_REPOSITORY = re.compile(r'^\s*(r\d+): repository\(owner: "([^"]+)", name: "([^"]+)"\) \{$')
_ISSUE = re.compile(r"^\s*(i\d+): issue\(number: (\d+)\) \{ (.*) \}$")
_NEXT_PAGE = re.compile(r'^blockedBy\(first: (\d+), after: "([^"]+)"\) \{ \.\.\.Related \}$')
_FIRST_PAGE = re.compile(r"blockedBy\(first: (\d+)\)")
_SEARCH = re.compile(
    r'search\(query: ("(?:[^"\\]|\\.)*"), type: ISSUE, first: (\d+)(?:, after: "([^"]*)")?\)'
)
_REST_ISSUE = re.compile(r"^/repos/([^/]+)/([^/]+)/issues/(\d+)(/dependencies/blocked_by)?$")
_REST_REPOSITORY = re.compile(r"^/repos/([^/]+)/([^/]+)$")
_REST_COMMENTS = re.compile(r"^/repos/([^/]+)/([^/]+)/issues/(\d+)/comments$")
_REST_PULLS = re.compile(r"^/repos/([^/]+)/([^/]+)/pulls$")
_REST_PULL = re.compile(r"^/repos/([^/]+)/([^/]+)/pulls/(\d+)$")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def cursor(index: int) -> str:
    """An opaque cursor, encoded the way GitHub's look (base64)."""
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _offset(after: str) -> int:
    return int(base64.b64decode(after).decode().rsplit(":", 1)[1])


@dataclass
class Record:
    repo: str
    number: int
    title: str
    body: str = ""
    state: str = "OPEN"
    labels: list[str] = field(default_factory=list)
    blocked_by: list[tuple[str, int]] = field(default_factory=list)
    #: GraphQL's `stateReason` of a closed issue: COMPLETED (default) or NOT_PLANNED.
    state_reason: str = "COMPLETED"
    milestone: str | None = None


class FakeGitHub:
    def __init__(self, server: HTTPServer, token: str = "test-token") -> None:
        self.server = server
        self.token = token
        self.records: dict[tuple[str, int], Record] = {}
        #: False: answer like a server that predates issue dependencies.
        self.graphql_dependencies = True
        self.rest_dependencies = True
        #: What `GET /repos/{o}/{r}` reports as `default_branch`.
        self.default_branch = "main"
        #: A bare git repository standing for GitHub's copy: when set, a pull request
        #: whose head branch was not pushed there is refused, as GitHub refuses it.
        self.git_remote: Path | None = None
        #: Bodies of the comments and pull requests created, in order.
        self.comments: list[dict[str, Any]] = []
        self.pulls: list[dict[str, Any]] = []

    @property
    def api_url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def install(self) -> FakeGitHub:
        self.server.expect_request("/graphql", method="POST").respond_with_handler(self._graphql)
        self.server.expect_request(_REST_ISSUE, method="GET").respond_with_handler(self._rest)
        self.server.expect_request(_REST_REPOSITORY, method="GET").respond_with_handler(
            self._repository
        )
        self.server.expect_request(_REST_COMMENTS, method="POST").respond_with_handler(
            self._comment
        )
        self.server.expect_request(_REST_PULLS, method="POST").respond_with_handler(self._pull)
        self.server.expect_request(_REST_PULLS, method="GET").respond_with_handler(
            self._list_pulls
        )
        self.server.expect_request(_REST_PULL, method="PATCH").respond_with_handler(
            self._update_pull
        )
        return self

    def add(
        self,
        repo: str,
        number: int,
        title: str | None = None,
        *,
        body: str = "",
        state: str = "OPEN",
        labels: list[str] | None = None,
        blocked_by: list[int | tuple[str, int]] | None = None,
        state_reason: str = "COMPLETED",
        milestone: str | None = None,
    ) -> Record:
        refs = [(repo, b) if isinstance(b, int) else b for b in blocked_by or []]
        record = Record(repo, number, title or f"Issue {number}", body, state, labels or [], refs,
                        state_reason, milestone)
        self.records[(repo.lower(), number)] = record
        return record

    # -- requests seen --------------------------------------------------------------

    def requests(self, path_prefix: str = "") -> list[Request]:
        return [req for req, _ in self.server.log if req.path.startswith(path_prefix)]

    def queries(self) -> list[str]:
        return [json.loads(req.get_data())["query"] for req in self.requests("/graphql")]

    # -- shapes -----------------------------------------------------------------------

    def _record(self, repo: str, number: int) -> Record:
        return self.records[(repo.lower(), number)]

    def _blocking(self, record: Record) -> list[tuple[str, int]]:
        me = (record.repo.lower(), record.number)
        return [
            (other.repo, other.number)
            for other in self.records.values()
            if any((r.lower(), n) == me for r, n in other.blocked_by)
        ]

    def _related_node(self, ref: tuple[str, int]) -> dict[str, Any]:
        record = self._record(*ref)
        owner, name = record.repo.split("/")
        return {
            "number": record.number,
            "title": record.title,
            "state": record.state,
            "stateReason": record.state_reason if record.state == "CLOSED" else None,
            "repository": {"owner": {"login": owner}, "name": name},
        }

    def _connection(self, refs: list[tuple[str, int]], first: int, start: int) -> dict[str, Any]:
        page = refs[start:start + first]
        end = start + len(page)
        return {
            "totalCount": len(refs),
            "pageInfo": {
                "hasNextPage": end < len(refs),
                "endCursor": cursor(end) if page else None,
            },
            "nodes": [self._related_node(ref) for ref in page],
        }

    def issue_node(self, record: Record, first: int = 50) -> dict[str, Any]:
        owner, name = record.repo.split("/")
        return {
            "number": record.number,
            "title": record.title,
            "body": record.body,
            "state": record.state,
            "stateReason": record.state_reason if record.state == "CLOSED" else None,
            "url": f"https://github.com/{owner}/{name}/issues/{record.number}",
            "labels": {"nodes": [{"name": label} for label in record.labels]},
            "blockedBy": self._connection(record.blocked_by, first, 0),
            "blocking": self._connection(self._blocking(record), first, 0),
        }

    def rest_issue(self, record: Record) -> dict[str, Any]:
        owner, name = record.repo.split("/")
        api = f"{self.api_url}/repos/{owner}/{name}"
        closed = record.state == "CLOSED"
        return {
            "id": 1000 + record.number,
            "node_id": base64.b64encode(f"04:Issue{record.number}".encode()).decode(),
            "url": f"{api}/issues/{record.number}",
            "repository_url": api,
            "labels_url": f"{api}/issues/{record.number}/labels{{/name}}",
            "comments_url": f"{api}/issues/{record.number}/comments",
            "events_url": f"{api}/issues/{record.number}/events",
            "html_url": f"https://github.com/{owner}/{name}/issues/{record.number}",
            "number": record.number,
            "state": record.state.lower(),
            "title": record.title,
            "body": record.body,
            "user": {"login": "octocat", "id": 1, "type": "User", "site_admin": False},
            "labels": [
                {"id": 208045946 + i, "name": label, "color": "f29513", "default": False,
                 "description": None}
                for i, label in enumerate(record.labels)
            ],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": 0,
            "closed_at": "2024-05-02T10:00:00Z" if closed else None,
            "created_at": "2024-05-01T10:00:00Z",
            "updated_at": "2024-05-02T10:00:00Z",
            "author_association": "OWNER",
            "state_reason": record.state_reason.lower() if closed else None,
        }

    # -- handlers ---------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    @staticmethod
    def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(json.dumps(body), status, headers, content_type="application/json")

    def _graphql(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._json(fixture("error_bad_credentials.json"), 401)
        query = json.loads(request.get_data())["query"]
        if search := _SEARCH.search(query):
            return self._json(self._search(search), headers={"X-RateLimit-Remaining": "4999"})
        if not self.graphql_dependencies and "blockedBy" in query:
            return self._json(fixture("graphql_no_dependency_fields.json"))
        first_match = _FIRST_PAGE.search(query)
        first = int(first_match.group(1)) if first_match else 50
        data: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        current: dict[str, Any] = {}
        repo = ""
        repo_alias = ""
        for line in query.splitlines():
            if match := _REPOSITORY.match(line):
                repo_alias, repo = match.group(1), f"{match.group(2)}/{match.group(3)}"
                current = data[repo_alias] = {}
            elif match := _ISSUE.match(line):
                alias, number, selection = match.group(1), int(match.group(2)), match.group(3)
                record = self.records.get((repo.lower(), number))
                if record is None:
                    current[alias] = None
                    errors.append({
                        "type": "NOT_FOUND",
                        "path": [repo_alias, alias],
                        "locations": [{"line": 2, "column": 5}],
                        "message": f"Could not resolve to an Issue with the number of {number}.",
                    })
                elif page := _NEXT_PAGE.match(selection):
                    size, after = int(page.group(1)), page.group(2)
                    current[alias] = {
                        "blockedBy": self._connection(record.blocked_by, size, _offset(after))
                    }
                else:
                    current[alias] = self.issue_node(record, first)
        body: dict[str, Any] = {"data": data}
        if errors:
            body["errors"] = errors
        return self._json(body, headers={"X-RateLimit-Remaining": "4999"})

    def _matches(self, record: Record, words: list[str]) -> bool:
        """Whether `record` is found by GitHub search words: `repo:`, `is:open|closed`,
        `is:issue`, `label:`, `milestone:`, and plain words in the title."""
        for word in words:
            name, colon, value = word.partition(":")
            if not colon:
                ok = word.lower() in record.title.lower()
            elif name == "repo":
                ok = record.repo.lower() == value.lower()
            elif name == "is":
                ok = value == "issue" or record.state.lower() == value
            elif name == "label":
                ok = value.lower() in {label.lower() for label in record.labels}
            elif name == "milestone":
                ok = (record.milestone or "").lower() == value.lower()
            else:
                ok = False
            if not ok:
                return False
        return True

    #: At most this many results per search page (GitHub's is 100), to test paging.
    search_page_size = 100

    def _search(self, match: re.Match[str]) -> dict[str, Any]:
        words = shlex.split(json.loads(match.group(1)))
        first = min(int(match.group(2)), self.search_page_size)
        start = _offset(match.group(3)) if match.group(3) else 0
        found = sorted((r for r in self.records.values() if self._matches(r, words)),
                       key=lambda r: r.number)
        page = found[start:start + first]
        end = start + len(page)
        return {"data": {"search": {
            "issueCount": len(found),
            "pageInfo": {"hasNextPage": end < len(found),
                         "endCursor": cursor(end) if page else None},
            "nodes": [{"number": r.number, "repository": {"nameWithOwner": r.repo}}
                      for r in page],
        }}}

    def _rest(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._json(fixture("error_bad_credentials.json"), 401)
        match = _REST_ISSUE.match(request.path)
        assert match is not None
        owner, name, number, dependencies = match.groups()
        record = self.records.get((f"{owner}/{name}".lower(), int(number)))
        if record is None or (dependencies and not self.rest_dependencies):
            return self._json(fixture("error_not_found.json"), 404)
        if not dependencies:
            return self._json(self.rest_issue(record))
        per_page = int(request.args.get("per_page", "30"))
        page = int(request.args.get("page", "1"))
        refs = record.blocked_by[(page - 1) * per_page:page * per_page]
        last = max(1, -(-len(record.blocked_by) // per_page))
        base = f"{self.api_url}{request.path}"
        links = []
        if page < last:
            links.append(f'<{base}?{urlencode({"per_page": per_page, "page": page + 1})}>; '
                         'rel="next"')
            links.append(f'<{base}?{urlencode({"per_page": per_page, "page": last})}>; rel="last"')
        headers = {"Link": ", ".join(links)} if links else {}
        return self._json([self.rest_issue(self._record(*ref)) for ref in refs], headers=headers)

    # -- writes -------------------------------------------------------------------------
    # Answers are the recorded fixtures with this request's values filled in.

    def _repository(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._json(fixture("error_bad_credentials.json"), 401)
        match = _REST_REPOSITORY.match(request.path)
        assert match is not None
        owner, name = match.groups()
        answer = fixture("rest_repository.json")
        answer.update(
            name=name,
            full_name=f"{owner}/{name}",
            html_url=f"https://github.com/{owner}/{name}",
            url=f"{self.api_url}/repos/{owner}/{name}",
            default_branch=self.default_branch,
        )
        answer["owner"]["login"] = owner
        return self._json(answer)

    def _comment(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._json(fixture("error_bad_credentials.json"), 401)
        match = _REST_COMMENTS.match(request.path)
        assert match is not None
        owner, name, number = match.groups()
        if (f"{owner}/{name}".lower(), int(number)) not in self.records:
            return self._json(fixture("error_not_found.json"), 404)
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            return self._json(self._invalid("IssueComment", "body", "missing_field"), 422)
        self.comments.append(body)
        comment_id = len(self.comments)
        api = f"{self.api_url}/repos/{owner}/{name}"
        answer = fixture("rest_issue_comment_created.json")
        answer.update(
            id=comment_id,
            url=f"{api}/issues/comments/{comment_id}",
            html_url=f"https://github.com/{owner}/{name}/issues/{number}"
                     f"#issuecomment-{comment_id}",
            body=body["body"],
            issue_url=f"{api}/issues/{number}",
        )
        return self._json(answer, 201)

    @staticmethod
    def _invalid(resource: str, field_name: str, code: str) -> dict[str, Any]:
        answer = fixture("error_pull_request_exists.json")
        answer["errors"] = [{"resource": resource, "field": field_name, "code": code}]
        return answer

    def _pushed(self, branch: str) -> bool:
        if self.git_remote is None:
            return True
        return subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
            cwd=self.git_remote, capture_output=True,
        ).returncode == 0

    def _pull(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._json(fixture("error_bad_credentials.json"), 401)
        match = _REST_PULLS.match(request.path)
        assert match is not None
        owner, name = match.groups()
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return self._json({"message": "Problems parsing JSON", "status": "400"}, 400)
        for key in ("head", "base", "title"):
            if not isinstance(body.get(key), str):
                return self._json(self._invalid("PullRequest", key, "missing_field"), 422)
        if not self._pushed(body["head"]):
            return self._json(self._invalid("PullRequest", "head", "invalid"), 422)
        if not self._pushed(body["base"]):
            return self._json(self._invalid("PullRequest", "base", "invalid"), 422)
        if any(p["head"] == body["head"] and p["base"] == body["base"] for p in self.pulls):
            exists = fixture("error_pull_request_exists.json")
            exists["errors"][0]["message"] = (
                f"A pull request already exists for {owner}:{body['head']}."
            )
            return self._json(exists, 422)
        self.pulls.append(body)
        number = 100 + len(self.pulls)
        return self._json(self._pull_answer(owner, name, number, body), 201)

    def _pull_answer(self, owner: str, name: str, number: int, body: dict[str, Any]) -> Any:
        """A pull request as the REST API shows one (`GET /pulls/N`, `POST /pulls`)."""
        api = f"{self.api_url}/repos/{owner}/{name}"
        answer = fixture("rest_pull_request_created.json")
        answer.update(
            url=f"{api}/pulls/{number}",
            html_url=f"https://github.com/{owner}/{name}/pull/{number}",
            issue_url=f"{api}/issues/{number}",
            number=number,
            title=body["title"],
            body=body.get("body"),
            draft=bool(body.get("draft", False)),
        )
        for side in ("head", "base"):
            answer[side].update(label=f"{owner}:{body[side]}", ref=body[side])
        return answer

    def _list_pulls(self, request: Request) -> Response:
        """`GET /repos/o/r/pulls?head=owner:branch&state=open`: the open pull requests,
        filtered by head as GitHub does (`user:ref-name`)."""
        if not self._authorized(request):
            return self._json(fixture("error_bad_credentials.json"), 401)
        match = _REST_PULLS.match(request.path)
        assert match is not None
        owner, name = match.groups()
        head = request.args.get("head")
        found = [
            self._pull_answer(owner, name, 101 + index, body)
            for index, body in enumerate(self.pulls)
            if "title" in body and (head is None or f"{owner}:{body['head']}" == head)
        ]
        return self._json(found, 200)

    def _update_pull(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._json(fixture("error_bad_credentials.json"), 401)
        match = _REST_PULL.match(request.path)
        assert match is not None
        owner, name, number = match.groups()
        index = int(number) - 101
        if not 0 <= index < len(self.pulls):
            return self._json({"message": "Not Found", "status": "404"}, 404)
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return self._json({"message": "Problems parsing JSON", "status": "400"}, 400)
        if "base" in body and not self._pushed(body["base"]):
            return self._json(self._invalid("PullRequest", "base", "invalid"), 422)
        self.pulls[index].update(body)
        return self._json(self._pull_answer(owner, name, int(number), self.pulls[index]), 200)
