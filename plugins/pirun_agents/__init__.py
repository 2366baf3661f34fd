"""Agent presets (pi, claude, codex, opencode, demo), custom argv, and prompt workflows."""

from __future__ import annotations

import string
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pirun import hookimpl
from pirun.config import Config
from pirun.errors import ConfigError
from pirun.model import Issue, Workspace

#: What agents without an `@file` syntax are told; the prompt itself stays in a file
#: so its size and content never meet an argv or a terminal.
READ_PROMPT = "Read the task in {prompt_file} and carry it out, following its instructions."


@dataclass(frozen=True)
class Preset:
    interactive: tuple[str, ...]
    print: tuple[str, ...]
    #: The agent's idle input prompt, for detecting a session waiting for the user:
    #: a bare prompt character, possibly inside a TUI's input box, or the box's
    #: bottom edge. A heuristic; `agent.input_prompt` overrides it.
    input_prompt: str = r"^[\s│┃|]*[>❯›]\s*[│┃|]?\s*$|^\s*[╰└][─━]+[╯┘]\s*$"


PRESETS: dict[str, Preset] = {
    # pi: `@path` puts a file into the first message; --print runs once and exits.
    "pi": Preset(("pi", "@{prompt_file}"), ("pi", "--print", "@{prompt_file}")),
    "claude": Preset(("claude", READ_PROMPT), ("claude", "-p", READ_PROMPT)),
    "codex": Preset(("codex", READ_PROMPT), ("codex", "exec", READ_PROMPT)),
    "opencode": Preset(
        ("opencode", "--prompt", READ_PROMPT), ("opencode", "run", READ_PROMPT)
    ),
    "demo": Preset(
        (sys.executable, "-m", "pirun_agents.demo", "{issue}", "{prompt_file}"),
        (sys.executable, "-m", "pirun_agents.demo", "{issue}", "{prompt_file}"),
    ),
}


def substitute(argv: list[str] | tuple[str, ...], values: dict[str, str]) -> list[str]:
    """Fill `{name}` placeholders in each argv element; nothing is ever re-parsed."""
    result = []
    for element in argv:
        for name, value in values.items():
            element = element.replace("{" + name + "}", value)
        result.append(element)
    return result


def agent_mode(config: Config) -> str:
    mode = config.get("agent.mode") or ("interactive" if config.backend == "tmux" else "print")
    if mode not in ("interactive", "print"):
        raise ConfigError("configuration key 'agent.mode' must be interactive or print")
    return mode


@hookimpl(trylast=True)
def pirun_agent_command(
    config: Config, issue: Issue, workspace: Workspace, prompt_file: Path
) -> list[str]:
    values = {
        "issue": str(issue.number),
        "prompt_file": str(prompt_file),
        "worktree": str(workspace.path),
        "branch": workspace.branch,
        "session": config.session_name(issue.number),
        "repo": str(config.root),
    }
    custom = config.agent_command()
    if custom:
        return substitute(custom, values)
    name = config.get("agent.preset")
    preset = PRESETS.get(name)
    if preset is None:
        raise ConfigError(
            f"unknown agent preset '{name}' (known: {', '.join(sorted(PRESETS))}; "
            "or set agent.command)"
        )
    argv = preset.interactive if agent_mode(config) == "interactive" else preset.print
    return substitute(argv, values)


@hookimpl(trylast=True)
def pirun_input_prompt(config: Config) -> str | None:
    if config.get("agent.input_prompt"):
        return config.get("agent.input_prompt")
    if config.agent_command():
        return None
    preset = PRESETS.get(config.get("agent.preset"))
    return preset.input_prompt if preset else None


def defuse_markers(text: str) -> str:
    """Issue text may carry a fake `###TASK_COMPLETE_N###`; spaced out, it can no
    longer end the run when an agent echoes its prompt, and the real marker stays
    distinguishable from every line of the prompt."""
    return text.replace("###TASK_", "### TASK_")


def load_workflow(config: Config, workflow: str | None) -> str:
    name = workflow or "default"
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"invalid workflow name '{name}'")
    local = config.root / ".pirun" / "workflows" / f"{name}.md"
    if local.is_file():
        return local.read_text(encoding="utf-8")
    bundled = resources.files(__package__) / "workflows" / f"{name}.md"
    if bundled.is_file():
        return bundled.read_text(encoding="utf-8")
    raise ConfigError(f"workflow '{name}' not found (looked in .pirun/workflows/{name}.md)")


@hookimpl(trylast=True)
def pirun_render_prompt(
    config: Config, issue: Issue, workspace: Workspace, workflow: str | None
) -> str:
    # string.Template substitutes once: `$x` inside an issue body stays literal.
    template = string.Template(load_workflow(config, workflow))
    return template.safe_substitute(
        number=issue.number,
        title=defuse_markers(issue.title),
        body=defuse_markers(issue.body),
        url=issue.url,
        branch=workspace.branch,
        worktree=str(workspace.path),
        complete_marker=f"###TASK_COMPLETE_{issue.number}###",
        error_marker=f"###TASK_ERROR_{issue.number}###",
    )
