"""A blocker closed as not planned is not done: its dependents do not start on work
that will never exist."""

from __future__ import annotations

import json
from typing import Any


def configure(repo: Any) -> None:
    repo.write_config(backend="process", agent={"preset": "demo"})
    repo.add_issue(12, "Build the old API", state="not_planned")
    repo.add_issue(13, "Use the old API", blocked_by=[12])
    repo.add_issue(14, "Done before", state="closed")
    repo.add_issue(15, "Builds on done work", blocked_by=[14])


def test_a_dependent_of_a_not_planned_blocker_is_skipped_saying_why(
    repo: Any, pirun: Any
) -> None:
    configure(repo)
    result = pirun("batch", "13", "15", "--json", env={"PIRUN_DEMO_DELAY": "0"})
    assert result.exit_code == 1, result.stderr
    items = {i["issue"]: i for i in json.loads(result.stdout)["results"]}
    assert (items[13]["state"], items[13]["message"]) == (
        "skipped", "blocked by #12 (closed as not planned)"
    ), items[13]
    assert items[15]["state"] == "complete", "a blocker closed as done held its dependent"


def test_ignore_blockers_runs_it_anyway(repo: Any, pirun: Any) -> None:
    configure(repo)
    result = pirun("batch", "13", "--ignore-blockers", "--json", env={"PIRUN_DEMO_DELAY": "0"})
    assert result.exit_code == 0, result.stderr
    (item,) = json.loads(result.stdout)["results"]
    assert item["state"] == "complete"


def test_run_refuses_naming_the_not_planned_blocker(repo: Any, pirun: Any) -> None:
    configure(repo)
    result = pirun("run", "13", "--no-attach")
    assert result.exit_code == 2, result.stderr
    assert "#12: Build the old API (closed as not planned)" in result.stderr
