"""`StatusStoreContract`: what every status store must do."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest

from pirun.model import Status, StatusRecord
from pirun.protocols import StatusStore

KEYS = ["7", "PROJ-1", "other/repo#7", "é-ü"]


def _record(issue: str, **changes: object) -> StatusRecord:
    base = StatusRecord(
        issue=issue, status=Status.RUNNING, session=f"pi-issue-{issue}",
        timestamp="2026-01-02T03:04:05Z", started_at="2026-01-02T03:04:00Z",
        run_id="r1", title="A title with “quotes” and\nlines", port=40000,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


class StatusStoreContract:
    """Subclass and define the `contract_store` fixture: a new, empty store."""

    @pytest.fixture
    def contract_store(self) -> StatusStore:
        raise NotImplementedError("define the contract_store fixture in the subclass")

    def test_is_a_status_store(self, contract_store: StatusStore) -> None:
        assert isinstance(contract_store, StatusStore), "does not implement StatusStore"

    def test_an_unknown_issue_has_no_record(self, contract_store: StatusStore) -> None:
        assert contract_store.get("7") is None
        assert contract_store.list() == []

    @pytest.mark.parametrize("key", KEYS)
    def test_a_record_comes_back_as_it_was_put(self, contract_store: StatusStore, key: str) -> None:
        record = _record(key)
        contract_store.put(record)
        assert contract_store.get(key) == record, f"the record of {key!r} changed in the store"

    def test_an_error_record_keeps_its_message(self, contract_store: StatusStore) -> None:
        record = _record("7", status=Status.ERROR, error_message="agent exited with code 1")
        contract_store.put(record)
        assert contract_store.get("7") == record

    def test_put_replaces(self, contract_store: StatusStore) -> None:
        contract_store.put(_record("7"))
        contract_store.put(_record("7", status=Status.COMPLETE, run_id="r2"))
        stored = contract_store.get("7")
        assert stored is not None and stored.run_id == "r2", "put did not replace the record"

    def test_list_holds_every_record_in_natural_order(self, contract_store: StatusStore) -> None:
        for key in ["10", "PROJ-1", "2"]:
            contract_store.put(_record(key))
        assert [r.issue for r in contract_store.list()] == ["2", "10", "PROJ-1"]

    def test_delete_removes_and_forgives_a_missing_record(
        self, contract_store: StatusStore
    ) -> None:
        contract_store.put(_record("7"))
        contract_store.delete("7")
        contract_store.delete("7")
        assert contract_store.get("7") is None

    def test_update_writes_what_change_returns(self, contract_store: StatusStore) -> None:
        made = contract_store.update("7", lambda current: _record("7") if current is None else None)
        assert made == _record("7") and contract_store.get("7") == made
        unchanged = contract_store.update("7", lambda current: None)
        assert unchanged is None and contract_store.get("7") == made, "None must change nothing"

    def test_concurrent_updates_never_lose_one(self, contract_store: StatusStore) -> None:
        contract_store.put(_record("7", port=0))

        def bump(_: int) -> None:
            contract_store.update(
                "7", lambda current: dataclasses.replace(current, port=(current.port or 0) + 1)
                if current else None,
            )

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(bump, range(80)))
        stored = contract_store.get("7")
        assert stored is not None and stored.port == 80, f"lost updates: {stored and stored.port}"
