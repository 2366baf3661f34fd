"""`pirun wait`: block until issues finish, without starting anything."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pirun.model import Status
from pirun.outcomes import cleaned_record
from pirun.runtime import Runtime
from pirun.sessions import reconcile
from pirun.watch import StatusEvents


@dataclass
class WaitResult:
    completed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    timed_out: bool = False
    interrupted: bool = False


def wait_for(
    rt: Runtime,
    keys: list[str],
    *,
    timeout: float | None,
    fail_fast: bool,
    interval: float,
    on_finish: Callable[[str, Status, str], None] = lambda key, status, message: None,
) -> WaitResult:
    """An issue with neither a record nor a session counts as already done; a
    `running` record whose session is gone is an error (`session vanished`). A run
    seen running whose record `pirun cleanup` then removed ends as cleanup found it."""
    result = WaitResult(pending=list(keys))
    # The run of each issue seen running, to find its outcome if its record goes.
    watched: dict[str, str | None] = {}
    deadline = time.monotonic() + timeout if timeout else None
    events: StatusEvents | None = None
    try:
        events = StatusEvents(rt.config.status_dir, interval)
        while True:
            reconcile(rt)
            live: set[str] | None = None  # listed only when an issue has no record
            for key in list(result.pending):
                record = rt.store.get(key)
                if record is None and key in watched:
                    record = cleaned_record(rt, key, watched[key])
                elif record is not None and not record.status.is_final:
                    watched[key] = record.run_id
                if record is None and live is None:
                    live = set(rt.backend.list(rt.config.prefix))
                if record is None and rt.config.session_name(key) not in (live or ()):
                    status, message = Status.COMPLETE, "no session"
                elif record is not None and record.status.is_final:
                    status, message = record.status, record.error_message or ""
                else:
                    continue
                result.pending.remove(key)
                if status is Status.COMPLETE:
                    result.completed.append(key)
                else:
                    result.failed[key] = message
                on_finish(key, status, message)
            if not result.pending or (fail_fast and result.failed):
                return result
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                result.timed_out = True
                return result
            events.wait(remaining)
    except KeyboardInterrupt:
        result.interrupted = True
        return result
    finally:
        if events is not None:
            events.close()
