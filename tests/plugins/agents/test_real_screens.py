"""The screen model against the real agents: each TUI's captured byte stream,
replayed by `pirun.screen`, is exactly the screen tmux showed for it.

The captures (tests/plugins/agents/real/, README.md there: pi 0.73.1, Claude Code
2.1.197, codex-cli 0.171.0, opencode 1.18.33, first run, signed out, offline, in an
80x24 tmux pane) hold the agent's whole output (`*.raw.bin`, from its first byte)
and tmux's own rendering of the pane (`*.screen-final.txt` when the screen changed
after the 15 s sample, else `*.screen.txt`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pirun_agents import API_KEY, APPROVAL, PRESETS, SIGN_IN, TRUST

from pirun.screen import render

REAL = Path(__file__).parent / "real"

# Left out: claude/tui-prompt exits at once (tmux's sample shows "Pane is dead"), and
# opencode/tui-prompt-120s was cut at 200 KB of output.
CASES = [
    "claude/tui-onboarded-80x24",
    "claude/tui-onboarded-trusted-80x24",
    "codex/exec-in-pty-80x24",
    "codex/signin-80x24",
    "codex/tui-ollama-noserver-80x24",
    "codex/tui-ollama-trusted-80x24",
    "codex/tui-oss-noserver-80x24",
    "codex/tui-prompt-80x24",
    "codex/tui-signin-enter-80x24",
    "opencode/tui-prompt-80x24",
    "pi/tui-prompt-80x24",
]


def tmux_screen(case: str) -> list[str]:
    final = REAL / f"{case}.screen-final.txt"
    shot = final if final.exists() else REAL / f"{case}.screen.txt"
    lines = [line.rstrip() for line in shot.read_text(encoding="utf-8").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@pytest.mark.parametrize("case", CASES)
def test_the_replayed_stream_is_the_screen_tmux_showed(case: str) -> None:
    shown = render((REAL / f"{case}.raw.bin").read_bytes(), (24, 80)).lines
    while shown and not shown[-1]:
        shown.pop()
    expected = tmux_screen(case)
    differing = [i for i, (a, b) in enumerate(zip(shown, expected, strict=False)) if a != b]
    assert len(shown) == len(expected) and not differing, (
        f"{case}: line {differing[0] if differing else len(expected)} differs from tmux's"
    )


def test_pi_s_bottom_line_is_its_whole_footer_not_the_model_name_drawn_last() -> None:
    screen = render((REAL / "pi/tui-prompt-80x24.raw.bin").read_bytes(), (24, 80))
    footer = screen.bottom_line().split()
    assert footer[:2] == ["0.0%/0", "(auto)"] and footer[-1] == "unknown", footer
    assert any("No API key found" in line for line in screen.lines), screen.text()


# --- screens that need a person -------------------------------------------------------

NEEDS_A_PERSON = {
    "codex/signin-80x24": ("codex", SIGN_IN),
    "codex/tui-prompt-80x24": ("codex", SIGN_IN),
    "codex/tui-signin-enter-80x24": ("codex", SIGN_IN),
    "codex/tui-ollama-noserver-80x24": ("codex", TRUST),
    "claude/tui-onboarded-80x24": ("claude", TRUST),
    # Past the folder check, signed out: `Not logged in · Please run /login`.
    "claude/tui-onboarded-trusted-80x24": ("claude", SIGN_IN),
    "pi/tui-prompt-80x24": ("pi", API_KEY),
}


def reason_for(agent: str, case: str) -> str | None:
    screen = render((REAL / f"{case}.raw.bin").read_bytes(), (24, 80))
    for pattern, reason in PRESETS[agent].attention:
        if any(re.search(pattern, line) for line in screen.lines):
            return reason
    return None


@pytest.mark.parametrize("case", sorted(NEEDS_A_PERSON))
def test_each_first_run_screen_says_what_it_needs(case: str) -> None:
    agent, reason = NEEDS_A_PERSON[case]
    assert reason_for(agent, case) == reason


@pytest.mark.parametrize("case", sorted(set(CASES) - set(NEEDS_A_PERSON)))
def test_screens_that_need_nobody_give_no_reason(case: str) -> None:
    assert reason_for(case.split("/")[0], case) is None


# --- a failing agent's own words --------------------------------------------------------

LAST_WORDS = {
    # Print mode: the error, then where to read more.
    "pi/print-hello.stderr.txt": "No API key found for the selected model.",
    "claude/print-not-logged-in.stdout.txt": "Not logged in · Please run /login",
    # The TUI offline: the error, then a note that is not the reason.
    "claude/tui-prompt-80x24.raw.bin": "Failed to connect to api.anthropic.com: ENOTFOUND",
}


@pytest.mark.parametrize("capture", sorted(LAST_WORDS))
def test_a_failed_agent_s_last_words_are_its_error_not_the_hint_after_it(capture: str) -> None:
    data = (REAL / capture).read_bytes()
    if not capture.endswith(".raw.bin"):
        data = data.replace(b"\n", b"\r\n")  # as a pty delivers a pipe's lines
    assert render(data, (24, 80)).last_words() == LAST_WORDS[capture]


# The screens a stand-in model API led the real agents to (tests/plugins/agents/screens/,
# each the wrapper's last 2 KiB at that moment): asking to approve a tool is a reason;
# a finished answer is only the input prompt.
@pytest.mark.parametrize(("screen", "reason"), [
    ("claude-permission", APPROVAL), ("claude-idle", None), ("claude-working", None),
    ("codex-idle", None), ("codex-working", None), ("opencode-idle", None),
    ("opencode-working", None), ("pi-idle", None), ("pi-working", None),
])
def test_a_tool_to_approve_is_a_reason_and_an_answer_is_not(
    screen: str, reason: str | None
) -> None:
    shown = render((Path(__file__).parent / "screens" / f"{screen}.bin").read_bytes())
    agent = screen.split("-")[0]
    found = [why for pattern, why in PRESETS[agent].attention
             if any(re.search(pattern, line) for line in shown.lines)]
    assert found[:1] == ([reason] if reason else []), (screen, found)
