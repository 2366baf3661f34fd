"""The offline tracker: `.pirun/issues/<N>.md` files with YAML front matter."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from pirun_local import LocalTracker, issue_path, write_issue

from pirun.errors import IssueNotFound, TrackerError, UsageError
from pirun.model import Blocker, Issue, IssueState
from pirun.runtime import Runtime


def ref(number: int, repo: str = "") -> str:
    """The key of issue `number`: "12" here, "owner/name#12" in another repository."""
    return f"{repo}#{number}" if repo else str(number)


def write_raw(repo, number: int | str, content: str | bytes) -> Path:
    path = repo.path / ".pirun" / "issues" / f"{number}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8"))
    return path


@pytest.fixture
def rt(repo) -> Runtime:
    repo.write_config(tracker="local")
    return Runtime.load(repo.path)


# -- parsing -------------------------------------------------------------------------


def test_issue_file_is_parsed_into_an_issue(repo, rt):
    write_raw(
        repo,
        1,
        (
            "---\n"
            "title: Add a login page\n"
            "state: open\n"
            "labels: [frontend, auth]\n"
            "---\n"
            "Users need to log in.\n\n---\n\nA rule above is body, not front matter.\n"
        ),
    )
    issue = rt.fetch_issue("1")
    assert issue == Issue(
        key=ref(1),
        title="Add a login page",
        body="Users need to log in.\n\n---\n\nA rule above is body, not front matter.\n",
        state=IssueState.OPEN,
        labels=("frontend", "auth"),
    )


def test_state_defaults_to_open_and_closed_is_read(repo, rt):
    write_raw(repo, 1, "---\ntitle: One\n---\n")
    write_raw(repo, 2, "---\ntitle: Two\nstate: Closed\n---\n")
    issues = rt.fetch_issues([ref(1), ref(2)])
    assert issues[ref(1)].state is IssueState.OPEN
    assert issues[ref(1)].body == ""
    assert issues[ref(2)].state is IssueState.CLOSED


def test_windows_line_endings_and_byte_order_mark_are_accepted(repo, rt):
    write_raw(repo, 1, "\ufeff---\r\ntitle: Win\r\nstate: closed\r\n---\r\nBody\r\n")
    issue = rt.fetch_issue("1")
    assert (issue.title, issue.state, issue.body) == ("Win", IssueState.CLOSED, "Body\r\n")


def test_repo_fixture_issues_are_readable(repo, rt):
    repo.add_issue(3, "Fixture issue", body="text", state="closed", blocked_by=[1])
    issue = rt.fetch_issue("3")
    assert issue.title == "Fixture issue"
    assert issue.state is IssueState.CLOSED
    assert issue.blocked_by == (Blocker(ref(1)),)


def test_large_body_with_anything_in_it_is_kept_verbatim(repo, rt):
    body = ("$(touch PWNED) `rm -rf /` \x00 \u202e ---\n" * 30_000)[:1_000_000]
    write_issue(repo.path, 4, "Big", body)
    assert rt.fetch_issue("4").body == body


def test_yaml_tags_that_build_objects_are_refused(repo, rt):
    write_raw(repo, 5, "---\ntitle: !!python/object/apply:os.system ['touch PWNED']\n---\n")
    with pytest.raises(TrackerError, match=r"issue #5 \(\.pirun/issues/5\.md\)"):
        rt.fetch_issue("5")
    assert not list(repo.path.rglob("PWNED"))


# -- blockers ------------------------------------------------------------------------


def test_blockers_get_title_and_state_from_their_own_files(repo, rt):
    repo.add_issue(2, "Open blocker")
    repo.add_issue(3, "Closed blocker", state="closed")
    write_raw(repo, 1, ("---\ntitle: Blocked\nblocked_by: [2, '#3', ' 4 ', 'octo/lib#7']\n---\n"))
    assert rt.fetch_issue("1").blocked_by == (
        Blocker(ref(2), "Open blocker", IssueState.OPEN),
        Blocker(ref(3), "Closed blocker", IssueState.CLOSED),
        # No file for #4: nothing is known, so it counts as open.
        Blocker(ref(4), "", IssueState.OPEN),
        Blocker(ref(7, "octo/lib"), "", IssueState.OPEN),
    )


def test_blocker_in_the_configured_repo_is_a_local_key(repo):
    repo.write_config(tracker="local", repo="me/project")
    repo.add_issue(2, "Local blocker", state="closed")
    write_raw(repo, 1, "---\ntitle: Blocked\nblocked_by: ['me/project#2']\n---\n")
    issue = Runtime.load(repo.path).fetch_issue("1")
    assert issue.blocked_by == (Blocker(ref(2), "Local blocker", IssueState.CLOSED),)


def test_malformed_blocker_file_is_an_error_naming_the_blocker(repo, rt):
    write_raw(repo, 2, "---\ntitle: [not, a, string]\n---\n")
    repo.add_issue(1, "Blocked", blocked_by=[2])
    with pytest.raises(TrackerError, match=r"issue #2 \(\.pirun/issues/2\.md\)"):
        rt.fetch_issue("1")


# -- keys ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("3", "3"),
        ("#3", "3"),
        (" #3 ", "3"),
        ("03", "3"),
        ("PROJ-7", "PROJ-7"),
        ("login-page", "login-page"),
        ("a1-b2-c3", "a1-b2-c3"),
        # No repository configured: any owner/name is another repository.
        ("own/repo#3", "own/repo#3"),
        ("other/x#07", "other/x#7"),
        ("Other/X#7", "other/x#7"),
    ],
)
def test_parse_key(text, key):
    assert LocalTracker(Path("/nonexistent")).parse_key(text) == key


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("own/repo#3", "3"),
        ("OWN/Repo#3", "3"),
        ("#3", "3"),
        ("PROJ-7", "PROJ-7"),
        ("other/x#7", "other/x#7"),
        ("own/repo#0", None),
        ("own/repo#PROJ-7", None),
    ],
)
def test_parse_key_with_a_configured_repository(text, key):
    assert LocalTracker(Path("/nonexistent"), own_repo="Own/Repo").parse_key(text) == key


@pytest.mark.parametrize(
    "text",
    [
        "", " ", "#", "0", "#0", "-1", "abc", "x", "a/b/c", "a/b/c#3", "-x", "x-", "..", ".",
        "../x", "a/b", "a b", "PROJ 7", "PROJ--7", "#PROJ-7", "7-up", "a_b-c", "caf\u00e9-1",
        "\u0661", "a/b#0", "a/b#\u0661", "../..#3", "./x#3", "owner#3", "PROJ-7 x",
        "x" * 63 + "-y",
    ],
)
def test_not_keys(text):
    tracker = LocalTracker(Path("/nonexistent"), own_repo="own/repo")
    assert tracker.parse_key(text) is None


@given(st.text(max_size=40))
@example("PROJ-7")
@example("own/repo#3")
@example("#12")
def test_parse_key_is_idempotent_and_keeps_files_in_the_issue_directory(text):
    root = Path("/nonexistent")
    tracker = LocalTracker(root, own_repo="own/repo")
    key = tracker.parse_key(text)
    if key is None:
        return
    assert tracker.parse_key(key) == key
    if "#" not in key:
        path = issue_path(root, key)
        assert path.parent == root / ".pirun" / "issues"
        assert path.name == f"{key}.md"


def test_runtime_refuses_what_is_not_a_key(rt):
    assert rt.require_key("#3") == "3"
    assert rt.require_key("PROJ-7") == "PROJ-7"
    for text in ("abc", "a b", "a/b/c", "-x", ".."):
        with pytest.raises(UsageError) as info:
            rt.require_key(text)
        assert str(info.value) == f"not an issue key of the local tracker: {text!r}"


def test_name_key_issue_file(repo, rt):
    write_raw(repo, "PROJ-7", "---\ntitle: Add a login page\nlabels: [auth]\n---\nBody\n")
    assert rt.fetch_issue("PROJ-7") == Issue(
        key="PROJ-7", title="Add a login page", body="Body\n", labels=("auth",)
    )


def test_name_key_blockers(repo, rt):
    write_raw(repo, "PROJ-7", "---\ntitle: Login\nstate: closed\n---\n")
    write_raw(
        repo, 1, "---\ntitle: Uses it\nblocked_by: [PROJ-7, ' PROJ-7 ', login-page, 2]\n---\n"
    )
    assert rt.fetch_issue("1").blocked_by == (
        Blocker("PROJ-7", "Login", IssueState.CLOSED),
        Blocker("PROJ-7", "Login", IssueState.CLOSED),
        # No file: nothing is known, so it counts as open.
        Blocker("login-page", "", IssueState.OPEN),
        Blocker("2", "", IssueState.OPEN),
    )


def test_missing_name_key_is_not_found(repo, rt):
    write_raw(repo, "PROJ-7", "---\ntitle: Seven\n---\n")
    with pytest.raises(IssueNotFound, match=r"^Issue PROJ-8 not found$"):
        rt.fetch_issue("PROJ-8")


def test_malformed_name_key_file_names_it(repo, rt):
    write_raw(repo, "PROJ-7", "---\nstate: open\n---\n")
    with pytest.raises(TrackerError) as info:
        rt.fetch_issue("PROJ-7")
    assert str(info.value).startswith("issue PROJ-7 (.pirun/issues/PROJ-7.md): ")


def test_a_key_that_is_no_name_never_reaches_the_file_system(repo, rt):
    (repo.path / ".pirun").mkdir()
    (repo.path / ".pirun" / "secret.md").write_text("---\ntitle: Not an issue\n---\n")
    assert rt.tracker.fetch(["../secret", "issues/../../secret", "a b"]) == []


# -- what this tracker answers for ---------------------------------------------------


def test_missing_issue_raises_issue_not_found(repo, rt):
    repo.add_issue(1, "Exists")
    with pytest.raises(IssueNotFound, match="Issue #99 not found"):
        rt.fetch_issues([ref(1), ref(99)])
    with pytest.raises(IssueNotFound):
        rt.fetch_issue("99")


def test_missing_issue_directory_raises_issue_not_found(rt):
    with pytest.raises(IssueNotFound):
        rt.fetch_issue("1")


def test_keys_of_other_repositories_are_skipped(repo, rt):
    repo.add_issue(1, "Ours")
    found = rt.tracker.fetch([ref(1, "someone/else"), ref(1), ref(2, "a/b")])
    assert [issue.key for issue in found] == [ref(1)]


def test_duplicate_keys_give_one_issue(repo, rt):
    repo.add_issue(1, "Once")
    found = rt.tracker.fetch([ref(1), ref(1)])
    assert len(found) == 1


def test_another_tracker_configured_is_the_one_chosen(repo):
    repo.write_config(tracker="github", repo="octo/project")
    rt = Runtime.load(repo.path)
    assert "local" in rt.trackers.names()
    assert rt.trackers.get("github", "tracker").plugin == "github"


def test_local_is_the_default_tracker(repo):
    repo.add_issue(1, "Default")
    assert Runtime.load(repo.path).fetch_issue("1").title == "Default"


# -- malformed files -----------------------------------------------------------------


MALFORMED = {
    "no front matter": ("Just a body\n", "no front matter"),
    "unclosed front matter": ("---\ntitle: x\n", "no front matter"),
    "front matter not first": ("\n---\ntitle: x\n---\n", "no front matter"),
    "bad yaml": ("---\ntitle: [unclosed\n---\n", "not valid YAML"),
    "yaml list": ("---\n- title\n---\n", "must be a mapping"),
    "yaml scalar": ("---\njust words\n---\n", "must be a mapping"),
    "empty front matter": ("---\n---\nbody\n", "empty"),
    "missing title": ("---\nstate: open\n---\n", "'title' is missing"),
    "numeric title": ("---\ntitle: 42\n---\n", "'title' must be a string"),
    "date title": ("---\ntitle: 2024-01-01\n---\n", "'title' must be a string"),
    "empty title": ("---\ntitle: '  '\n---\n", "'title' is empty"),
    "bad state": ("---\ntitle: x\nstate: done\n---\n", "'state' must be open, closed or"),
    "boolean state": ("---\ntitle: x\nstate: yes\n---\n", "'state' must be open, closed or"),
    "blocked_by scalar": ("---\ntitle: x\nblocked_by: 3\n---\n", "'blocked_by' must be a list"),
    "blocked_by word": ("---\ntitle: x\nblocked_by: [abc]\n---\n", "blocked_by entry 'abc'"),
    "blocked_by words": ("---\ntitle: x\nblocked_by: [not a key]\n---\n",
                         "blocked_by entry 'not a key'"),
    "blocked_by bad name": ("---\ntitle: x\nblocked_by: [PROJ--7]\n---\n", "'PROJ--7'"),
    "blocked_by path": ("---\ntitle: x\nblocked_by: [a/b/c]\n---\n", "'a/b/c'"),
    "blocked_by other zero": ("---\ntitle: x\nblocked_by: ['a/b#0']\n---\n", "'a/b#0'"),
    "blocked_by zero": ("---\ntitle: x\nblocked_by: [0]\n---\n", "blocked_by entry 0"),
    "blocked_by negative": ("---\ntitle: x\nblocked_by: [-2]\n---\n", "blocked_by entry -2"),
    "blocked_by bool": ("---\ntitle: x\nblocked_by: [true]\n---\n", "blocked_by entry True"),
    "blocked_by mapping": ("---\ntitle: x\nblocked_by: [{a: 1}]\n---\n", "blocked_by entry"),
    "blocked_by bad repo": ("---\ntitle: x\nblocked_by: ['owner#3']\n---\n", "'owner#3'"),
    "labels scalar": ("---\ntitle: x\nlabels: bug\n---\n", "'labels' must be a list"),
    "labels nested": ("---\ntitle: x\nlabels: [[a]]\n---\n", "'labels' entries must be strings"),
}


@pytest.mark.parametrize(("content", "problem"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_issue_file_is_a_tracker_error_naming_the_issue(repo, rt, content, problem):
    write_raw(repo, 5, content)
    with pytest.raises(TrackerError) as excinfo:
        rt.fetch_issue("5")
    assert not isinstance(excinfo.value, IssueNotFound)
    message = str(excinfo.value)
    assert message.startswith("issue #5 (.pirun/issues/5.md): ")
    assert problem in message


def test_bad_yaml_error_gives_the_file_line(repo, rt):
    write_raw(repo, 5, "---\ntitle: ok\nstate: : :\n---\n")
    with pytest.raises(TrackerError, match=r"valid YAML \(line 3\): mapping values"):
        rt.fetch_issue("5")


def test_invalid_utf8_is_a_tracker_error(repo, rt):
    write_raw(repo, 5, b"---\ntitle: ok\n---\nbody \xff\xfe\n")
    with pytest.raises(TrackerError, match=r"issue #5 .*not valid UTF-8"):
        rt.fetch_issue("5")


def test_issue_path_that_is_a_directory_is_a_tracker_error(repo, rt):
    (repo.path / ".pirun" / "issues" / "5.md").mkdir(parents=True)
    with pytest.raises(TrackerError, match=r"issue #5 .*cannot read"):
        rt.fetch_issue("5")


# -- write_issue ---------------------------------------------------------------------


def test_write_issue_round_trips_through_the_tracker(repo, rt):
    path = write_issue(repo.path, 9, "Demo: add tests", "Write them.\n", "closed", [1, "#2"])
    assert path == repo.path / ".pirun" / "issues" / "9.md"
    issue = rt.fetch_issue("9")
    assert (issue.title, issue.body, issue.state) == (
        "Demo: add tests",
        "Write them.\n",
        IssueState.CLOSED,
    )
    assert [b.key for b in issue.blocked_by] == [ref(1), ref(2)]


def test_write_issue_replaces_an_existing_file(repo, rt):
    write_issue(repo.path, 1, "First")
    write_issue(repo.path, 1, "Second")
    assert rt.fetch_issue("1").title == "Second"
    assert sorted(p.name for p in (repo.path / ".pirun" / "issues").iterdir()) == ["1.md"]


def test_write_issue_with_a_name_key(repo, rt):
    path = write_issue(repo.path, "PROJ-7", "Login", "Body\n", "open", ["PROJ-6", 3, "#4"])
    assert path == repo.path / ".pirun" / "issues" / "PROJ-7.md"
    issue = rt.fetch_issue("PROJ-7")
    assert (issue.key, issue.title, issue.body) == ("PROJ-7", "Login", "Body\n")
    assert [b.key for b in issue.blocked_by] == ["PROJ-6", "3", "4"]


def test_write_issue_takes_a_number_as_text_too(tmp_path):
    assert write_issue(tmp_path, "7", "x") == write_issue(tmp_path, 7, "x")
    assert write_issue(tmp_path, 7, "x").name == "7.md"


@pytest.mark.parametrize(
    "key", ["", "abc", "a/b", "a/b#3", "-x", "x-", "..", "../evil", "a b", "#3", "03", "0",
            "PROJ--7", "x" * 63 + "-y", None, 1.0],
)
def test_write_issue_rejects_what_is_not_a_key(tmp_path, key):
    with pytest.raises(ValueError):
        write_issue(tmp_path, key, "x")
    assert not (tmp_path / ".pirun").exists()


@pytest.mark.parametrize(
    ("number", "state"), [(0, "open"), (-1, "open"), (True, "open"), (1, "done")]
)
def test_write_issue_rejects_bad_arguments(tmp_path, number, state):
    with pytest.raises(ValueError):
        write_issue(tmp_path, number, "x", state=state)


@settings(max_examples=300, deadline=None)
@example(title="0\x85", body="", number=1, blocked_by=[])
@example(title="a\u2028b\u2029c\ufeff", body="---\n", number=2, blocked_by=[])
@example(title="---\n---", body="\n---\n", number=3, blocked_by=[1])
@given(
    title=st.text(min_size=1, max_size=200),
    body=st.text(max_size=300),
    number=st.integers(min_value=1, max_value=10**6),
    blocked_by=st.lists(st.integers(min_value=1, max_value=10**6), max_size=4),
)
def test_any_title_and_body_survive_write_and_read(title, body, number, blocked_by):
    assume(title.strip())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_issue(root, number, title, body, "open", blocked_by)
        issue = LocalTracker(root).issue(str(number))
    assert issue.title == title
    assert issue.body == body
    assert [b.key for b in issue.blocked_by] == [str(n) for n in blocked_by]
