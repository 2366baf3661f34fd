"""Issue keys: the names derived from them are safe, reversible and never collide."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pirun.errors import UsageError
from pirun.keys import (
    MAX_NAME,
    display_key,
    is_number,
    json_key,
    key_from_name,
    key_name,
    sort_key,
)
from pirun.protocols import check_session_name

SAFE = re.compile(r"[A-Za-z0-9_-]+")


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("42", "42"),
        ("PROJ-123", "PROJ-123"),
        ("ENG-7", "ENG-7"),
        ("other/repo#7", "other_2frepo_237"),
        ("group/sub/project#12", "group_2fsub_2fproject_2312"),
        ("a_b", "a_5fb"),
        ("a--b", "a_2d_2db"),
        ("-x", "_2dx"),
        ("x-", "x_2d"),
        ("é", "_c3_a9"),
        ("a b", "a_20b"),
        ("../x", "_2e_2e_2fx"),
    ],
)
def test_key_name_keeps_letters_digits_and_inner_dashes_and_escapes_the_rest(key, name):
    assert key_name(key) == name
    assert key_from_name(name) == key


def test_numbers_keep_the_seed_names():
    assert key_name("42") == "42", "status files, sessions and logs of numbers must not move"
    assert json_key("42") == 42 and json_key("PROJ-1") == "PROJ-1"


@given(st.text(min_size=1, max_size=30))
def test_every_key_round_trips_through_a_safe_session_name(key):
    try:
        name = key_name(key)
    except UsageError:
        return  # too long once escaped
    assert SAFE.fullmatch(name), f"{name!r} has characters a session or file name must not"
    assert "--" not in name and not name.startswith("-") and not name.endswith("-")
    assert key_from_name(name) == key, f"{key!r} does not come back from {name!r}"
    check_session_name(f"pi-issue-{name}")


@given(st.text(min_size=1, max_size=12), st.text(min_size=1, max_size=12))
def test_two_keys_never_share_a_name(first, second):
    try:
        names = key_name(first), key_name(second)
    except UsageError:
        return  # too long once escaped: such a key has no name to share
    if first != second:
        assert names[0] != names[1], f"{first!r} and {second!r} share {names[0]!r}"


@pytest.mark.parametrize("name", ["", "a--b", "_2d-a", "x_zz", "x_2", "-a", "a-", "a b", "_c3"])
def test_what_no_key_gives_is_not_a_name(name):
    assert key_from_name(name) is None


def test_an_empty_or_overlong_key_is_a_usage_error():
    with pytest.raises(UsageError, match="empty issue key"):
        key_name("")
    with pytest.raises(UsageError, match="too long"):
        key_name("/" * (MAX_NAME // 3 + 1))


def test_display_key_marks_numbers_only():
    assert display_key("42") == "#42"
    assert display_key("PROJ-1") == "PROJ-1"
    assert display_key("o/r#7") == "o/r#7"
    assert not is_number("٤٢"), "digits of other scripts are not issue numbers"
    assert not is_number("007") and json_key("007") == "007", "007 must not become issue 7"


def test_sort_key_orders_naturally_numbers_first():
    keys = ["PROJ-10", "10", "o/r#3", "2", "PROJ-9", "1"]
    assert sorted(keys, key=sort_key) == ["1", "2", "10", "o/r#3", "PROJ-9", "PROJ-10"]
