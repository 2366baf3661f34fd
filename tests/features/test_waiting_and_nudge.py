"""An agent idle at its input prompt is `waiting`; a nudge answers it safely."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest
from featureutil import wait_until

# Prints a prompt and waits for one line; the line decides the outcome.
ASKS_FOR_INPUT = """
import os, sys
sys.stdout.write("Proceed?\\n> ")
sys.stdout.flush()
answer = sys.stdin.readline()
with open(os.path.join(os.environ["PIRUN_REPO"], "answer.txt"), "w") as f:
    f.write(answer)
print(f"###TASK_COMPLETE_{sys.argv[1]}###")
"""


@pytest.mark.slow
def test_idle_agent_at_prompt_is_waiting_then_nudge_completes_it(
    repo, pirun, tmux_socket, httpserver, agent_script
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    repo.write_config(
        backend="tmux", tmux={"socket_name": tmux_socket},
        agent={"command": agent_script(ASKS_FOR_INPUT), "input_prompt": r"^>\s*$"},
        detect={"idle_seconds": 1}, notify={"webhook": httpserver.url_for("/hook")},
    )
    repo.add_issue(1, "Needs a decision")
    assert pirun("run", "1", "--no-attach").exit_code == 0
    wait_until(lambda: (r := repo.status(1)) and r["status"] == "waiting", what="waiting")
    assert "waiting" in pirun("status", "1").stdout
    events = [json.loads(request.data)["event"] for request, _ in httpserver.log]
    assert "issue_waiting" in events

    hostile = "yes $(touch PWNED) `touch PWNED2`; echo done"
    result = pirun("nudge", "1", hostile)
    assert result.exit_code == 0, result.stderr
    wait_until(lambda: (r := repo.status(1)) and r["status"] == "complete", what="complete")
    assert (repo.path / "answer.txt").read_text().strip() == hostile
    assert not list(repo.path.parent.rglob("PWNED*"))


def test_nudge_without_a_session_fails_clearly(repo, pirun, tmux_socket):
    repo.write_config(backend="tmux", tmux={"socket_name": tmux_socket})
    result = pirun("nudge", "9", "hello")
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: no session for issue #9"


def start_dashboard(repo, tmux_socket: str) -> tuple[list[str], Callable[[], str]]:
    """`pirun dashboard` in a tmux session `dash` on the test's private server;
    returns the tmux argv prefix and a function reading the screen."""
    tmux = ["tmux", "-L", tmux_socket]
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", "dash", "-x", "160", "-y", "30", "-c",
         str(repo.path), sys.executable, "-m", "pirun", "dashboard"],
        check=True,
    )

    def screen() -> str:
        return subprocess.run([*tmux, "capture-pane", "-p", "-t", "=dash:"],
                              capture_output=True, text=True).stdout

    return tmux, screen


@pytest.mark.slow
def test_dashboard_shows_sessions_and_quits_on_q(repo, pirun, tmux_socket, agent_script):
    repo.write_config(backend="tmux", tmux={"socket_name": tmux_socket},
                      agent={"command": agent_script("import time; time.sleep(60)")})
    repo.add_issue(7, "Long running work")
    assert pirun("run", "7", "--no-attach").exit_code == 0
    tmux, screen = start_dashboard(repo, tmux_socket)

    text = wait_until(lambda: "#7" in screen() and screen(), what="dashboard row")
    assert "Long running work" in text
    assert "running" in text
    assert "pi-issue-7" in text
    subprocess.run([*tmux, "send-keys", "-t", "=dash:", "s"], check=True)
    wait_until(lambda: (r := repo.status(7)) and r["status"] == "error", what="stopped")
    subprocess.run([*tmux, "send-keys", "-t", "=dash:", "q"], check=True)
    wait_until(
        lambda: subprocess.run([*tmux, "has-session", "-t", "=dash"],
                               capture_output=True).returncode != 0,
        what="dashboard exit",
    )


@pytest.mark.slow
def test_dashboard_nudge_key_sends_the_typed_text_to_the_agent(
    repo, pirun, tmux_socket, agent_script
):
    repo.write_config(backend="tmux", tmux={"socket_name": tmux_socket},
                      agent={"command": agent_script(ASKS_FOR_INPUT)})
    repo.add_issue(3, "Asks a question")
    assert pirun("run", "3", "--no-attach").exit_code == 0
    tmux, screen = start_dashboard(repo, tmux_socket)

    wait_until(lambda: "#3" in screen(), what="dashboard row")
    subprocess.run([*tmux, "send-keys", "-t", "=dash:", "n"], check=True)
    wait_until(lambda: "nudge #3>" in screen(), what="nudge prompt")
    subprocess.run([*tmux, "send-keys", "-t", "=dash:", "-l", "go ahead"], check=True)
    subprocess.run([*tmux, "send-keys", "-t", "=dash:", "Enter"], check=True)
    wait_until(lambda: (r := repo.status(3)) and r["status"] == "complete", what="complete")
    assert (repo.path / "answer.txt").read_text().strip() == "go ahead"
    subprocess.run([*tmux, "send-keys", "-t", "=dash:", "q"], check=True)
