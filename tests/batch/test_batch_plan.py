"""`pirun batch` planning: --dry-run layers, cycles, deduplication, exit codes.

Dry runs, cycles and usage errors must start nothing: those tests check that no
worktree directory was created and, under tmux, that no server was started.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from typing import Any

import pytest
from batchutil import SEED, ScriptAgent, add_issues, configure


def assert_nothing_started(repo: Any, backend_config: dict[str, Any], agent: ScriptAgent) -> None:
    assert not (repo.path / ".worktrees").exists()
    assert agent.events() == []
    if backend_config["backend"] == "tmux":
        socket = backend_config["tmux"]["socket_name"]
        listing = subprocess.run(["tmux", "-L", socket, "ls"], capture_output=True, text=True)
        assert listing.returncode != 0, listing.stdout


def test_dry_run_prints_the_seed_layers_and_starts_nothing(
    repo: Any, pirun: Any, agent: ScriptAgent, backend_config: dict[str, Any]
) -> None:
    configure(repo, backend_config, agent)
    add_issues(repo, SEED)

    result = pirun("batch", "42", "43", "44", "45", "46", "--dry-run")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Layer 0: #42, #43\nLayer 1: #44, #45\nLayer 2: #46\n"
    assert_nothing_started(repo, backend_config, agent)


def test_dry_run_layers_do_not_depend_on_argument_order(
    repo: Any, pirun: Any, agent: ScriptAgent
) -> None:
    configure(repo, {"backend": "process"}, agent)
    add_issues(repo, SEED)

    result = pirun("batch", "46", "45", "#44", "43", "42", "--dry-run")

    assert result.stdout.splitlines() == ["Layer 0: #42, #43", "Layer 1: #44, #45", "Layer 2: #46"]


def test_dry_run_diamond(repo: Any, pirun: Any, agent: ScriptAgent) -> None:
    configure(repo, {"backend": "process"}, agent)
    add_issues(repo, {1: [], 2: [1], 3: [1], 4: [2, 3]})

    result = pirun("batch", "4", "3", "2", "1", "--dry-run")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["Layer 0: #1", "Layer 1: #2, #3", "Layer 2: #4"]


def test_dry_run_ignores_closed_blockers_and_blockers_outside_the_batch(
    repo: Any, pirun: Any, agent: ScriptAgent
) -> None:
    configure(repo, {"backend": "process"}, agent)
    repo.add_issue(1, "closed, in the batch", state="closed")
    repo.add_issue(2, "blocked by closed #1", blocked_by=[1])
    repo.add_issue(3, "not in the batch")
    repo.add_issue(4, "blocked by #3 outside", blocked_by=[3])

    result = pirun("batch", "1", "2", "4", "--dry-run")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["Layer 0: #1, #2, #4"]


def test_duplicate_numbers_are_planned_once(repo: Any, pirun: Any, agent: ScriptAgent) -> None:
    configure(repo, {"backend": "process"}, agent)
    add_issues(repo, SEED)

    result = pirun("batch", "42", "43", "42", "#43", "44", "45", "46", "46", "--dry-run")

    assert result.stdout.splitlines() == ["Layer 0: #42, #43", "Layer 1: #44, #45", "Layer 2: #46"]


def test_dry_run_json_plan(repo: Any, pirun: Any, agent: ScriptAgent) -> None:
    configure(repo, {"backend": "process"}, agent)
    add_issues(repo, SEED)

    result = pirun("batch", "42", "43", "44", "45", "46", "42", "--dry-run", "--json")

    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["layers"] == [[42, 43], [44, 45], [46]]
    assert data["dry_run"] is True
    assert not (repo.path / ".worktrees").exists()


CYCLES = {
    "two": ({5: [6], 6: [5]}, ["#5", "#6"]),
    "three": ({7: [9], 8: [7], 9: [8]}, ["#7", "#8", "#9"]),
    "self": ({10: [10]}, ["#10"]),
}


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
@pytest.mark.parametrize("name", list(CYCLES))
def test_cycles_exit_2_name_every_member_and_start_nothing(
    repo: Any, pirun: Any, agent: ScriptAgent, name: str, dry_run: bool
) -> None:
    graph, members = CYCLES[name]
    backend_config = {"backend": "process"}
    configure(repo, backend_config, agent)
    # An independent issue in the same batch must not start either.
    add_issues(repo, {**graph, 1: []})

    args = ["batch", "1", *(str(n) for n in graph)]
    result = pirun(*args, *(["--dry-run"] if dry_run else []))

    assert result.exit_code == 2
    message = re.search(r"Circular dependency: (#\d+(?: -> #\d+)+)", result.stderr)
    assert message, result.stderr
    chain = message.group(1).split(" -> ")
    assert chain[0] == chain[-1]
    assert sorted(chain[:-1]) == sorted(members)
    # Each member is blocked by the next one in the message.
    for blocked, blocker in itertools.pairwise(chain):
        assert int(blocker[1:]) in graph[int(blocked[1:])]
    assert "Layer" not in result.stdout
    assert_nothing_started(repo, backend_config, agent)


@pytest.mark.parametrize(
    "args",
    [
        ["batch", "42", "--timeout", "-1"],
        ["batch", "42", "--timeout", "0"],
        ["batch", "42", "--interval", "0"],
        ["batch", "abc"],
        ["batch", "42", "4x"],
        ["batch", "0"],
        ["batch"],
    ],
    ids=["timeout-negative", "timeout-zero", "interval-zero", "non-numeric",
         "one-non-numeric", "zero", "no-issues"],
)
def test_usage_errors_exit_3_and_start_nothing(
    repo: Any, pirun: Any, agent: ScriptAgent, args: list[str]
) -> None:
    configure(repo, {"backend": "process"}, agent)
    add_issues(repo, SEED)

    result = pirun(*args)

    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr
    assert not (repo.path / ".worktrees").exists()


def test_unknown_option_exits_3(repo: Any, pirun: Any, agent: ScriptAgent) -> None:
    configure(repo, {"backend": "process"}, agent)
    add_issues(repo, SEED)

    result = pirun("batch", "42", "--no-such-option")

    assert result.exit_code == 3
    assert "Traceback" not in result.stderr


def test_unknown_issue_exits_1(repo: Any, pirun: Any, agent: ScriptAgent) -> None:
    configure(repo, {"backend": "process"}, agent)
    add_issues(repo, SEED)

    result = pirun("batch", "42", "99", "--dry-run")

    assert result.exit_code == 1
    assert "Issue #99 not found" in result.stderr
    assert not (repo.path / ".worktrees").exists()


def test_same_number_in_another_repository_is_a_different_issue(
    repo: Any, pirun: Any, agent: ScriptAgent
) -> None:
    configure(repo, {"backend": "process"}, agent)
    repo.add_issue(1, "here")
    # other/repo#1 is not our #1: it neither orders the batch nor is satisfied by it.
    issues = repo.path / ".pirun" / "issues"
    (issues / "2.md").write_text(
        "---\ntitle: blocked elsewhere\nblocked_by: ['other/repo#1']\n---\n", encoding="utf-8"
    )

    plan = pirun("batch", "1", "2", "--dry-run")
    assert plan.stdout.splitlines() == ["Layer 0: #1, #2"]

    result = pirun("batch", "1", "2")

    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "#2 skipped (blocked by other/repo#1 (OPEN))" in result.stdout
    assert repo.status(1)["status"] == "complete"
    assert not agent.started(2)
