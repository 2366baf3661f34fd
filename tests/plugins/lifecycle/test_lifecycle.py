"""Lifecycle hook commands: argv as configured, issue data only in the environment,
every control character gone from it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pirun_lifecycle
import pytest
from pirun_lifecycle import clean

from pirun.config import Config, build_config
from pirun.model import Issue, Outcome, Status, StatusRecord, Workspace

# Writes the PIRUN_ variables it was given, and its argv, to the file named by argv[1].
DUMP = r'''
import json, os, sys
env = {k: v for k, v in os.environ.items() if k.startswith("PIRUN_")}
with open(sys.argv[1], "w", encoding="utf-8") as handle:
    json.dump({"argv": sys.argv[1:], "env": env}, handle)
'''

HOSTILE_TITLE = (
    "Fix $(touch PWNED)\nsecond line\r\nthird\tcolumn\x00NUL \x1b[31mred\x1b[0m "
    "\x1b]0;title\x07 bell\x07 del\x7f c1\x9b31m nel\x85next \u202eRTL\u200b"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain title", "plain title"),
        ("two\nlines", "two lines"),
        ("windows\r\nline", "windows line"),
        ("tab\tseparated", "tab separated"),
        ("many\n\n\t\r\nbreaks", "many breaks"),
        ("vertical\vtab\fform feed", "vertical tab form feed"),
        ("next\x85line (C1 NEL)", "next line (C1 NEL)"),
        ("nul\x00byte", "nulbyte"),
        ("\x1b[31mred\x1b[0m", "[31mred[0m"),
        ("bell\x07 del\x7f", "bell del"),
        ("c1 csi\x9b31m and \x80-\x9f", "c1 csi31m and -"),
        ("keeps  spaces, ünïcødé, \u202eRTL\u200b", "keeps  spaces, ünïcødé, \u202eRTL\u200b"),
        ("", ""),
    ],
)
def test_clean_removes_every_control_character_and_turns_line_breaks_into_a_space(
    value: str, expected: str
) -> None:
    assert clean(value) == expected


def test_clean_leaves_no_c0_del_or_c1_character_whatever_the_input() -> None:
    every = "".join(map(chr, range(0x00, 0xA0)))

    cleaned = clean(f"a{every}b")

    assert not [c for c in cleaned if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F]
    assert cleaned.startswith("a ") and cleaned.endswith("b")


def hook_config(tmp_path: Path, out: Path) -> Config:
    script = tmp_path / "dump.py"
    script.write_text(DUMP)
    argv = [sys.executable, str(script), str(out)]
    values = {"hooks": {"on_start": argv, "on_error": argv}}
    return build_config(tmp_path, None, values, [pirun_lifecycle.pirun_config_options()])


def test_start_hook_gets_the_title_on_one_line_in_the_environment_only(tmp_path: Path) -> None:
    out = tmp_path / "start.json"
    config = hook_config(tmp_path, out)
    issue = Issue("7", HOSTILE_TITLE)
    workspace = Workspace("7", tmp_path / "wt", "issue-7-fix")

    pirun_lifecycle.pirun_session_started(
        config=config, issue=issue, workspace=workspace, session="pi-issue-7"
    )

    seen = json.loads(out.read_text())
    assert seen["argv"] == [str(out)]
    assert seen["env"]["PIRUN_ISSUE_TITLE"] == (
        "Fix $(touch PWNED) second line third columnNUL [31mred[0m ]0;title bell del"
        " c131m nel next \u202eRTL\u200b"
    )
    assert seen["env"]["PIRUN_ISSUE_NUMBER"] == "7"
    assert seen["env"]["PIRUN_BRANCH"] == "issue-7-fix"
    assert list(tmp_path.rglob("PWNED*")) == []


def test_error_hook_gets_a_multi_line_error_message_as_one_line(tmp_path: Path) -> None:
    out = tmp_path / "error.json"
    config = hook_config(tmp_path, out)
    record = StatusRecord(
        issue="3", status=Status.ERROR, session="pi-issue-3", title="Broken\tbuild",
        error_message="tests failed:\n  test_a\n  test_b\x1b[0m",
    )

    pirun_lifecycle.pirun_session_finished(
        config=config, record=record, outcome=Outcome.error("x", "marker"), workspace=None
    )

    env = json.loads(out.read_text())["env"]
    # Only the line break becomes a space; the indentation after it stays.
    assert env["PIRUN_ERROR_MESSAGE"] == "tests failed:   test_a   test_b[0m"
    assert env["PIRUN_ISSUE_TITLE"] == "Broken build"
    assert env["PIRUN_STATUS"] == "error"


def test_hooks_get_a_name_key_and_its_session_in_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "named.json"
    config = hook_config(tmp_path, out)
    workspace = Workspace("PROJ-7", tmp_path / "wt", "issue-PROJ-7--fix")

    pirun_lifecycle.pirun_session_started(
        config=config, issue=Issue("PROJ-7", "Fix"), workspace=workspace,
        session="pi-issue-PROJ-7",
    )

    env = json.loads(out.read_text())["env"]
    # PIRUN_ISSUE_NUMBER keeps the seed's name and holds the key.
    assert env["PIRUN_ISSUE"] == env["PIRUN_ISSUE_NUMBER"] == "PROJ-7"
    assert env["PIRUN_SESSION"] == "pi-issue-PROJ-7"
    assert env["PIRUN_BRANCH"] == "issue-PROJ-7--fix"


def test_cleanup_hook_gets_the_key_and_what_was_removed(tmp_path: Path) -> None:
    out = tmp_path / "cleanup.json"
    script = tmp_path / "dump.py"
    script.write_text(DUMP)
    values = {"hooks": {"on_cleanup": [sys.executable, str(script), str(out)]}}
    config = build_config(tmp_path, None, values, [pirun_lifecycle.pirun_config_options()])

    pirun_lifecycle.pirun_session_cleaned(
        config=config, issue="o/r#7", removed=["worktree /x", "branch issue-o_2fr_237--fix"]
    )

    env = json.loads(out.read_text())["env"]
    assert env["PIRUN_ISSUE"] == env["PIRUN_ISSUE_NUMBER"] == "o/r#7"
    assert env["PIRUN_SESSION"] == "pi-issue-o_2fr_237"
    assert env["PIRUN_REMOVED"] == "worktree /x, branch issue-o_2fr_237--fix"

    pirun_lifecycle.pirun_session_cleaned(config=config, issue="42", removed=[])
    env = json.loads(out.read_text())["env"]
    assert env["PIRUN_ISSUE_NUMBER"] == "42" and env["PIRUN_SESSION"] == "pi-issue-42"
