"""Issue keys of the GitHub tracker: `42` here, `owner/name#7` in another repository."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakegithub import FakeGitHub, LoadRuntime
from pirun_github.tracker import GitHubTracker

from pirun.errors import UsageError
from pirun.model import Blocker, IssueState

HERE = "owner/this-repo"


def no_client() -> None:
    raise AssertionError("parse_key must not need a client")


@pytest.fixture
def tracker() -> GitHubTracker:
    return GitHubTracker(HERE, no_client)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("42", "42"),
        ("#42", "42"),
        (" 42 ", "42"),
        ("042", "42"),
        ("owner/this-repo#42", "42"),
        ("Owner/This-Repo#42", "42"),
        ("OWNER/THIS-REPO#42", "42"),
        ("other/repo#7", "other/repo#7"),
        ("other/repo#007", "other/repo#7"),
        # One issue, one key: GitHub names are case-insensitive.
        ("Other/Repo#7", "other/repo#7"),
    ],
)
def test_parse_key(tracker: GitHubTracker, text: str, key: str) -> None:
    assert tracker.parse_key(text) == key


@pytest.mark.parametrize(
    "text",
    ["0", "#0", "abc", "PROJ-1", "", " ", "#", "other/repo#0", "other/repo#", "a/b/c#3",
     "../..#3", "owner#3", "4 2", "-1", "#-1", "\u0661"],
)
def test_not_keys(tracker: GitHubTracker, text: str) -> None:
    assert tracker.parse_key(text) is None


@pytest.mark.parametrize(
    "text", ["42", "#42", "Owner/This-Repo#42", "other/repo#7", "Other/Repo#007", "abc", ""]
)
def test_parse_key_is_idempotent(tracker: GitHubTracker, text: str) -> None:
    key = tracker.parse_key(text)
    assert key is None or tracker.parse_key(key) == key


def test_key_of(tracker: GitHubTracker) -> None:
    assert tracker.key_of("owner/this-repo", 5) == "5"
    assert tracker.key_of("Owner/This-Repo", 5) == "5"
    assert tracker.key_of("other/repo", 7) == "other/repo#7"
    assert tracker.key_of("Other/Repo", 7) == "other/repo#7"


def test_parsing_a_key_needs_no_token_and_no_request(
    load: LoadRuntime, fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # `pirun status 42` parses its argument through the tracker: no token, no `gh`.
    fake.install()
    rt = load(repo=HERE)
    monkeypatch.delenv("GH_TOKEN")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert rt.parse_key("#42") == "42"
    assert rt.require_key("Owner/This-Repo#42") == "42"
    with pytest.raises(UsageError, match=r"^not an issue key of the github tracker: 'PROJ-1'$"):
        rt.require_key("PROJ-1")
    assert fake.server.log == []


@pytest.mark.parametrize("graphql", [True, False], ids=["graphql", "rest"])
def test_cross_repository_blocker_is_keyed_owner_name_number(
    load: LoadRuntime, fake: FakeGitHub, graphql: bool
) -> None:
    fake.add(HERE, 5, "Five", blocked_by=[4, ("Other/Repo", 7)])
    fake.add(HERE, 4, "Four", state="CLOSED")
    fake.add("Other/Repo", 7, "Seven")  # GitHub answers with its own spelling
    fake.install()
    rt = load(repo=HERE, graphql=graphql)
    (five,) = rt.tracker.fetch(["5"])
    assert five.key == "5"
    assert five.blocked_by == (
        Blocker("4", "Four", IssueState.CLOSED),
        Blocker("other/repo#7", "Seven", IssueState.OPEN),
    )
    (seven,) = rt.tracker.fetch(["other/repo#7"])
    assert (seven.key, seven.title) == ("other/repo#7", "Seven")


def test_one_issue_asked_two_ways_is_one_fetch(load: LoadRuntime, fake: FakeGitHub) -> None:
    fake.add(HERE, 5, "Five")
    fake.install()
    rt = load(repo=HERE)
    found = rt.tracker.fetch(["Owner/This-Repo#5", "5"])
    assert [(issue.key, issue.title) for issue in found] == [
        ("Owner/This-Repo#5", "Five"), ("5", "Five")
    ]
    (query,) = fake.queries()
    assert query.count("issue(number: 5)") == 1
    # Through the kernel both spellings are the one key "5".
    keys = {rt.require_key("Owner/This-Repo#5"), rt.require_key("5")}
    assert keys == {"5"}
    assert rt.fetch_issue("5").title == "Five"
    assert len(fake.queries()) == 1


def test_keys_of_another_tracker_are_left_out(load: LoadRuntime, fake: FakeGitHub) -> None:
    fake.add("octo/app", 1, "One")
    fake.install()
    found = load().tracker.fetch(["1", "PROJ-1", "login-page"])
    assert [issue.key for issue in found] == ["1"]
    (query,) = fake.queries()
    assert query.count("issue(number:") == 1


def test_another_repository_spelled_two_ways_is_one_blocker(
    load: LoadRuntime, fake: FakeGitHub
) -> None:
    # GitHub reports the repository as Other/Lib; the body names it other/lib.
    from pirun.blockers import blockers_of

    fake.add("octo/app", 44, "Top", blocked_by=[("Other/Lib", 7)],
             body="Depends on other/lib#7 and OTHER/LIB#7")
    fake.add("Other/Lib", 7, "Upstream")
    fake.install()
    rt = load()
    top = rt.fetch_issue("44")
    assert [b.key for b in top.blocked_by] == ["other/lib#7"]
    assert [b.describe() for b in blockers_of(rt, [top])["44"]] == [
        "other/lib#7: Upstream (OPEN)"
    ]
    assert len(fake.queries()) == 1
