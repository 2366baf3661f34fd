"""Rate limits, server and network faults, bad answers, and keeping the token secret.

Waits are recorded through the tracker's injectable `sleep`, never slept.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
import structlog
from fakegithub import TOKEN, FakeGitHub, LoadRuntime, fixture
from pirun_github.tracker import GitHubTracker
from pytest_httpserver import HTTPServer

from pirun.errors import TrackerError

NOW = 1_700_000_000.0

MakeTracker = Callable[..., tuple[GitHubTracker, list[float]]]


@pytest.fixture
def make_tracker(load: LoadRuntime) -> MakeTracker:
    def make(**github: object) -> tuple[GitHubTracker, list[float]]:
        waits: list[float] = []
        tracker = GitHubTracker.from_config(load(**github).config, sleep=waits.append,
                                            clock=lambda: NOW)
        return tracker, waits

    return make


@pytest.fixture
def server(fake: FakeGitHub) -> FakeGitHub:
    """The fake with issues #1 and #2; add failing one-shot answers before the first fetch."""
    fake.add("octo/app", 1, "One")
    fake.add("octo/app", 2, "Two", blocked_by=[1])
    return fake.install()


def fail_once(httpserver: HTTPServer, status: int, body: object = None, **headers: str) -> None:
    httpserver.expect_oneshot_request("/graphql", method="POST").respond_with_json(
        body if body is not None else {}, status=status, headers=headers
    )


def both() -> list[str]:
    return ["1", "2"]


# -- rate limits ---------------------------------------------------------------------


def test_retry_after_is_honoured(make_tracker: MakeTracker, server: FakeGitHub) -> None:
    fail_once(
        server.server, 403, fixture("error_secondary_rate_limit.json"), **{"Retry-After": "7"}
    )
    tracker, waits = make_tracker()
    assert len(tracker.fetch(both())) == 2
    assert waits == [7.0]
    assert len(server.queries()) == 2


def test_primary_limit_waits_until_reset(make_tracker: MakeTracker, server: FakeGitHub) -> None:
    fail_once(server.server, 403, fixture("error_rate_limit.json"), **{
        "X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0",
        "X-RateLimit-Used": "5000", "X-RateLimit-Reset": str(int(NOW) + 120),
    })
    tracker, waits = make_tracker()
    assert len(tracker.fetch(both())) == 2
    assert waits == [121.0]  # one second past the reset, so the window has surely turned


def test_retry_after_wins_over_reset(make_tracker: MakeTracker, server: FakeGitHub) -> None:
    fail_once(server.server, 429, fixture("error_rate_limit.json"), **{
        "Retry-After": "3", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 500),
    })
    tracker, waits = make_tracker()
    tracker.fetch(both())
    assert waits == [3.0]


def test_secondary_limit_backs_off_exponentially_from_a_minute(
    make_tracker: MakeTracker, server: FakeGitHub
) -> None:
    for _ in range(3):
        fail_once(server.server, 403, fixture("error_secondary_rate_limit.json"))
    tracker, waits = make_tracker()
    assert len(tracker.fetch(both())) == 2
    assert waits == [60.0, 120.0, 240.0]


def test_graphql_rate_limited_error_in_a_200_answer(
    make_tracker: MakeTracker, server: FakeGitHub
) -> None:
    fail_once(server.server, 200, fixture("graphql_rate_limited.json"), **{
        "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 30),
    })
    tracker, waits = make_tracker()
    assert len(tracker.fetch(both())) == 2
    assert waits == [31.0]


def test_rate_limit_that_outlasts_the_retries(
    make_tracker: MakeTracker, server: FakeGitHub
) -> None:
    for _ in range(5):
        fail_once(server.server, 429, fixture("error_secondary_rate_limit.json"))
    tracker, waits = make_tracker(max_retries=2)
    with pytest.raises(TrackerError) as info:
        tracker.fetch(both())
    assert waits == [60.0, 120.0]
    assert str(info.value) == (
        "GitHub secondary rate limit exceeded (HTTP 429) while fetching issues #1, #2, "
        "still after 2 retries: try again later"
    )


def test_a_reset_beyond_max_wait_fails_at_once(
    make_tracker: MakeTracker, server: FakeGitHub
) -> None:
    fail_once(server.server, 403, fixture("error_rate_limit.json"), **{
        "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 3600),
    })
    tracker, waits = make_tracker(max_wait=600)
    with pytest.raises(TrackerError, match=r"resets in about 61 min .*try again later"):
        tracker.fetch(both())
    assert waits == []
    assert len(server.queries()) == 1


def test_forbidden_is_not_a_rate_limit(make_tracker: MakeTracker, server: FakeGitHub) -> None:
    fail_once(server.server, 403, {"message": "Resource not accessible by integration",
                                   "documentation_url": "https://docs.github.com/graphql"})
    tracker, waits = make_tracker()
    with pytest.raises(TrackerError, match="Resource not accessible by integration"):
        tracker.fetch(both())
    assert waits == []


# -- server and network faults ------------------------------------------------------------


def test_5xx_is_retried_then_succeeds(make_tracker: MakeTracker, server: FakeGitHub) -> None:
    fail_once(server.server, 502, {"message": "Server Error"})
    fail_once(server.server, 503, {"message": "Service Unavailable"})
    tracker, waits = make_tracker()
    assert len(tracker.fetch(both())) == 2
    assert waits == [1.0, 2.0]
    assert len(server.queries()) == 3


def test_5xx_gives_up_after_max_retries(make_tracker: MakeTracker, server: FakeGitHub) -> None:
    for _ in range(10):
        fail_once(server.server, 502, {"message": "Server Error"})
    tracker, waits = make_tracker(max_retries=3)
    with pytest.raises(TrackerError) as info:
        tracker.fetch(both())
    assert str(info.value) == (
        "GitHub answered HTTP 502 while fetching issues #1, #2 (gave up after 4 attempts)"
    )
    assert waits == [1.0, 2.0, 4.0]


def test_network_errors_are_retried(load: LoadRuntime) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    waits: list[float] = []
    config = load(api_url=f"http://127.0.0.1:{port}", max_retries=2).config
    tracker = GitHubTracker.from_config(config, sleep=waits.append)
    with pytest.raises(TrackerError) as info:
        tracker.fetch(["1"])
    message = str(info.value)
    assert message.startswith(f"cannot reach GitHub at http://127.0.0.1:{port}: ")
    assert message.endswith("while fetching issue #1 (gave up after 3 attempts)")
    assert "\n" not in message
    assert waits == [1.0, 2.0]


def test_401_says_authentication_failed(load: LoadRuntime, server: FakeGitHub,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GH_TOKEN", "ghp_wrong")
    rt = load()
    with pytest.raises(TrackerError) as info:
        rt.fetch_issues(both())
    assert str(info.value).startswith("GitHub authentication failed")
    assert info.value.exit_code == 1
    assert len(server.queries()) == 1  # no retry


def test_html_error_page(make_tracker: MakeTracker, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/graphql").respond_with_data(
        "<!DOCTYPE html><html><body><h1>Unicorn!</h1></body></html>", status=200,
        content_type="text/html; charset=utf-8",
    )
    tracker, _ = make_tracker()
    with pytest.raises(TrackerError) as info:
        tracker.fetch(both())
    assert str(info.value) == (
        "GitHub returned an HTML page instead of JSON (HTTP 200) while fetching issues #1, #2"
    )


def test_truncated_json(make_tracker: MakeTracker, httpserver: HTTPServer) -> None:
    body = '{"data": {"r0": {"i1": {"number": 1, "title": "On'
    httpserver.expect_request("/graphql").respond_with_data(body, content_type="application/json")
    tracker, _ = make_tracker()
    with pytest.raises(TrackerError) as info:
        tracker.fetch(both())
    assert str(info.value) == (
        "GitHub returned invalid or truncated JSON (HTTP 200) while fetching issues #1, #2"
    )


def test_other_graphql_errors_fail_in_one_line(
    make_tracker: MakeTracker, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/graphql").respond_with_json({"errors": [{
        "message": "Parse error on \"}\" (RCURLY)\nat [3, 1]",
        "locations": [{"line": 3, "column": 1}],
    }]})
    tracker, _ = make_tracker()
    with pytest.raises(TrackerError) as info:
        tracker.fetch(both())
    assert str(info.value) == (
        'GitHub GraphQL error while fetching issues #1, #2: Parse error on "}" (RCURLY) at [3, 1]'
    )


# -- secrets ------------------------------------------------------------------------------


def test_token_never_reaches_logs_or_errors(
    make_tracker: MakeTracker, httpserver: HTTPServer
) -> None:
    # A hostile or buggy server echoing the token back, through every error path.
    fail_once(httpserver, 502, {"message": f"upstream rejected {TOKEN}"})
    fail_once(httpserver, 403, {"message": f"Bad token {TOKEN}: rate limit"})
    fail_once(httpserver, 403, {"message": f"token {TOKEN} lacks the repo scope"})
    httpserver.expect_request("/graphql").respond_with_json(
        {"errors": [{"message": f"no access for {TOKEN}", "path": ["r0", "i1"],
                     "type": "FORBIDDEN"}]}
    )
    tracker, _ = make_tracker()
    messages = []
    with structlog.testing.capture_logs() as logs:
        for _ in range(2):
            with pytest.raises(TrackerError) as info:
                tracker.fetch(both())
            messages.append(str(info.value))
            messages.append(repr(info.value))
    assert logs, "the retries were logged"
    assert "[token]" in messages[0]
    assert all(TOKEN not in m for m in messages)
    assert TOKEN not in repr(logs)
    assert TOKEN not in repr(tracker.client)
