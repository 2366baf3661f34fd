"""The one-line reasons and messages the kernel and plugins build from OSError and
YAML errors."""

from __future__ import annotations

import errno

import pytest
import yaml

from pirun.errors import os_error_reason, yaml_error_message


def test_os_error_reason_leaves_the_path_out_unless_asked() -> None:
    exc = OSError(errno.EACCES, "Permission denied", "/state/run")
    assert os_error_reason(exc) == "Permission denied"
    assert os_error_reason(exc, with_path=True) == "Permission denied: /state/run"


def test_os_error_reason_names_a_full_disk_and_has_no_path_to_add() -> None:
    assert os_error_reason(OSError(errno.ENOSPC, "No space left on device"),
                           with_path=True) == "disk full"


@pytest.mark.parametrize(("first_line", "shown"), [(1, 3), (5, 7)])
def test_yaml_error_message_is_one_line_numbered_from_first_line(
    first_line: int, shown: int
) -> None:
    with pytest.raises(yaml.YAMLError) as info:
        yaml.safe_load("a: 1\nb: 2\nc: : :\n")
    message = yaml_error_message("x.yaml", info.value, first_line=first_line)
    assert message == f"x.yaml (line {shown}): mapping values are not allowed here"


def test_yaml_error_message_without_a_mark_says_invalid_yaml() -> None:
    assert yaml_error_message("x.yaml", yaml.YAMLError()) == "x.yaml: invalid YAML"
