"""The jsonstatus plugin: one JSON file per issue, atomic writes, locked updates."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pirun_jsonstatus import JsonStatusStore

from pirun.errors import StatusStoreError
from pirun.locks import LockTimeout, file_lock
from pirun.model import Status, StatusRecord
from pirun.protocols import StatusStore
from pirun.runtime import Runtime

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

# Children import the plugin from the installed environment, like any pirun process.
PUT_MANY = """
import sys
from pirun_jsonstatus import JsonStatusStore
from pirun.model import Status, StatusRecord
store = JsonStatusStore(__import__("pathlib").Path(sys.argv[1]))
me = int(sys.argv[2])
for i in range(int(sys.argv[3])):
    store.put(StatusRecord("7", Status.RUNNING, f"writer-{me}", "2024-01-01T00:00:00Z",
                           run_id=f"{me}-{i}"))
"""

INCREMENT = """
import sys, time
from pirun_jsonstatus import JsonStatusStore
from pirun.model import Status, StatusRecord
store = JsonStatusStore(__import__("pathlib").Path(sys.argv[1]))

def bump(record):
    count = int(record.error_message) if record is not None else 0
    time.sleep(0.002)  # widen the read-modify-write window a lost update needs
    return StatusRecord("9", Status.ERROR, "counter", error_message=str(count + 1))

for _ in range(int(sys.argv[2])):
    store.update("9", bump)
"""

HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(600)
"""


@pytest.fixture
def store(tmp_path: Path) -> JsonStatusStore:
    return JsonStatusStore(tmp_path / ".worktrees" / ".status")


def run_children(code: str, *argv_lists: list[str]) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", code, *argv], stderr=subprocess.PIPE, text=True)
        for argv in argv_lists
    ]
    failures = []
    for proc in procs:
        _, err = proc.communicate(timeout=90)
        if proc.returncode != 0:
            failures.append(err)
    assert not failures, failures[0]


# --- the record format ---------------------------------------------------------------------


def test_put_get_roundtrip_writes_the_contract_json_shape(store: JsonStatusStore) -> None:
    record = StatusRecord("42", Status.RUNNING, "pi-issue-42")
    store.put(record)
    data = json.loads((store.directory / "42.json").read_text())
    assert set(data) == {"issue", "status", "session", "timestamp"}
    assert data["issue"] == 42
    assert data["status"] == "running"
    assert data["session"] == "pi-issue-42"
    assert TIMESTAMP.match(data["timestamp"]), data["timestamp"]
    assert store.get("42") == record


def test_error_record_has_error_message_and_others_do_not(store: JsonStatusStore) -> None:
    store.put(StatusRecord("1", Status.ERROR, "pi-issue-1", error_message="tests fail"))
    store.put(StatusRecord("2", Status.COMPLETE, "pi-issue-2", error_message="ignored"))
    error = json.loads((store.directory / "1.json").read_text())
    complete = json.loads((store.directory / "2.json").read_text())
    assert error["status"] == "error" and error["error_message"] == "tests fail"
    assert complete["status"] == "complete" and "error_message" not in complete
    assert store.get("1").error_message == "tests fail"


def test_optional_fields_roundtrip(store: JsonStatusStore) -> None:
    record = StatusRecord(
        "5", Status.WAITING, "pi-issue-5", "2024-05-01T12:00:00Z",
        started_at="2024-05-01T11:00:00Z", run_id="abc123",
    )
    store.put(record)
    assert store.get("5") == record


def test_name_key_roundtrips_through_its_own_file(store: JsonStatusStore) -> None:
    record = StatusRecord("PROJ-1", Status.RUNNING, "pi-issue-PROJ-1")
    store.put(record)
    data = json.loads((store.directory / "PROJ-1.json").read_text())
    assert data["issue"] == "PROJ-1"
    assert data["session"] == "pi-issue-PROJ-1"
    assert store.get("PROJ-1") == record
    assert store.get("PROJ-10") is None
    assert store.list() == [record]


def test_key_with_slash_and_hash_is_stored_under_its_safe_name(store: JsonStatusStore) -> None:
    record = StatusRecord("o/r#7", Status.COMPLETE, "pi-issue-o_2fr_237")
    store.update("o/r#7", lambda old: record)
    assert sorted(p.name for p in store.directory.iterdir()) == [
        ".o_2fr_237.lock", "o_2fr_237.json"
    ]
    assert json.loads((store.directory / "o_2fr_237.json").read_text())["issue"] == "o/r#7"
    assert store.get("o/r#7") == record
    assert store.list() == [record]
    store.delete("o/r#7")
    assert list(store.directory.iterdir()) == []


def test_record_written_by_an_earlier_version_reads_back_with_a_string_key(
    store: JsonStatusStore,
) -> None:
    # The seed wrote `"issue": 7`, a JSON number; the record is issue "7" now.
    store.directory.mkdir(parents=True)
    (store.directory / "7.json").write_text(json.dumps({
        "issue": 7, "status": "error", "session": "pi-issue-7",
        "timestamp": "2024-01-01T00:00:00Z", "error_message": "tests fail",
    }))
    record = store.get("7")
    assert record == StatusRecord(
        "7", Status.ERROR, "pi-issue-7", "2024-01-01T00:00:00Z", error_message="tests fail"
    )
    assert store.list() == [record]
    # Written again, a number stays a JSON number.
    store.update("7", lambda old: StatusRecord("7", Status.RUNNING, old.session))
    assert json.loads((store.directory / "7.json").read_text())["issue"] == 7


def test_list_sorts_keys_naturally_numbers_first(store: JsonStatusStore) -> None:
    for key in ("PROJ-10", "10", "o/r#7", "PROJ-9", "2", "abc"):
        store.put(StatusRecord(key, Status.RUNNING, f"s-{key}"))
    assert [r.issue for r in store.list()] == ["2", "10", "abc", "o/r#7", "PROJ-9", "PROJ-10"]


def test_get_of_missing_record_is_none(store: JsonStatusStore) -> None:
    assert store.get("404") is None


def test_store_from_plugin_lives_in_status_dir_and_satisfies_protocol(repo) -> None:
    rt = Runtime.load(repo.path)
    assert isinstance(rt.store, JsonStatusStore)
    assert isinstance(rt.store, StatusStore)
    rt.store.put(StatusRecord("3", Status.COMPLETE, "pi-issue-3"))
    assert repo.status(3)["status"] == "complete"  # the path the conftest helper reads


def test_unreadable_record_raises_status_store_error(store: JsonStatusStore) -> None:
    store.directory.mkdir(parents=True)
    (store.directory / "8.json").write_text('{"issue": 8, "status": "runn')
    with pytest.raises(StatusStoreError, match=r"8\.json"):
        store.get("8")


# --- atomic writes -------------------------------------------------------------------------


def test_put_leaves_no_temporary_files(store: JsonStatusStore) -> None:
    for i in range(50):
        store.put(StatusRecord("4", Status.RUNNING, f"s{i}"))
    assert sorted(p.name for p in store.directory.iterdir()) == ["4.json"]


def test_reader_never_sees_invalid_json_during_writes(store: JsonStatusStore) -> None:
    store.put(StatusRecord("6", Status.RUNNING, "start"))
    path = store.directory / "6.json"
    done = threading.Event()
    reads: list[int] = []
    bad: list[str] = []

    def reader() -> None:
        while not done.is_set():
            text = path.read_text()
            try:
                json.loads(text)
            except ValueError:
                bad.append(text)
            reads.append(1)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(200):
            # Long records make a torn (non-atomic) write far easier to observe.
            store.put(StatusRecord("6", Status.ERROR, f"s{i}", error_message="x" * (i * 300)))
    finally:
        done.set()
        thread.join()
    assert bad == []
    assert len(reads) > 0
    assert store.get("6").session == "s199"


@pytest.mark.slow
def test_concurrent_writer_processes_leave_one_valid_record(store: JsonStatusStore) -> None:
    writers, each = 50, 10
    store.directory.mkdir(parents=True)
    run_children(PUT_MANY, *([str(store.directory), str(n), str(each)] for n in range(writers)))
    data = json.loads((store.directory / "7.json").read_text())
    written = {
        (f"writer-{n}", f"{n}-{i}") for n in range(writers) for i in range(each)
    }
    assert (data["session"], data["run_id"]) in written
    assert data["issue"] == 7 and data["status"] == "running"
    assert [p.name for p in store.directory.iterdir() if p.suffix == ".tmp"] == []


# --- locked updates ------------------------------------------------------------------------


def test_update_applies_change_and_returns_it(store: JsonStatusStore) -> None:
    store.put(StatusRecord("11", Status.RUNNING, "pi-issue-11"))
    result = store.update(
        "11", lambda r: StatusRecord(r.issue, Status.COMPLETE, r.session, started_at="x")
    )
    assert result is not None and result.status is Status.COMPLETE
    assert store.get("11") == result


def test_update_returning_none_leaves_record_unchanged(store: JsonStatusStore) -> None:
    original = StatusRecord("12", Status.RUNNING, "pi-issue-12")
    store.put(original)
    seen: list[StatusRecord | None] = []
    assert store.update("12", lambda r: seen.append(r)) is None
    assert seen == [original]
    assert store.get("12") == original


def test_update_is_serialised_across_processes(store: JsonStatusStore) -> None:
    processes, each = 12, 10
    store.directory.mkdir(parents=True)
    run_children(INCREMENT, *([str(store.directory), str(each)] for _ in range(processes)))
    record = store.get("9")
    assert record is not None
    assert int(record.error_message) == processes * each


@pytest.mark.timeout(60)
def test_lock_left_by_sigkilled_holder_does_not_block_update(store: JsonStatusStore) -> None:
    store.directory.mkdir(parents=True)
    lock_path = store.directory / ".13.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(lock_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        # The lock really is held: a non-blocking attempt fails while the holder lives.
        with pytest.raises(LockTimeout), file_lock(lock_path, timeout=0):
            pass
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
    assert lock_path.exists()  # the stale lock file is still there
    result = store.update("13", lambda r: StatusRecord("13", Status.COMPLETE, "pi-issue-13"))
    assert result is not None
    assert store.get("13").status is Status.COMPLETE


# --- failures and listing ------------------------------------------------------------------


def test_status_dir_that_is_a_regular_file_gives_clear_store_error(tmp_path: Path) -> None:
    collision = tmp_path / ".status"
    collision.write_text("not a directory\n")
    store = JsonStatusStore(collision)
    with pytest.raises(StatusStoreError, match=r"cannot write status records in .*\.status"):
        store.put(StatusRecord("1", Status.RUNNING, "pi-issue-1"))
    with pytest.raises(StatusStoreError, match=r"cannot write status records"):
        store.update("1", lambda r: StatusRecord("1", Status.RUNNING, "pi-issue-1"))
    assert collision.read_text() == "not a directory\n"


def test_status_dir_under_a_regular_file_gives_clear_store_error(tmp_path: Path) -> None:
    (tmp_path / ".worktrees").write_text("")
    store = JsonStatusStore(tmp_path / ".worktrees" / ".status")
    with pytest.raises(StatusStoreError, match="cannot write status records"):
        store.put(StatusRecord("1", Status.RUNNING, "pi-issue-1"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_status_dir_gives_clear_store_error(store: JsonStatusStore) -> None:
    store.directory.mkdir(parents=True)
    store.directory.chmod(0o555)
    try:
        with pytest.raises(StatusStoreError, match="cannot write status records"):
            store.put(StatusRecord("1", Status.RUNNING, "pi-issue-1"))
    finally:
        store.directory.chmod(0o755)


def test_list_returns_records_sorted_and_ignores_junk_files(store: JsonStatusStore) -> None:
    for issue in ("10", "2", "33"):
        store.put(StatusRecord(issue, Status.RUNNING, f"pi-issue-{issue}"))
    junk = {
        "notes.txt": "hello",
        # A name some key could have, holding another issue's record (a copy).
        "abc.json": json.dumps(StatusRecord("99", Status.RUNNING, "x").to_dict()),
        "PROJ-1.json": json.dumps(StatusRecord("PROJ-2", Status.RUNNING, "x").to_dict()),
        "-5.json": "{}",
        "2.json.bak": "{",
        ".2.abcd.tmp": "{",
        ".2.lock": "",
        "README": "",
    }
    for name, text in junk.items():
        (store.directory / name).write_text(text)
    (store.directory / "sub").mkdir()
    assert [r.issue for r in store.list()] == ["2", "10", "33"]


def test_list_of_missing_directory_is_empty(store: JsonStatusStore) -> None:
    assert store.list() == []
    assert not store.directory.exists()  # listing does not create it


def test_delete_removes_record_and_lock_and_tolerates_missing(store: JsonStatusStore) -> None:
    store.update("14", lambda r: StatusRecord("14", Status.RUNNING, "pi-issue-14"))
    store.delete("14")
    assert store.get("14") is None
    assert not (store.directory / ".14.lock").exists()
    store.delete("14")  # no error the second time
