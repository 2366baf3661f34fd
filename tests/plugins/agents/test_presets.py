"""Agent presets turn into argv lists, with the prompt passed as a file, never as text."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from pirun.model import Issue, IssueRef, Workspace
from pirun.runtime import Runtime

ISSUE = Issue(IssueRef("", 42), "Fix `rm -rf /` $(touch PWNED)", body="x" * 10_000)


def agent_argv(repo, **agent: object) -> tuple[list[str], Path]:
    repo.write_config(backend="process", agent=agent)
    rt = Runtime.load(repo.path)
    workspace = Workspace(42, repo.path / ".worktrees" / "issue-42-fix", "issue-42-fix")
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


def test_unknown_preset_is_a_configuration_error(repo, pirun):
    repo.write_config(backend="process", agent={"preset": "nope"})
    repo.add_issue(1, "Anything")
    result = pirun("run", "1", "--no-attach")
    assert result.exit_code == 3
    assert "unknown agent preset 'nope'" in result.stderr


@pytest.mark.parametrize("line", ["> ", "│ > │", "❯", "╰──────────╯"])
def test_tui_presets_recognise_an_idle_input_prompt(repo, line):
    repo.write_config(backend="process", agent={"preset": "claude"})
    rt = Runtime.load(repo.path)
    pattern = rt.pm.hook.pirun_input_prompt(config=rt.config)
    assert re.search(pattern, line.strip())
    assert not re.search(pattern, "Thinking about the change...")
