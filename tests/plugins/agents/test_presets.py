"""Agent presets turn into argv lists, with the prompt passed as a file, never as text."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from pirun.model import Issue, Workspace
from pirun.runtime import Runtime
from pirun.wrapper import TAIL_BYTES, last_line

ISSUE = Issue("42", "Fix `rm -rf /` $(touch PWNED)", body="x" * 10_000)


def agent_argv(repo, **agent: object) -> tuple[list[str], Path]:
    repo.write_config(backend="process", agent=agent)
    rt = Runtime.load(repo.path)
    workspace = Workspace("42", repo.path / ".worktrees" / "issue-42-fix", "issue-42-fix")
    prompt = workspace.path / ".pirun-prompt.md"
    argv = rt.pm.hook.pirun_agent_command(
        config=rt.config, issue=ISSUE, workspace=workspace, prompt_file=prompt
    )
    return argv, prompt


@pytest.mark.parametrize(
    ("preset", "mode", "program", "flag"),
    [
        ("pi", "interactive", "pi", None),
        ("pi", "print", "pi", "--print"),
        ("claude", "interactive", "claude", None),
        ("claude", "print", "claude", "-p"),
        ("codex", "interactive", "codex", None),
        ("codex", "print", "codex", "exec"),
        ("opencode", "interactive", "opencode", "--prompt"),
        ("opencode", "print", "opencode", "run"),
    ],
)
def test_preset_passes_the_prompt_file_not_the_issue_text(repo, preset, mode, program, flag):
    argv, prompt = agent_argv(repo, preset=preset, mode=mode)
    assert argv[0] == program
    if flag:
        assert flag in argv
    assert any(str(prompt) in element for element in argv)
    assert not any("PWNED" in element or "xxxx" in element for element in argv)


def test_demo_preset_runs_the_scripted_agent_with_this_python(repo):
    argv, prompt = agent_argv(repo, preset="demo")
    assert argv == [sys.executable, "-m", "pirun_agents.demo", "42", str(prompt)]


def test_custom_command_substitutes_placeholders_per_element(repo):
    argv, prompt = agent_argv(
        repo, command="my-agent --issue={issue} --file '{prompt_file}' {branch} {session}"
    )
    assert argv == ["my-agent", "--issue=42", "--file", str(prompt), "issue-42-fix",
                    "pi-issue-42"]


def test_custom_command_gets_a_name_key_and_its_session(repo):
    repo.write_config(
        backend="process", agent={"command": ["my-agent", "{issue}", "{session}", "{branch}"]}
    )
    rt = Runtime.load(repo.path)
    workspace = Workspace("o/r#7", repo.path / ".worktrees" / "x", "issue-o_2fr_237--fix")
    argv = rt.pm.hook.pirun_agent_command(
        config=rt.config, issue=Issue("o/r#7", "Fix"), workspace=workspace,
        prompt_file=workspace.path / ".pirun-prompt.md",
    )
    # The key itself, as one argv element; the session its safe name.
    assert argv == ["my-agent", "o/r#7", "pi-issue-o_2fr_237", "issue-o_2fr_237--fix"]


def render(repo, issue: Issue, workflow: str | None = None) -> str:
    rt = Runtime.load(repo.path)
    workspace = Workspace(issue.key, repo.path / ".worktrees" / "x", "the-branch")
    return rt.pm.hook.pirun_render_prompt(
        config=rt.config, issue=issue, workspace=workspace, workflow=workflow
    )


def test_default_workflow_heading_shows_the_key_as_people_write_it(repo):
    number = render(repo, Issue("42", "Add a flag"))
    assert number.splitlines()[0] == "# Issue #42: Add a flag"
    assert "###TASK_COMPLETE_42###" in number and "###TASK_ERROR_42###" in number
    named = render(repo, Issue("PROJ-7", "Add a flag"))
    assert named.splitlines()[0] == "# Issue PROJ-7: Add a flag"
    assert "working on issue PROJ-7 in a git worktree" in " ".join(named.split())
    assert "###TASK_COMPLETE_PROJ-7###" in named and "###TASK_ERROR_PROJ-7###" in named
    assert "#PROJ-7" not in named


def test_workflow_placeholders_issue_key_and_number(repo):
    workflows = repo.path / ".pirun" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "keys.md").write_text("$issue|$key|#$number|$complete_marker\n")
    assert render(repo, Issue("42", "t"), "keys") == "#42|42|#42|###TASK_COMPLETE_42###\n"
    assert render(repo, Issue("PROJ-7", "t"), "keys") == (
        "PROJ-7|PROJ-7|#PROJ-7|###TASK_COMPLETE_PROJ-7###\n"
    )


def test_unknown_preset_is_a_configuration_error(repo, pirun):
    repo.write_config(backend="process", agent={"preset": "nope"})
    repo.add_issue(1, "Anything")
    result = pirun("run", "1", "--no-attach")
    assert result.exit_code == 3
    assert "unknown agent preset 'nope'" in result.stderr


# --- waiting patterns -----------------------------------------------------------------------
#
# screens/<agent>-<state>.bin are real terminal output: pi 0.73.1, Claude Code 2.1.197,
# codex-cli 0.169.0 and opencode 1.18.33 (the npm packages) each ran under pirun's tmux
# backend against a local stand-in for their model API, which answered after a delay
# (working), then with a question (idle) or, for Claude Code, a Bash call needing
# approval (permission). Each file is the last TAIL_BYTES of the session log at that
# moment: exactly what the exec wrapper holds when it decides whether a quiet agent
# is waiting.

SCREENS = Path(__file__).parent / "screens"
AGENTS = ("pi", "claude", "codex", "opencode")


def waiting_pattern(repo, **agent: object) -> str | None:
    repo.write_config(backend="process", agent=agent)
    rt = Runtime.load(repo.path)
    return rt.pm.hook.pirun_input_prompt(config=rt.config)


def screen_line(name: str) -> str:
    tail = (SCREENS / f"{name}.bin").read_bytes()
    assert len(tail) == TAIL_BYTES
    return last_line(tail)


@pytest.mark.parametrize(
    "screen", ["pi-idle", "claude-idle", "claude-permission", "codex-idle", "opencode-idle"]
)
def test_preset_pattern_matches_its_agent_waiting_for_a_person(repo, screen):
    agent = screen.split("-")[0]
    assert re.search(waiting_pattern(repo, preset=agent), screen_line(screen))


@pytest.mark.parametrize("agent", AGENTS)
def test_preset_pattern_does_not_match_its_agent_at_work(repo, agent):
    assert not re.search(waiting_pattern(repo, preset=agent), screen_line(f"{agent}-working"))


@pytest.mark.parametrize("agent", AGENTS)
def test_preset_pattern_does_not_match_other_agents_waiting(repo, agent):
    pattern = waiting_pattern(repo, preset=agent)
    others = [s.stem for s in SCREENS.glob("*.bin") if not s.stem.startswith(agent + "-")]
    assert [name for name in others if re.search(pattern, screen_line(name))] == []


# Lines as the agents' TUI source renders them, beyond the captured screens.
FROM_SOURCE = {
    "pi": ["?/200k (auto)", "↑1.2k ↓300 R12k $0.012 45.2%/1.0M   claude-sonnet-4 • medium"],
    "claude": ["  ? for shortcuts", "⏵⏵ accept edits on (shift+tab to cycle)",
               "Do you want to make this edit to hello.py?", "Press Esc to cancel"],
    "codex": ["─ Worked for 1m 05s ──────────", "› Ask Codex to do anything",
              "Would you like to run the following command?",
              "Would you like to make the following edits?"],
    "opencode": ["▣  Build · claude-sonnet-4 · 2m 5s", "▣ Plan · gpt-5 · 820ms",
                 "△ Permission required"],
}

ORDINARY_OUTPUT = [
    "Thinking about the change...",
    "Running tests: 12 passed, 0 failed in 3.41s",
    "$ git commit -m 'Add hello()'",
    "[issue-1-add-hello 3f2a1b0] Add hello()",
    " 2 files changed, 14 insertions(+), 1 deletion(-)",
    "Downloading numpy (15.2 MB) 45%",
    "for shortcut in shortcuts:",
    "def hello() -> str:",
    "> ",
    "❯",
]


@pytest.mark.parametrize(("agent", "line"), [(a, x) for a, lines in FROM_SOURCE.items()
                                             for x in lines])
def test_preset_pattern_matches_waiting_lines_from_the_agents_source(repo, agent, line):
    assert re.search(waiting_pattern(repo, preset=agent), line)


@pytest.mark.parametrize("agent", AGENTS)
def test_preset_pattern_ignores_ordinary_output(repo, agent):
    pattern = waiting_pattern(repo, preset=agent)
    assert [line for line in ORDINARY_OUTPUT if re.search(pattern, line)] == []


def test_configured_input_prompt_replaces_the_presets(repo):
    assert waiting_pattern(repo, preset="claude", input_prompt=r"^READY>$") == r"^READY>$"


def test_custom_command_and_demo_have_no_waiting_pattern(repo):
    assert waiting_pattern(repo, command=["my-agent", "{prompt_file}"]) is None
    assert waiting_pattern(repo, preset="demo") is None
