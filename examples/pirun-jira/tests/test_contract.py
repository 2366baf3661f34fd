"""pirun's tracker conformance suite, run against the Jira tracker and the fake Jira:
what pirun expects of every tracker, checked the way any third-party plugin checks it."""

from __future__ import annotations

from typing import Any

import pytest
from pirun.testing import (
    BLOCKED_TITLE,
    CLOSED_TITLE,
    OPEN_BODY,
    OPEN_TITLE,
    ContractProject,
    TrackerContract,
)

from pirun_jira_fake import make_issue, serve_issues

from .conftest import EMAIL, TOKEN


class TestJiraTracker(TrackerContract):
    @pytest.fixture
    def contract_project(
        self, httpserver: Any, pirun_runtime: Any, monkeypatch: pytest.MonkeyPatch
    ) -> ContractProject:
        serve_issues(httpserver, [
            make_issue("PROJ-1", OPEN_TITLE, description=OPEN_BODY),
            make_issue("PROJ-2", BLOCKED_TITLE, blocked_by=["PROJ-1"]),
            make_issue("PROJ-3", CLOSED_TITLE, category="done", status="Done",
                       resolution="Done"),
        ], credentials=(EMAIL, TOKEN), unknown_keys="omit")
        monkeypatch.setenv("JIRA_EMAIL", EMAIL)
        monkeypatch.setenv("JIRA_API_TOKEN", TOKEN)
        rt = pirun_runtime(tracker="jira", jira={"url": httpserver.url_for("/").rstrip("/")})
        return ContractProject(
            rt.tracker, owner=rt, open_key="PROJ-1", blocked_key="PROJ-2",
            closed_key="PROJ-3", missing_key="PROJ-404",
            spellings=(("proj-1", "PROJ-1"), (" Proj-2 ", "PROJ-2")),
            not_keys=("", "   ", "42", "#42", "PROJ", "PROJ-", "two words", "PROJ-1-2"),
        )


def test_an_issue_closed_as_won_t_do_is_not_planned(
    httpserver: Any, pirun_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pirun.api import IssueState

    serve_issues(httpserver, [
        make_issue("PROJ-5", "Dropped", category="done", status="Closed", resolution="Won't Do"),
        make_issue("PROJ-6", "Shipped", category="done", status="Done", resolution="Done"),
    ], credentials=(EMAIL, TOKEN))
    monkeypatch.setenv("JIRA_EMAIL", EMAIL)
    monkeypatch.setenv("JIRA_API_TOKEN", TOKEN)
    rt = pirun_runtime(tracker="jira", jira={"url": httpserver.url_for("/").rstrip("/")})
    found = {issue.key: issue.state for issue in rt.tracker.fetch(["PROJ-5", "PROJ-6"])}
    assert found == {"PROJ-5": IssueState.NOT_PLANNED, "PROJ-6": IssueState.CLOSED}


def test_a_selection_is_a_jql_search(
    httpserver: Any, pirun_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pirun.api import Selection, UsageError

    serve_issues(httpserver, [
        make_issue("PROJ-1", "Health check", labels=["agent-ready"]),
        make_issue("PROJ-2", "Health page", labels=["agent-ready", "ui"]),
        make_issue("PROJ-3", "Alerting", labels=["agent-ready"], category="done",
                   status="Done", resolution="Done"),
        make_issue("OPS-4", "Runbook", labels=["docs"]),
    ], credentials=(EMAIL, TOKEN))
    monkeypatch.setenv("JIRA_EMAIL", EMAIL)
    monkeypatch.setenv("JIRA_API_TOKEN", TOKEN)
    rt = pirun_runtime(tracker="jira", jira={"url": httpserver.url_for("/").rstrip("/")})
    select = rt.tracker.select
    assert select(Selection(labels=("agent-ready",))) == ["PROJ-1", "PROJ-2"]
    assert select(Selection(labels=("agent-ready", "ui"))) == ["PROJ-2"]
    assert select(Selection(query="project = OPS")) == ["OPS-4"]
    assert select(Selection(query="statusCategory = Done")) == ["PROJ-3"]
    assert select(Selection(labels=("agent-ready",), limit=1)) == ["PROJ-1"]
    with pytest.raises(UsageError, match="Jira has no milestones"):
        select(Selection(milestone="v2"))
