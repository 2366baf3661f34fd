"""Recording how a session ended, exactly once, whoever notices first."""

from __future__ import annotations

import dataclasses

from pirun.model import Outcome, Status, StatusRecord, utc_now
from pirun.runtime import Runtime


def record_outcome(
    rt: Runtime, issue: int, outcome: Outcome, run_id: str | None = None
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
        )

    record = rt.store.update(issue, change)
    if record is not None:
        rt.pm.hook.pirun_session_finished(
            config=rt.config, record=record, outcome=outcome,
            workspace=rt.workspaces.find(issue),
        )
    return record
