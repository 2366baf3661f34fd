"""`Depends on #12` lines in issue bodies, as blockers for any tracker."""

from __future__ import annotations

import pirun_textdeps
import pytest
from pirun_textdeps import parse_blockers

from pirun.blockers import blockers_of
from pirun.config import Config, build_config
from pirun.errors import ConfigError
from pirun.model import Issue
from pirun.runtime import Runtime


def refs(*items: int | str) -> list[str]:
    """References as the hook hands them to the kernel: `#12` as "12", the rest as written."""
    return [str(item) for item in items]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Depends on #12", refs(12)),
        ("depends on #12", refs(12)),
        ("DEPENDS ON #12", refs(12)),
        ("Blocked by #12, #13", refs(12, 13)),
        ("blocked by owner/repo#7", refs("owner/repo#7")),
        ("depends on: #4 and #5", refs(4, 5)),
        ("Depends on #4, #5 & #6", refs(4, 5, 6)),
        ("Depends on #4 and other/lib#5, #6.", refs(4, "other/lib#5", 6)),
        ("Depends on https://github.com/o/r/issues/9", refs("o/r#9")),
        ("- Depends on #3", refs(3)),
        ("* [ ] **Blocked by:** #3", refs(3)),
        ("> Depends on #3", refs(3)),
        ("  Depends   on   #3", refs(3)),
        ("Depends on #4 because #3 was reverted", refs(4)),
        ("Depends on #4 (after #3 lands)", refs(4)),
        ("Depends on PROJ-12", refs("PROJ-12")),
        ("Blocked by PROJ-12 and #3, ABC_2-7", refs("PROJ-12", 3, "ABC_2-7")),
    ],
)
def test_dependency_lines(body: str, expected: list[str]) -> None:
    assert parse_blockers(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "This is no longer blocked by #5.",
        "See #5",
        "Depends on issue five",
        "Depends on #5abc",
        "Depends on PROJ-12x",
        "`Depends on #5`",
        "Depends on",
    ],
)
def test_not_dependency_lines(body: str) -> None:
    assert parse_blockers(body) == []


def test_code_fences_are_examples() -> None:
    body = "\n".join([
        "Depends on #1",
        "```markdown",
        "Depends on #2",
        "~~~",
        "Blocked by #3",
        "```",
        "~~~",
        "Depends on #4",
        "```",
        "Depends on #5",
        "~~~",
        "Blocked by #6",
    ])
    assert parse_blockers(body) == refs(1, 6)


def test_several_lines_without_repeats() -> None:
    body = "Intro\n\nDepends on #2\nBlocked by #3, #2\n\nDepends on #4\r\nthanks"
    assert parse_blockers(body) == refs(2, 3, 4)


def test_bare_numbers_belong_to_the_issue_s_repository() -> None:
    # Which repository is the configured one is the tracker's business (its parse_key
    # maps o/r#4 to "4" when o/r is configured); textdeps hands the reference on as written.
    assert parse_blockers("Depends on #3 and o/r#4", here="other/lib") == [
        "other/lib#3", "o/r#4"
    ]


def test_project_keys_are_found() -> None:
    assert parse_blockers("Depends on PROJ-12") == ["PROJ-12"]
    assert parse_blockers("Depends on PROJ-12", here="o/r") == ["PROJ-12"]


def test_custom_patterns() -> None:
    patterns = (r"requires", r"after")
    assert parse_blockers("Requires #1\nAfter: #2\nDepends on #3", patterns) == refs(1, 2)


# -- through the hooks ------------------------------------------------------------------


def make_config(tmp_path, **values) -> Config:
    return build_config(tmp_path, None, values, [pirun_textdeps.pirun_config_options()])


def collect(config: Config, *issues: Issue):
    return pirun_textdeps.pirun_collect_blockers(config=config, issues=list(issues))


def test_collect_blockers_keys_by_issue_key(tmp_path) -> None:
    config = make_config(tmp_path)
    issues = [
        Issue("10", "Ten", body="Depends on #9\nBlocked by #10"),
        Issue("11", "Eleven", body="Nothing here"),
        Issue("other/lib#3", "Far", body="Blocked by #2, #3"),
    ]
    assert collect(config, *issues) == {
        "10": refs(9),  # never blocked by itself
        "other/lib#3": ["other/lib#2"],
    }


def test_a_bare_number_in_another_repository_s_issue_is_of_that_repository(tmp_path) -> None:
    config = make_config(tmp_path)
    issue = Issue("o/r#3", "Far", body="Depends on #12")
    assert collect(config, issue) == {"o/r#3": ["o/r#12"]}


def test_project_keys_through_the_hook(tmp_path) -> None:
    config = make_config(tmp_path)
    issue = Issue("PROJ-1", "One", body="Depends on PROJ-12\nBlocked by PROJ-1")
    assert collect(config, issue) == {"PROJ-1": ["PROJ-12"]}


def test_configured_repository_means_here(tmp_path) -> None:
    # The hook hands the references on as written...
    config = make_config(tmp_path, repo="Octo/App")
    issue = Issue("10", "Ten", body="Blocked by octo/app#9, other/x#9")
    assert collect(config, issue) == {"10": ["octo/app#9", "other/x#9"]}


def test_configured_repository_means_here_once_the_tracker_spells_it(
    repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ...and the kernel puts them through the tracker: octo/app#9 is #9 here, and
    # octo/app#10 in #10's own body is no blocker at all.
    monkeypatch.setenv("PIRUN_PLUGINS", "local,textdeps")
    repo.write_config(tracker="local", repo="Octo/App")
    rt = Runtime.load(repo.path)
    issue = Issue("10", "Ten", body="Blocked by octo/app#9, other/x#9, octo/app#10")
    blockers = blockers_of(rt, [issue])
    assert [b.key for b in blockers["10"]] == ["9", "other/x#9"]


def test_disabled(tmp_path) -> None:
    config = make_config(tmp_path, textdeps={"enabled": False})
    assert collect(config, Issue("1", "One", body="Depends on #2")) is None


def test_no_patterns_means_nothing_to_find(tmp_path) -> None:
    config = make_config(tmp_path, textdeps={"patterns": []})
    assert collect(config, Issue("1", "One", body="Depends on #2")) is None


def test_configured_patterns(tmp_path) -> None:
    config = make_config(tmp_path, textdeps={"patterns": [r"needs"]})
    issue = Issue("1", "One", body="Needs #2\nDepends on #3")
    assert collect(config, issue) == {"1": refs(2)}


def test_invalid_pattern_is_a_config_error(tmp_path) -> None:
    config = make_config(tmp_path, textdeps={"patterns": [r"depends (on"]})
    with pytest.raises(ConfigError, match=r"textdeps\.patterns.*'depends \(on'"):
        collect(config, Issue("1", "One", body="Depends on #2"))


def test_patterns_must_be_strings(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"textdeps\.patterns"):
        make_config(tmp_path, textdeps={"patterns": [1]})
