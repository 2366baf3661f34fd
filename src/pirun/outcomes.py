"""Recording how a session ended, exactly once, whoever notices first."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path

from pirun.atomic import write_text
from pirun.keys import key_name
from pirun.model import Outcome, Status, StatusRecord, utc_now
from pirun.runtime import Runtime


def record_outcome(
    rt: Runtime, issue: str, outcome: Outcome, run_id: str | None = None
) -> StatusRecord | None:
    """Turn a running record final and fire `pirun_session_finished`.

    Returns the new record, or None when the record was already final or belongs
    to another run (`run_id`), so lifecycle hooks run once per run.
    """

    def change(current: StatusRecord | None) -> StatusRecord | None:
        if current is None or current.status.is_final:
            return None
        if run_id is not None and current.run_id not in (None, run_id):
            return None
        return dataclasses.replace(
            current,
            status=outcome.status,
            timestamp=utc_now(),
            error_message=outcome.message if outcome.status is Status.ERROR else None,
            reason=None,
            source=outcome.source or None,
        )

    record = rt.store.update(issue, change)
    if record is not None:
        rt.pm.hook.pirun_session_finished(
            config=rt.config, record=record, outcome=outcome,
            workspace=rt.workspaces.find(issue),
        )
    return record


# -- outcomes that outlive their record -----------------------------------------------
#
# `pirun cleanup` deletes finished issues' status records, possibly while a batch (or
# `pirun wait`) that watched the run has not read the result yet. Before deleting, it
# keeps the record here; a watcher that finds the record of a run it watched gone
# reads the outcome from this copy, so removing a finished issue never changes what
# the batch reports. One copy per issue, replaced by the next cleanup, removed when
# the issue starts again.


def cleaned_path(rt: Runtime, issue: str) -> Path:
    return rt.config.run_dir / "cleaned" / f"{key_name(issue)}.json"


def keep_cleaned(rt: Runtime, record: StatusRecord) -> None:
    """Keep `record`, about to be deleted by cleanup, for watchers of its run.

    Raises OSError when it cannot be written: the caller then keeps the record."""
    # Atomically: a watcher reads the whole copy or none.
    write_text(cleaned_path(rt, record.issue), json.dumps(record.to_dict()))


def cleaned_record(rt: Runtime, issue: str, run_id: str | None) -> StatusRecord | None:
    """The record cleanup removed for run `run_id` of `issue` (any run if None), as
    its watchers report it: a run removed while it was still running is an error."""
    try:
        record = StatusRecord.from_dict(json.loads(cleaned_path(rt, issue).read_bytes()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if run_id is not None and record.run_id != run_id:
        return None
    if not record.status.is_final:
        return dataclasses.replace(
            record, status=Status.ERROR, error_message="removed by `pirun cleanup` while running"
        )
    return record


def forget_cleaned(rt: Runtime, issue: str) -> None:
    """A new run of `issue` starts: the last cleaned run's copy is nobody's any more."""
    with contextlib.suppress(OSError):
        cleaned_path(rt, issue).unlink(missing_ok=True)
