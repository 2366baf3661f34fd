"""Choosing the batch from the backlog: `--label`, `--milestone`, `--query`, `--limit`,
with the local tracker's `field:value` query language."""

from __future__ import annotations

import json
from typing import Any

import pytest

DEMO = {"PIRUN_DEMO_DELAY": "0"}

BACKLOG = [
    # key, title, front matter
    (1, "Add a health check", {"labels": ["agent-ready"], "milestone": "v2"}),
    (2, "Show the health check", {"labels": ["agent-ready", "ui"], "blocked_by": [1]}),
    (3, "Alert on failures", {"labels": ["agent-ready"], "state": "closed"}),
    (4, "Write the docs", {"labels": ["docs"], "milestone": "v2"}),
    (5, "Refactor the health module", {"milestone": "version 3", "parent": 40}),
]


@pytest.fixture
def backlog(repo: Any) -> Any:
    repo.write_config(backend="process", agent={"preset": "demo"})
    issues = repo.path / ".pirun" / "issues"
    issues.mkdir(parents=True, exist_ok=True)
    for key, title, front in BACKLOG:
        lines = [f"title: {title}"] + [f"{name}: {json.dumps(value)}"
                                       for name, value in front.items()]
        (issues / f"{key}.md").write_text("---\n" + "\n".join(lines) + "\n---\nWork.\n")
    return repo


def dry_run(pirun: Any, *args: str) -> dict[str, Any]:
    result = pirun("batch", *args, "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(("args", "selected"), [
    (["--label", "agent-ready"], [1, 2]),                     # #3 is closed
    (["--label", "agent-ready", "--label", "ui"], [2]),        # every label
    (["--milestone", "v2"], [1, 4]),
    (["--query", "state:closed"], [3]),
    (["--query", 'milestone:"version 3" parent:40'], [5]),
    (["--query", "health"], [1, 2, 5]),                        # words of the title
    (["--query", "health check label:agent-ready"], [1, 2]),
    (["--label", "agent-ready", "--limit", "1"], [1]),
])
def test_a_selection_picks_the_issues_it_describes(
    backlog: Any, pirun: Any, args: list[str], selected: list[int]
) -> None:
    assert dry_run(pirun, *args)["selected"] == selected


def test_selected_issues_join_the_keys_given_and_are_layered(backlog: Any, pirun: Any) -> None:
    plan = dry_run(pirun, "4", "--label", "agent-ready")
    assert plan["selected"] == [1, 2]
    assert plan["layers"] == [[1, 4], [2]]


def test_the_dry_run_says_what_was_selected_and_why(backlog: Any, pirun: Any) -> None:
    result = pirun("batch", "--label", "agent-ready", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        "Selected 2 by label:agent-ready: #1, #2", "Layer 0: #1", "Layer 1: #2",
    ]


def test_a_selected_batch_runs(backlog: Any, pirun: Any) -> None:
    result = pirun("batch", "--milestone", "v2", "--json", env=DEMO)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert {i["issue"]: i["state"] for i in data["results"]} == {1: "complete", 4: "complete"}


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--label", "nope"], 1, "Error: no issue matches label:nope"),
    (["--query", "state:done"], 3, "state must be open, closed or not_planned"),
    (["--query", 'milestone:"v2'], 3, "No closing quotation"),
    (["1", "--limit", "2"], 3, "--limit takes a positive number and goes with a selection"),
    (["--label", "docs", "--limit", "0"], 3, "--limit takes a positive number"),
])
def test_a_bad_or_empty_selection_is_one_line(
    backlog: Any, pirun: Any, args: list[str], code: int, message: str
) -> None:
    result = pirun("batch", *args, "--dry-run")
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


# A tracker with keys and issues but no `select`, as a third party may write one.
KEYS_ONLY_TRACKER = """
from pirun.api import Issue, hookimpl

class KeysOnly:
    name = "keys-only"
    def parse_key(self, text):
        return text.strip() if text.strip().isdigit() else None
    def fetch(self, keys):
        return [Issue(key, f"Issue {key}") for key in keys]
    def close(self):
        pass

@hookimpl
def pirun_register_trackers(register):
    register("keys-only", lambda config: KeysOnly())
"""


def test_a_tracker_that_cannot_select_says_so(repo: Any, pirun: Any) -> None:
    (repo.path / "keys_only.py").write_text(KEYS_ONLY_TRACKER)
    repo.write_config(tracker="keys-only", plugins=["keys_only.py"], backend="process")
    result = pirun("batch", "--label", "agent-ready", "--dry-run")
    assert result.exit_code == 3, result.stderr
    assert result.stderr.strip() == (
        "Error: the keys-only tracker cannot select issues by label, milestone or query; "
        "give the issue keys"
    )
    assert pirun("batch", "1", "--dry-run").stdout.strip() == "Layer 0: #1"


def test_batch_help_lists_the_selection_options(pirun: Any) -> None:
    shown = pirun("batch", "--help", env={"COLUMNS": "80"}).stdout
    assert [option for option in ("--label", "--milestone", "--query", "--limit")
            if option not in shown] == []
