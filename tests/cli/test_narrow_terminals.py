"""What a person reads stays readable in an 80x24 terminal (and at 100x30): issue keys,
states and elapsed times are never cut; titles and last output give way.

Every command runs in a real tmux pane of that size on a private server, and the
screen is read with capture-pane, as the person would see it.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import wait_until

SIZES = [(80, 24), (100, 30)]
LONG = "Refactor the configuration loader so that nested sections are validated"
STATES = {"complete", "error", "skipped"}


@pytest.fixture
def pane() -> Iterator[Callable[..., Callable[[], str]]]:
    """Starts a command in a fresh tmux pane of a given size; returns a function
    that reads the pane's screen. The private servers are killed afterwards."""
    sockets: list[str] = []

    def start(argv: list[str], width: int, height: int, cwd: Path) -> Callable[[], str]:
        socket = f"pirun-test-{uuid.uuid4().hex[:10]}"
        sockets.append(socket)
        # The shell only keeps the pane open after the command ends; argv is quoted.
        command = f"{shlex.join(argv)}; echo PANE-DONE; sleep 600"
        subprocess.run(
            ["tmux", "-L", socket, "new-session", "-d", "-x", str(width), "-y", str(height),
             "-c", str(cwd), "-s", "pane", command],
            check=True,
        )
        return lambda: subprocess.run(
            ["tmux", "-L", socket, "capture-pane", "-p", "-t", "pane"],
            capture_output=True, text=True, check=True,
        ).stdout

    yield start
    for socket in sockets:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


def pirun_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "pirun", *args]


def finished(read: Callable[[], str], timeout: float = 30) -> str:
    """The pane's screen once its command has ended."""
    return wait_until(lambda: (screen := read()) and "PANE-DONE" in screen and screen,
                      timeout=timeout, what="the command in the pane to finish")


def rows_by_issue(screen: str) -> dict[str, str]:
    """Table rows keyed by the `#N` that starts them (after the right-aligned pad)."""
    rows = {}
    for line in screen.splitlines():
        match = re.match(r"\s*(#\d+)\s", line)
        if match:
            rows[match.group(1)] = line
    return rows


@pytest.mark.slow
@pytest.mark.parametrize(("width", "height"), SIZES)
def test_demo_summary_shows_every_issue_and_its_whole_state(
    pane, tmp_path: Path, width: int, height: int
) -> None:
    # The demo's private tmux server is named after its directory: unique per test.
    target = tmp_path / f"demo-{uuid.uuid4().hex[:8]}"
    read = pane(pirun_argv("demo", "--dir", str(target), "--delay", "0.2"), width, height, tmp_path)
    try:
        screen = finished(read, timeout=90)
        expected = {"#1": "complete", "#2": "complete", "#3": "complete", "#4": "complete",
                    "#5": "complete", "#6": "error", "#7": "skipped"}
        rows = rows_by_issue(screen)
        for key, state in expected.items():
            assert key in rows, f"no row for {key} at {width}x{height}:\n{screen}"
            words = set(re.split(r"[\s│┃]+", rows[key]))
            assert state in words, f"{key} should read '{state}' at {width}x{height}: {rows[key]!r}"
        assert all(len(line) <= width for line in screen.splitlines())
    finally:
        subprocess.run(["tmux", "-L", f"pirun-demo-{target.name}", "kill-server"],
                       capture_output=True)


@pytest.fixture
def long_running(repo, pirun, agent) -> list[int]:
    """Three issues with long titles whose agents sleep (process backend)."""
    repo.write_config(backend="process", agent={"command": agent.command("auto")})
    numbers = [1, 2, 13]
    for n in numbers:
        repo.add_issue(n, f"{LONG} ({n})", body="agent-mode: sleep\n")
        assert pirun("run", str(n), "--no-attach").exit_code == 0
    for n in numbers:
        agent.wait_pids(n)
    return numbers


@pytest.mark.slow
@pytest.mark.parametrize(("width", "height"), SIZES)
def test_list_keeps_session_status_and_age_whole(
    pane, repo, long_running: list[int], width: int, height: int
) -> None:
    read = pane(pirun_argv("list"), width, height, repo.path)

    screen = finished(read)

    lines = [line for line in screen.splitlines() if line.startswith("  pi-issue-")]
    assert len(lines) == 3, f"expected a row per session at {width}x{height}:\n{screen}"
    for line, n in zip(lines, long_running, strict=True):
        assert len(line) <= width, f"row wider than {width}: {line!r}"
        fields = line.split()
        assert fields[0] == f"pi-issue-{n}", line
        assert fields[-2] == "running", line
        assert re.fullmatch(r"\d+[smhd]\S*", fields[-1]), line


@pytest.mark.slow
@pytest.mark.parametrize(("width", "height"), SIZES)
def test_dashboard_keeps_issue_state_and_age_whole(
    pane, repo, long_running: list[int], width: int, height: int
) -> None:
    read = pane(pirun_argv("dashboard"), width, height, repo.path)

    def table() -> dict[str, str] | None:
        rows = rows_by_issue(read())
        return rows if len(rows) == 3 else None

    rows = wait_until(table, what="the dashboard's three rows")
    for n in long_running:
        line = rows[f"#{n}"]
        assert len(line) <= width, f"row wider than {width}: {line!r}"
        assert "running" in line.split(), f"#{n} should read 'running': {line!r}"
        assert re.search(r"\s\d+[smhd]\S*\s", line), f"#{n} shows no age: {line!r}"
