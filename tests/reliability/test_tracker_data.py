"""Broken local issue files met by the real CLI: `pirun batch` with one broken issue
among good ones, and `pirun run` of a good issue whose blocker is broken. Each is
one line naming the broken issue and its file, exit 1, and nothing starts.

Every parse error in-process: tests/plugins/local/test_local_tracker.py. GitHub
answers with missing fields, wrong types, truncated JSON or HTML pages:
tests/plugins/github/test_github_faults.py and test_github_fetch.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from reliabilityutil import Agent, assert_one_line_error, configure

pytestmark = pytest.mark.reliability

BROKEN: dict[str, tuple[bytes, str]] = {
    "no front matter": (b"Just a body\n", "no front matter"),
    "unclosed": (b"---\ntitle: x\nbody\n", "no front matter"),
    "bad yaml": (b"---\ntitle: [unclosed\n---\n", "front matter is not valid YAML (line 3)"),
    "python tag": (b"---\ntitle: !!python/object/apply:os.system ['touch PWNED']\n---\n",
                   "front matter is not valid YAML"),
    "wrong type": (b"---\ntitle: [1, 2]\n---\n", "'title' must be a string, got list"),
    "bad blocker": (b"---\ntitle: x\nblocked_by: [banana]\n---\n", "blocked_by entry 'banana'"),
    "bad state": (b"---\ntitle: x\nstate: maybe\n---\n", "'state' must be open, closed or"),
    "not utf-8": (b"---\ntitle: caf\xe9\n---\n", "not valid UTF-8 (byte 14)"),
    "empty": (b"", "no front matter"),
}


@pytest.mark.parametrize(("content", "problem"), BROKEN.values(), ids=BROKEN.keys())
def test_broken_issue_file_in_a_batch_names_the_issue(
    repo: Any, pirun: Any, agent: Agent, content: bytes, problem: str
) -> None:
    configure(repo, {"backend": "process"}, agent)
    repo.add_issue(1, "Good")
    repo.add_issue(3, "Good too", blocked_by=[1])
    (repo.path / ".pirun" / "issues" / "2.md").write_bytes(content)

    result = pirun("batch", "1", "2", "3")

    assert_one_line_error(result, 1, "Error: issue #2 (.pirun/issues/2.md): ", problem)
    assert not agent.events("start")
    assert not (repo.path / ".worktrees" / ".status").exists()
    assert sorted(Path(repo.path).rglob("PWNED*")) == []


def test_broken_blocker_file_when_running_one_issue(repo: Any, pirun: Any, agent: Agent) -> None:
    configure(repo, {"backend": "process"}, agent)
    repo.add_issue(1, "Good", blocked_by=[7])
    (repo.path / ".pirun" / "issues" / "7.md").write_bytes(b"---\ntitle: {a: [\n---\n")
    (repo.path / ".pirun" / "issues" / "8.md").mkdir()

    run = pirun("run", "1", "--no-attach")
    dry = pirun("batch", "1", "--dry-run")
    directory = pirun("run", "8", "--no-attach")

    assert_one_line_error(run, 1, "issue #7 (.pirun/issues/7.md): front matter is not valid YAML")
    assert_one_line_error(dry, 1, "issue #7 (.pirun/issues/7.md)")
    assert_one_line_error(directory, 1, "issue #8 (.pirun/issues/8.md): cannot read")
    assert not agent.events("start")
