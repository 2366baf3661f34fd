"""Tests for pirun.graph: layering a batch of issues by their blockers."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pirun.errors import CircularDependency
from pirun.graph import Plan, plan
from pirun.keys import display_key, sort_key


def key(number: int, repo: str = "") -> str:
    """The key of issue `number`: "7" in this repository, "owner/name#7" in another."""
    return f"{repo}#{number}" if repo else str(number)


def keys(*numbers: int) -> list[str]:
    return [key(n) for n in numbers]


def numbers(p: Plan) -> list[list[int]]:
    """The layers of a plan of this repository's issues, as issue numbers."""
    return [[int(k) for k in layer] for layer in p.layers]


# --- examples -------------------------------------------------------------------------


def test_seed_example_layers_chains_side_by_side() -> None:
    edges = {key(44): [key(42)], key(46): [key(44)], key(45): [key(43)]}
    p = plan(keys(46, 45, 44, 43, 42), edges)
    assert numbers(p) == [[42, 43], [44, 45], [46]]
    assert p.layer_of(key(42)) == 0
    assert p.layer_of(key(45)) == 1
    assert p.layer_of(key(46)) == 2


def test_diamond_puts_join_after_both_branches() -> None:
    edges = {key(2): [key(1)], key(3): [key(1)], key(4): [key(2), key(3)]}
    p = plan(keys(4, 3, 2, 1), edges)
    assert numbers(p) == [[1], [2, 3], [4]]
    assert p.blockers[key(4)] == frozenset(keys(2, 3))
    assert p.dependents(key(1)) == set(keys(2, 3, 4))
    assert p.dependents(key(2)) == {key(4)}
    assert p.dependents(key(4)) == set()


def test_issue_waits_for_its_slowest_blocker_not_its_first() -> None:
    # 4 is blocked by 1 (layer 0) and 3 (layer 2): it must go to layer 3.
    edges = {key(2): [key(1)], key(3): [key(2)], key(4): [key(1), key(3)]}
    assert numbers(plan(keys(1, 2, 3, 4), edges)) == [[1], [2], [3], [4]]


def test_empty_batch_gives_empty_plan() -> None:
    p = plan([], {})
    assert p.layers == ()
    assert dict(p.blockers) == {}


def test_issues_without_edges_all_run_in_first_layer_ordered_by_number() -> None:
    assert numbers(plan(keys(9, 3, 7), {})) == [[3, 7, 9]]


def test_layer_orders_numbers_first_then_other_keys_naturally() -> None:
    batch = [key(2, "b/b"), key(2), key(1, "z/z"), key(2, "a/a")]
    (layer,) = plan(batch, {}).layers
    assert layer == (key(2), key(2, "a/a"), key(2, "b/b"), key(1, "z/z"))
    assert layer == ("2", "a/a#2", "b/b#2", "z/z#1")


def test_name_keys_sort_naturally_in_a_layer() -> None:
    (layer,) = plan(["PROJ-10", "PROJ-2", "PROJ-1"], {}).layers
    assert layer == ("PROJ-1", "PROJ-2", "PROJ-10")


def test_numbers_come_before_name_keys_in_a_layer() -> None:
    (layer,) = plan(["login-page", "PROJ-2", "10", "PROJ-10", "2"], {}).layers
    assert layer == ("2", "10", "login-page", "PROJ-2", "PROJ-10")


def test_name_keys_are_layered_by_their_blockers() -> None:
    edges = {"PROJ-2": ["PROJ-1"], "PROJ-10": ["PROJ-1", "7"], "PROJ-3": ["PROJ-10"]}
    p = plan(["PROJ-3", "PROJ-10", "PROJ-2", "PROJ-1", "7"], edges)
    assert p.layers == (("7", "PROJ-1"), ("PROJ-2", "PROJ-10"), ("PROJ-3",))
    assert p.dependents("PROJ-1") == {"PROJ-2", "PROJ-10", "PROJ-3"}
    assert p.blockers["PROJ-10"] == frozenset({"PROJ-1", "7"})


def test_a_number_and_a_name_ending_in_it_do_not_collide() -> None:
    p = plan(["7", "PROJ-7"], {"PROJ-7": ["7"]})
    assert p.layers == (("7",), ("PROJ-7",))


def test_cycle_of_name_keys_names_them_as_they_are() -> None:
    edges = {"PROJ-2": ["PROJ-10"], "PROJ-10": ["PROJ-2"], "PROJ-1": ["PROJ-2"]}
    with pytest.raises(CircularDependency) as info:
        plan(["PROJ-1", "PROJ-10", "PROJ-2"], edges)
    # Started from the lowest member in natural order: PROJ-2 before PROJ-10.
    assert info.value.cycle == ["PROJ-2", "PROJ-10", "PROJ-2"]
    assert str(info.value) == "Circular dependency: PROJ-2 -> PROJ-10 -> PROJ-2"


def test_cycle_through_numbers_and_names_shows_each_as_people_see_it() -> None:
    edges = {"5": ["PROJ-1"], "PROJ-1": ["o/r#5"], "o/r#5": ["5"]}
    with pytest.raises(CircularDependency) as info:
        plan(["o/r#5", "PROJ-1", "5"], edges)
    assert str(info.value) == "Circular dependency: #5 -> PROJ-1 -> o/r#5 -> #5"


def test_layer_of_a_name_key_outside_the_batch_names_it() -> None:
    with pytest.raises(KeyError, match="PROJ-9 is not in the planned batch"):
        plan(["PROJ-1"], {}).layer_of("PROJ-9")
    with pytest.raises(KeyError, match="#9 is not in the planned batch"):
        plan(["PROJ-1"], {}).dependents("9")


def test_two_cycle_names_both_members() -> None:
    edges = {key(5): [key(6)], key(6): [key(5)]}
    with pytest.raises(CircularDependency) as info:
        plan(keys(5, 6), edges)
    assert info.value.cycle == ["#5", "#6", "#5"]
    assert str(info.value) == "Circular dependency: #5 -> #6 -> #5"


def test_three_cycle_names_all_members_each_blocked_by_the_next() -> None:
    edges = {key(1): [key(2)], key(2): [key(3)], key(3): [key(1)], key(4): [key(1)]}
    with pytest.raises(CircularDependency) as info:
        plan(keys(4, 3, 2, 1), edges)
    assert info.value.cycle == ["#1", "#2", "#3", "#1"]
    assert str(info.value) == "Circular dependency: #1 -> #2 -> #3 -> #1"


def test_cycle_downstream_of_acyclic_issues_is_still_found() -> None:
    edges = {key(2): [key(1)], key(3): [key(2), key(4)], key(4): [key(3)]}
    with pytest.raises(CircularDependency) as info:
        plan(keys(1, 2, 3, 4), edges)
    assert info.value.cycle == ["#3", "#4", "#3"]


def test_self_blocker_is_a_cycle() -> None:
    with pytest.raises(CircularDependency) as info:
        plan(keys(5, 6), {key(5): [key(5)]})
    assert info.value.cycle == ["#5", "#5"]
    assert str(info.value) == "Circular dependency: #5 -> #5"


def test_self_blocker_outside_batch_is_ignored() -> None:
    assert numbers(plan(keys(1), {key(5): [key(5)]})) == [[1]]


def test_cycle_error_exits_with_blocked_code() -> None:
    with pytest.raises(CircularDependency) as info:
        plan(keys(1), {key(1): [key(1)]})
    assert info.value.exit_code == 2


def test_duplicates_in_batch_are_deduped() -> None:
    p = plan(keys(2, 1, 2, 1, 2), {key(2): [key(1), key(1)]})
    assert numbers(p) == [[1], [2]]
    assert set(p.blockers) == set(keys(1, 2))


def test_out_of_batch_blockers_are_ignored() -> None:
    edges = {key(2): [key(1), key(99), key(1, "other/repo")], key(3): [key(100)]}
    p = plan(keys(1, 2, 3), edges)
    assert numbers(p) == [[1, 3], [2]]
    assert p.blockers[key(2)] == frozenset({key(1)})
    assert p.blockers[key(3)] == frozenset()


def test_blockers_cover_every_issue_of_the_batch() -> None:
    p = plan(keys(1, 2), {key(2): [key(1)]})
    assert dict(p.blockers) == {key(1): frozenset(), key(2): frozenset({key(1)})}


def test_same_number_in_different_repos_does_not_collide() -> None:
    local, foreign = key(7), key(7, "o/r")
    p = plan([local, foreign], {foreign: [local]})
    assert p.layers == ((local,), (foreign,))
    assert p.layer_of(local) == 0
    assert p.layer_of(foreign) == 1
    assert p.dependents(local) == {foreign}


def test_blocker_with_same_number_in_other_repo_is_out_of_batch() -> None:
    assert numbers(plan(keys(7, 8), {key(8): [key(7, "o/r")]})) == [[7, 8]]


def test_edges_may_be_one_shot_iterables() -> None:
    p = plan(iter(keys(2, 1)), {key(2): (r for r in keys(1))})
    assert numbers(p) == [[1], [2]]


def test_layer_of_and_dependents_reject_refs_outside_batch() -> None:
    p = plan(keys(1), {})
    with pytest.raises(KeyError):
        p.layer_of(key(2))
    with pytest.raises(KeyError):
        p.dependents(key(2))


def test_order_lists_issues_layer_by_layer() -> None:
    edges = {key(44): [key(42)], key(46): [key(44)], key(45): [key(43)]}
    assert plan(keys(46, 45, 44, 43, 42), edges).order() == keys(42, 43, 44, 45, 46)


def test_plans_of_same_graph_are_equal_and_hashable() -> None:
    edges = {key(2): [key(1)]}
    a, b = plan(keys(1, 2), edges), plan(keys(2, 1), edges)
    assert a == b
    assert hash(a) == hash(b)
    assert a != plan(keys(1, 2), {})


def test_ten_thousand_long_chain_needs_no_recursion() -> None:
    n = 10_000
    chain = keys(*range(n))
    edges = {chain[i]: [chain[i - 1]] for i in range(1, n)}
    p = plan(reversed(chain), edges)
    assert len(p.layers) == n
    assert p.layer_of(chain[-1]) == n - 1
    assert len(p.dependents(chain[0])) == n - 1


def test_ten_thousand_long_cycle_is_reported_without_recursion() -> None:
    n = 10_000
    ring = keys(*range(n))
    edges = {ring[i]: [ring[(i + 1) % n]] for i in range(n)}
    with pytest.raises(CircularDependency) as info:
        plan(ring, edges)
    assert info.value.cycle == [display_key(k) for k in ring] + ["#0"]


# --- properties -----------------------------------------------------------------------

REPOS = ("", "o/r")


def node_keys(top: int) -> st.SearchStrategy[str]:
    """Issue keys of every shape: numbers here, `o/r#N` elsewhere, `PROJ-N` names."""
    return st.one_of(
        st.builds(key, st.integers(1, top), st.sampled_from(REPOS)),
        st.builds("PROJ-{}".format, st.integers(1, top)),
    )


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[str], dict[str, list[str]]]:
    """A batch and blocker edges that are acyclic inside the batch.

    Nodes are ordered by a random permutation and may only be blocked by earlier
    ones; some edges point outside the batch and some batch entries repeat.
    """
    nodes = draw(
        st.lists(
            node_keys(40),
            unique=True,
            max_size=25,
        )
    )
    outsiders = [key(n, "x/y") for n in range(3)]
    edges: dict[str, list[str]] = {}
    for i, node in enumerate(nodes):
        pool = nodes[:i] + outsiders
        edges[node] = draw(st.lists(st.sampled_from(pool), max_size=4))
    repeats = draw(st.lists(st.sampled_from(nodes), max_size=5)) if nodes else []
    batch = draw(st.permutations(nodes + repeats))
    return batch, edges


@given(dags())
def test_every_issue_lies_after_all_its_in_batch_blockers(
    graph: tuple[list[str], dict[str, list[str]]],
) -> None:
    batch, edges = graph
    p = plan(batch, edges)
    members = set(batch)
    placed = p.order()
    assert sorted(placed) == sorted(members)
    for node in members:
        for blocker in edges.get(node, ()):
            if blocker in members:
                assert p.layer_of(blocker) < p.layer_of(node)


@given(dags())
def test_layers_are_minimal(graph: tuple[list[str], dict[str, list[str]]]) -> None:
    batch, edges = graph
    p = plan(batch, edges)
    for k, layer in enumerate(p.layers):
        assert layer, "no layer is empty"
        assert list(layer) == sorted(layer, key=sort_key)
        for node in layer:
            blocker_layers = {p.layer_of(b) for b in p.blockers[node]}
            if k == 0:
                assert not blocker_layers
            else:
                assert k - 1 in blocker_layers


@given(dags())
def test_dependents_are_exactly_the_issues_that_reach_back(
    graph: tuple[list[str], dict[str, list[str]]],
) -> None:
    batch, edges = graph
    p = plan(batch, edges)
    for node in set(batch):
        deps = p.dependents(node)
        assert node not in deps
        for dep in deps:
            assert p.layer_of(dep) > p.layer_of(node)
        # Closure check: an issue is a dependent iff one of its blockers is node or one.
        for other in set(batch) - {node}:
            reaches = any(b == node or b in deps for b in p.blockers[other])
            assert (other in deps) == reaches


@st.composite
def graphs_with_planted_cycle(
    draw: st.DrawFn,
) -> tuple[list[str], dict[str, set[str]]]:
    """Random blocker edges (cycles allowed) plus one planted cycle inside the batch."""
    nodes = draw(
        st.lists(
            node_keys(30),
            unique=True,
            min_size=1,
            max_size=20,
        )
    )
    edges: dict[str, set[str]] = {
        node: set(draw(st.lists(st.sampled_from(nodes), max_size=2))) for node in nodes
    }
    members = draw(st.lists(st.sampled_from(nodes), unique=True, min_size=1, max_size=6))
    for i, node in enumerate(members):
        edges[node].add(members[(i + 1) % len(members)])
    return draw(st.permutations(nodes)), edges


@settings(max_examples=200)
@given(graphs_with_planted_cycle())
def test_planted_cycle_is_reported_as_a_real_cycle(
    graph: tuple[list[str], dict[str, set[str]]],
) -> None:
    batch, edges = graph
    with pytest.raises(CircularDependency) as info:
        plan(batch, edges)
    by_name = {display_key(node): node for node in batch}
    cycle = [by_name[name] for name in info.value.cycle]
    assert len(cycle) >= 2
    assert cycle[0] == cycle[-1]
    assert len(set(cycle)) == len(cycle) - 1, "members are distinct apart from the closing one"
    for member, next_member in itertools.pairwise(cycle):
        assert next_member in edges[member], f"{member} is not blocked by {next_member}"
