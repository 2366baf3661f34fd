"""A complete issue whose agent left nothing behind is flagged `complete (no changes)`."""

from __future__ import annotations

import json
import sys
from typing import Any

# Issue 1: nothing. Issue 2: a file left uncommitted. Issue 3: a commit.
AGENT = r"""
import pathlib, subprocess, sys
issue = sys.argv[1]
if issue == "2":
    pathlib.Path("notes.txt").write_text("work in progress\n")
if issue == "3":
    pathlib.Path("done.txt").write_text("done\n")
    subprocess.run(["git", "add", "done.txt"], check=True)
    subprocess.run(["git", "commit", "-q", "-m", "done"], check=True)
"""


def configure_agent(repo: Any, tmp_path: Any) -> None:
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    repo.write_config(backend="process",
                      agent={"command": [sys.executable, str(script), "{issue}"]})
    for n in (1, 2, 3):
        repo.add_issue(n, f"Issue {n}")


def test_json_says_which_complete_issues_left_changes(repo: Any, pirun: Any, tmp_path: Any) -> None:
    configure_agent(repo, tmp_path)
    result = pirun("batch", "1", "2", "3", "--json")
    assert result.exit_code == 0, result.stderr
    items = {item["issue"]: item for item in json.loads(result.stdout)["results"]}
    assert {n: (i["state"], i["changes"]) for n, i in items.items()} == {
        1: ("complete", False), 2: ("complete", True), 3: ("complete", True),
    }


def test_the_summary_shows_a_run_that_did_nothing(repo: Any, pirun: Any, tmp_path: Any) -> None:
    configure_agent(repo, tmp_path)
    result = pirun("batch", "1", "2", "3")
    assert result.exit_code == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()
            if line.startswith("#")}
    assert "complete (no changes)" in rows["#1"], rows
    assert "no changes" not in rows["#2"] and "no changes" not in rows["#3"], rows
    assert "Summary: 3 complete" in result.stdout
