"""pirun.atomic.write_text: readers see a whole old or a whole new file, never a part."""

from __future__ import annotations

from pathlib import Path

import pytest

from pirun.atomic import write_text


def test_write_creates_the_parent_and_replaces_the_whole_content(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "record.json"
    write_text(target, "first\n")
    write_text(target, "second\n", durable=True)
    assert target.read_text() == "second\n"
    assert [p.name for p in target.parent.iterdir()] == ["record.json"]


def test_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    # A non-empty directory where the file should go: the rename fails.
    target = tmp_path / "record.json"
    target.mkdir()
    (target / "inside").write_text("kept")
    with pytest.raises(OSError):
        write_text(target, "new")
    assert (target / "inside").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]
