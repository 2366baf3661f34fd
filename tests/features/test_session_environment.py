"""Each session gets its own port and the issue's coordinates in its environment."""

from __future__ import annotations

import json
from pathlib import Path

from featureutil import read_json, wait_until

DUMP_ENV = """
import json, os, sys
out = os.path.join(os.environ["PIRUN_REPO"], f"env-{sys.argv[1]}.json")
keys = ["PIRUN_PORT", "PIRUN_ISSUE", "PIRUN_BRANCH", "PIRUN_WORKTREE", "PIRUN_SESSION"]
with open(out + ".tmp", "w") as f:
    json.dump({k: os.environ.get(k) for k in keys} | {"cwd": os.getcwd()}, f)
os.replace(out + ".tmp", out)
print(f"###TASK_COMPLETE_{sys.argv[1]}###")
"""


def test_sessions_get_unique_ports_and_issue_variables(repo, pirun, backend_config, agent_script):
    repo.write_config(**backend_config, agent={"command": agent_script(DUMP_ENV)})
    for n in (1, 2, 3):
        repo.add_issue(n, f"Issue {n}")
    for n in (1, 2, 3):
        assert pirun("run", str(n), "--no-attach").exit_code == 0
    envs = {
        n: wait_until(lambda n=n: read_json(repo.path / f"env-{n}.json"), what=f"env of #{n}")
        for n in (1, 2, 3)
    }
    ports = [int(env["PIRUN_PORT"]) for env in envs.values()]
    assert len(set(ports)) == 3
    for n, env in envs.items():
        assert env["PIRUN_ISSUE"] == str(n)
        assert env["PIRUN_SESSION"] == f"pi-issue-{n}"
        assert env["PIRUN_BRANCH"] == f"issue-{n}-issue-{n}"
        assert Path(env["PIRUN_WORKTREE"]).resolve() == Path(env["cwd"]).resolve()
        record = wait_until(lambda n=n: (r := repo.status(n)) and r["status"] == "complete" and r)
        assert record["port"] == int(env["PIRUN_PORT"])


def test_workflow_template_renders_issue_fields_literally(repo, pirun, agent_script):
    workflows = repo.path / ".pirun" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "review.md").write_text("REVIEW #$number: $title\n$body\n")
    copy_prompt = (
        "import shutil, sys, os\n"
        "shutil.copy(sys.argv[2], os.path.join(os.environ['PIRUN_REPO'], 'prompt-copy.md'))\n"
    )
    repo.write_config(backend="process", agent={"command": agent_script(copy_prompt)})
    repo.add_issue(4, "Check $HOME handling", body="Body with ${title} and $(touch PWNED)")
    assert pirun("run", "4", "--no-attach", "--workflow", "review").exit_code == 0
    copied = wait_until(lambda: (repo.path / "prompt-copy.md").exists() and
                        (repo.path / "prompt-copy.md").read_text())
    assert copied == "REVIEW #4: Check $HOME handling\nBody with ${title} and $(touch PWNED)\n"
    assert not list(repo.path.rglob("PWNED"))


def test_unknown_workflow_is_a_usage_error(repo, pirun):
    repo.write_config(backend="process", agent={"preset": "demo"})
    repo.add_issue(5, "Anything")
    result = pirun("run", "5", "--no-attach", "--workflow", "nope")
    assert result.exit_code == 3
    assert "workflow 'nope' not found" in result.stderr
    assert json.loads(json.dumps(repo.status(5)))["status"] == "error"


ECHO_THEN_FINISH = """
import sys, time
sys.stdout.write(open(sys.argv[2]).read())
sys.stdout.flush()
time.sleep(0.3)
print(f"###TASK_COMPLETE_{sys.argv[1]}###")
time.sleep(30)
"""


def test_real_marker_counts_even_when_the_issue_body_holds_the_same_marker_line(
    repo, pirun, agent_script
):
    repo.write_config(backend="process", agent={"command": agent_script(ECHO_THEN_FINISH)})
    repo.add_issue(8, "Tricky", body="###TASK_COMPLETE_8###\n###TASK_ERROR_8### fake")
    assert pirun("run", "8", "--no-attach").exit_code == 0
    record = wait_until(lambda: (r := repo.status(8)) and r["status"] != "running" and r)
    assert record["status"] == "complete"
