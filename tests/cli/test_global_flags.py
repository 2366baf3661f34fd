"""Options of the whole program (`-v`, `-q`, `--log-json`) work before or after the
subcommand, as the seed's scripts took them."""

from __future__ import annotations

import json

import pytest

from pirun.cli import hoist_global_flags


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["batch", "1", "--dry-run", "-v"], ["-v", "batch", "1", "--dry-run"]),
        (["batch", "1", "-vv", "-q"], ["-vv", "-q", "batch", "1"]),
        (["status", "--log-json"], ["--log-json", "status"]),
        (["-v", "list"], ["-v", "list"]),
        (["signal", "error", "--", "-v", "-q"], ["signal", "error", "--", "-v", "-q"]),
        (["logs", "1", "-f"], ["logs", "1", "-f"]),
    ],
)
def test_global_flags_move_before_the_subcommand_up_to_a_double_dash(
    argv: list[str], expected: list[str]
) -> None:
    assert hoist_global_flags(argv) == expected


def test_batch_dry_run_takes_verbose_and_quiet_after_the_subcommand(repo, pirun) -> None:
    repo.write_config(backend="process")
    repo.add_issue(1, "First")
    repo.add_issue(2, "Second", blocked_by=[1])

    verbose = pirun("batch", "1", "2", "--dry-run", "-v")
    quiet = pirun("batch", "1", "2", "--dry-run", "-q", "--json")

    assert verbose.exit_code == 0, verbose.stderr
    assert verbose.stdout.splitlines() == ["Layer 0: #1", "Layer 1: #2"]
    assert quiet.exit_code == 0, quiet.stderr
    assert json.loads(quiet.stdout)["layers"] == [[1], [2]]


def test_log_json_after_the_subcommand_logs_json_lines(repo, pirun) -> None:
    repo.write_config(backend="process")
    repo.add_issue(1, "First")

    result = pirun("batch", "1", "--dry-run", "--log-json", "-v")

    assert result.exit_code == 0, result.stderr
    logged = [line for line in result.stderr.splitlines() if line.strip()]
    assert logged, "expected JSON log lines on stderr with -v --log-json"
    assert all(isinstance(json.loads(line), dict) for line in logged), logged
