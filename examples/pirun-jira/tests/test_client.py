"""JiraClient against pytest-httpserver, answering in the shapes of fixtures/README.md."""

from __future__ import annotations

import base64
import json
import socket
import time

import pytest
from werkzeug import Request, Response

from pirun_jira.client import SEARCH_PATH, JiraClient, JiraError, normalize_key, parse_retry_after

from .conftest import EMAIL, TOKEN, load

FIELDS = ["summary", "status"]


def bodies(httpserver) -> list[dict]:  # type: ignore[no-untyped-def]
    return [json.loads(req.get_data(as_text=True)) for req, _ in httpserver.log]


def test_search_follows_next_page_token_across_three_pages(httpserver, client):
    base = {"jql": "project = ABC", "fields": FIELDS, "maxResults": 2}
    httpserver.expect_ordered_request(SEARCH_PATH, method="POST", json=base).respond_with_json(
        load("search_page_1.json"))
    httpserver.expect_ordered_request(
        SEARCH_PATH, method="POST", json={**base, "nextPageToken": "CAEaAggD"}
    ).respond_with_json(load("search_page_2.json"))
    httpserver.expect_ordered_request(
        SEARCH_PATH, method="POST", json={**base, "nextPageToken": "CAEaAggF"}
    ).respond_with_json(load("search_page_3.json"))

    issues = client.search("project = ABC", FIELDS, max_results=2)

    assert [i["key"] for i in issues] == ["ABC-1", "ABC-2", "ABC-3", "ABC-4", "ABC-5"]
    httpserver.check_assertions()
    assert len(httpserver.log) == 3


def test_basic_auth_is_email_and_token(httpserver, client):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(load("search_page_3.json"))
    client.search("project = ABC", FIELDS)
    header = httpserver.log[0][0].headers["Authorization"]
    assert header == "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()


def test_a_repeated_token_or_empty_page_ends_pagination(httpserver, client):
    looping = {"issues": [{"id": "1", "key": "ABC-1", "fields": {}}], "nextPageToken": "same"}
    httpserver.expect_request(SEARCH_PATH).respond_with_json(looping)
    assert [i["key"] for i in client.search("project = ABC", FIELDS)] == ["ABC-1"]
    assert len(httpserver.log) == 2  # the second page repeats the token: stop


def test_many_keys_are_fetched_in_one_request(httpserver, client):
    httpserver.expect_request(SEARCH_PATH, method="POST").respond_with_json(
        load("search_by_key.json"))

    issues = client.issues_by_key(["abc-7", "ABC-8", "xyz-2", "ABC-7", "not a key"], FIELDS)

    assert [i["key"] for i in issues] == ["ABC-7", "ABC-8", "XYZ-2"]
    assert len(httpserver.log) == 1
    sent = bodies(httpserver)[0]
    assert sent["jql"] == "key in (ABC-7, ABC-8, XYZ-2)"
    assert sent["fields"] == FIELDS
    assert sent["maxResults"] == 3


def test_keys_are_chunked(httpserver, client):
    httpserver.expect_request(SEARCH_PATH).respond_with_json({"issues": [], "isLast": True})
    client.issues_by_key([f"ABC-{n}" for n in range(1, 6)], FIELDS, chunk_size=2)
    assert [b["jql"] for b in bodies(httpserver)] == [
        "key in (ABC-1, ABC-2)", "key in (ABC-3, ABC-4)", "key in (ABC-5)",
    ]


def test_a_missing_key_named_by_a_400_is_dropped_and_the_rest_asked_again(httpserver, client):
    httpserver.expect_ordered_request(
        SEARCH_PATH, json={"jql": "key in (ABC-7, ABC-404, ABC-8)", "fields": FIELDS,
                           "maxResults": 3},
    ).respond_with_json(load("error_missing_key.json"), status=400)
    httpserver.expect_ordered_request(
        SEARCH_PATH, json={"jql": "key in (ABC-7, ABC-8)", "fields": FIELDS, "maxResults": 2},
    ).respond_with_json({"issues": load("search_by_key.json")["issues"][:2], "isLast": True})

    issues = client.issues_by_key(["ABC-7", "ABC-404", "ABC-8"], FIELDS)

    assert [i["key"] for i in issues] == ["ABC-7", "ABC-8"]
    httpserver.check_assertions()


def test_a_missing_key_jira_just_leaves_out_is_left_out(httpserver, client):
    # The other observed behaviour of the enhanced search: no error, fewer issues.
    httpserver.expect_request(SEARCH_PATH).respond_with_json(
        {"issues": load("search_by_key.json")["issues"][:1], "isLast": True})
    assert [i["key"] for i in client.issues_by_key(["ABC-7", "ABC-404"], FIELDS)] == ["ABC-7"]


def test_a_400_naming_no_key_is_bisected_to_the_culprit(httpserver, client):
    by_key = {i["key"]: i for i in load("search_by_key.json")["issues"]}

    def handler(request: Request) -> Response:
        jql = json.loads(request.get_data(as_text=True))["jql"]
        keys = jql[len("key in ("):-1].split(", ")
        if "ABC-404" in keys:
            body = {"errorMessages": ["Error in the JQL Query: the query could not be completed."],
                    "errors": {}}
            return Response(json.dumps(body), status=400, content_type="application/json")
        issues = [by_key[k] for k in keys if k in by_key]
        return Response(json.dumps({"issues": issues, "isLast": True}),
                        content_type="application/json")

    httpserver.expect_request(SEARCH_PATH).respond_with_handler(handler)
    issues = client.issues_by_key(["ABC-7", "ABC-8", "XYZ-2", "ABC-404"], FIELDS)
    assert sorted(i["key"] for i in issues) == ["ABC-7", "ABC-8", "XYZ-2"]
    assert len(httpserver.log) <= 6


def test_a_400_refusing_every_key_unnamed_is_raised(httpserver, client):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(
        {"errorMessages": ["Invalid request payload. Refer to the REST API documentation and "
                           "try again."]}, status=400)
    with pytest.raises(JiraError, match=r"HTTP 400.*Invalid request payload") as info:
        client.issues_by_key(["ABC-1", "ABC-2", "ABC-3"], FIELDS)
    assert info.value.status == 400


def test_401_is_one_readable_line(httpserver, client):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(load("error_401.json"), status=401)
    with pytest.raises(JiraError) as info:
        client.search("project = ABC", FIELDS)
    message = str(info.value)
    assert message.startswith("Jira authentication failed (HTTP 401)")
    assert "JIRA_API_TOKEN" in message
    assert "\n" not in message
    assert info.value.status == 401


def test_403_and_404_explain_themselves(httpserver, client):
    httpserver.expect_ordered_request(SEARCH_PATH).respond_with_json(
        {"errorMessages": ["You do not have permission to browse projects."], "errors": {}},
        status=403)
    httpserver.expect_ordered_request(SEARCH_PATH).respond_with_data("Not Found", status=404)
    with pytest.raises(JiraError, match=r"HTTP 403.*do not have permission"):
        client.search("project = ABC", FIELDS)
    with pytest.raises(JiraError, match=r"HTTP 404.*check the site URL"):
        client.search("project = ABC", FIELDS)


def test_429_with_retry_after_is_retried_after_that_wait(httpserver, client, sleeps):
    httpserver.expect_ordered_request(SEARCH_PATH).respond_with_json(
        {"errorMessages": ["Rate limit exceeded."]}, status=429,
        headers={"Retry-After": "1", "RateLimit-Reason": "jira-quota-based"})
    httpserver.expect_ordered_request(SEARCH_PATH).respond_with_json(load("search_page_3.json"))

    assert [i["key"] for i in client.search("project = ABC", FIELDS)] == ["ABC-5"]
    assert sleeps == [1.0]
    assert len(httpserver.log) == 2


def test_429_really_waits_with_the_default_sleep(httpserver):
    httpserver.expect_ordered_request(SEARCH_PATH).respond_with_data(
        "", status=429, headers={"Retry-After": "1"})
    httpserver.expect_ordered_request(SEARCH_PATH).respond_with_json(load("search_page_3.json"))
    with JiraClient(httpserver.url_for("/"), EMAIL, TOKEN, max_wait=5) as real:
        started = time.monotonic()
        assert len(real.search("project = ABC", FIELDS)) == 1
    assert time.monotonic() - started >= 0.9


def test_retry_after_longer_than_max_wait_fails_at_once(httpserver, client, sleeps):
    httpserver.expect_request(SEARCH_PATH).respond_with_data(
        "", status=429, headers={"Retry-After": "3600"})
    with pytest.raises(JiraError, match=r"rate limit.*about 60 min.*max_wait"):
        client.search("project = ABC", FIELDS)
    assert sleeps == []
    assert len(httpserver.log) == 1


def test_429_without_a_hint_backs_off_exponentially(httpserver, client, sleeps):
    httpserver.expect_request(SEARCH_PATH).respond_with_data("", status=429)
    with pytest.raises(JiraError, match=r"rate limit exceeded \(HTTP 429\).*4 attempts"):
        client.search("project = ABC", FIELDS)
    assert sleeps == [5.0, 10.0, 20.0]


def test_5xx_is_retried_briefly_then_reported(httpserver, client, sleeps):
    httpserver.expect_ordered_request(SEARCH_PATH).respond_with_data("", status=502)
    httpserver.expect_ordered_request(SEARCH_PATH).respond_with_data(
        "", status=503, headers={"Retry-After": "2"})
    httpserver.expect_ordered_request(SEARCH_PATH).respond_with_json(load("search_page_3.json"))
    assert len(client.search("project = ABC", FIELDS)) == 1
    assert sleeps == [1.0, 2.0]


def test_network_errors_are_retried_then_reported(sleeps):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connection refused
    c = JiraClient(f"http://127.0.0.1:{port}", EMAIL, TOKEN, max_retries=2, sleep=sleeps)
    with c, pytest.raises(JiraError, match=r"cannot reach Jira .*gave up after 3 attempts"):
        c.search("project = ABC", FIELDS)
    assert sleeps == [1.0, 2.0]


def test_the_token_never_appears_in_errors(httpserver, sleeps):
    basic = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()

    def echo(request: Request) -> Response:
        # A hostile or buggy proxy echoing the credentials back in its error.
        body = {"errorMessages": [f"bad token {TOKEN}", request.headers["Authorization"]],
                "errors": {"auth": TOKEN}}
        return Response(json.dumps(body), status=400, content_type="application/json")

    httpserver.expect_request(SEARCH_PATH).respond_with_handler(echo)
    with JiraClient(httpserver.url_for("/"), EMAIL, TOKEN, sleep=sleeps) as c:
        for call in (lambda: c.search("project = ABC", FIELDS),
                     lambda: c.issues_by_key(["ABC-1"], FIELDS)):
            with pytest.raises(JiraError) as info:
                call()
            text = str(info.value) + repr(info.value) + " ".join(info.value.messages)
            assert TOKEN not in text
            assert basic not in text
            assert "[redacted]" in text
        assert TOKEN not in repr(c)


def test_the_token_is_not_in_a_401_either(httpserver, client):
    httpserver.expect_request(SEARCH_PATH).respond_with_json(
        {"errorMessages": [f"Basic {TOKEN} rejected"]}, status=401)
    with pytest.raises(JiraError) as info:
        client.search("project = ABC", FIELDS)
    assert TOKEN not in str(info.value) and TOKEN not in " ".join(info.value.messages)


def test_html_instead_of_json_and_redirects_are_readable(httpserver, client):
    httpserver.expect_ordered_request(SEARCH_PATH).respond_with_data(
        "<html>login</html>", content_type="text/html")
    httpserver.expect_ordered_request(SEARCH_PATH).respond_with_data(
        "", status=301, headers={"Location": "https://acme.atlassian.net/rest/api/3/search/jql"})
    with pytest.raises(JiraError, match="an HTML page instead of JSON"):
        client.search("project = ABC", FIELDS)
    with pytest.raises(JiraError, match=r"redirected \(HTTP 301\) to https://acme"):
        client.search("project = ABC", FIELDS)


def test_a_bad_url_is_refused_up_front():
    with pytest.raises(JiraError, match="must be an http"):
        JiraClient("acme.atlassian.net", EMAIL, TOKEN)


@pytest.mark.parametrize(
    ("text", "key"),
    [("proj-12", "PROJ-12"), (" PROJ-12 ", "PROJ-12"), ("AB_2-7", "AB_2-7"), ("PROJ-0", None),
     ("12-3", None), ("PROJ", None), ("PROJ-1x", None), ("#12", None), ("", None)],
)
def test_normalize_key(text, key):
    assert normalize_key(text) == key


def test_parse_retry_after():
    assert parse_retry_after("1") == 1.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0) == 10.0
