"""Finding a GitHub token: GH_TOKEN, GITHUB_TOKEN, then `gh auth token`."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping

import httpx

from pirun.api import TrackerError

NO_TOKEN = "no GitHub token: set GH_TOKEN or GITHUB_TOKEN, or run `gh auth login`"


def _gh_token(api_url: str) -> str | None:
    gh = shutil.which("gh")
    if gh is None:
        return None
    argv = [gh, "auth", "token"]
    host = httpx.URL(api_url).host
    # gh keeps one token per host; GitHub Enterprise needs its host named.
    if host and host not in ("api.github.com", "github.com"):
        argv += ["--hostname", host]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=15, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    token = proc.stdout.strip()
    return token if proc.returncode == 0 and token else None


def find_token(api_url: str, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    for name in ("GH_TOKEN", "GITHUB_TOKEN"):
        value = env.get(name, "").strip()
        if value:
            return value
    token = _gh_token(api_url)
    if token is None:
        raise TrackerError(NO_TOKEN)
    return token
