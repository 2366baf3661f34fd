"""Notifications when an issue finishes, a batch ends or an agent waits for input:
desktop (`notify-send`), the terminal bell, and a webhook (JSON POST, Slack-compatible).

Every channel is off until configured; a channel that fails is logged and never
fails a run.
"""

from __future__ import annotations

import subprocess
import sys

# shutil is imported where it is used: bz2, lzma and zlib come with it, 1.6 MiB
# in every session's exec wrapper, which loads this module and never needs them.
from pirun.api import (
    Config,
    Conflict,
    Option,
    Outcome,
    Status,
    StatusRecord,
    display_key,
    get_logger,
    hookimpl,
    json_key,
)

log = get_logger()

WEBHOOK_TIMEOUT = 10.0


@hookimpl
def pirun_config_options() -> dict[str, object]:
    return {
        "notify": {
            "desktop": Option(bool, False, "Desktop notifications through notify-send."),
            "bell": Option(bool, False, "Ring the terminal bell."),
            "webhook": Option(
                str, None, "URL receiving a JSON POST per event ({\"text\": ...}, Slack-style)."
            ),
        }
    }


def notify(config: Config, title: str, message: str, payload: dict[str, object]) -> None:
    if config.get("notify.desktop"):
        _desktop(title, message)
    if config.get("notify.bell"):
        sys.stderr.write("\a")
        sys.stderr.flush()
    url = config.get("notify.webhook")
    if url:
        _webhook(url, {"text": f"{title}: {message}", **payload})


def _desktop(title: str, message: str) -> None:
    import shutil

    program = shutil.which("notify-send")
    if program is None:
        log.info("notify-send not found; desktop notification skipped")
        return
    try:
        subprocess.run(
            [program, "--app-name=pirun", "--", title, message],
            capture_output=True, timeout=10, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("desktop notification failed", error=str(exc))


def _webhook(url: str, payload: dict[str, object]) -> None:
    import httpx  # only when a webhook is configured: every session loads this plugin

    try:
        response = httpx.post(url, json=payload, timeout=WEBHOOK_TIMEOUT)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        # The URL may carry a secret token (Slack hooks do): never log it.
        log.warning("webhook notification failed", error=type(exc).__name__)


@hookimpl
def pirun_session_finished(config: Config, record: StatusRecord, outcome: Outcome) -> None:
    if record.status is Status.COMPLETE:
        message = f"issue {display_key(record.issue)} complete"
    else:
        message = f"issue {display_key(record.issue)} failed: {record.error_message or 'error'}"
    notify(config, "pirun", message, {
        "event": "issue_finished", "issue": json_key(record.issue), "status": record.status.value,
        "error_message": record.error_message,
    })


@hookimpl
def pirun_batch_finished(config: Config, results: list[StatusRecord]) -> None:
    complete = sum(1 for record in results if record.status is Status.COMPLETE)
    failed = sum(1 for record in results if record.status is Status.ERROR)
    notify(config, "pirun", f"batch finished: {complete} complete, {failed} failed", {
        "event": "batch_finished", "complete": complete, "failed": failed,
        "issues": [record.to_dict() for record in results],
    })


@hookimpl
def pirun_session_waiting(config: Config, record: StatusRecord, last_line: str) -> None:
    why = f" ({record.reason})" if record.reason else ""
    notify(config, "pirun", f"issue {display_key(record.issue)} is waiting for input{why}", {
        "event": "issue_waiting", "issue": json_key(record.issue), "last_line": last_line,
        "reason": record.reason,
    })


@hookimpl
def pirun_branches_conflict(config: Config, conflict: Conflict) -> None:
    message = f"issue {display_key(conflict.first)} {conflict.describe(conflict.first)}"
    notify(config, "pirun", message, {
        "event": "branches_conflict",
        "issues": [json_key(conflict.first), json_key(conflict.second)],
        "files": list(conflict.files),
    })
