"""`pirun.protocols.check_session_name`: the names every bundled backend accepts."""

from __future__ import annotations

import pytest

from pirun.errors import BackendError
from pirun.protocols import check_session_name


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
