"""The fake Jira (pirun_jira_fake) driven through the real client."""

from __future__ import annotations

import httpx
import pytest

from pirun_jira.client import JiraClient, JiraError
from pirun_jira.model import FIELDS, issue_from_json
from pirun_jira_fake import make_issue, parse_jql, serve_issues

from .conftest import EMAIL, TOKEN

ISSUES = [
    make_issue("ABC-1", "Add login", labels=["agent"], description="Use OAuth."),
    make_issue("ABC-2", "Add logout", labels=["agent"], blocked_by=["ABC-1"],
               category="indeterminate"),
    make_issue("ABC-3", "Old thing", category="done", resolution="Won't Do", labels=["agent"]),
    make_issue("XYZ-1", "Other project", labels=["agent"], blocks=["ABC-2"]),
]


def keys(found):
    return [i["key"] for i in found]


def test_key_in_with_fields_and_links_filled_in(httpserver, client):
    fake = serve_issues(httpserver, ISSUES)
    found = client.issues_by_key(["abc-2", "ABC-1"], FIELDS)
    assert sorted(keys(found)) == ["ABC-1", "ABC-2"]
    assert fake.queries == ["key in (ABC-2, ABC-1)"]
    abc2 = issue_from_json(next(i for i in found if i["key"] == "ABC-2"), client.base_url)
    assert [(b.key, b.title, b.state) for b in abc2.blocked_by] == [("ABC-1", "Add login", "open")]
    assert abc2.url == f"{client.base_url}/browse/ABC-2"
    abc1 = issue_from_json(next(i for i in found if i["key"] == "ABC-1"), client.base_url)
    assert abc1.body == "Use OAuth."


def test_unknown_keys_are_a_400_the_client_recovers_from(httpserver, client):
    fake = serve_issues(httpserver, ISSUES)
    assert keys(client.issues_by_key(["ABC-1", "ABC-99"], FIELDS)) == ["ABC-1"]
    assert fake.queries == ["key in (ABC-1, ABC-99)", "key in (ABC-1)"]


def test_unknown_keys_can_be_left_out_instead(httpserver, client):
    fake = serve_issues(httpserver, ISSUES, unknown_keys="omit")
    assert keys(client.issues_by_key(["ABC-1", "ABC-99"], FIELDS)) == ["ABC-1"]
    assert len(fake.queries) == 1


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("project = ABC AND labels = agent", ["ABC-1", "ABC-2", "ABC-3"]),
        ("project = ABC AND labels = agent AND statusCategory != Done", ["ABC-1", "ABC-2"]),
        ('project in (ABC, XYZ) AND statusCategory = "In Progress"', ["ABC-2"]),
        ("labels = agent AND resolution = Unresolved ORDER BY key ASC",
         ["ABC-1", "ABC-2", "XYZ-1"]),
        ("status = 'To Do'", ["ABC-1", "XYZ-1"]),
        ("statusCategory in (done, 2) AND project != XYZ", ["ABC-1", "ABC-3"]),
        ("labels not in (agent)", []),
        ("issueKey = abc-3", ["ABC-3"]),
    ],
)
def test_basic_jql(httpserver, client, jql, expected):
    serve_issues(httpserver, ISSUES)
    assert keys(client.search(jql, ["summary"])) == expected


def test_paginates_with_tokens(httpserver, client):
    fake = serve_issues(httpserver, ISSUES, page_size=1)
    assert keys(client.search("labels = agent", ["summary"])) == ["ABC-1", "ABC-2", "ABC-3",
                                                                  "XYZ-1"]
    assert len(fake.bodies) == 4
    assert "nextPageToken" not in fake.bodies[0] and fake.bodies[1]["nextPageToken"]


def test_default_fields_are_ids_only(httpserver):
    serve_issues(httpserver, ISSUES)
    answer = httpx.post(httpserver.url_for("/rest/api/3/search/jql"), json={"jql": "key = ABC-1"})
    assert answer.json() == {"issues": [{"id": "10001"}], "isLast": True}
    answer = httpx.get(httpserver.url_for("/rest/api/3/search/jql"),
                       params={"jql": "key = ABC-1", "fields": "summary,labels"})
    issue = answer.json()["issues"][0]
    assert issue["key"] == "ABC-1" and set(issue["fields"]) == {"summary", "labels"}


def test_unsupported_jql_is_a_jira_shaped_400(httpserver, client):
    serve_issues(httpserver, ISSUES)
    with pytest.raises(JiraError, match=r"HTTP 400.*only AND is supported"):
        client.search("project = ABC OR project = XYZ", ["summary"])
    with pytest.raises(JiraError, match=r"Field 'assignee' does not exist"):
        client.search("assignee = bob", ["summary"])


def test_credentials_are_checked_when_given(httpserver):
    serve_issues(httpserver, ISSUES, credentials=(EMAIL, TOKEN))
    wrong = JiraClient(httpserver.url_for("/"), EMAIL, "wrong")
    with wrong, pytest.raises(JiraError, match="HTTP 401"):
        wrong.search("key = ABC-1", ["summary"])
    with JiraClient(httpserver.url_for("/"), EMAIL, TOKEN) as right:
        assert keys(right.search("key = ABC-1", ["summary"])) == ["ABC-1"]


def test_state_changes_between_calls(httpserver, client):
    fake = serve_issues(httpserver, ISSUES)
    fake.issues["ABC-1"]["fields"]["status"]["statusCategory"]["key"] = "done"
    found = client.issues_by_key(["ABC-2"], FIELDS)
    assert issue_from_json(found[0], client.base_url).blocked_by[0].state == "closed"


def test_parse_jql_shapes():
    clauses = parse_jql('key in (A-1, "B-2") and labels is not EMPTY order by created DESC')
    assert [(c.field, c.op, c.values) for c in clauses] == [
        ("key", "in", ["A-1", "B-2"]), ("labels", "is not", ["EMPTY"])]
