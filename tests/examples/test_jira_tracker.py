"""The Jira example (examples/pirun-jira), installed as a third-party plugin is, against
a fake Jira speaking REST v3: keys like `PROJ-1` from the command line to the summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import install_example

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pirun-jira"
EMAIL, TOKEN = "agent@example.com", "jira-secret-token-4711"


@pytest.fixture(scope="session")
def jira_plugin() -> Any:
    """The example installed the way a user would (editable, so it follows the source)."""
    install_example("pirun_jira_fake", EXAMPLE, editable=True)
    import pirun_jira_fake

    return pirun_jira_fake


ISSUES = [
    ("PROJ-1", "Add a health check", []),
    ("PROJ-2", "Show the health check", ["PROJ-1"]),
    ("PROJ-3", "Alert on a failing health check", ["PROJ-2"]),
]


@pytest.fixture
def fake_jira(jira_plugin: Any, httpserver: Any) -> Any:
    issues = [
        jira_plugin.make_issue(key, title, blocked_by=blockers,
                               description=f"Work on {title.lower()}.")
        for key, title, blockers in ISSUES
    ]
    return jira_plugin.serve_issues(httpserver, issues, credentials=(EMAIL, TOKEN))


def _configure(repo: Any, tracker: dict[str, Any]) -> None:
    repo.write_config(backend="process", agent={"preset": "demo"}, **tracker)


def _summary(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(("Layer ", "Summary:"))]


ENV = {"JIRA_EMAIL": EMAIL, "JIRA_API_TOKEN": TOKEN, "PIRUN_DEMO_DELAY": "0.1"}


def test_dry_run_layers_jira_issues_by_their_blocks_links(repo, pirun, fake_jira, httpserver):
    _configure(repo, {"tracker": "jira", "jira": {"url": httpserver.url_for("/").rstrip("/")}})

    result = pirun("batch", "PROJ-1", "proj-2", "PROJ-3", "--dry-run", env=ENV)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["Layer 0: PROJ-1", "Layer 1: PROJ-2", "Layer 2: PROJ-3"]


def test_a_jira_batch_ends_as_the_same_batch_on_the_local_tracker(
    repo, pirun, fake_jira, httpserver
):
    _configure(repo, {"tracker": "jira", "jira": {"url": httpserver.url_for("/").rstrip("/")}})
    jira = pirun("batch", "PROJ-1", "PROJ-2", "PROJ-3", env=ENV, timeout=120)
    assert jira.exit_code == 0, jira.stderr
    assert TOKEN not in jira.stdout + jira.stderr, "the Jira token was printed"
    status = pirun("status", "PROJ-3", "--json", env=ENV)
    assert '"issue": "PROJ-3"' in status.stdout, status.stdout
    assert (repo.path / ".worktrees" / "issue-PROJ-3--alert-on-a-failing-health-check").is_dir()
    pirun("cleanup", "--all", "--force", env=ENV)

    for key, title, blockers in ISSUES:
        repo.add_issue(key, title, blocked_by=blockers)  # type: ignore[arg-type]
    _configure(repo, {"tracker": "local"})
    local = pirun("batch", "PROJ-1", "PROJ-2", "PROJ-3", env=ENV, timeout=120)

    assert local.exit_code == 0, local.stderr
    assert _summary(jira.stdout) == _summary(local.stdout), "Jira and local batches differ"
    assert "Summary: 3 complete, 0 failed, 0 skipped" in jira.stdout


def test_jira_credentials_are_needed_to_fetch_not_to_read_status(
    repo, pirun, fake_jira, httpserver
):
    _configure(repo, {"tracker": "jira", "jira": {"url": httpserver.url_for("/").rstrip("/")}})

    status = pirun("status", "PROJ-1", env={"JIRA_EMAIL": "", "JIRA_API_TOKEN": ""})
    run = pirun("run", "PROJ-1", "--no-attach", env={"JIRA_EMAIL": "", "JIRA_API_TOKEN": ""})

    assert "Issue PROJ-1: no status recorded" in status.stderr, status.stderr
    assert run.exit_code != 0 and "set JIRA_EMAIL and JIRA_API_TOKEN" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr, run.stderr


def test_the_example_s_own_suite_passes_conformance_included(jira_plugin: Any) -> None:
    # Run as its author runs it, with its own pytest.ini (its TrackerContract too).
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-c",
         str(EXAMPLE / "pytest.ini"), str(EXAMPLE / "tests")],
        cwd=EXAMPLE, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "test_contract.py::TestJiraTracker::" in result.stdout, (
        "the example no longer runs pirun's tracker contract"
    )
