"""The REST fallback: servers without GraphQL dependency fields, or `github.graphql: false`."""

from __future__ import annotations

from fakegithub import TOKEN, FakeGitHub, LoadRuntime, fixture
from pytest_httpserver import HTTPServer

from pirun.model import Blocker, IssueState

REST_HEADERS = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
    "Authorization": f"Bearer {TOKEN}",
}


def fetch(rt, wanted):
    return rt.tracker.fetch(wanted)


def test_rest_issue_and_paginated_blockers(load: LoadRuntime, httpserver: HTTPServer) -> None:
    base = "/repos/octo/Hello-World/issues/42"
    httpserver.expect_request(base, method="GET", headers=REST_HEADERS).respond_with_json(
        fixture("rest_issue_42.json")
    )
    next_url = httpserver.url_for(f"{base}/dependencies/blocked_by?per_page=100&page=2")
    httpserver.expect_request(
        f"{base}/dependencies/blocked_by", method="GET", headers=REST_HEADERS,
        query_string={"per_page": "100"},
    ).respond_with_json(
        fixture("rest_blocked_by_42_page1.json"),
        headers={"Link": f'<{next_url}>; rel="next", <{next_url}>; rel="last"'},
    )
    httpserver.expect_request(
        f"{base}/dependencies/blocked_by", method="GET", headers=REST_HEADERS,
        query_string={"per_page": "100", "page": "2"},
    ).respond_with_json(fixture("rest_blocked_by_42_page2.json"))
    rt = load(repo="octo/Hello-World", graphql=False)

    (issue,) = fetch(rt, ["42"])

    assert len(httpserver.log) == 3
    assert all(req.path.startswith("/repos/") for req, _ in httpserver.log)  # no GraphQL
    assert issue.key == "42"
    assert issue.title == "Found a bug"
    assert issue.body == "I'm having a problem with this."
    assert issue.url == "https://github.com/octo/Hello-World/issues/42"
    assert issue.labels == ("bug",)
    assert issue.blocked_by == (
        Blocker("40", "Fix the parser", IssueState.CLOSED),
        Blocker("octo/lib#5", "Release 2.0", IssueState.OPEN),
    )


def test_graphql_without_dependency_fields_falls_back_once(
    load: LoadRuntime, fake: FakeGitHub
) -> None:
    fake.graphql_dependencies = False
    fake.add("octo/app", 1, "Base", state="CLOSED")
    fake.add("octo/app", 2, "Top", blocked_by=[1])
    fake.add("octo/app", 3, "Later")
    fake.install()
    rt = load()

    found = {i.key: i for i in fetch(rt, ["1", "2"])}
    assert found["2"].blocked_by == (Blocker("1", "Base", IssueState.CLOSED),)
    assert len(fake.queries()) == 1
    fetch(rt, ["3"])
    assert len(fake.queries()) == 1  # remembered: no second GraphQL attempt this run
    paths = [req.path for req in fake.requests("/repos/")]
    assert paths.count("/repos/octo/app/issues/3") == 1


def test_pull_request_number_is_not_an_issue(load: LoadRuntime, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/repos/octo/app/issues/43").respond_with_json(
        fixture("rest_pull_request_43.json")
    )
    assert fetch(load(graphql=False), ["43"]) == []
    assert len(httpserver.log) == 1


def test_missing_issue_over_rest(load: LoadRuntime, fake: FakeGitHub) -> None:
    fake.add("octo/app", 1)
    fake.install()
    found = fetch(load(graphql=False), ["1", "2"])
    assert [i.key for i in found] == ["1"]


def test_server_without_dependencies_endpoint(load: LoadRuntime, fake: FakeGitHub) -> None:
    fake.rest_dependencies = False
    fake.add("octo/app", 1)
    fake.add("octo/app", 2)
    fake.install()
    found = fetch(load(graphql=False), ["1", "2"])
    assert [i.blocked_by for i in found] == [(), ()]
    # Asked once, then remembered for the run.
    assert len(fake.requests("/repos/octo/app/issues/1/dependencies")) == 1
    assert len(fake.requests("/repos/octo/app/issues/2/dependencies")) == 0


def test_next_page_link_to_another_server_is_refused(
    load: LoadRuntime, httpserver: HTTPServer
) -> None:
    import pytest

    from pirun.errors import TrackerError

    httpserver.expect_request("/repos/octo/app/issues/42").respond_with_json(
        {**fixture("rest_issue_42.json"), "repository_url": "https://api.github.com/repos/octo/app"}
    )
    httpserver.expect_request("/repos/octo/app/issues/42/dependencies/blocked_by").respond_with_json(
        fixture("rest_blocked_by_42_page1.json"),
        headers={"Link": '<https://evil.example/steal?page=2>; rel="next"'},
    )
    with pytest.raises(TrackerError, match="next-page link to another server"):
        fetch(load(graphql=False), ["42"])
    assert len(httpserver.log) == 2


def test_rest_reads_closed_as_not_planned(load: LoadRuntime, fake: FakeGitHub) -> None:
    fake.graphql_dependencies = False
    fake.add("octo/app", 1, "Dropped", state="CLOSED", state_reason="NOT_PLANNED")
    fake.add("octo/app", 2, "Top", blocked_by=[1])
    fake.install()
    found = {i.key: i for i in fetch(load(), ["1", "2"])}
    assert found["1"].state is IssueState.NOT_PLANNED
    assert found["2"].blocked_by == (Blocker("1", "Dropped", IssueState.NOT_PLANNED),)
