"""The presets against the real programs, as a new user meets them: installed from
npm, signed out, offline, in a HOME of their own (first run).

Each test needs its agent on PATH and is skipped otherwise, saying how to install it
(`.ci/run` installs all four when npm is there). Versions these were written against:
pi 0.73.1, Claude Code 2.1.197, codex-cli 0.171.0, opencode 1.18.33
(tests/plugins/agents/real/README.md has what each shows).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pirun_agents import PRESETS

pytestmark = pytest.mark.slow

PACKAGES = {
    "pi": "@mariozechner/pi-coding-agent",
    "claude": "@anthropic-ai/claude-code",
    "codex": "@openai/codex",
    "opencode": "opencode-ai",
}
#: Anything that could sign an agent in: none reaches these first runs.
SECRETS = re.compile(r"API_KEY|TOKEN|SECRET|ANTHROPIC|OPENAI|GEMINI|AWS_|AZURE|GOOGLE")
#: Offline and signed out, every state these tests wait for is reached in seconds.
WITHIN = 60


def installed(agent: str) -> str:
    path = shutil.which(agent)
    if path is None:
        pytest.skip(f"{agent} is not installed (npm install -g {PACKAGES[agent]})")
    return path


@pytest.fixture
def first_run(tmp_path: Path) -> dict[str, str]:
    """The environment of a new user: an empty HOME, no credentials."""
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not SECRETS.search(key)}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local" / "share"), TERM="xterm-256color")
    return env


def pirun(repo: Any, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pirun", *args], cwd=repo.path, env=env,
                          capture_output=True, text=True, timeout=WITHIN,
                          stdin=subprocess.DEVNULL)


def settled(repo: Any, want: set[str]) -> dict[str, Any]:
    """The issue's record once its status is one of `want`; fails naming the last."""
    deadline = time.monotonic() + WITHIN
    record: dict[str, Any] = {}
    while time.monotonic() < deadline:
        record = repo.status(1) or {}
        if record.get("status") in want:
            return record
        time.sleep(0.2)
    raise AssertionError(f"still {record.get('status')!r} after {WITHIN} s: {record}")


def start(repo: Any, env: dict[str, str], agent: str, backend: dict[str, Any],
          mode: str) -> None:
    installed(agent)
    repo.write_config(agent={"preset": agent, "mode": mode}, detect={"idle_seconds": 3},
                      **backend)
    repo.add_issue(1, "Add a hello() function")
    result = pirun(repo, env, "run", "1", "--no-attach")
    assert result.returncode == 0, result.stderr


@pytest.fixture
def tmux(tmux_socket: str) -> dict[str, Any]:
    return {"backend": "tmux", "tmux": {"socket_name": tmux_socket}}


PROCESS = {"backend": "process"}


# --- the presets' argv is what the programs accept ---------------------------------------

#: What each preset's print-mode argv relies on, as `--help` must show it.
HELP = {
    "pi": (["pi", "--help"], "--print"),
    "claude": (["claude", "--help"], "-p, --print"),
    "codex": (["codex", "exec", "--help"], "Usage: codex exec"),
    "opencode": (["opencode", "run", "--help"], "opencode run"),
}


@pytest.mark.parametrize("agent", sorted(HELP))
def test_the_preset_s_command_is_one_the_program_accepts(agent: str, first_run: dict) -> None:
    installed(agent)
    argv, expected = HELP[agent]
    assert argv[0] == PRESETS[agent].print[0]
    shown = subprocess.run(argv, capture_output=True, text=True, env=first_run, timeout=WITHIN,
                           stdin=subprocess.DEVNULL)
    assert shown.returncode == 0, (argv, shown.stderr[-500:])
    assert expected in shown.stdout + shown.stderr, (argv, expected)


# --- first run, interactive, in tmux -----------------------------------------------------


@pytest.fixture
def codex_daemons(first_run: dict[str, str]) -> Iterator[None]:
    """codex starts a daemon of its own at the sign-in screen, in a session of its own
    (so no session backend can stop it), from a copy of itself under HOME: ended
    here, by that HOME in its command line."""
    yield
    home = first_run["HOME"].encode()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and home in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


def test_codex_signed_out_waits_for_a_sign_in(
    repo: Any, first_run: dict, tmux: dict, codex_daemons: None
) -> None:
    start(repo, first_run, "codex", tmux, "interactive")
    # ~10 s here (codex draws its first screen after 3-5 s; idle_seconds is 3): the
    # deadline only decides how long a failing run takes to say so.
    record = settled(repo, {"waiting", "error", "complete"})
    assert (record["status"], record.get("reason")) == ("waiting", "sign-in required"), record
    shown = pirun(repo, first_run, "status", "1").stdout
    assert shown.strip() == "Issue #1: waiting (sign-in required)", shown


def test_pi_without_a_key_waits_for_one(repo: Any, first_run: dict, tmux: dict) -> None:
    start(repo, first_run, "pi", tmux, "interactive")
    record = settled(repo, {"waiting", "error", "complete"})
    assert (record["status"], record.get("reason")) == ("waiting", "API key required"), record


def test_claude_offline_fails_in_its_own_words(repo: Any, first_run: dict, tmux: dict) -> None:
    start(repo, first_run, "claude", tmux, "interactive")
    record = settled(repo, {"error", "complete", "waiting"})
    assert record["status"] == "error", record
    assert record["error_message"].startswith("agent exited with code 1: "), record
    assert re.search(r"(?i)connect|log ?in", record["error_message"]), record


# --- print mode, as the process backend runs them ----------------------------------------


@pytest.mark.parametrize(("agent", "reason"), [
    ("claude", "Not logged in · Please run /login"),
    ("pi", "No API key found for the selected model."),
])
def test_print_mode_signed_out_fails_with_the_agent_s_reason(
    repo: Any, first_run: dict, agent: str, reason: str
) -> None:
    start(repo, first_run, agent, PROCESS, "print")
    record = settled(repo, {"error", "complete"})
    assert record["error_message"] == f"agent exited with code 1: {reason}", record
    listed = json.loads(pirun(repo, first_run, "status", "--json").stdout)
    assert listed[0]["error_message"] == record["error_message"]
