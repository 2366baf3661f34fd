"""`pirun logs [-f]`: print an agent's log, and keep following it while the run lasts."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import watchfiles

from pirun.runtime import Runtime
from pirun.sessions import reconcile
from pirun.terminal import LineAssembler


def _finished(rt: Runtime, issue: str) -> bool:
    if rt.backend.exists(rt.config.session_name(issue)):
        return False
    record = rt.store.get(issue)
    if record is not None and not record.status.is_final:
        # Session gone, record still running: a run being started (reconcile leaves
        # it alone) or a vanished session, which nobody else may ever record.
        reconcile(rt)
        record = rt.store.get(issue)
    return record is None or record.status.is_final


def print_log(rt: Runtime, issue: str, path: Path, *, follow: bool, raw: bool) -> None:
    lines = LineAssembler()
    out = sys.stdout.buffer

    def emit(data: bytes) -> None:
        if raw:
            out.write(data)
        else:
            for line in lines.feed(data):
                out.write(line.encode("utf-8", "replace") + b"\n")
        out.flush()

    with open(path, "rb") as log:
        emit(log.read())
        if follow:
            stop = threading.Event()
            # File events wake us at once; the timeout re-checks whether the run ended.
            for _changes in watchfiles.watch(
                path.parent, stop_event=stop, rust_timeout=1000, yield_on_timeout=True,
                debounce=50, step=20,
            ):
                emit(log.read())
                if _finished(rt, issue):
                    emit(log.read())
                    break
    if not raw:
        for line in lines.flush():
            out.write(line.encode("utf-8", "replace") + b"\n")
        out.flush()
