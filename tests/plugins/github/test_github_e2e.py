"""The whole path: `.pirun.yaml`, the installed plugins, the kernel's Runtime."""

from __future__ import annotations

import pytest
from fakegithub import FakeGitHub

from pirun.errors import IssueNotFound
from pirun.model import IssueState
from pirun.runtime import Runtime


def test_runtime_fetches_a_batch_with_native_and_text_blockers(
    repo, gh_env: None, fake: FakeGitHub
) -> None:
    fake.add("o/r", 42, "Base")
    fake.add("o/r", 43, "Middle", blocked_by=[42])
    fake.add("o/r", 44, "Top", body="Depends on #43\nBlocked by other/lib#7", blocked_by=[43])
    fake.add("other/lib", 7, "Upstream", state="CLOSED")
    fake.install()
    (repo.path / ".pirun.yaml").write_text(
        f"tracker: github\ngithub:\n  repo: o/r\n  api_url: {fake.api_url}\n"
    )

    rt = Runtime.load(repo.path)
    issues = rt.fetch_issues(["42", "43", "44"])

    assert [i.title for i in issues.values()] == ["Base", "Middle", "Top"]
    assert [b.describe() for b in issues["44"].blocked_by] == ["#43: Middle (OPEN)"]
    assert len(fake.requests()) == 1

    text_edges: dict[str, list[str]] = {}
    for result in rt.pm.hook.pirun_collect_blockers(config=rt.config, issues=list(issues.values())):
        text_edges.update(result or {})
    assert text_edges == {"44": ["43", "other/lib#7"]}

    # The kernel then asks for the blocker outside the batch: one more request.
    upstream = rt.fetch_issues(["other/lib#7"])["other/lib#7"]
    assert upstream.state is IssueState.CLOSED
    rt.fetch_issues(["42", "43", "44"])
    assert len(fake.requests()) == 2

    with pytest.raises(IssueNotFound, match=r"^Issue #45 not found$"):
        rt.fetch_issue("45")


def test_text_references_are_put_in_github_s_spelling(
    repo, gh_env: None, fake: FakeGitHub
) -> None:
    # o/r#42 is #42 here, O/R#43 is the native blocker #43 again, PROJ-12 means
    # nothing to GitHub, and #44 naming itself is no cycle.
    from pirun.blockers import blockers_of

    fake.add("o/r", 42, "Base", state="CLOSED")
    fake.add("o/r", 43, "Middle")
    fake.add("o/r", 44, "Top", blocked_by=[43],
             body="Depends on o/r#42, O/R#43, PROJ-12 and #44\nBlocked by other/lib#7")
    fake.add("other/lib", 7, "Upstream")
    fake.install()
    (repo.path / ".pirun.yaml").write_text(
        f"tracker: github\ngithub:\n  repo: o/r\n  api_url: {fake.api_url}\n"
    )
    rt = Runtime.load(repo.path)
    top = rt.fetch_issue("44")
    blockers = blockers_of(rt, [top])["44"]
    assert [b.describe() for b in blockers] == [
        "#43: Middle (OPEN)", "#42: Base (CLOSED)", "other/lib#7: Upstream (OPEN)"
    ]
    # One request for #44, one for the two blockers only the text named.
    assert len(fake.queries()) == 2
