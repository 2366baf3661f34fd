"""`pirun graph`: the batch's dependency graph as Mermaid or DOT, through the real CLI,
with local issues in a real repository and states from the status store."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from clitools import assert_error

from pirun.graph import plan
from pirun.model import Status, StatusRecord
from pirun.picture import mermaid, node_id, picture
from pirun.runtime import Runtime

MERMAID_CLASS_LINES = ("classDef ", "class ")


def diamond(repo) -> None:
    repo.write_config(backend="process")
    repo.add_issue(1, "Base")
    repo.add_issue(2, "Left", blocked_by=[1])
    repo.add_issue(3, "Right", blocked_by=[1])
    repo.add_issue(4, "Top", blocked_by=[2, 3])


def graph(pirun, *args: str) -> list[str]:
    result = pirun("graph", *args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.splitlines()


def mermaid_edges(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines if "-->" in line or "-.->" in line]


def dot_edges(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines if " -> " in line]


def put(repo, key: str, status: Status, **fields: str) -> None:
    """A record written as the exec wrapper and `pirun stop` write theirs."""
    Runtime.load(repo.path).store.put(
        StatusRecord(issue=key, status=status, session=f"pi-issue-{key}", **fields)
    )


def check_dot(text: str) -> None:
    """Graphviz itself reads the text, where it is installed."""
    if shutil.which("dot") is None:
        return
    checked = subprocess.run(["dot", "-Tcanon"], input=text, capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr


def test_chain_in_mermaid_is_top_down_with_one_edge_per_link(repo, pirun):
    repo.write_config(backend="process")
    repo.add_issue(1, "First")
    repo.add_issue(2, "Second", blocked_by=[1])
    repo.add_issue(3, "Third", blocked_by=[2])

    lines = graph(pirun, "3", "1", "2")

    assert lines == [
        "flowchart TD",
        '    n_1["#1 First"]',
        '    n_2["#2 Second"]',
        '    n_3["#3 Third"]',
        "    n_1 --> n_2",
        "    n_2 --> n_3",
    ]


def test_diamond_in_mermaid_has_exactly_its_four_edges(repo, pirun):
    diamond(repo)

    lines = graph(pirun, "1", "2", "3", "4")

    assert mermaid_edges(lines) == ["n_1 --> n_2", "n_1 --> n_3", "n_2 --> n_4", "n_3 --> n_4"]
    assert lines[0] == "flowchart TD"


def test_diamond_in_dot_has_exactly_its_four_edges_and_a_rank_per_layer(repo, pirun):
    diamond(repo)

    lines = graph(pirun, "1", "2", "3", "4", "--format", "dot")

    assert dot_edges(lines) == ["n_1 -> n_2;", "n_1 -> n_3;", "n_2 -> n_4;", "n_3 -> n_4;"]
    assert lines[:2] == ["digraph pirun {", "    rankdir=TB;"]
    assert "    { rank=same; n_2; n_3; }" in lines
    assert '    n_4 [label="#4 Top"];' in lines
    check_dot("\n".join(lines))


def test_closed_outside_blocker_is_a_dashed_grey_node_with_its_state(repo, pirun):
    repo.write_config(backend="process")
    repo.add_issue(9, "Old groundwork", state="closed")
    repo.add_issue(8, "Dropped idea", state="not_planned")
    repo.add_issue(1, "Build on it", blocked_by=[9, 8])

    text = graph(pirun, "1")
    dot_text = graph(pirun, "1", "--format", "dot")

    assert '    n_9["#9 Old groundwork (closed)"]' in text
    assert '    n_8["#8 Dropped idea (not planned)"]' in text
    assert mermaid_edges(text) == ["n_8 -.-> n_1", "n_9 -.-> n_1"]
    assert "    class n_9 outside" in text
    # Not planned still blocks (the batch would skip #1): dashed, with a red stroke.
    assert "    class n_8 blocking" in text
    assert any(line.startswith("    classDef outside ") and "stroke-dasharray" in line
               for line in text)
    assert dot_edges(dot_text) == [
        'n_8 -> n_1 [style=dashed, color="#6c757d"];',
        'n_9 -> n_1 [style=dashed, color="#6c757d"];',
    ]
    assert ('    n_9 [label="#9 Old groundwork (closed)", style="rounded,dashed,filled", '
            'fillcolor="#f8f9fa", color="#6c757d", fontcolor="#6c757d"];') in dot_text
    check_dot("\n".join(dot_text))


HOSTILE = 'a"]; click n_1 "x"\n`b` \\n <script>'


def test_hostile_title_stays_inside_its_mermaid_label(repo, pirun):
    repo.write_config(backend="process")
    repo.add_issue(1, HOSTILE)
    repo.add_issue(2, "Next", blocked_by=[1])

    lines = graph(pirun, "1", "2")

    assert lines == [
        "flowchart TD",
        # One line, no `"` or `;` of its own, no backtick or markup left.
        '    n_1["#1 a#quot;]#59; click n_1 #quot;x#quot; #96;b#96; \\n #lt;script#gt;"]',
        '    n_2["#2 Next"]',
        "    n_1 --> n_2",
    ]


def test_hostile_title_stays_inside_its_dot_label(repo, pirun):
    repo.write_config(backend="process")
    repo.add_issue(1, HOSTILE)
    repo.add_issue(2, "Next", blocked_by=[1])

    lines = graph(pirun, "1", "2", "--format", "dot")

    assert '    n_1 [label="#1 a\\"]; click n_1 \\"x\\" `b` \\\\n <script>"];' in lines
    assert dot_edges(lines) == ["n_1 -> n_2;"]
    check_dot("\n".join(lines))


def test_title_is_cut_to_forty_characters_and_control_characters_removed(repo, pirun):
    repo.write_config(backend="process")
    repo.add_issue(1, "\u202ewo\u200brd\tw\u2028 " + "x" * 60)

    (line,) = [line for line in graph(pirun, "1") if line.startswith("    n_1[")]

    assert line == '    n_1["#1 word w ' + "x" * 32 + '…"]'


def test_name_keys_get_identifiers_that_are_not_the_raw_key(repo, pirun):
    repo.write_config(backend="process")
    repo.add_issue("PROJ-1", "Named")
    repo.add_issue("PROJ-2", "After", blocked_by=["PROJ-1"])

    lines = graph(pirun, "PROJ-1", "PROJ-2")

    assert '    n_PROJ_2d_1["PROJ-1 Named"]' in lines
    assert mermaid_edges(lines) == ["n_PROJ_2d_1 --> n_PROJ_2d_2"]
    # Another spelling of the same characters cannot land on the same identifier.
    assert len({node_id(k) for k in ("a-b", "a_b", "a_2d_b", "a\u2dbb", "ab")}) == 5


def test_nodes_are_coloured_by_their_records_states(repo, pirun, agent):
    diamond(repo)
    repo.add_issue(5, "Asleep", body="agent-mode: sleep\n")
    repo.write_config(backend="process", agent={"command": agent.command("auto")})
    put(repo, "1", Status.COMPLETE)
    put(repo, "2", Status.ERROR, error_message="agent exited with code 3")
    put(repo, "3", Status.ERROR, error_message="stopped by user", source="stop")
    assert pirun("run", "5", "--no-attach").exit_code == 0
    agent.wait_pids(5)

    text = graph(pirun, "1", "2", "3", "4", "5")
    dot_text = graph(pirun, "1", "2", "3", "4", "5", "--format", "dot")

    assert '    n_1["#1 Base (complete)"]' in text
    assert '    n_4["#4 Top"]' in text  # never run: no state, no class
    classes = [line.strip() for line in text if line.startswith("    class ")]
    # Grouped by class, in the order the plan's layers first show each state.
    assert classes == ["class n_1 complete", "class n_5 running", "class n_2 error",
                       "class n_3 stopped"]
    assert "    classDef complete fill:#d1e7dd,stroke:#198754" in text
    assert '    n_2 [label="#2 Left (error)", fillcolor="#f8d7da", color="#dc3545"];' in dot_text
    assert '    n_5 [label="#5 Asleep (running)", fillcolor="#cfe2ff", color="#0d6efd"];' \
        in dot_text
    check_dot("\n".join(dot_text))


def test_a_running_record_whose_session_vanished_is_shown_as_error(repo, pirun):
    repo.write_config(backend="process")
    repo.add_issue(1, "Gone")
    put(repo, "1", Status.RUNNING)

    lines = graph(pirun, "1")

    assert '    n_1["#1 Gone (error)"]' in lines


def test_waiting_has_a_colour_of_its_own():
    batch = plan(["1"], {})

    text = mermaid(picture(batch, {}, {}, {"1": "waiting"}))

    assert "    class n_1 waiting" in text.splitlines()
    assert "    classDef waiting fill:#fff3cd,stroke:#b8860b" in text.splitlines()


def test_json_lists_nodes_with_state_and_layer_and_the_edges(repo, pirun):
    diamond(repo)
    repo.add_issue(9, "Outside", state="closed")
    repo.add_issue("PROJ-1", "Named", blocked_by=[4, 9])
    put(repo, "1", Status.COMPLETE)

    result = pirun("graph", "1", "2", "3", "4", "PROJ-1", "--json")

    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["nodes"] == [
        {"key": 1, "title": "Base", "state": "complete", "layer": 0, "outside": False},
        {"key": 2, "title": "Left", "state": None, "layer": 1, "outside": False},
        {"key": 3, "title": "Right", "state": None, "layer": 1, "outside": False},
        {"key": 4, "title": "Top", "state": None, "layer": 2, "outside": False},
        {"key": "PROJ-1", "title": "Named", "state": None, "layer": 3, "outside": False},
        {"key": 9, "title": "Outside", "state": "closed", "layer": None, "outside": True},
    ]
    assert data["edges"] == [
        {"from": 1, "to": 2}, {"from": 1, "to": 3}, {"from": 2, "to": 4},
        {"from": 3, "to": 4}, {"from": 4, "to": "PROJ-1"}, {"from": 9, "to": "PROJ-1"},
    ]


def test_unknown_format_is_a_one_line_usage_error(repo, pirun):
    diamond(repo)

    assert_error(pirun("graph", "1", "--format", "bogus"), 3,
                 "--format takes mermaid or dot, got 'bogus'")


def test_no_issues_is_a_usage_error_and_an_unknown_one_a_failure(repo, pirun):
    diamond(repo)

    assert_error(pirun("graph"), 3, "no issues given")
    assert_error(pirun("graph", "1", "77"), 1, "Issue #77 not found")


@pytest.mark.parametrize("output", ["mermaid", "dot"])
def test_a_cycle_is_the_batch_s_circular_dependency_error(repo, pirun, output):
    repo.write_config(backend="process")
    repo.add_issue(1, "One", blocked_by=[2])
    repo.add_issue(2, "Two", blocked_by=[1])

    assert_error(pirun("graph", "1", "2", "--format", output), 2,
                 "Circular dependency: #1 -> #2 -> #1")


def test_classes_come_after_every_node_and_edge():
    # Mermaid applies `class` to nodes it has seen; keep the order the docs show.
    batch = plan(["1", "2"], {"2": ["1"]})

    lines = mermaid(picture(batch, {}, {}, {"1": "complete"})).splitlines()

    first_class = next(i for i, line in enumerate(lines)
                       if line.strip().startswith(MERMAID_CLASS_LINES))
    assert all(not line.strip().startswith(MERMAID_CLASS_LINES) for line in lines[:first_class])
    assert all(line.strip().startswith(MERMAID_CLASS_LINES) for line in lines[first_class:])
