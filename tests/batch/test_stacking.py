"""`worktree.stack`: a dependent starts from its blockers' work, in real git.

The agent here writes the files its issue is given, commits them, and reports what
its worktree held when it started (and its prompt), so each test reads exactly
what a dependent's agent saw.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from batchutil import Background, wait_until

AGENT = r'''
import json, os, pathlib, subprocess, sys, time
plan = json.loads(pathlib.Path(sys.argv[1]).read_text())
issue, prompt = sys.argv[2], pathlib.Path(sys.argv[3]).read_text()
reports = pathlib.Path(plan["reports"])
files = sorted(str(p) for p in pathlib.Path(".").rglob("*")
               if p.is_file() and ".git" not in p.parts and p.name != ".pirun-prompt.md")
(reports / f"{issue}.json").write_text(json.dumps({"files": files, "prompt": prompt}))
for name, text in plan["writes"].get(issue, {f"f{issue}.txt": f"work of {issue}\n"}).items():
    pathlib.Path(name).write_text(text)
    subprocess.run(["git", "add", name], check=True)
subprocess.run(["git", "commit", "-q", "-m", f"work on {issue}"], check=True)
hold = plan.get("hold", {}).get(issue)
while hold and not os.path.exists(hold):
    time.sleep(0.05)
print(f"###TASK_COMPLETE_{issue}###", flush=True)
'''


CHAIN = ("Parser", "Use the parser", "Document it")


class Stacking:
    def __init__(self, repo: Any, tmp_path: Path) -> None:
        self.repo = repo
        self.reports = tmp_path / "reports"
        self.reports.mkdir()
        self.plan_path = tmp_path / "plan.json"
        self.script = tmp_path / "agent.py"
        self.script.write_text(AGENT)
        self.plan({})

    def plan(self, writes: dict[str, dict[str, str]], **extra: Any) -> None:
        self.plan_path.write_text(
            json.dumps({"reports": str(self.reports), "writes": writes, **extra})
        )

    def configure(self, **worktree: Any) -> None:
        self.repo.write_config(
            backend="process",
            agent={"command": [sys.executable, str(self.script), str(self.plan_path),
                               "{issue}", "{prompt_file}"]},
            worktree=worktree,
        )

    def chain(self, length: int) -> list[str]:
        """Issues 1..length, each blocked by the one before; their keys."""
        for number, title in enumerate(CHAIN[:length], start=1):
            self.repo.add_issue(number, title, blocked_by=[number - 1] if number > 1 else [])
        return [str(n) for n in range(1, length + 1)]

    def fix(self, issue: int) -> None:
        """A review fix committed on `issue`'s branch, in its worktree."""
        worktree = self.repo.path / ".worktrees" / self.branch(issue)
        (worktree / "fix.txt").write_text("review fix\n")
        subprocess.run(["git", "add", "fix.txt"], cwd=worktree, check=True)
        subprocess.run(["git", "commit", "-q", "-m", "review fix"], cwd=worktree, check=True)

    def seen(self, issue: int) -> dict[str, Any]:
        path = self.reports / f"{issue}.json"
        assert path.exists(), f"the agent of #{issue} never started"
        return json.loads(path.read_text())

    def branch(self, issue: int) -> str:
        (name,) = [b for b in self.repo.git("branch", "--format=%(refname:short)").split()
                   if b.startswith(f"issue-{issue}-")]
        return name

    def files_on(self, ref: str) -> list[str]:
        return sorted(self.repo.git("ls-tree", "-r", "--name-only", ref).split())


@pytest.fixture
def stack(repo: Any, tmp_path: Path) -> Stacking:
    return Stacking(repo, tmp_path)


def batch(pirun: Any, *args: str) -> dict[str, Any]:
    result = pirun("batch", *args, "--json", timeout=120)
    return json.loads(result.stdout) if result.stdout.strip() else {"stderr": result.stderr}


def states(report: dict[str, Any]) -> dict[int, str]:
    return {item["issue"]: item["state"] for item in report["results"]}


def test_each_dependent_of_a_chain_starts_with_its_blockers_files(
    repo: Any, pirun: Any, stack: Stacking
) -> None:
    stack.configure()
    keys = stack.chain(3)
    main_before = repo.git("rev-parse", "main")

    report = batch(pirun, *keys)

    assert states(report) == {1: "complete", 2: "complete", 3: "complete"}, report
    assert stack.seen(1)["files"] == ["README.md"]
    assert stack.seen(2)["files"] == ["README.md", "f1.txt"]
    assert stack.seen(3)["files"] == ["README.md", "f1.txt", "f2.txt"]
    assert repo.git("rev-parse", "main") == main_before, "the batch moved the base branch"


def test_the_prompt_names_the_blocker_its_branch_and_what_it_changed(
    repo: Any, pirun: Any, stack: Stacking
) -> None:
    stack.configure()
    batch(pirun, *stack.chain(2))

    prompt = stack.seen(2)["prompt"]
    assert f"#1, branch `{stack.branch(1)}`" in prompt, prompt
    assert "  - work on 1" in prompt, prompt
    assert "f1.txt | 1 +" in prompt, prompt
    assert "starts from the work" not in stack.seen(1)["prompt"]


def test_a_diamond_dependent_starts_from_an_integration_of_both_blockers(
    repo: Any, pirun: Any, stack: Stacking
) -> None:
    stack.configure()
    repo.add_issue(1, "Base")
    repo.add_issue(2, "Left", blocked_by=[1])
    repo.add_issue(3, "Right", blocked_by=[1])
    repo.add_issue(4, "Join", blocked_by=[2, 3])

    report = batch(pirun, "1", "2", "3", "4")

    assert set(states(report).values()) == {"complete"}, report
    assert stack.seen(4)["files"] == ["README.md", "f1.txt", "f2.txt", "f3.txt"]
    recorded = repo.git("config", "--get-all", f"branch.{stack.branch(4)}.pirunstack")
    assert [line.split()[0] for line in recorded.splitlines()] == [
        stack.branch(2), stack.branch(3)
    ]
    parents = repo.git("log", "-1", "--format=%P", f"{stack.branch(4)}~1").split()
    assert len(parents) == 2, "the integration of #2 and #3 is not a merge commit"


def test_blockers_that_conflict_fail_the_dependent_before_its_agent_starts(
    repo: Any, pirun: Any, stack: Stacking
) -> None:
    stack.configure()
    stack.plan({"1": {"config.txt": "one\n"}, "2": {"config.txt": "two\n"}})
    repo.add_issue(1, "One")
    repo.add_issue(2, "Two")
    repo.add_issue(3, "Both", blocked_by=[1, 2])

    report = batch(pirun, "1", "2", "3", "--continue-on-error")

    (item,) = [i for i in report["results"] if i["issue"] == 3]
    assert item["state"] == "error", item
    assert item["message"].startswith("conflict between #1 and #2 in config.txt"), item
    assert not (stack.reports / "3.json").exists(), "the agent of #3 was started"
    assert not [b for b in repo.git("branch").split() if b.startswith("issue-3-")]
    assert stack.files_on(stack.branch(1)) == ["README.md", "config.txt"]
    assert stack.files_on(stack.branch(2)) == ["README.md", "config.txt"]


def test_a_blocker_closed_outside_the_batch_adds_nothing(
    repo: Any, pirun: Any, stack: Stacking
) -> None:
    stack.configure()
    repo.add_issue(1, "Done long ago", state="closed")
    repo.add_issue(2, "Dependent", blocked_by=[1])

    report = batch(pirun, "2")

    assert states(report) == {2: "complete"}, report
    assert stack.seen(2)["files"] == ["README.md"]
    assert "starts from the work" not in stack.seen(2)["prompt"]


def test_stack_off_starts_every_worktree_from_the_base(
    repo: Any, pirun: Any, stack: Stacking
) -> None:
    stack.configure(stack="off")
    report = batch(pirun, *stack.chain(2))

    assert states(report) == {1: "complete", 2: "complete"}, report
    assert stack.seen(2)["files"] == ["README.md"]


def test_stack_merged_waits_until_the_blocker_is_merged_into_the_base(
    repo: Any, pirun: Any, stack: Stacking, background: Background
) -> None:
    stack.configure(stack="merged")
    running = background.start("batch", *stack.chain(2), "--interval", "0.2")
    wait_until(lambda: (repo.status(1) or {}).get("status") == "complete",
               what="#1 to complete")
    wait_until(lambda: "waiting for #1 to be merged into" in running.stdout(),
               what="the batch to say #2 waits for #1's merge")
    assert not (stack.reports / "2.json").exists(), "#2 started before #1 was merged"

    repo.git("merge", "-q", "--no-ff", "-m", "merge #1", stack.branch(1))
    code, out, err = running.finish(timeout=60)
    assert code == 0, out + err

    assert stack.seen(2)["files"] == ["README.md", "f1.txt"]


def test_restack_merges_a_blocker_fix_into_its_dependent(
    repo: Any, pirun: Any, stack: Stacking
) -> None:
    stack.configure()
    batch(pirun, *stack.chain(3))
    stack.fix(1)
    head_2 = repo.git("rev-parse", stack.branch(2))

    dry = pirun("restack", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert f"#2 {stack.branch(2)}: would merge {stack.branch(1)} (#1: 1 new commit(s))" in (
        dry.stdout
    ), dry.stdout
    assert repo.git("rev-parse", stack.branch(2)) == head_2, "--dry-run moved a branch"

    result = pirun("restack")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert "fix.txt" in stack.files_on(stack.branch(2))
    assert "fix.txt" in stack.files_on(stack.branch(3)), "the chain did not move in one run"
    assert (repo.path / ".worktrees" / stack.branch(2) / "fix.txt").exists(), (
        "the dependent's checkout did not follow its branch"
    )
    assert repo.git("merge-base", "--is-ancestor", head_2, stack.branch(2)) == ""


def test_restack_after_the_blocker_merged_takes_the_base_and_drops_the_stack(
    repo: Any, pirun: Any, stack: Stacking
) -> None:
    stack.configure()
    batch(pirun, *stack.chain(2))
    repo.git("merge", "-q", "--squash", stack.branch(1))
    repo.git("commit", "-q", "-m", "squashed #1")
    (repo.path / "later.txt").write_text("on main since\n")
    repo.git("add", "later.txt")
    repo.git("commit", "-q", "-m", "later work on main")

    result = pirun("restack", "2", "--json")

    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["changes"] == ["merge main (#1 landed there)"], row
    assert "later.txt" in stack.files_on(stack.branch(2))
    recorded = subprocess.run(
        ["git", "config", "--get-all", f"branch.{stack.branch(2)}.pirunstack"],
        cwd=repo.path, capture_output=True, text=True,
    )
    assert recorded.stdout == "", f"the landed blocker is still recorded: {recorded.stdout}"


def test_restack_refuses_a_dirty_worktree_and_changes_nothing(
    repo: Any, pirun: Any, stack: Stacking
) -> None:
    stack.configure()
    batch(pirun, *stack.chain(2))
    stack.fix(1)
    (repo.path / ".worktrees" / stack.branch(2) / "draft.txt").write_text("unsaved\n")
    head_2 = repo.git("rev-parse", stack.branch(2))

    result = pirun("restack", "2")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert "refused: worktree has uncommitted changes" in result.stdout, result.stdout
    assert repo.git("rev-parse", stack.branch(2)) == head_2


def test_two_running_siblings_editing_the_same_lines_are_warned_about(
    repo: Any, pirun: Any, stack: Stacking, background: Background, tmp_path: Path
) -> None:
    stack.configure(conflict_check=0.2)
    release = tmp_path / "release"
    stack.plan({"1": {"README.md": "one\n"}, "2": {"README.md": "two\n"}},
               hold={"1": str(release), "2": str(release)})
    repo.add_issue(1, "One")
    repo.add_issue(2, "Two")

    running = background.start("batch", "1", "2", "--interval", "0.2")

    def warned() -> list[Any]:
        shown = pirun("status", "--json")
        rows = json.loads(shown.stdout) if shown.exit_code == 0 else []
        return [row.get("conflicts") for row in rows if row.get("status") == "running"]

    wait_until(lambda: warned() == [[{"issue": 2, "files": ["README.md"]}],
                                    [{"issue": 1, "files": ["README.md"]}]],
               what="both running issues to show their conflict in `status --json`")
    status = pirun("status")
    assert "conflicts with #2 in README.md" in status.stdout, status.stdout
    release.write_text("")
    code, out, err = running.finish(timeout=60)
    assert code == 0, out + err
