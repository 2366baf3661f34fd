"""`pirun demo`: a real batch, offline, on a throwaway repository."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from pirun.runtime import Runtime

DEMO_ISSUES: list[tuple[int, str, list[int], str]] = [
    (1, "Set up the project skeleton", [], "Create the package layout."),
    (2, "Add a configuration loader", [], "Read settings from a file."),
    (3, "Add structured logging", [1], "Log through one configured logger."),
    (4, "Add the command-line entry point", [1, 2], "Wire the CLI to the loader."),
    (5, "Add integration tests", [3, 4], "Cover the CLI end to end."),
    (6, "Write the user guide", [2], "This one fails on purpose: [demo:fail]"),
    (7, "Publish release notes", [6], "Summarise the guide for the release."),
]


def _git(path: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args],
        cwd=path,
        check=True,
        capture_output=True,
        env=None,
    )


def create_demo_repo(target: Path | None = None) -> Path:
    """A fresh repository with seven local issues in three layers, with a diamond
    (#5 waits on #3 and #4, which both wait on #1) and a failing issue (#6) whose
    dependent (#7) is skipped."""
    path = target or Path(tempfile.mkdtemp(prefix="pirun-demo-"))
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "-q", "-b", "main")
    _git(path, "config", "user.name", "pirun demo")
    _git(path, "config", "user.email", "demo@pirun.invalid")
    (path / "README.md").write_text("# pirun demo repository\n", encoding="utf-8")
    backend = "tmux" if shutil.which("tmux") else "process"
    config: dict[str, object] = {
        "tracker": "local",
        "backend": backend,
        "agent": {"preset": "demo"},
        "parallel": {"max_concurrent": 4},
    }
    if backend == "tmux":
        # A private tmux server: the demo never touches the user's own sessions.
        config["tmux"] = {"socket_name": f"pirun-demo-{path.name}"}
    (path / ".pirun.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    issues = path / ".pirun" / "issues"
    issues.mkdir(parents=True)
    for number, title, blocked_by, body in DEMO_ISSUES:
        front = yaml.safe_dump({"title": title, "state": "open", "blocked_by": blocked_by})
        (issues / f"{number}.md").write_text(f"---\n{front}---\n{body}\n", encoding="utf-8")
    (path / ".gitignore").write_text(".worktrees/\n", encoding="utf-8")
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "demo repository with local issues")
    return path


DEMO_KEYS = [str(number) for number, *_ in DEMO_ISSUES]

#: How the demo batch ends when everything works: #6 fails on purpose, so #7 is skipped.
DEMO_EXPECTED = {1: "complete", 2: "complete", 3: "complete", 4: "complete", 5: "complete",
                 6: "error", 7: "skipped"}


def demo_ran_as_planned(rt: Runtime) -> bool:
    for number, state in DEMO_EXPECTED.items():
        record = rt.store.get(str(number))
        if (record.status.value if record else "skipped") != state:
            return False
    return True
