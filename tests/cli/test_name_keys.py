"""Issues whose key is a name, not a number: the local tracker's `.pirun/issues/PROJ-1.md`
is issue `PROJ-1`. End to end through the real CLI, next to numbered issues, which keep
every name and JSON shape they had (`.status/42.json` with `"issue": 42`,
`pi-issue-42`, `issue-42-<slug>`)."""

from __future__ import annotations

import json
import re

from clitools import (
    assert_error,
    branches,
    process_gone,
    sessions,
    wait_for,
    wait_for_log,
    wait_for_status,
    worktree_dirs,
)

CONTRACT_KEYS = {"issue", "status", "session", "timestamp"}


def test_batch_of_name_keys_runs_in_dependency_order(repo, pirun, agent):
    repo.write_config(backend="process", agent={"command": agent.command("marker")})
    repo.add_issue("PROJ-1", "Set up the project")
    repo.add_issue("PROJ-2", "Build on it", blocked_by=["PROJ-1"])

    plan = pirun("batch", "PROJ-2", "PROJ-1", "--dry-run")
    assert plan.exit_code == 0, plan.stderr
    assert plan.stdout.splitlines() == ["Layer 0: PROJ-1", "Layer 1: PROJ-2"]
    plan_json = json.loads(pirun("batch", "PROJ-2", "PROJ-1", "--dry-run", "--json").stdout)
    assert plan_json == {"layers": [["PROJ-1"], ["PROJ-2"]], "dry_run": True}

    result = pirun("batch", "PROJ-1", "PROJ-2", "--interval", "0.5", timeout=110)

    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "Summary: 2 complete, 0 failed, 0 skipped" in result.stdout
    assert re.search(r"^PROJ-1\s+0\s+complete\b", result.stdout, re.M), result.stdout
    assert re.search(r"^PROJ-2\s+1\s+complete\b", result.stdout, re.M), result.stdout
    first, second = repo.status("PROJ-1"), repo.status("PROJ-2")
    assert (first["issue"], first["status"], first["session"]) == (
        "PROJ-1", "complete", "pi-issue-PROJ-1",
    )
    assert (second["issue"], second["status"], second["session"]) == (
        "PROJ-2", "complete", "pi-issue-PROJ-2",
    )
    # PROJ-2 waited for its blocker: it started after PROJ-1 was recorded complete.
    assert second["started_at"] >= first["timestamp"]
    assert sorted(branches(repo)) == [
        "issue-PROJ-1--set-up-the-project", "issue-PROJ-2--build-on-it",
    ]


def test_batch_json_gives_name_keys_as_strings_and_numbers_as_numbers(repo, pirun, agent):
    repo.write_config(backend="process", agent={"command": agent.command("exit0")})
    repo.add_issue(1, "Numbered")
    repo.add_issue("PROJ-1", "Named", blocked_by=[1])

    result = pirun("batch", "PROJ-1", "#1", "--interval", "0.5", "--json", timeout=110)

    assert result.exit_code == 0, (result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert report["layers"] == [[1], ["PROJ-1"]]
    assert [(r["issue"], r["state"]) for r in report["results"]] == [
        (1, "complete"), ("PROJ-1", "complete"),
    ]
    assert report["summary"]["complete"] == 2


def test_run_status_logs_and_cleanup_of_a_name_key(repo, pirun, configure, agent):
    configure(agent={"command": agent.command("gate")})
    repo.add_issue("PROJ-1", "Add a login page")

    started = pirun("run", "PROJ-1", "--no-attach")

    assert started.exit_code == 0, started.stderr
    worktree = ".worktrees/issue-PROJ-1--add-a-login-page"
    assert started.stdout.strip() == (
        f"Started pi-issue-PROJ-1 for issue PROJ-1 in {worktree} "
        "on issue-PROJ-1--add-a-login-page"
    )
    report = json.loads(wait_for(lambda: (agent.out / "report-PROJ-1.json").exists()
                                 and (agent.out / "report-PROJ-1.json").read_text()))
    assert report["argv"][2] == "PROJ-1"
    assert report["env"]["PIRUN_ISSUE"] == "PROJ-1"
    assert report["env"]["PIRUN_SESSION"] == "pi-issue-PROJ-1"
    rows = sessions(pirun)
    assert set(rows) == {"pi-issue-PROJ-1"}
    assert rows["pi-issue-PROJ-1"]["issue"] == "PROJ-1"
    assert rows["pi-issue-PROJ-1"]["worktree"] == worktree
    assert pirun("status", "PROJ-1").stdout.splitlines() == ["Issue PROJ-1: running"]
    wait_for_log(repo, "PROJ-1", "line one")

    agent.open_gate("PROJ-1")
    final = wait_for_status(repo, "PROJ-1", ("complete", "error"))

    assert final["status"] == "complete", final
    status = pirun("status", "PROJ-1", "--json")
    assert status.exit_code == 0, status.stderr
    record = json.loads(status.stdout)
    assert set(record) >= CONTRACT_KEYS
    assert record["issue"] == "PROJ-1" and isinstance(record["issue"], str)
    assert (record["status"], record["session"]) == ("complete", "pi-issue-PROJ-1")
    assert (repo.path / ".worktrees" / ".status" / "PROJ-1.json").is_file()
    logs = pirun("logs", "PROJ-1")
    assert logs.exit_code == 0, logs.stderr
    assert [
        line for line in logs.stdout.splitlines() if line in {"line one", "line two", "done"}
    ] == ["line one", "line two", "done"]

    cleaned = pirun("cleanup", "PROJ-1")

    assert cleaned.exit_code == 0, cleaned.stderr
    assert cleaned.stdout.startswith("Removed for issue PROJ-1: "), cleaned.stdout
    assert worktree_dirs(repo) == [] and branches(repo) == []
    assert repo.status("PROJ-1") is None
    assert pirun("cleanup", "PROJ-1").stdout.strip() == "Nothing to clean up."
    assert_error(pirun("status", "PROJ-1"), 1, "Issue PROJ-1: no status recorded")


def test_numbers_keep_the_seed_names_and_json(repo, pirun, agent):
    repo.write_config(backend="process", agent={"command": agent.command("sleep")})
    repo.add_issue(42, "Fix the build")

    started = pirun("run", "#42", "--no-attach")

    assert started.exit_code == 0, started.stderr
    assert started.stdout.startswith("Started pi-issue-42 for issue #42 ")
    agent.wait_pids(42)
    path = repo.path / ".worktrees" / ".status" / "42.json"
    on_disk = json.loads(path.read_text())
    assert on_disk["issue"] == 42 and isinstance(on_disk["issue"], int)
    assert on_disk["session"] == "pi-issue-42"
    assert branches(repo) == ["issue-42-fix-the-build"]
    assert [p.name for p in worktree_dirs(repo)] == ["issue-42-fix-the-build"]
    assert (repo.path / ".worktrees" / ".logs" / "issue-42.log").is_file()
    assert json.loads(pirun("status", "42", "--json").stdout)["issue"] == 42
    rows = sessions(pirun)
    assert rows["pi-issue-42"]["issue"] == 42
    assert pirun("status", "42").stdout.splitlines() == ["Issue #42: running"]

    stopped = pirun("stop", "42")

    assert stopped.stdout.strip() == "Stopped pi-issue-42"
    assert json.loads(path.read_text())["issue"] == 42


def test_status_lists_numbers_and_names_together(repo, pirun, agent):
    repo.write_config(backend="process", agent={"command": agent.command("auto")})
    repo.add_issue(1, "Numbered", body="agent-mode: exit0\n")
    repo.add_issue(10, "Numbered too", body="agent-mode: exit3\n")
    repo.add_issue("PROJ-1", "Named", body="agent-mode: sleep\n")
    for key in ("PROJ-1", "10", "1"):
        assert pirun("run", key, "--no-attach").exit_code == 0
    wait_for_status(repo, 1, "complete")
    wait_for_status(repo, 10, "error")
    agent.wait_pids("PROJ-1")

    lines = pirun("status").stdout.splitlines()

    assert len(lines) == 3, lines
    assert re.match(r"#1\s+complete\s*$", lines[0]), lines
    assert re.match(r"#10\s+error\s+agent exited with code 3: failing$", lines[1]), lines
    assert re.match(r"PROJ-1\s+running\s*$", lines[2]), lines
    listed = json.loads(pirun("status", "--json").stdout)
    assert [r["issue"] for r in listed] == [1, 10, "PROJ-1"]
    assert [r["session"] for r in listed] == ["pi-issue-1", "pi-issue-10", "pi-issue-PROJ-1"]

    waited = pirun("wait", "1", "10", "--json", "--timeout", "30")
    assert json.loads(waited.stdout) == {
        "completed": [1], "failed": {"10": "agent exited with code 3: failing"}, "pending": [],
        "timed_out": False, "interrupted": False,
    }
    stopped = pirun("stop", "PROJ-1")
    assert stopped.stdout.strip() == "Stopped pi-issue-PROJ-1"
    assert repo.status("PROJ-1")["error_message"] == "stopped by user"


def test_signal_from_a_session_of_a_name_key(repo, pirun, configure, agent):
    configure(agent={"command": agent.command("signal-complete")})
    repo.add_issue("PROJ-1", "Signals when done")

    assert pirun("run", "PROJ-1", "--no-attach").exit_code == 0

    # The agent runs `pirun signal complete` with PIRUN_ISSUE=PROJ-1 from its session,
    # then sleeps: it prints no marker and never exits, so only the signal can end it.
    record = wait_for_status(repo, "PROJ-1", ("complete", "error"))
    assert record["status"] == "complete", record
    assert "error_message" not in record
    ((agent_pid, _),) = agent.pids("PROJ-1")
    assert not process_gone(agent_pid)
    assert pirun("status", "PROJ-1").stdout.splitlines() == ["Issue PROJ-1: complete"]


def test_signal_for_a_name_key_given_by_option(repo, pirun, agent):
    repo.write_config(backend="process", agent={"command": agent.command("sleep")})
    repo.add_issue("PROJ-1", "Signalled from outside")
    assert pirun("run", "PROJ-1", "--no-attach").exit_code == 0
    agent.wait_pids("PROJ-1")

    signalled = pirun("signal", "error", "it", "broke", "--issue", "PROJ-1",
                      env={"PIRUN_ISSUE": ""})

    assert signalled.exit_code == 0, signalled.stderr
    assert signalled.stdout.strip() == "Issue PROJ-1: error"
    assert repo.status("PROJ-1")["error_message"] == "it broke"


def test_bad_keys_are_one_line_naming_the_tracker(repo, pirun):
    repo.write_config(backend="process")
    repo.add_issue("PROJ-1", "Exists")

    for args in (["run", "a b", "--no-attach"], ["status", "a b"], ["logs", "a b"],
                 ["batch", "PROJ-1", "a b"], ["cleanup", "a b"], ["stop", "a b"]):
        result = pirun(*args)
        assert_error(result, 3, "not an issue key of the local tracker: 'a b'")
    assert not (repo.path / ".worktrees" / ".status").exists()


def test_messages_name_a_missing_name_key_as_it_is(repo, pirun):
    repo.write_config(backend="process")

    assert_error(pirun("run", "PROJ-9", "--no-attach"), 1, "Issue PROJ-9 not found")
    assert_error(pirun("logs", "PROJ-9"), 1, "no log for issue PROJ-9")
    assert_error(pirun("attach", "PROJ-9"), 1, "no session for issue PROJ-9")
    assert pirun("stop", "PROJ-9").stdout.strip() == "No session for issue PROJ-9"
