"""Agents that report their turns themselves: Claude Code's hooks and codex's notify
program, set per session by the presets, drive `waiting` (source `agent-hook`).

The agents here are stand-ins named `claude` and `codex` on PATH that do with the
preset's argv what the real programs do: Claude Code runs each hook's command through
a shell with the event's JSON on stdin; codex runs its notify program with the JSON as
the last argument. (The real programs, offline and signed out, never finish a turn:
tests/plugins/agents/test_real_agents.py checks that they accept these arguments.)
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from featureutil import wait_until

pytestmark = pytest.mark.slow

FAKE_CLAUDE = r"""#!PYTHON
import json, subprocess, sys, time
args = sys.argv[1:]
settings = json.loads(args[args.index("--settings") + 1])
issue = __import__("os").environ["PIRUN_ISSUE"]

def hook(event, **fields):
    for group in settings["hooks"].get(event, []):
        for each in group["hooks"]:
            payload = {"session_id": "s1", "hook_event_name": event, **fields}
            subprocess.run(each["command"], shell=True, input=json.dumps(payload), text=True)

print("Working on it")
hook("Notification", notification_type="permission_prompt",
     message="Claude needs your permission to use Bash")
# A spinner keeps drawing while it waits: that is not an answer.
for _ in range(30):
    sys.stdout.write("\r* waiting for approval %d" % time.time()); sys.stdout.flush()
    time.sleep(0.1)
answer = sys.stdin.readline()
print(f"\ngot {answer.strip()}")
print(f"###TASK_COMPLETE_{issue}###")
"""

FAKE_CODEX = r"""#!PYTHON
import json, subprocess, sys, time
args = sys.argv[1:]
setting = args[args.index("-c") + 1]
assert setting.startswith("notify="), setting
program = json.loads(setting[len("notify="):])
print("Thinking")
turn = {"type": "agent-turn-complete", "turn-id": "1", "last-assistant-message": "Which one?"}
subprocess.run([*program, json.dumps(turn)])
for _ in range(600):
    sys.stdout.write("\r%d" % time.time()); sys.stdout.flush()
    time.sleep(0.1)
"""


@pytest.fixture
def fake_agents(tmp_path: Path) -> dict[str, str]:
    """`claude` and `codex` stand-ins first on PATH; the environment for pirun."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, source in (("claude", FAKE_CLAUDE), ("codex", FAKE_CODEX)):
        path = bin_dir / name
        path.write_text(source.replace("PYTHON", sys.executable, 1))
        path.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def start_waiting(repo, pirun, tmux_socket: str, env: dict[str, str], preset: str) -> dict:
    """Issue 1 run by the `preset` stand-in in tmux, once its record is waiting (the
    screen's own idle check is far off, so only the agent's hook can say so)."""
    repo.write_config(backend="tmux", tmux={"socket_name": tmux_socket},
                      agent={"preset": preset, "mode": "interactive"},
                      detect={"idle_seconds": 600})
    repo.add_issue(1, "Needs a person")
    assert pirun("run", "1", "--no-attach", env=env).exit_code == 0
    return wait_until(lambda: (r := repo.status(1)) and r["status"] == "waiting" and r,
                      what=f"{preset}'s hook to say it waits")


def test_claude_asking_for_approval_waits_until_answered(
    repo, pirun, tmux_socket, fake_agents
):
    record = start_waiting(repo, pirun, tmux_socket, fake_agents, "claude")
    assert (record["reason"], record["source"]) == ("approval needed", "agent-hook"), record
    time.sleep(2)  # the spinner draws on
    assert repo.status(1)["status"] == "waiting", "output ended a waiting its hook set"
    assert pirun("nudge", "1", "yes").exit_code == 0
    done = wait_until(lambda: (r := repo.status(1)) and r["status"] == "complete" and r,
                      what="complete after the answer")
    assert done["source"] == "marker", done


def test_codex_ending_its_turn_is_waiting(repo, pirun, tmux_socket, fake_agents):
    record = start_waiting(repo, pirun, tmux_socket, fake_agents, "codex")
    assert record["source"] == "agent-hook" and "reason" not in record, record
    shown = json.loads(pirun("status", "1", "--json").stdout)
    assert shown["source"] == "agent-hook", shown
    pirun("stop", "1")
