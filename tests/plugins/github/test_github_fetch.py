"""Batched GraphQL fetching against a local server answering like GitHub."""

from __future__ import annotations

import gc
import json
import re

import pirun_github
import pytest
from fakegithub import FakeGitHub, LoadRuntime, fixture
from pytest_httpserver import HTTPServer

from pirun.errors import IssueNotFound, TrackerError
from pirun.model import Blocker, IssueState


def refs(*numbers: int) -> list[str]:
    return [str(n) for n in numbers]


def fetch(rt, wanted):
    return rt.tracker.fetch(wanted)


def test_three_issues_in_one_request(load: LoadRuntime, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/graphql", method="POST").respond_with_json(
        fixture("graphql_three_issues.json")
    )
    rt = load()

    issues = {i.key: i for i in fetch(rt, refs(1, 2, 3))}

    assert len(httpserver.log) == 1
    query = json.loads(httpserver.log[0][0].get_data())["query"]
    assert 'r0: repository(owner: "octo", name: "app")' in query
    assert all(f"i{n}: issue(number: {n})" in query for n in (1, 2, 3))
    assert "blockedBy(first: 50)" in query and "blocking(first: 50)" in query
    one, two, three = issues["1"], issues["2"], issues["3"]
    assert one.title == "Set up CI"
    assert one.body == "Run the tests on every push."
    assert one.url == "https://github.com/octo/app/issues/1"
    assert one.labels == ("infra",)
    assert one.state is IssueState.OPEN and one.blocked_by == ()
    assert two.blocked_by == (Blocker("1", "Set up CI", IssueState.OPEN),)
    assert three.labels == ("release", "p1")
    assert three.blocked_by == (
        Blocker("2", "Add the API", IssueState.OPEN),
        Blocker("other-org/lib#7", "Upstream fix", IssueState.OPEN),
    )


def test_fake_answers_like_the_recorded_fixture(load: LoadRuntime, fake: FakeGitHub) -> None:
    # The generated answers used by the bigger tests have the fixture's exact shape.
    fake.add("octo/app", 1, "Set up CI", body="Run the tests on every push.", labels=["infra"])
    fake.add("octo/app", 2, "Add the API", body="Depends on the CI.", blocked_by=[1])
    fake.add("octo/app", 3, "Ship it", labels=["release", "p1"],
             blocked_by=[2, ("other-org/lib", 7)])
    fake.add("other-org/lib", 7, "Upstream fix")
    fake.install()
    fetch(load(), refs(1, 2, 3))
    answer = fake.server.log[0][1].get_json()
    assert answer == fixture("graphql_three_issues.json")


def test_cross_repo_blocker_never_collides_with_a_local_number(
    load: LoadRuntime, fake: FakeGitHub
) -> None:
    fake.add("octo/app", 7, "Local seven", state="CLOSED")
    fake.add("octo/app", 8, "Needs both", blocked_by=[7, ("other-org/lib", 7)])
    fake.add("other-org/lib", 7, "Upstream fix")
    fake.install()
    rt = load()

    (eight,) = fetch(rt, refs(8))
    blockers = {b.key: b for b in eight.blocked_by}
    assert blockers["7"].state is IssueState.CLOSED
    assert blockers["other-org/lib#7"].state is IssueState.OPEN
    assert blockers["other-org/lib#7"].describe() == (
        "other-org/lib#7: Upstream fix (OPEN)"
    )

    # Both sevens in one request: one query, two repositories, told apart.
    found = {i.key: i for i in fetch(rt, ["7", "other-org/lib#7"])}
    assert found["7"].title == "Local seven"
    assert found["other-org/lib#7"].title == "Upstream fix"
    assert len(fake.queries()) == 2
    assert 'repository(owner: "other-org", name: "lib")' in fake.queries()[1]


def test_a_blocker_in_the_configured_repo_spelled_differently_is_local(
    load: LoadRuntime, fake: FakeGitHub
) -> None:
    # GitHub names are case-insensitive: Octo/App#1 is #1 here.
    fake.add("Octo/App", 1, "Base")
    fake.add("octo/app", 2, "Top", blocked_by=[("Octo/App", 1)])
    fake.install()
    (two,) = fetch(load(), refs(2))
    assert two.blocked_by[0].key == "1"


def test_missing_issue_is_left_out_and_the_rest_are_kept(
    load: LoadRuntime, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/graphql", method="POST").respond_with_json(
        fixture("graphql_not_found.json")
    )
    rt = load()
    found = fetch(rt, refs(1, 999))
    assert [i.key for i in found] == ["1"]
    assert found[0].title == "Set up CI"


def test_missing_issue_is_reported_by_number(load: LoadRuntime, fake: FakeGitHub) -> None:
    fake.add("octo/app", 1, "Exists")
    fake.install()
    rt = load()
    assert set(rt.fetch_issues(refs(1, 999))) == {"1"}
    with pytest.raises(IssueNotFound, match=r"^Issue #999 not found$"):
        rt.fetch_issue("999")
    # Not found is remembered too: no second request for #999.
    assert len(fake.queries()) == 1


def test_missing_configured_repository_is_an_error(load: LoadRuntime, fake: FakeGitHub) -> None:
    fake.server.expect_request("/graphql", method="POST").respond_with_json({
        "data": {"r0": None},
        "errors": [{"type": "NOT_FOUND", "path": ["r0"], "locations": [{"line": 2, "column": 3}],
                    "message": "Could not resolve to a Repository with the name 'octo/app'."}],
    })
    with pytest.raises(TrackerError, match=r"repository octo/app not found"):
        fetch(load(), refs(1))


def test_unreadable_other_repository_only_loses_its_issues(
    load: LoadRuntime, fake: FakeGitHub
) -> None:
    fake.server.expect_request("/graphql", method="POST").respond_with_json({
        "data": {"r0": fixture("graphql_not_found.json")["data"]["r0"], "r1": None},
        "errors": [{"type": "NOT_FOUND", "path": ["r1"], "locations": [{"line": 5, "column": 3}],
                    "message": "Could not resolve to a Repository with the name 'secret/x'."}],
    })
    found = fetch(load(), ["1", "secret/x#3"])
    assert [i.key for i in found] == ["1"]


def test_120_issues_take_3_requests(load: LoadRuntime, fake: FakeGitHub) -> None:
    for n in range(1, 121):
        fake.add("octo/app", n, blocked_by=[n - 1] if n > 1 else [])
    fake.install()
    found = fetch(load(), refs(*range(1, 121)))
    assert len(found) == 120
    assert len(fake.queries()) == 3
    sizes = [len(re.findall(r"i\d+: issue", q)) for q in fake.queries()]
    assert sizes == [50, 50, 20]
    assert {i.key: [b.key for b in i.blocked_by] for i in found}["120"] == ["119"]


def test_long_blocker_list_is_paginated(load: LoadRuntime, httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/graphql", method="POST").respond_with_json(
        fixture("graphql_blockers_page1.json")
    )
    httpserver.expect_oneshot_request("/graphql", method="POST").respond_with_json(
        fixture("graphql_blockers_page2.json")
    )
    (ten,) = fetch(load(), refs(10))
    assert [(b.key, b.state) for b in ten.blocked_by] == [
        ("11", IssueState.CLOSED), ("12", IssueState.OPEN), ("13", IssueState.OPEN)
    ]
    second = json.loads(httpserver.log[1][0].get_data())["query"]
    end_cursor = fixture("graphql_blockers_page1.json")["data"]["r0"]["i10"]["blockedBy"][
        "pageInfo"]["endCursor"]
    assert f'i10: issue(number: 10) {{ blockedBy(first: 100, after: "{end_cursor}")' in second
    assert "IssueFields" not in second  # only the page, not the whole issue again


def test_pagination_of_many_issues_is_batched(load: LoadRuntime, fake: FakeGitHub) -> None:
    # 60 blockers each for 3 issues: one query for the issues, one for all second pages.
    for n in range(100, 160):
        fake.add("octo/app", n)
    for n in (1, 2, 3):
        fake.add("octo/app", n, blocked_by=list(range(100, 160)))
    fake.install()
    found = fetch(load(), refs(1, 2, 3))
    assert all(len(i.blocked_by) == 60 for i in found)
    assert len(fake.queries()) == 2


def test_each_issue_is_fetched_once_per_run(load: LoadRuntime, fake: FakeGitHub) -> None:
    fake.add("octo/app", 1)
    fake.add("octo/app", 2, blocked_by=[1])
    fake.install()
    rt = load()
    fetch(rt, refs(1, 2))
    fetch(rt, refs(2))
    fetch(rt, refs(1, 2))
    assert len(fake.queries()) == 1
    fetch(rt, refs(1, 2, 3))  # only #3 is new
    assert len(fake.queries()) == 2
    assert "i3: issue(number: 3)" in fake.queries()[1]
    assert "i1: issue" not in fake.queries()[1]


def test_one_tracker_per_configuration_kept_in_its_stash(
    load: LoadRuntime, fake: FakeGitHub
) -> None:
    fake.install()
    rt = load()
    tracker = pirun_github.tracker_for(rt.config)
    assert rt.tracker is tracker, "the kernel's tracker and on_success's must be one"
    assert rt.config.stash[pirun_github.TRACKER] is tracker
    other = load()
    assert pirun_github.tracker_for(other.config) is not tracker
    closed = []
    other_tracker = pirun_github.tracker_for(other.config)
    other_tracker.client.close = lambda: closed.append(True)
    del other, other_tracker
    gc.collect()
    assert closed == [True], "a configuration's tracker is closed when it goes"


def test_github_makes_no_tracker_when_another_is_configured(
    repo, gh_env, fake: FakeGitHub
) -> None:
    from pirun.runtime import Runtime

    repo.write_config(tracker="local", github={"repo": "octo/app", "api_url": fake.api_url})
    rt = Runtime.load(repo.path)
    assert "github" in rt.trackers.names()
    assert pirun_github.TRACKER not in rt.config.stash, "only the chosen factory is called"
    assert fake.server.log == []


def test_bad_issue_data_names_the_issue(load: LoadRuntime, httpserver: HTTPServer) -> None:
    answer = fixture("graphql_three_issues.json")
    del answer["data"]["r0"]["i2"]["title"]
    httpserver.expect_request("/graphql", method="POST").respond_with_json(answer)
    with pytest.raises(TrackerError) as info:
        fetch(load(), refs(1, 2, 3))
    assert str(info.value) == (
        "GitHub returned malformed data for issue #2: missing or invalid 'title'"
    )


def test_bad_blocker_data_names_the_issue(load: LoadRuntime, httpserver: HTTPServer) -> None:
    answer = fixture("graphql_three_issues.json")
    answer["data"]["r0"]["i3"]["blockedBy"]["nodes"][1]["repository"] = None
    httpserver.expect_request("/graphql", method="POST").respond_with_json(answer)
    with pytest.raises(TrackerError, match=r"malformed data for issue #3 \(blockedBy\)"):
        fetch(load(), refs(1, 2, 3))


def test_issue_missing_without_an_error_is_malformed(
    load: LoadRuntime, httpserver: HTTPServer
) -> None:
    answer = fixture("graphql_three_issues.json")
    del answer["data"]["r0"]["i3"]
    httpserver.expect_request("/graphql", method="POST").respond_with_json(answer)
    with pytest.raises(TrackerError, match=r"^GitHub returned no data for issue #3$"):
        fetch(load(), refs(1, 2, 3))


def test_blocking_lists_fill_in_the_other_side(load: LoadRuntime, httpserver: HTTPServer) -> None:
    # #1 says it blocks #2 while #2's own list lags behind: #2 is still blocked by #1.
    answer = fixture("graphql_three_issues.json")
    answer["data"]["r0"]["i2"]["blockedBy"] = {
        "totalCount": 0, "pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": []
    }
    httpserver.expect_request("/graphql", method="POST").respond_with_json(answer)
    two = {i.key: i for i in fetch(load(), refs(1, 2, 3))}["2"]
    assert two.blocked_by == (Blocker("1", "Set up CI", IssueState.OPEN),)


def test_an_issue_closed_as_not_planned_is_not_done(load: LoadRuntime, fake: FakeGitHub) -> None:
    fake.add("octo/app", 12, "Old API", state="CLOSED", state_reason="NOT_PLANNED")
    fake.add("octo/app", 13, "Use the old API", blocked_by=[12])
    fake.add("octo/app", 14, "Finished", state="CLOSED")
    fake.install()
    found = {issue.key: issue for issue in fetch(load(), refs(12, 13, 14))}
    assert found["12"].state is IssueState.NOT_PLANNED
    assert found["14"].state is IssueState.CLOSED, "closed as completed is done"
    (blocker,) = found["13"].blocked_by
    assert blocker.state is IssueState.NOT_PLANNED, blocker
    assert "stateReason" in fake.queries()[0]
