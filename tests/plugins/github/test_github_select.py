"""`pirun batch --label/--milestone/--query` on GitHub: one search request per 100
issues, then the usual batched fetch, against a fake speaking GitHub's search shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakegithub import TOKEN, FakeGitHub, LoadRuntime

from pirun.model import Selection

PLUGINS = "github,textdeps,worktree,process,jsonstatus,markers,agents"
ENV = {"GH_TOKEN": TOKEN, "GITHUB_TOKEN": "", "PIRUN_PLUGINS": PLUGINS}


def backlog(fake: FakeGitHub) -> FakeGitHub:
    fake.add("octo/app", 1, "Add a health check", labels=["agent-ready"], milestone="v2")
    fake.add("octo/app", 2, "Show the health check", labels=["agent-ready", "good first"],
             blocked_by=[1])
    fake.add("octo/app", 3, "Alert on failures", labels=["agent-ready"], state="CLOSED")
    fake.add("octo/app", 4, "Write the docs", labels=["docs"], milestone="v2")
    fake.add("other/lib", 9, "Upstream health", labels=["agent-ready"])
    return fake.install()


@pytest.mark.parametrize(("selection", "keys"), [
    (Selection(labels=("agent-ready",)), ["1", "2"]),
    (Selection(labels=("good first",)), ["2"]),        # a label with a space, quoted
    (Selection(milestone="v2"), ["1", "4"]),
    (Selection(query="is:closed"), ["3"]),
    (Selection(query="health"), ["1", "2"]),           # only the configured repository
    (Selection(labels=("agent-ready",), limit=1), ["1"]),
])
def test_a_selection_is_a_github_search(
    load: LoadRuntime, fake: FakeGitHub, selection: Selection, keys: list[str]
) -> None:
    backlog(fake)
    assert load().tracker.select(selection) == keys


def test_the_search_stays_in_the_repository_and_open_unless_told(
    load: LoadRuntime, fake: FakeGitHub
) -> None:
    tracker = load().tracker
    assert tracker.search_text(Selection(labels=("good first",), query="health")) == (
        'repo:octo/app is:issue is:open label:"good first" health'
    )
    assert tracker.search_text(Selection(query="is:closed")) == "repo:octo/app is:issue is:closed"


def test_search_pages_are_followed_and_counted(load: LoadRuntime, fake: FakeGitHub) -> None:
    for n in range(1, 8):
        fake.add("octo/app", n, f"Task {n}", labels=["agent-ready"])
    fake.search_page_size = 3
    fake.install()
    keys = load().tracker.select(Selection(labels=("agent-ready",)))
    assert keys == [str(n) for n in range(1, 8)]
    assert len(fake.queries()) == 3, "one request per page of 3"


def test_selecting_and_planning_a_hundred_issues_takes_three_requests(
    repo: Any, pirun: Any, fake: FakeGitHub
) -> None:
    for n in range(1, 101):
        fake.add("octo/app", n, f"Task {n}", labels=["agent-ready"],
                 blocked_by=[n - 1] if n % 10 != 1 else [])
    fake.install()
    repo.write_config(tracker="github", github={"repo": "octo/app", "api_url": fake.api_url})
    result = pirun("batch", "--label", "agent-ready", "--dry-run", "--json", env=ENV)
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["selected"] == list(range(1, 101))
    assert len(plan["layers"]) == 10
    # One search (100 a page), then the issues in batches of the tracker's size.
    assert len(fake.queries()) <= 3, [q[:60] for q in fake.queries()]


def test_a_search_error_is_one_line_without_the_token(
    repo: Any, pirun: Any, httpserver: Any
) -> None:
    httpserver.expect_request("/graphql", method="POST").respond_with_json({
        "data": None,
        "errors": [{"message": f"The listed users cannot be searched ({TOKEN})"}],
    })
    repo.write_config(tracker="github",
                      github={"repo": "octo/app", "api_url": httpserver.url_for("").rstrip("/")})
    result = pirun("batch", "--query", "author:ghost", "--dry-run", env=ENV)
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith("Error: GitHub could not search issues for"), result.stderr
    assert TOKEN not in result.stderr and len(result.stderr.strip().splitlines()) == 1
