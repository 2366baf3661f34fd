"""The outcome `pirun cleanup` keeps for watchers of a run whose record it deletes."""

from __future__ import annotations

import json
from dataclasses import replace
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
        issue="4", status=status, session="pi-issue-4", timestamp="2024-05-01T10:00:00Z",
        run_id=run_id, title="Four",
        error_message="tests failed\nsee log" if status is Status.ERROR else None,
    )


def test_kept_outcome_is_found_for_its_own_run_only(rt: Runtime) -> None:
    keep_cleaned(rt, record("run-a"))

    assert cleaned_record(rt, "4", "run-a") == record("run-a")
    assert cleaned_record(rt, "4", None) == record("run-a")
    assert cleaned_record(rt, "4", "run-b") is None
    assert cleaned_record(rt, "5", "run-a") is None


def test_the_next_cleanup_of_the_issue_replaces_the_kept_outcome(rt: Runtime) -> None:
    keep_cleaned(rt, record("run-a"))
    keep_cleaned(rt, record("run-b", Status.COMPLETE))

    assert cleaned_record(rt, "4", "run-a") is None
    assert cleaned_record(rt, "4", "run-b") == record("run-b", Status.COMPLETE)
    assert [p.name for p in cleaned_path(rt, "4").parent.iterdir()] == ["4.json"]


def test_a_new_run_of_the_issue_forgets_the_kept_outcome(rt: Runtime) -> None:
    keep_cleaned(rt, record("run-a"))

    forget_cleaned(rt, "4")
    forget_cleaned(rt, "4")

    assert cleaned_record(rt, "4", "run-a") is None


def test_unreadable_kept_outcome_is_no_outcome(rt: Runtime) -> None:
    path = cleaned_path(rt, "4")
    path.parent.mkdir(parents=True)
    for junk in ("", "{not json", "[]", '{"issue": 4}'):
        path.write_text(junk)
        assert cleaned_record(rt, "4", None) is None, junk


def test_kept_outcome_of_a_number_is_the_seed_json_with_a_number(rt: Runtime) -> None:
    keep_cleaned(rt, record("run-a"))

    path = cleaned_path(rt, "4")
    assert path.name == "4.json"
    assert json.loads(path.read_text())["issue"] == 4


def test_kept_outcomes_of_name_keys_have_files_of_their_own(rt: Runtime) -> None:
    for key in ("PROJ-4", "o/r#4", "4"):
        keep_cleaned(rt, replace(record(f"run-{key}"), issue=key, session=f"pi-issue-{key}"))

    assert sorted(p.name for p in cleaned_path(rt, "4").parent.iterdir()) == [
        "4.json", "PROJ-4.json", "o_2fr_234.json",
    ]
    kept = cleaned_record(rt, "PROJ-4", "run-PROJ-4")
    assert kept is not None and kept.issue == "PROJ-4"
    assert json.loads(cleaned_path(rt, "PROJ-4").read_text())["issue"] == "PROJ-4"
    assert cleaned_record(rt, "o/r#4", None).issue == "o/r#4"  # type: ignore[union-attr]
    assert cleaned_record(rt, "PROJ-4", "run-4") is None
    forget_cleaned(rt, "PROJ-4")
    assert cleaned_record(rt, "PROJ-4", None) is None
    assert cleaned_record(rt, "4", "run-4") is not None
