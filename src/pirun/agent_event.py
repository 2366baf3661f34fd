"""`python -m pirun.agent_event AGENT [PAYLOAD]`: an agent's own hook, passed on to
the exec wrapper of its session.

Agents that report their turns themselves call this: Claude Code's hooks (`Stop`,
`Notification`, `UserPromptSubmit`, set per session with `--settings`) with their
JSON on stdin, codex's `notify` program with its JSON as the last argument. It writes
one line to the wrapper's event pipe (`$PIRUN_EVENTS`) and exits 0 whatever happens:
a hook must never disturb the agent, and with no wrapper listening there is nobody to
tell. Standard library only, so it starts in a few milliseconds.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
from typing import Any

#: The most of an agent's message passed on (a notification's text).
MESSAGE_CHARS = 300


def summary(agent: str, payload: dict[str, Any]) -> dict[str, str]:
    """The parts of a hook's payload the wrapper acts on: which event, of what kind."""
    if agent == "codex":
        return {"agent": agent, "event": str(payload.get("type", ""))}
    return {
        "agent": agent,
        "event": str(payload.get("hook_event_name", "")),
        "kind": str(payload.get("notification_type", "")),
        "message": str(payload.get("message", ""))[:MESSAGE_CHARS],
    }


def main(argv: list[str]) -> int:
    if not argv:
        return 0
    agent, rest = argv[0], argv[1:]
    with contextlib.suppress(ValueError, OSError):
        text = rest[-1] if rest else sys.stdin.read()
        payload = json.loads(text)
        pipe = os.environ.get("PIRUN_EVENTS")
        if isinstance(payload, dict) and pipe:
            line = json.dumps(summary(agent, payload)) + "\n"
            try:
                fd = os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno in (errno.ENXIO, errno.ENOENT):  # no wrapper listening
                    return 0
                raise
            try:
                os.write(fd, line.encode("utf-8", "replace"))
            finally:
                os.close(fd)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
