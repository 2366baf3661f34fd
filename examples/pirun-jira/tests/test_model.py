"""issue_from_json on fixtures/search_by_key.json (shapes: see fixtures/README.md)."""

from __future__ import annotations

import copy

from pirun_jira.model import (
    CLOSED,
    OPEN,
    JiraBlocker,
    blockers_of,
    issue_from_json,
    state_of,
)

from .conftest import load

SITE = "https://acme.atlassian.net"


def issues():
    return {i["key"]: i for i in load("search_by_key.json")["issues"]}


def test_plain_values_of_an_open_issue():
    issue = issue_from_json(issues()["ABC-7"], SITE + "/")
    assert issue is not None
    assert issue.key == "ABC-7"
    assert issue.title == "Guest checkout fails"
    assert issue.body.startswith("## Context\n\nCheckout fails for **guest** users")
    assert issue.state == OPEN and not issue.not_planned
    assert issue.status == "In Progress"
    assert issue.labels == ("agent", "checkout")
    assert issue.url == "https://acme.atlassian.net/browse/ABC-7"
    assert issue.parent == "ABC-100"
    assert issue.id == "10007"


def test_blocked_by_is_the_inward_direction_only():
    issue = issue_from_json(issues()["ABC-7"], SITE)
    # ABC-3 and ABC-5 are inwardIssues of Blocks links ("ABC-7 is blocked by ..."); ABC-9 is an
    # outwardIssue ("ABC-7 blocks ABC-9"); ABC-4 is inward but of type Relates.
    assert issue.blocked_by == (
        JiraBlocker("ABC-3", "Fix the cart model", CLOSED),
        JiraBlocker("ABC-5", "Guest sessions", OPEN),
    )


def test_the_link_type_is_configurable_by_name():
    fields = issues()["ABC-7"]["fields"]
    assert [b.key for b in blockers_of(fields, "relates")] == ["ABC-4"]
    assert blockers_of(fields, "Depends") == ()


def test_done_category_is_closed_whatever_the_status_is_called():
    assert issue_from_json(issues()["XYZ-2"], SITE).state == CLOSED
    abc8 = issue_from_json(issues()["ABC-8"], SITE)
    assert abc8.status == "Closed" and abc8.state == CLOSED
    renamed = copy.deepcopy(issues()["XYZ-2"])
    renamed["fields"]["status"]["name"] = "Shipped 🚀"
    assert issue_from_json(renamed, SITE).state == CLOSED
    in_done_name_only = {"name": "Done", "statusCategory": {"key": "indeterminate"}}
    assert state_of(in_done_name_only) == OPEN  # the category decides, not the name


def test_not_planned_resolutions():
    abc8 = issue_from_json(issues()["ABC-8"], SITE)
    assert abc8.resolution == "Won't Do" and abc8.not_planned
    assert not issue_from_json(issues()["XYZ-2"], SITE).not_planned  # "Done"
    curly = copy.deepcopy(issues()["ABC-8"])
    curly["fields"]["resolution"]["name"] = "Won\u2019t Fix"
    assert issue_from_json(curly, SITE).not_planned
    reopened = copy.deepcopy(issues()["ABC-8"])
    reopened["fields"]["status"]["statusCategory"]["key"] = "new"
    assert not issue_from_json(reopened, SITE).not_planned  # only a closed issue


def test_status_without_category_falls_back_to_the_name():
    # The OpenAPI example's LinkedIssue status has only a name.
    assert state_of({"name": "Done"}) == CLOSED
    assert state_of({"name": "Open"}) == OPEN
    assert state_of(None) == OPEN


def test_sparse_and_malformed_issues():
    assert issue_from_json({"id": "1"}, SITE) is None
    assert issue_from_json("nope", SITE) is None
    bare = issue_from_json({"key": "ABC-1", "fields": {"labels": "x", "issuelinks": [1, {}]}}, SITE)
    assert bare.title == "" and bare.body == "" and bare.labels == () and bare.blocked_by == ()
    assert bare.state == OPEN and bare.parent is None
