"""`pirun.protocols.check_session_name`: the names every bundled backend accepts; and
`Runtime.issue_of_session`: which session names are pirun's."""

from __future__ import annotations

from typing import Any

import pytest

from pirun.errors import BackendError
from pirun.protocols import check_session_name
from pirun.runtime import Runtime


@pytest.mark.parametrize("name", ["pi-issue-1", "a", "_x", "A_b-9", "x" * 200])
def test_valid(name: str) -> None:
    check_session_name(name)


@pytest.mark.parametrize(
    "name",
    ["", "-flag", "a.b", "a/b", "a b", "a;b", "#(id)", "=a", "a:b", "ä", "x" * 201, "a\n"],
)
def test_invalid(name: str) -> None:
    with pytest.raises(BackendError, match=r"invalid session name .*\(check session.prefix\)"):
        check_session_name(name)


@pytest.mark.parametrize(
    ("name", "issue"),
    [
        ("pi-issue-7", "7"),
        ("pi-issue-PROJ-1", "PROJ-1"),
        ("pi-issue-login-page", "login-page"),
        # Someone else's sessions that merely share the prefix: names no key of the
        # local tracker gives (a name key starts with a letter; numbers have no zeros
        # in front; other repositories' keys are lower-case).
        ("pi-issue-7-notes", None),
        ("pi-issue-007", None),
        ("pi-issue-notes", None),
        ("pi-issue-O_2fR_237", None),
        ("pi-issue-o_2fr_237", "o/r#7"),
        ("pi-issues", None),
        ("pictures", None),
    ],
)
def test_a_session_is_pirun_s_when_its_name_is_that_of_a_tracker_key(
    repo: Any, name: str, issue: str | None
) -> None:
    rt = Runtime.load(repo.path)

    assert rt.issue_of_session(name) == issue
    if issue is not None:
        assert rt.config.session_name(issue) == name
