"""What a TUI agent shows, from its rendered screen: waiting at a prompt drawn above
its footer, the last output people see, `pirun logs --screen`, and a failing agent's
own words in its error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from featureutil import wait_until

# A TUI like pi at its prompt: the screen is cleared, the prompt drawn on row 22, the
# footer on row 24 with its right end (a model name) drawn last, and the cursor put
# back on the prompt. The stream's last "line" is the model name.
TUI_AT_PROMPT = r"""
import sys, time
def at(row, column, text):
    sys.stdout.write(f"\x1b[{row};{column}H{text}")
sys.stdout.write("\x1b[2J")
at(1, 1, "Welcome to the agent")
at(20, 1, "No API key found for the selected model")
at(22, 1, "> ")
at(24, 1, "0.0%/0 (auto)")
at(24, 50, "some-model")
at(22, 3, "")
sys.stdout.flush()
time.sleep(120)
"""

# Prints why it cannot work, in its own words, then fails.
FAILS_WITH_A_REASON = r"""
import sys
print("Starting up")
print("Not logged in \u00b7 Please run /login")
sys.exit(1)
"""


@pytest.fixture
def tui_repo(repo, httpserver, agent_script):
    httpserver.expect_request("/hook").respond_with_data("ok")
    repo.write_config(
        backend="process",
        agent={"command": agent_script(TUI_AT_PROMPT), "input_prompt": r"^>\s*$"},
        detect={"idle_seconds": 1}, notify={"webhook": httpserver.url_for("/hook")},
    )
    repo.add_issue(1, "Needs a key")
    return repo


@pytest.mark.slow
def test_a_prompt_drawn_above_the_footer_is_waiting(tui_repo, pirun, httpserver):
    assert pirun("run", "1", "--no-attach").exit_code == 0
    wait_until(lambda: (r := tui_repo.status(1)) and r["status"] == "waiting",
               what="the agent at its prompt to be waiting")
    # The hook fires once the record says so.
    waiting = wait_until(lambda: [json.loads(request.data) for request, _ in httpserver.log],
                         what="the waiting notification")
    assert [event["event"] for event in waiting] == ["issue_waiting"], waiting
    # The notification quotes the screen's bottom line, not the last text drawn.
    assert waiting[0]["last_line"].startswith("0.0%/0 (auto)"), waiting[0]
    pirun("stop", "1")


@pytest.mark.slow
def test_logs_screen_prints_what_the_agent_shows(tui_repo, pirun):
    assert pirun("run", "1", "--no-attach").exit_code == 0
    wait_until(lambda: (r := tui_repo.status(1)) and r["status"] == "waiting",
               what="waiting")
    result = pirun("logs", "1", "--screen")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Welcome to the agent", lines[:3]
    assert "No API key found for the selected model" in lines
    assert lines[-1].startswith("0.0%/0 (auto)") and lines[-1].endswith("some-model"), lines
    assert pirun("logs", "1", "--screen", "--raw").exit_code == 3
    listed = json.loads(pirun("list", "--json").stdout)
    assert listed[0]["status"] == "waiting", listed
    pirun("stop", "1")


def test_a_failing_agent_s_error_keeps_its_own_words(repo, pirun, agent_script):
    repo.write_config(backend="process", agent={"command": agent_script(FAILS_WITH_A_REASON)})
    repo.add_issue(1, "Anything")
    result = pirun("batch", "1", "--json")
    assert result.exit_code == 1, result.stderr
    (item,) = json.loads(result.stdout)["results"]
    assert item["message"] == "agent exited with code 1: Not logged in · Please run /login"


# Replays codex-cli 0.171.0's first-run screen, as captured from the real program
# (tests/plugins/agents/real/codex), then stays at it.
REPLAYS_CODEX_SIGN_IN = r"""
import sys, time
sys.stdout.buffer.write(open(sys.argv[3], "rb").read())
sys.stdout.flush()
time.sleep(120)
"""


@pytest.mark.slow
def test_a_sign_in_screen_is_waiting_with_its_reason(repo, pirun, httpserver, agent_script):
    httpserver.expect_request("/hook").respond_with_data("ok")
    capture = (Path(__file__).parents[1] / "plugins" / "agents" / "real" / "codex"
               / "signin-80x24.raw.bin")
    repo.write_config(
        backend="process",
        agent={"command": [*agent_script(REPLAYS_CODEX_SIGN_IN), str(capture)],
               "attention": {"Sign in with ChatGPT": "sign-in required"}},
        detect={"idle_seconds": 1}, notify={"webhook": httpserver.url_for("/hook")},
    )
    repo.add_issue(1, "Anything")
    assert pirun("run", "1", "--no-attach").exit_code == 0
    wait_until(lambda: (r := repo.status(1)) and r["status"] == "waiting",
               what="the sign-in screen to be waiting")
    assert repo.status(1)["reason"] == "sign-in required"
    assert pirun("status", "1").stdout.strip() == "Issue #1: waiting (sign-in required)"
    (row,) = json.loads(pirun("list", "--json").stdout)
    assert (row["status"], row["reason"]) == ("waiting", "sign-in required"), row
    assert "waiting (sign-in required)" in pirun("list").stdout
    (event,) = wait_until(lambda: [json.loads(r.data) for r, _ in httpserver.log],
                          what="the waiting notification")
    assert event["reason"] == "sign-in required", event
    pirun("stop", "1")
