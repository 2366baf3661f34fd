"""Which GitHub repository pirun works on: `--repo`, `github.repo`, or the origin remote."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from pirun.api import Config, ConfigError

# GitHub's own rules are narrower; this is only strict enough that a name can be put
# into a URL path or a GraphQL string literal without escaping anything.
_NAME = r"[A-Za-z0-9_.-]+"
REPO_RE = re.compile(rf"^({_NAME})/({_NAME})$")

# `git@host:owner/name(.git)`: scp-like syntax, no scheme.
_SCP_RE = re.compile(rf"^(?:[^@/\s]+@)?[^:/\s]+:/?({_NAME})/({_NAME})/?$")


def valid_repo(value: str) -> bool:
    match = REPO_RE.match(value)
    return match is not None and match.group(1) not in (".", "..") and match.group(2) not in (
        ".", ".."
    )


def _strip_git(owner: str, name: str) -> str | None:
    if name.endswith(".git"):
        name = name[: -len(".git")]
    full = f"{owner}/{name}"
    return full if name and valid_repo(full) else None


def parse_remote_url(url: str) -> str | None:
    """`owner/name` from a git remote URL (https, ssh, git or scp-like), else None."""
    url = url.strip()
    if "://" in url:
        parts = [p for p in urlsplit(url).path.split("/") if p]
        # The last two segments: hosts that serve repositories under a path prefix
        # still end in owner/name.
        return _strip_git(parts[-2], parts[-1]) if len(parts) >= 2 else None
    match = _SCP_RE.match(url)
    return _strip_git(match.group(1), match.group(2)) if match else None


def redact_userinfo(url: str) -> str:
    # A remote URL may carry credentials (https://user:token@host/...); never echo them.
    return re.sub(r"(://)[^/@\s]+@", r"\1***@", url)


def origin_url(root: Path) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "remote", "get-url", "origin"],
            cwd=root, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def resolve_repo(config: Config) -> str:
    """`--repo` (top-level `repo`), then `github.repo`, then the origin remote."""
    return repo_resolver(config)()


def repo_resolver(config: Config) -> Callable[[], str]:
    """`resolve_repo(config)`, to be called later.

    It holds the configured values and the root, not `config`: the tracker keeps it,
    and a tracker is closed by a finalizer of its configuration, which would never
    run if the tracker kept the configuration alive.
    """
    configured = [(key, config.get(key)) for key in ("repo", "github.repo")]
    root = config.root

    def resolve() -> str:
        for key, value in configured:
            if value:
                if not valid_repo(value):
                    raise ConfigError(
                        f"configuration key '{key}' must be owner/name, got '{value}'"
                    )
                return value
        url = origin_url(root)
        if url is None:
            raise ConfigError(
                "cannot tell which GitHub repository to use: set github.repo in .pirun.yaml, "
                "pass --repo owner/name, or add an origin remote"
            )
        repo = parse_remote_url(url)
        if repo is None:
            raise ConfigError(
                f"origin remote '{redact_userinfo(url)}' is not a GitHub repository URL: "
                "set github.repo in .pirun.yaml or pass --repo owner/name"
            )
        return repo

    return resolve
