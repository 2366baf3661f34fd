"""The outcome `pirun cleanup` keeps for watchers of a run whose record it deletes."""

from __future__ import annotations

from typing import Any

import pytest

from pirun.model import Status, StatusRecord
from pirun.outcomes import cleaned_path, cleaned_record, forget_cleaned, keep_cleaned
from pirun.runtime import Runtime


@pytest.fixture
def rt(repo: Any) -> Runtime:
    return Runtime.load(repo.path)


def record(run_id: str | None, status: Status = Status.ERROR) -> StatusRecord:
    return StatusRecord(
        issue=4, status=status, session="pi-issue-4", timestamp="2024-05-01T10:00:00Z",
        run_id=run_id, title="Four",
        error_message="tests failed\nsee log" if status is Status.ERROR else None,
    )


def test_kept_outcome_is_found_for_its_own_run_only(rt: Runtime) -> None:
    keep_cleaned(rt, record("run-a"))

    assert cleaned_record(rt, 4, "run-a") == record("run-a")
    assert cleaned_record(rt, 4, None) == record("run-a")
    assert cleaned_record(rt, 4, "run-b") is None
    assert cleaned_record(rt, 5, "run-a") is None


def test_the_next_cleanup_of_the_issue_replaces_the_kept_outcome(rt: Runtime) -> None:
    keep_cleaned(rt, record("run-a"))
    keep_cleaned(rt, record("run-b", Status.COMPLETE))

    assert cleaned_record(rt, 4, "run-a") is None
    assert cleaned_record(rt, 4, "run-b") == record("run-b", Status.COMPLETE)
    assert [p.name for p in cleaned_path(rt, 4).parent.iterdir()] == ["4.json"]


def test_a_new_run_of_the_issue_forgets_the_kept_outcome(rt: Runtime) -> None:
    keep_cleaned(rt, record("run-a"))

    forget_cleaned(rt, 4)
    forget_cleaned(rt, 4)

    assert cleaned_record(rt, 4, "run-a") is None


def test_unreadable_kept_outcome_is_no_outcome(rt: Runtime) -> None:
    path = cleaned_path(rt, 4)
    path.parent.mkdir(parents=True)
    for junk in ("", "{not json", "[]", '{"issue": 4}'):
        path.write_text(junk)
        assert cleaned_record(rt, 4, None) is None, junk
