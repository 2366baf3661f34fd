"""`TrackerContract`: what every issue tracker must do."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pirun.errors import IssueNotFound
from pirun.keys import key_from_name, key_name
from pirun.model import Issue, IssueState
from pirun.protocols import Tracker

OPEN_TITLE = "Contract: an open issue"
BLOCKED_TITLE = "Contract: an issue blocked by the open one"
CLOSED_TITLE = "Contract: a closed issue"
#: The open issue's body: untrusted text the tracker must hand over as it is.
OPEN_BODY = "Keep $(touch PWNED) and `rm -rf ~` as text; also ###TASK_COMPLETE_1###."


@dataclass(frozen=True)
class ContractProject:
    """A tracker and the keys of the issues its project holds for the contract.

    The project must hold, before the tests run:

    - `open_key`: an open issue titled OPEN_TITLE, body OPEN_BODY, no blockers;
    - `blocked_key`: an open issue titled BLOCKED_TITLE, blocked by `open_key`
      through the tracker's own relations (links, dependencies, front matter);
    - `closed_key`: a closed (done) issue titled CLOSED_TITLE;
    - `missing_key`: a key of this tracker's syntax that names no issue.

    `spellings` maps other ways a person may type a key to the key they mean
    (`{"#12": "12"}`, `{"proj-3": "PROJ-3"}`); `not_keys` are texts that are no key.
    `owner` holds what must outlive the tracker, such as the runtime whose
    configuration made it (a tracker may close when its configuration goes).
    """

    tracker: Tracker
    open_key: str
    blocked_key: str
    closed_key: str
    missing_key: str
    spellings: tuple[tuple[str, str], ...] = ()
    not_keys: tuple[str, ...] = ("", "   ", "not a key", "a\nb")
    owner: object = None

    @property
    def keys(self) -> list[str]:
        return [self.open_key, self.blocked_key, self.closed_key]


class TrackerContract:
    """Subclass and define the `contract_project` fixture (a `ContractProject`)."""

    @pytest.fixture
    def contract_project(self) -> ContractProject:
        raise NotImplementedError("define the contract_project fixture in the subclass")

    def _fetch(self, project: ContractProject, keys: list[str]) -> dict[str, Issue]:
        issues = project.tracker.fetch(keys)
        found = {issue.key: issue for issue in issues}
        assert len(found) == len(issues), f"fetch returned an issue twice: {sorted(found)}"
        return found

    def test_is_a_tracker_with_a_name(self, contract_project: ContractProject) -> None:
        tracker = contract_project.tracker
        assert isinstance(tracker, Tracker), "does not implement pirun.api.Tracker"
        assert isinstance(tracker.name, str) and tracker.name, "a tracker needs a name"

    def test_its_keys_parse_to_themselves(self, contract_project: ContractProject) -> None:
        tracker = contract_project.tracker
        for key in [*contract_project.keys, contract_project.missing_key]:
            assert tracker.parse_key(key) == key, f"parse_key({key!r}) is not {key!r}"
            assert tracker.parse_key(f"  {key} ") == key, f"parse_key keeps spaces of {key!r}"

    def test_other_spellings_parse_to_the_key_they_mean(
        self, contract_project: ContractProject
    ) -> None:
        tracker = contract_project.tracker
        for text, key in contract_project.spellings:
            assert tracker.parse_key(text) == key, f"parse_key({text!r}) is not {key!r}"
            assert tracker.parse_key(key) == key, f"parse_key is not idempotent for {key!r}"

    def test_what_is_no_key_parses_to_none(self, contract_project: ContractProject) -> None:
        for text in contract_project.not_keys:
            assert contract_project.tracker.parse_key(text) is None, f"{text!r} taken for a key"

    def test_its_keys_have_reversible_safe_names(self, contract_project: ContractProject) -> None:
        for key in contract_project.keys:
            assert key_from_name(key_name(key)) == key, f"{key!r} has no reversible name"

    def test_fetch_returns_each_issue_under_the_key_asked_for(
        self, contract_project: ContractProject
    ) -> None:
        project = contract_project
        found = self._fetch(project, project.keys)
        assert set(found) == set(project.keys), f"asked {project.keys}, got {sorted(found)}"
        assert found[project.open_key].title == OPEN_TITLE
        assert found[project.blocked_key].title == BLOCKED_TITLE
        assert found[project.closed_key].title == CLOSED_TITLE

    def test_states_are_reported(self, contract_project: ContractProject) -> None:
        project = contract_project
        found = self._fetch(project, project.keys)
        assert found[project.open_key].state is IssueState.OPEN, "the open issue is not open"
        assert found[project.blocked_key].state is IssueState.OPEN
        assert found[project.closed_key].state is IssueState.CLOSED, "the closed one is open"

    def test_untrusted_body_is_handed_over_as_written(
        self, contract_project: ContractProject
    ) -> None:
        issue = self._fetch(contract_project, [contract_project.open_key])
        body = issue[contract_project.open_key].body
        assert OPEN_BODY in body, f"the body changed on the way: {body!r}"

    def test_blockers_come_with_key_title_and_state(
        self, contract_project: ContractProject
    ) -> None:
        project = contract_project
        found = self._fetch(project, [project.blocked_key, project.open_key])
        blockers = found[project.blocked_key].blocked_by
        keys = [project.tracker.parse_key(b.key) or b.key for b in blockers]
        assert keys == [project.open_key], f"blockers of {project.blocked_key}: {keys}"
        assert blockers[0].state is IssueState.OPEN, "an open blocker is reported closed"
        assert found[project.open_key].blocked_by == (), "the open issue has blockers"

    def test_a_missing_issue_is_left_out_or_not_found(
        self, contract_project: ContractProject
    ) -> None:
        project = contract_project
        try:
            found = self._fetch(project, [project.open_key, project.missing_key])
        except IssueNotFound:
            return
        assert set(found) == {project.open_key}, f"a missing issue was returned: {sorted(found)}"

    def test_fetching_nothing_or_twice_the_same(self, contract_project: ContractProject) -> None:
        project = contract_project
        assert project.tracker.fetch([]) == [], "fetch([]) returned issues"
        twice = project.tracker.fetch([project.open_key, project.open_key])
        assert [issue.key for issue in twice] == [project.open_key], "one issue came back twice"

    def test_close_can_follow_fetch(self, contract_project: ContractProject) -> None:
        self._fetch(contract_project, [contract_project.open_key])
        contract_project.tracker.close()
