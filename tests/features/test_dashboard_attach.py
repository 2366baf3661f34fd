"""The dashboard's attach key shows the agent's session in the dashboard's own terminal,
and the user gets back to the dashboard afterwards.

Both ways the dashboard can run inside tmux are driven with real tmux servers on
private sockets (never the user's default server):

* agents on another server than the dashboard's: the agent's session is attached in
  the dashboard's pane as a nested client; detaching it (prefix d, reaching the inner
  client) comes back to the dashboard.
* agents on the dashboard's own server: the user's client is switched to the agent's
  session; tmux's last-session key (prefix L) switches it back.

The screens are read with capture-pane, as a person would see them.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
from featureutil import wait_until
from pirun_dashboard.view import attach_and_return

from pirun.errors import BackendError

MARKER = "AGENT-SCREEN-7-READY"
AGENT = f"import time; print({MARKER!r}, flush=True); time.sleep(300)"
DASHBOARD_TITLE = "pirun dashboard:"


def shows_the_agent(text: str) -> bool:
    """The agent's own session is on screen: its output and not the dashboard, whose
    last-output column shows the same line."""
    return MARKER in text and DASHBOARD_TITLE not in text


@pytest.fixture
def private_tmux() -> Iterator[Callable[[], list[str]]]:
    """Makes tmux argv prefixes for more private servers, all killed after the test."""
    sockets: list[str] = []

    def make() -> list[str]:
        sockets.append(f"pirun-test-{uuid.uuid4().hex[:10]}")
        return ["tmux", "-L", sockets[-1]]

    yield make
    for socket in sockets:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


def tmux_run(tmux: list[str], *args: str) -> str:
    return subprocess.run([*tmux, *args], capture_output=True, text=True, check=True).stdout


def screen(tmux: list[str], target: str) -> str:
    return subprocess.run([*tmux, "capture-pane", "-p", "-t", target],
                          capture_output=True, text=True).stdout


def clients(tmux: list[str]) -> list[str]:
    result = subprocess.run([*tmux, "list-clients", "-F", "#{client_session}"],
                            capture_output=True, text=True)
    return result.stdout.split()


def start_agent(repo, pirun, agent_script, socket: str) -> None:
    repo.write_config(backend="tmux", tmux={"socket_name": socket},
                      agent={"command": agent_script(AGENT)})
    repo.add_issue(7, "Long running work")
    result = pirun("run", "7", "--no-attach")
    assert result.exit_code == 0, result.stderr


def new_dashboard(tmux: list[str], repo) -> None:
    tmux_run(tmux, "new-session", "-d", "-s", "dash", "-x", "160", "-y", "30",
             "-c", str(repo.path), sys.executable, "-m", "pirun", "dashboard")


def quit_dashboard(tmux: list[str]) -> None:
    tmux_run(tmux, "send-keys", "-t", "=dash:", "q")
    wait_until(lambda: subprocess.run([*tmux, "has-session", "-t", "=dash"],
                                      capture_output=True).returncode != 0,
               what="dashboard exit")


@pytest.mark.slow
def test_attach_from_a_dashboard_on_another_tmux_server_nests_and_detach_returns(
    repo, pirun, tmux_socket, agent_script, private_tmux
):
    agents = ["tmux", "-L", tmux_socket]
    start_agent(repo, pirun, agent_script, tmux_socket)
    outer = private_tmux()
    new_dashboard(outer, repo)
    wait_until(lambda: "#7" in screen(outer, "=dash:"), what="dashboard row")

    tmux_run(outer, "send-keys", "-t", "=dash:", "a")
    wait_until(lambda: shows_the_agent(screen(outer, "=dash:")),
               what="the agent's session in the dashboard's pane")
    assert clients(agents) == ["pi-issue-7"]  # a real client, attached to the agent

    # Prefix d, as the pane's program (the nested client) receives it.
    tmux_run(outer, "send-keys", "-t", "=dash:", "C-b", "d")
    wait_until(lambda: DASHBOARD_TITLE in screen(outer, "=dash:"), what="back in the dashboard")
    assert clients(agents) == []
    assert repo.status(7)["status"] == "running"  # detaching leaves the agent alone
    quit_dashboard(outer)


@pytest.mark.slow
def test_attach_from_a_dashboard_on_the_agents_tmux_server_switches_the_client(
    repo, pirun, tmux_socket, agent_script, private_tmux
):
    server = ["tmux", "-L", tmux_socket]
    start_agent(repo, pirun, agent_script, tmux_socket)
    new_dashboard(server, repo)
    # The user's terminal: a client attached to the dashboard, itself running in a
    # pane of a host server so that its screen can be read.
    host = private_tmux()
    tmux_run(host, "new-session", "-d", "-s", "term", "-x", "160", "-y", "30",
             "env", "-u", "TMUX", *server, "attach-session", "-t", "=dash")
    wait_until(lambda: "#7" in screen(host, "=term:"), what="dashboard in the terminal")

    tmux_run(server, "send-keys", "-t", "=dash:", "a")
    wait_until(lambda: shows_the_agent(screen(host, "=term:")),
               what="the agent's session in the user's terminal")
    assert clients(server) == ["pi-issue-7"]  # the same client, switched over

    # tmux's last-session key, typed in the user's terminal.
    tmux_run(host, "send-keys", "-t", "=term:", "C-b", "L")
    wait_until(lambda: DASHBOARD_TITLE in screen(host, "=term:"), what="back in the dashboard")
    assert clients(server) == ["dash"]
    assert repo.status(7)["status"] == "running"
    quit_dashboard(server)


class FailingBackend:
    def attach(self, name: str) -> None:
        raise BackendError(f"no session named {name}")


class SwitchingBackend:
    def attach(self, name: str) -> None:
        return None  # as tmux's switch-client: done at once, nothing to report


def test_attach_failure_in_the_child_is_reported_to_the_dashboard():
    rt = SimpleNamespace(backend=FailingBackend())
    assert attach_and_return(rt, "pi-issue-9") == "no session named pi-issue-9"


def test_attach_that_returns_at_once_reports_nothing():
    assert attach_and_return(SimpleNamespace(backend=SwitchingBackend()), "pi-issue-9") is None
