"""Agent presets (pi, claude, codex, opencode, demo), custom argv, and prompt workflows."""

from __future__ import annotations

import json
import shlex
import string
import sys
from dataclasses import dataclass
from pathlib import Path

from pirun.api import Config, ConfigError, Issue, Workspace, display_key, hookimpl

#: What agents without an `@file` syntax are told; the prompt itself stays in a file
#: so its size and content never meet an argv or a terminal.
READ_PROMPT = "Read the task in {prompt_file} and carry it out, following its instructions."


@dataclass(frozen=True)
class Preset:
    interactive: tuple[str, ...]
    print: tuple[str, ...]
    #: Text the agent shows only when it waits for a person: idle at its input prompt,
    #: or asking to approve a tool. `re.search`ed in the last line the wrapper cleaned
    #: from the terminal output once the agent has been quiet for
    #: `detect.idle_seconds`; `agent.input_prompt` overrides it. These TUIs place
    #: words and cells with cursor moves, which cleaning removes, so the gaps
    #: between words may be gone (`?forshortcuts`): hence `\s*`. See
    #: docs/configuration.md#agent-presets for where each pattern comes from.
    input_prompt: str | None = None
    #: Screens that need a person, regex -> reason, searched in every line of the
    #: rendered screen (`agent.attention` overrides them). Taken from the real
    #: programs' first run, signed out and offline (tests/plugins/agents/real/).
    attention: tuple[tuple[str, str], ...] = ()


SIGN_IN = "sign-in required"
TRUST = "trust this folder?"
API_KEY = "API key required"
APPROVAL = "approval needed"

#: pi 0.73.1 without a key: `No API key found for the selected model` above its prompt.
PI_ATTENTION = ((r"No API key found", API_KEY),)
#: Claude Code 2.1.197: the first-run folder check (`Yes, I trust this folder`) and
#: its sign-in (`Select login method`, `/login`).
CLAUDE_ATTENTION = (
    (r"Yes, I trust this folder", TRUST),
    (r"Select login method|Please run /login", SIGN_IN),
    # A tool call to approve (the Bash permission dialog captured in screens/).
    (r"Do you want to (?:proceed|make this edit)|This command requires approval", APPROVAL),
)
#: codex-cli 0.171.0: the welcome screen's `Sign in with ChatGPT`, the browser step
#: `Finish signing in via your browser`, and `Trust this folder?`.
CODEX_ATTENTION = (
    (r"Sign in with ChatGPT|Finish signing in", SIGN_IN),
    (r"Trust this folder\?", TRUST),
    # The approval overlay (codex-rs/tui/src/bottom_pane/approval_overlay.rs).
    (r"Would you like to (?:run|make|grant|send)\b", APPROVAL),
)
#: opencode 1.18.33: a tool call to approve (routes/session/permission.tsx).
OPENCODE_ATTENTION = ((r"△ Permission required", APPROVAL),)

def agent_hook(agent: str) -> str:
    """The command an agent's own hook runs: it tells the session's exec wrapper
    (`pirun.agent_event`). Fixed text: no issue data is ever part of it."""
    return f"{shlex.quote(sys.executable)} -m pirun.agent_event {agent}"


#: Claude Code's hooks for this session only (`--settings`, never the user's own
#: settings files): its turn ended (`Stop`), it needs a person (`Notification`:
#: `permission_prompt`, `idle_prompt`), it goes on (`UserPromptSubmit`). Each gets the
#: event as JSON on stdin (docs.claude.com/docs/claude-code/hooks).
CLAUDE_SETTINGS = json.dumps({
    "hooks": {
        event: [{"hooks": [{"type": "command", "command": agent_hook("claude")}]}]
        for event in ("Stop", "Notification", "UserPromptSubmit")
    }
})
#: codex's `notify` program for this session only (`-c`, a TOML array): run with
#: `{"type": "agent-turn-complete", ...}` as its last argument when a turn ends.
CODEX_NOTIFY = "notify=" + json.dumps([sys.executable, "-m", "pirun.agent_event", "codex"])

#: pi (badlogic/pi-mono, packages/coding-agent): the footer's context usage,
#: `0.1%/200k (auto)` or `?/200k`, ends every redraw once the `Working...` loader
#: (shown from agent_start to agent_end) is gone. Source:
#: src/modes/interactive/components/footer.ts (`${percent}%/${formatTokens(window)}`),
#: src/modes/interactive/interactive-mode.ts (the loader).
PI_WAITING = r"(?:\d+\.\d%|\?)/\d+(?:\.\d+)?[kM]?\b"

#: Claude Code (@anthropic-ai/claude-code, TUI source not public; strings from the
#: shipped 2.1 bundle, screens captured from it): the idle footer `? for shortcuts`
#: (or the permission mode shown in its place), and the permission dialog
#: `Do you want to proceed?` ... `Esc to cancel · Tab to amend`.
CLAUDE_WAITING = (
    r"\?\s*for\s*shortcuts"
    r"|(?:accept\s*edits|plan\s*mode|bypass\s*permissions)\s*on\b"
    r"|Do\s*you\s*want\s*to\s*(?:proceed|make\s*this\s*edit)"
    r"|Esc\s*to\s*cancel"
)

#: Codex (openai/codex, codex-rs/tui): the separator closing a turn,
#: `─ Worked for 1m 05s ─` (history_cell.rs, FinalMessageSeparator), the empty
#: composer's placeholder `Ask Codex to do anything` (chatwidget.rs), and the
#: approval overlay's question `Would you like to run the following command?`
#: (bottom_pane/approval_overlay.rs).
CODEX_WAITING = (
    r"Worked\s*for\s*\d"
    r"|Ask\s*Codex\s*to\s*do\s*anything"
    r"|Would\s*you\s*like\s*to\s*(?:run|make|grant|send)\b"
)

#: opencode (sst/opencode, now anomalyco/opencode; packages/opencode/src/cli/cmd/tui):
#: a finished assistant message's footer `▣ Build · model · 35.3s` gets its duration
#: only once the message completed (routes/session/index.tsx; durations as `120ms`,
#: `35.3s`, `2m 5s`, `1h 3m`), and the permission prompt `△ Permission required`
#: (routes/session/permission.tsx).
OPENCODE_WAITING = (
    r"·\s*(?:\d+ms|\d+\.\d+s|\d+m\s*\d+s|\d+h\s*\d+m|\d+d\s*\d+h)\b"
    r"|Permission\s*required"
)


PRESETS: dict[str, Preset] = {
    # pi: `@path` makes the file's text the first message (src/main.ts,
    # prepareInitialMessage); --print/-p processes it and exits (src/cli/args.ts).
    "pi": Preset(
        ("pi", "@{prompt_file}"), ("pi", "--print", "@{prompt_file}"), PI_WAITING,
        PI_ATTENTION,
    ),
    # claude [prompt] starts the TUI on a first message; -p/--print runs once.
    "claude": Preset(
        ("claude", "--settings", CLAUDE_SETTINGS, READ_PROMPT), ("claude", "-p", READ_PROMPT),
        CLAUDE_WAITING, CLAUDE_ATTENTION,
    ),
    # codex [PROMPT] is the TUI; `codex exec [PROMPT]` runs non-interactively.
    "codex": Preset(
        ("codex", "-c", CODEX_NOTIFY, READ_PROMPT), ("codex", "exec", READ_PROMPT),
        CODEX_WAITING, CODEX_ATTENTION,
    ),
    # opencode --prompt starts the TUI on a prompt; `opencode run [message..]` runs once.
    "opencode": Preset(
        ("opencode", "--prompt", READ_PROMPT), ("opencode", "run", READ_PROMPT),
        OPENCODE_WAITING, OPENCODE_ATTENTION,
    ),
    # The scripted demo agent never waits for anyone.
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
        "issue": issue.key,
        "prompt_file": str(prompt_file),
        "worktree": str(workspace.path),
        "branch": workspace.branch,
        "session": config.session_name(issue.key),
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
def pirun_attention_screens(config: Config) -> dict[str, str] | None:
    configured = config.get("agent.attention")
    if configured:
        return dict(configured)
    if config.agent_command():
        return None
    preset = PRESETS.get(config.get("agent.preset"))
    return dict(preset.attention) if preset and preset.attention else None


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
    from importlib import resources  # 1.5 MiB: not in every exec wrapper

    bundled = resources.files(__package__) / "workflows" / f"{name}.md"
    if bundled.is_file():
        return bundled.read_text(encoding="utf-8")
    raise ConfigError(f"workflow '{name}' not found (looked in .pirun/workflows/{name}.md)")


def describe_builds_on(workspace: Workspace) -> str:
    """What the branch starts from, for `$builds_on`: each blocker, its branch, its
    commits and a diffstat; empty when it starts from the base alone."""
    if not workspace.builds_on:
        return ""
    lines = ["This branch starts from the work of the issues it depends on:"]
    for work in workspace.builds_on:
        lines += ["", f"- {display_key(work.issue)}, branch `{work.branch}` at {work.commit[:12]}"]
        lines += [f"  - {subject}" for subject in work.subjects]
        if work.diffstat:
            lines += ["", "  ```", *(f"  {line}" for line in work.diffstat.splitlines()), "  ```"]
    lines += ["", "Build on that work; do not redo or revert it."]
    return defuse_markers("\n".join(lines))


@hookimpl(trylast=True)
def pirun_render_prompt(
    config: Config, issue: Issue, workspace: Workspace, workflow: str | None
) -> str:
    # string.Template substitutes once: `$x` inside an issue body stays literal.
    template = string.Template(load_workflow(config, workflow))
    return template.safe_substitute(
        # $issue reads "#42" for a number and "PROJ-7" otherwise; $key and $number
        # are the bare key (the seed's templates say "#$number").
        issue=display_key(issue.key),
        key=issue.key,
        number=issue.key,
        title=defuse_markers(issue.title),
        body=defuse_markers(issue.body),
        url=issue.url,
        branch=workspace.branch,
        worktree=str(workspace.path),
        builds_on=describe_builds_on(workspace),
        complete_marker=f"###TASK_COMPLETE_{issue.key}###",
        error_marker=f"###TASK_ERROR_{issue.key}###",
    )
