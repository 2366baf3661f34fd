"""A small fake Jira Cloud for tests and demos, on pytest-httpserver.

    from pirun_jira_fake import make_issue, serve_issues

    def test_something(httpserver):
        fake = serve_issues(httpserver, [
            make_issue("PROJ-1", "Add login", labels=["agent"]),
            make_issue("PROJ-2", "Add logout", blocked_by=["PROJ-1"]),
        ])
        ...  # point a client at httpserver.url_for("/")
        assert fake.queries == ["key in (PROJ-1, PROJ-2)"]

It answers the enhanced JQL search, `POST` and `GET /rest/api/3/search/jql`, with Jira's
shapes: `{"issues": [{"id", "key", "self", "fields"}], "isLast", "nextPageToken"}`, the token
left out on the last page, only the requested `fields` returned (just `id` by default, as
Jira does), and 400 `{"errorMessages": [...], "errors": {}}` for JQL it cannot answer.

The JQL it understands, deliberately little (anything else is a 400, so a test notices):

    clause [AND clause]... [ORDER BY ...]        (ORDER BY is ignored; no OR, no NOT)
    key | issueKey  = K | in (K, ...)            unknown keys: 400 naming them, or left out
    project         = P | != P | in (P, ...)     with unknown_keys="omit"
    labels          = L | != L | in (...) | not in (...) | is EMPTY | is not EMPTY
    status          = S | != S | in (...) | not in (...)
    statusCategory  = C | != C | in (...) | not in (...)   C: name, key or id ("Done", "done", 3)
    resolution      = R | != R | = Unresolved | is EMPTY | is not EMPTY
    parent          = K | in (...)

Values may be quoted with " or '. Matching is case-insensitive.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

SEARCH_PATH = "/rest/api/3/search/jql"

#: statusCategory: key -> (id, name, colorName), as Jira Cloud reports them.
CATEGORIES = {
    "new": (2, "To Do", "blue-gray"),
    "indeterminate": (4, "In Progress", "yellow"),
    "done": (3, "Done", "green"),
}
KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]*$")


# -- building issues -------------------------------------------------------------------


def status_json(name: str, category: str = "new", status_id: str = "10000") -> dict[str, Any]:
    cat_id, cat_name, color = CATEGORIES[category]
    return {
        "self": f"https://fake.atlassian.net/rest/api/3/status/{status_id}",
        "description": "",
        "iconUrl": "https://fake.atlassian.net/",
        "name": name,
        "id": status_id,
        "statusCategory": {
            "self": f"https://fake.atlassian.net/rest/api/3/statuscategory/{cat_id}",
            "id": cat_id,
            "key": category,
            "colorName": color,
            "name": cat_name,
        },
    }


def text_doc(text: str) -> dict[str, Any]:
    """A plain text as an ADF document: one paragraph per blank-line-separated block."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": p}]} for p in paragraphs
        ],
    }


BLOCKS_TYPE = {"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks"}


def make_issue(
    key: str,
    summary: str,
    *,
    status: str | None = None,
    category: str = "new",
    resolution: str | None = None,
    labels: Iterable[str] = (),
    description: str | dict[str, Any] | None = None,
    blocked_by: Iterable[str] = (),
    blocks: Iterable[str] = (),
    parent: str | None = None,
    issue_id: str | None = None,
) -> dict[str, Any]:
    """An issue as the search returns it. Linked issues' summary and status are filled in
    by `serve_issues` from the other issues it serves."""
    status = status or CATEGORIES[category][1]
    links: list[dict[str, Any]] = []
    for other in blocked_by:  # this issue "is blocked by" other: other is the inwardIssue
        links.append({"type": dict(BLOCKS_TYPE), "inwardIssue": {"key": other}})
    for other in blocks:  # this issue "blocks" other: other is the outwardIssue
        links.append({"type": dict(BLOCKS_TYPE), "outwardIssue": {"key": other}})
    fields: dict[str, Any] = {
        "summary": summary,
        "status": status_json(status, category),
        "resolution": {"id": "10000", "name": resolution} if resolution else None,
        "labels": list(labels),
        "issuelinks": links,
        "description": text_doc(description) if isinstance(description, str) else description,
        "project": {"key": key.split("-")[0]},
    }
    if parent:
        fields["parent"] = {"key": parent}
    issue: dict[str, Any] = {"key": key, "fields": fields}
    if issue_id:
        issue["id"] = issue_id
    return issue


# -- JQL ---------------------------------------------------------------------------------


class JqlError(ValueError):
    """A query the fake does not answer: becomes a 400 with this message."""


_TOKEN_RE = re.compile(
    r"""\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(!=|=|\(|\)|,)|([^\s=!(),"']+))"""
)


@dataclass
class Clause:
    field: str
    op: str  # "=", "!=", "in", "not in", "is", "is not"
    values: list[str]


def _tokens(jql: str) -> list[tuple[str, str]]:
    """(kind, text): kind is "str" for quoted values, "sym" for = != ( ) ,, "word" else."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    jql = jql.rstrip()
    while pos < len(jql):
        match = _TOKEN_RE.match(jql, pos)
        if not match or match.end() == pos:
            raise JqlError(f"Error in the JQL Query: unexpected character at {pos + 1}.")
        dq, sq, sym, word = match.groups()
        if dq is not None or sq is not None:
            tokens.append(("str", dq if dq is not None else sq or ""))
        elif sym:
            tokens.append(("sym", sym))
        elif word:
            tokens.append(("word", word))
        pos = match.end()
    return tokens


def parse_jql(jql: str) -> list[Clause]:
    """The clauses of a conjunction (see the module docstring for what is understood)."""
    tokens = _tokens(jql)
    clauses: list[Clause] = []
    i = 0

    def word(at: int) -> str:
        return tokens[at][1].lower() if at < len(tokens) and tokens[at][0] == "word" else ""

    while i < len(tokens):
        if word(i) == "order" and word(i + 1) == "by":
            break
        if tokens[i][0] != "word":
            raise JqlError(f"Error in the JQL Query: expecting a field name, got '{tokens[i][1]}'.")
        name = tokens[i][1]
        i += 1
        if i < len(tokens) and tokens[i] in (("sym", "="), ("sym", "!=")):
            op = tokens[i][1]
            i += 1
        elif word(i) == "in":
            op, i = "in", i + 1
        elif word(i) == "not" and word(i + 1) == "in":
            op, i = "not in", i + 2
        elif word(i) == "is" and word(i + 1) == "not":
            op, i = "is not", i + 2
        elif word(i) == "is":
            op, i = "is", i + 1
        else:
            raise JqlError(f"Error in the JQL Query: unsupported operator after '{name}'.")
        values: list[str] = []
        if i < len(tokens) and tokens[i] == ("sym", "("):
            i += 1
            while i < len(tokens) and tokens[i] != ("sym", ")"):
                if tokens[i] != ("sym", ","):
                    values.append(tokens[i][1])
                i += 1
            if i >= len(tokens):
                raise JqlError("Error in the JQL Query: expecting ')' before the end of the query.")
            i += 1
        elif i < len(tokens) and tokens[i][0] != "sym":
            values.append(tokens[i][1])
            i += 1
        else:
            raise JqlError(f"Error in the JQL Query: expecting a value for '{name}'.")
        if op in ("in", "not in") and not values:
            raise JqlError("Error in the JQL Query: a list must not be empty.")
        clauses.append(Clause(name, op, values))
        if i < len(tokens):
            if word(i) == "and":
                i += 1
                if i >= len(tokens):
                    raise JqlError("Error in the JQL Query: expecting a clause after 'AND'.")
            elif word(i) == "order" and word(i + 1) == "by":
                break
            else:
                raise JqlError(
                    f"Error in the JQL Query: only AND is supported by the fake, got "
                    f"'{tokens[i][1]}'."
                )
    if not clauses:
        raise JqlError(
            "Unbounded JQL queries are not allowed here. Please add a search restriction."
        )
    return clauses


def _compare(actual: Sequence[str], clause: Clause) -> bool:
    have = {a.lower() for a in actual}
    wanted = {v.lower() for v in clause.values}
    if clause.op in ("is", "is not"):
        if wanted != {"empty"} and wanted != {"null"}:
            raise JqlError("Error in the JQL Query: 'is' takes EMPTY or NULL.")
        return (not have) == (clause.op == "is")
    hit = bool(have & wanted)
    return hit if clause.op in ("=", "in") else not hit


def _category_names(category: dict[str, Any]) -> list[str]:
    return [str(category.get(k)) for k in ("key", "name", "id") if category.get(k) is not None]


# -- the server --------------------------------------------------------------------------


@dataclass
class FakeJira:
    """The state behind the handlers; change `issues` between calls to simulate Jira."""

    issues: dict[str, dict[str, Any]]
    base_url: str
    page_size: int = 50
    unknown_keys: str = "error"  # "error": 400 naming them; "omit": leave them out
    credentials: tuple[str, str] | None = None
    queries: list[str] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)

    # -- matching --------------------------------------------------------------------------

    def _values(self, issue: dict[str, Any], name: str) -> list[str]:
        fields = issue.get("fields") or {}
        key = issue["key"]
        if name in ("key", "issuekey", "issue", "id"):
            return [key, str(issue.get("id", ""))]
        if name == "project":
            return [str((fields.get("project") or {}).get("key") or key.split("-")[0])]
        if name == "labels":
            return [str(label) for label in fields.get("labels") or []]
        if name == "status":
            return [str((fields.get("status") or {}).get("name", ""))]
        if name == "statuscategory":
            return _category_names((fields.get("status") or {}).get("statusCategory") or {})
        if name == "resolution":
            resolution = fields.get("resolution")
            return [str(resolution.get("name", ""))] if isinstance(resolution, dict) else []
        if name == "parent":
            parent = fields.get("parent")
            return [str(parent.get("key", ""))] if isinstance(parent, dict) else []
        raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")

    def _matches(self, issue: dict[str, Any], clause: Clause) -> bool:
        name = clause.field.lower()
        if name == "resolution" and {v.lower() for v in clause.values} == {"unresolved"}:
            clause = Clause(clause.field, "is" if clause.op == "=" else "is not", ["EMPTY"])
        return _compare(self._values(issue, name), clause)

    def _check_keys(self, clauses: list[Clause]) -> None:
        messages = []
        for clause in clauses:
            if clause.field.lower() not in ("key", "issuekey", "issue") or clause.op in (
                "is", "is not",
            ):
                continue
            for value in clause.values:
                if not KEY_RE.match(value.upper()):
                    messages.append(
                        f"The issue key '{value}' for field '{clause.field}' is invalid."
                    )
                elif value.upper() not in self.issues and self.unknown_keys == "error":
                    messages.append(
                        f"An issue with key '{value}' does not exist for field '{clause.field}'."
                    )
        if messages:
            raise JqlError("\n".join(messages))

    def search(self, jql: str) -> list[dict[str, Any]]:
        clauses = parse_jql(jql)
        self._check_keys(clauses)
        return [i for i in self.issues.values() if all(self._matches(i, c) for c in clauses)]

    # -- rendering --------------------------------------------------------------------------

    def _linked(self, link: dict[str, Any]) -> dict[str, Any]:
        link = copy.deepcopy(link)
        for side in ("inwardIssue", "outwardIssue"):
            other = link.get(side)
            if not isinstance(other, dict) or "key" not in other:
                continue
            known = self.issues.get(other["key"])
            if known is not None:
                other.setdefault("id", known.get("id"))
                other.setdefault("self", f"{self.base_url}/rest/api/3/issue/{known.get('id')}")
                other.setdefault("fields", {})
                for name in ("summary", "status", "priority", "issuetype"):
                    if name in known.get("fields", {}):
                        other["fields"].setdefault(name, copy.deepcopy(known["fields"][name]))
        return link

    def render(self, issue: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
        wanted = [f for f in fields if f]
        if not wanted or wanted == ["id"]:
            return {"id": issue["id"]}  # the enhanced search's default: ids only
        all_fields = dict(issue.get("fields") or {})
        if "*all" in wanted or "*navigable" in wanted:
            chosen = set(all_fields)
        else:
            chosen = {f for f in wanted if not f.startswith("-")}
        chosen -= {f[1:] for f in wanted if f.startswith("-")}
        out_fields = {name: copy.deepcopy(all_fields.get(name)) for name in sorted(chosen)
                      if name in all_fields or name in ("resolution", "parent", "description")}
        if "parent" in out_fields and out_fields["parent"] is None:
            del out_fields["parent"]  # Jira leaves `parent` out rather than null
        if isinstance(out_fields.get("issuelinks"), list):
            out_fields["issuelinks"] = [self._linked(x) for x in out_fields["issuelinks"]]
        if isinstance(out_fields.get("parent"), dict):
            out_fields["parent"] = self._linked({"inwardIssue": out_fields["parent"]})[
                "inwardIssue"
            ]
        return {
            "expand": "",
            "id": issue["id"],
            "self": f"{self.base_url}/rest/api/3/issue/{issue['id']}",
            "key": issue["key"],
            "fields": out_fields,
        }

    @staticmethod
    def _token(jql: str, offset: int) -> str:
        digest = hashlib.sha256(jql.encode()).hexdigest()[:12]
        return base64.urlsafe_b64encode(f"{offset}:{digest}".encode()).decode()

    def _offset(self, jql: str, token: str | None) -> int:
        if not token:
            return 0
        try:
            offset, _digest = base64.urlsafe_b64decode(token.encode()).decode().split(":")
            if self._token(jql, int(offset)) == token:
                return int(offset)
        except (ValueError, UnicodeDecodeError):
            pass
        raise JqlError("The provided next page token is invalid or expired.")

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) for one search request body."""
        self.bodies.append(body)
        jql = body.get("jql")
        if not isinstance(jql, str) or not jql.strip():
            return 400, {"errorMessages": ["Unbounded JQL queries are not allowed here. "
                                           "Please add a search restriction."], "errors": {}}
        self.queries.append(jql)
        try:
            found = self.search(jql)
            offset = self._offset(jql, body.get("nextPageToken"))
        except JqlError as exc:
            return 400, {"errorMessages": str(exc).split("\n"), "errors": {}}
        limit = body.get("maxResults", 50)
        limit = max(1, min(int(limit) if isinstance(limit, int) else 50, self.page_size))
        page = found[offset:offset + limit]
        fields = body.get("fields") or ["id"]
        out: dict[str, Any] = {"issues": [self.render(i, fields) for i in page]}
        if offset + limit < len(found):
            out["nextPageToken"] = self._token(jql, offset + limit)
            out["isLast"] = False
        else:
            out["isLast"] = True
        return 200, out


def _authorized(fake: FakeJira, header: str | None) -> bool:
    if fake.credentials is None:
        return True
    email, token = fake.credentials
    expected = base64.b64encode(f"{email}:{token}".encode()).decode()
    return header == f"Basic {expected}"


def _handler(fake: FakeJira):  # type: ignore[no-untyped-def]
    from werkzeug import Request, Response

    def handle(request: Request) -> Response:
        if not _authorized(fake, request.headers.get("Authorization")):
            return Response(
                json.dumps({"errorMessages": ["Client must be authenticated to access this "
                                              "resource."], "errors": {}}),
                status=401,
                content_type="application/json;charset=UTF-8",
            )
        if request.method == "POST":
            try:
                body = json.loads(request.get_data(as_text=True) or "{}")
            except ValueError:
                body = None
            if not isinstance(body, dict):
                status, out = 400, {"errorMessages": ["Invalid request payload. Refer to the "
                                                      "REST API documentation and try again."],
                                    "errors": {}}
                return Response(json.dumps(out), status=status, content_type="application/json")
        else:
            args = request.args
            fields = [f for value in args.getlist("fields") for f in value.split(",")]
            body = {"jql": args.get("jql"), "fields": fields,
                    "nextPageToken": args.get("nextPageToken")}
            if args.get("maxResults", "").isdigit():
                body["maxResults"] = int(args["maxResults"])
        status, out = fake.answer(body)
        return Response(json.dumps(out), status=status, content_type="application/json")

    return handle


def serve_issues(
    httpserver: Any,
    issues: Iterable[dict[str, Any]],
    *,
    page_size: int = 50,
    unknown_keys: str = "error",
    credentials: tuple[str, str] | None = None,
) -> FakeJira:
    """Answer Jira's search on `httpserver` (a pytest-httpserver HTTPServer) from `issues`.

    `issues` are in the search's shape (see `make_issue`); missing `id`s are numbered from
    10001. `page_size` caps a page below the request's maxResults, to exercise pagination.
    `credentials=(email, token)` makes every other Authorization a 401.
    """
    base_url = httpserver.url_for("/").rstrip("/")
    store: dict[str, dict[str, Any]] = {}
    for number, issue in enumerate(issues, start=10001):
        issue = copy.deepcopy(issue)
        issue["key"] = str(issue["key"]).upper()
        issue.setdefault("id", str(number))
        store[issue["key"]] = issue
    fake = FakeJira(store, base_url, page_size=max(1, page_size), unknown_keys=unknown_keys,
                    credentials=credentials)
    handler = _handler(fake)
    httpserver.expect_request(SEARCH_PATH, method="POST").respond_with_handler(handler)
    httpserver.expect_request(SEARCH_PATH, method="GET").respond_with_handler(handler)
    return fake
