"""Lifecycle hooks from `.pirun.yaml`: run with the run's facts in the environment,
never able to break the run."""

from __future__ import annotations

import json
import sys

from clitools import wait_for, wait_for_status

HOOK_SOURCE = r'''
import json, os, sys
name, out = sys.argv[1], sys.argv[2]
env = {k: v for k, v in os.environ.items() if k.startswith("PIRUN_")}
path = os.path.join(out, f"{name}-{env.get('PIRUN_ISSUE_NUMBER')}.json")
with open(path + ".tmp", "w") as handle:
    json.dump(env, handle)
os.replace(path + ".tmp", path)
sys.exit(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
'''


def test_success_and_error_hooks_get_the_outcome(repo, pirun, configure, agent, tmp_path):
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK_SOURCE)
    out = tmp_path / "hooks"
    out.mkdir()
    configure(
        agent={"command": agent.command("auto")},
        hooks={
            "on_start": [sys.executable, str(hook), "start", str(out)],
            "on_success": [sys.executable, str(hook), "success", str(out)],
            "on_error": [sys.executable, str(hook), "error", str(out)],
        },
    )
    repo.add_issue(1, "Works", body="agent-mode: exit0\n")
    repo.add_issue(2, "Breaks", body="agent-mode: error-marker\n")
    for n in (1, 2):
        assert pirun("run", str(n), "--no-attach").exit_code == 0
    wait_for_status(repo, 1, "complete")
    wait_for_status(repo, 2, "error")

    def read(name: str, n: int) -> dict:
        path = out / f"{name}-{n}.json"
        return json.loads(wait_for(lambda: path.exists() and path.read_text(),
                                   what=f"the {name} hook of #{n}"))

    success = read("success", 1)
    assert success["PIRUN_ISSUE_NUMBER"] == "1"
    assert success["PIRUN_STATUS"] == "complete"
    assert success["PIRUN_ERROR_MESSAGE"] == ""
    error = read("error", 2)
    assert error["PIRUN_ISSUE_NUMBER"] == "2"
    assert error["PIRUN_STATUS"] == "error"
    assert error["PIRUN_ERROR_MESSAGE"] == "could not build: missing dependency"
    start = read("start", 1)
    assert start["PIRUN_STATUS"] == "running"
    assert start["PIRUN_ISSUE_TITLE"] == "Works"
    # Each run fires exactly one of success and error.
    assert not (out / "error-1.json").exists()
    assert not (out / "success-2.json").exists()


def test_failing_hooks_do_not_break_the_run(repo, pirun, agent, tmp_path):
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK_SOURCE)
    out = tmp_path / "hooks"
    out.mkdir()
    repo.write_config(
        backend="process",
        agent={"command": agent.command("exit0")},
        hooks={
            "on_start": [str(tmp_path / "no-such-hook")],
            "on_success": [sys.executable, str(hook), "success", str(out), "1"],
        },
    )
    repo.add_issue(1, "Hooks fail")

    result = pirun("run", "1", "--no-attach")

    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert wait_for_status(repo, 1, ("complete", "error"))["status"] == "complete"
    wait_for(lambda: (out / "success-1.json").exists(), what="the failing hook to have run")
    assert pirun("status", "1").stdout.strip() == "Issue #1: complete"
