"""Tests for pirun.graph: layering a batch of issues by their blockers."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pirun.errors import CircularDependency
from pirun.graph import Plan, plan
from pirun.model import IssueRef


def ref(number: int, repo: str = "") -> IssueRef:
    return IssueRef(repo, number)


def refs(*numbers: int) -> list[IssueRef]:
    return [ref(n) for n in numbers]


def numbers(p: Plan) -> list[list[int]]:
    return [[r.number for r in layer] for layer in p.layers]


# --- examples -------------------------------------------------------------------------


def test_seed_example_layers_chains_side_by_side() -> None:
    edges = {ref(44): [ref(42)], ref(46): [ref(44)], ref(45): [ref(43)]}
    p = plan(refs(46, 45, 44, 43, 42), edges)
    assert numbers(p) == [[42, 43], [44, 45], [46]]
    assert p.layer_of(ref(42)) == 0
    assert p.layer_of(ref(45)) == 1
    assert p.layer_of(ref(46)) == 2


def test_diamond_puts_join_after_both_branches() -> None:
    edges = {ref(2): [ref(1)], ref(3): [ref(1)], ref(4): [ref(2), ref(3)]}
    p = plan(refs(4, 3, 2, 1), edges)
    assert numbers(p) == [[1], [2, 3], [4]]
    assert p.blockers[ref(4)] == frozenset(refs(2, 3))
    assert p.dependents(ref(1)) == set(refs(2, 3, 4))
    assert p.dependents(ref(2)) == {ref(4)}
    assert p.dependents(ref(4)) == set()


def test_issue_waits_for_its_slowest_blocker_not_its_first() -> None:
    # 4 is blocked by 1 (layer 0) and 3 (layer 2): it must go to layer 3.
    edges = {ref(2): [ref(1)], ref(3): [ref(2)], ref(4): [ref(1), ref(3)]}
    assert numbers(plan(refs(1, 2, 3, 4), edges)) == [[1], [2], [3], [4]]


def test_empty_batch_gives_empty_plan() -> None:
    p = plan([], {})
    assert p.layers == ()
    assert dict(p.blockers) == {}


def test_issues_without_edges_all_run_in_first_layer_ordered_by_number() -> None:
    assert numbers(plan(refs(9, 3, 7), {})) == [[3, 7, 9]]


def test_layer_orders_by_number_then_repo() -> None:
    batch = [ref(2, "b/b"), ref(2), ref(1, "z/z"), ref(2, "a/a")]
    (layer,) = plan(batch, {}).layers
    assert layer == (ref(1, "z/z"), ref(2), ref(2, "a/a"), ref(2, "b/b"))


def test_two_cycle_names_both_members() -> None:
    edges = {ref(5): [ref(6)], ref(6): [ref(5)]}
    with pytest.raises(CircularDependency) as info:
        plan(refs(5, 6), edges)
    assert info.value.cycle == ["#5", "#6", "#5"]
    assert str(info.value) == "Circular dependency: #5 -> #6 -> #5"


def test_three_cycle_names_all_members_each_blocked_by_the_next() -> None:
    edges = {ref(1): [ref(2)], ref(2): [ref(3)], ref(3): [ref(1)], ref(4): [ref(1)]}
    with pytest.raises(CircularDependency) as info:
        plan(refs(4, 3, 2, 1), edges)
    assert info.value.cycle == ["#1", "#2", "#3", "#1"]
    assert str(info.value) == "Circular dependency: #1 -> #2 -> #3 -> #1"


def test_cycle_downstream_of_acyclic_issues_is_still_found() -> None:
    edges = {ref(2): [ref(1)], ref(3): [ref(2), ref(4)], ref(4): [ref(3)]}
    with pytest.raises(CircularDependency) as info:
        plan(refs(1, 2, 3, 4), edges)
    assert info.value.cycle == ["#3", "#4", "#3"]


def test_self_blocker_is_a_cycle() -> None:
    with pytest.raises(CircularDependency) as info:
        plan(refs(5, 6), {ref(5): [ref(5)]})
    assert info.value.cycle == ["#5", "#5"]
    assert str(info.value) == "Circular dependency: #5 -> #5"


def test_self_blocker_outside_batch_is_ignored() -> None:
    assert numbers(plan(refs(1), {ref(5): [ref(5)]})) == [[1]]


def test_cycle_error_exits_with_blocked_code() -> None:
    with pytest.raises(CircularDependency) as info:
        plan(refs(1), {ref(1): [ref(1)]})
    assert info.value.exit_code == 2


def test_duplicates_in_batch_are_deduped() -> None:
    p = plan(refs(2, 1, 2, 1, 2), {ref(2): [ref(1), ref(1)]})
    assert numbers(p) == [[1], [2]]
    assert set(p.blockers) == set(refs(1, 2))


def test_out_of_batch_blockers_are_ignored() -> None:
    edges = {ref(2): [ref(1), ref(99), ref(1, "other/repo")], ref(3): [ref(100)]}
    p = plan(refs(1, 2, 3), edges)
    assert numbers(p) == [[1, 3], [2]]
    assert p.blockers[ref(2)] == frozenset({ref(1)})
    assert p.blockers[ref(3)] == frozenset()


def test_blockers_cover_every_issue_of_the_batch() -> None:
    p = plan(refs(1, 2), {ref(2): [ref(1)]})
    assert dict(p.blockers) == {ref(1): frozenset(), ref(2): frozenset({ref(1)})}


def test_same_number_in_different_repos_does_not_collide() -> None:
    local, foreign = ref(7), ref(7, "o/r")
    p = plan([local, foreign], {foreign: [local]})
    assert p.layers == ((local,), (foreign,))
    assert p.layer_of(local) == 0
    assert p.layer_of(foreign) == 1
    assert p.dependents(local) == {foreign}


def test_blocker_with_same_number_in_other_repo_is_out_of_batch() -> None:
    assert numbers(plan(refs(7, 8), {ref(8): [ref(7, "o/r")]})) == [[7, 8]]


def test_edges_may_be_one_shot_iterables() -> None:
    p = plan(iter(refs(2, 1)), {ref(2): (r for r in refs(1))})
    assert numbers(p) == [[1], [2]]


def test_layer_of_and_dependents_reject_refs_outside_batch() -> None:
    p = plan(refs(1), {})
    with pytest.raises(KeyError):
        p.layer_of(ref(2))
    with pytest.raises(KeyError):
        p.dependents(ref(2))


def test_order_lists_issues_layer_by_layer() -> None:
    edges = {ref(44): [ref(42)], ref(46): [ref(44)], ref(45): [ref(43)]}
    assert plan(refs(46, 45, 44, 43, 42), edges).order() == refs(42, 43, 44, 45, 46)


def test_plans_of_same_graph_are_equal_and_hashable() -> None:
    edges = {ref(2): [ref(1)]}
    a, b = plan(refs(1, 2), edges), plan(refs(2, 1), edges)
    assert a == b
    assert hash(a) == hash(b)
    assert a != plan(refs(1, 2), {})


def test_ten_thousand_long_chain_needs_no_recursion() -> None:
    n = 10_000
    chain = refs(*range(n))
    edges = {chain[i]: [chain[i - 1]] for i in range(1, n)}
    p = plan(reversed(chain), edges)
    assert len(p.layers) == n
    assert p.layer_of(chain[-1]) == n - 1
    assert len(p.dependents(chain[0])) == n - 1


def test_ten_thousand_long_cycle_is_reported_without_recursion() -> None:
    n = 10_000
    ring = refs(*range(n))
    edges = {ring[i]: [ring[(i + 1) % n]] for i in range(n)}
    with pytest.raises(CircularDependency) as info:
        plan(ring, edges)
    assert info.value.cycle == [str(r) for r in ring] + ["#0"]


# --- properties -----------------------------------------------------------------------

REPOS = ("", "o/r")


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[IssueRef], dict[IssueRef, list[IssueRef]]]:
    """A batch and blocker edges that are acyclic inside the batch.

    Nodes are ordered by a random permutation and may only be blocked by earlier
    ones; some edges point outside the batch and some batch entries repeat.
    """
    nodes = draw(
        st.lists(
            st.builds(IssueRef, st.sampled_from(REPOS), st.integers(1, 40)),
            unique=True,
            max_size=25,
        )
    )
    outsiders = [IssueRef("x/y", n) for n in range(3)]
    edges: dict[IssueRef, list[IssueRef]] = {}
    for i, node in enumerate(nodes):
        pool = nodes[:i] + outsiders
        edges[node] = draw(st.lists(st.sampled_from(pool), max_size=4))
    repeats = draw(st.lists(st.sampled_from(nodes), max_size=5)) if nodes else []
    batch = draw(st.permutations(nodes + repeats))
    return batch, edges


@given(dags())
def test_every_issue_lies_after_all_its_in_batch_blockers(
    graph: tuple[list[IssueRef], dict[IssueRef, list[IssueRef]]],
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
def test_layers_are_minimal(graph: tuple[list[IssueRef], dict[IssueRef, list[IssueRef]]]) -> None:
    batch, edges = graph
    p = plan(batch, edges)
    for k, layer in enumerate(p.layers):
        assert layer, "no layer is empty"
        assert list(layer) == sorted(layer, key=lambda r: (r.number, r.repo))
        for node in layer:
            blocker_layers = {p.layer_of(b) for b in p.blockers[node]}
            if k == 0:
                assert not blocker_layers
            else:
                assert k - 1 in blocker_layers


@given(dags())
def test_dependents_are_exactly_the_issues_that_reach_back(
    graph: tuple[list[IssueRef], dict[IssueRef, list[IssueRef]]],
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
) -> tuple[list[IssueRef], dict[IssueRef, set[IssueRef]]]:
    """Random blocker edges (cycles allowed) plus one planted cycle inside the batch."""
    nodes = draw(
        st.lists(
            st.builds(IssueRef, st.sampled_from(REPOS), st.integers(1, 30)),
            unique=True,
            min_size=1,
            max_size=20,
        )
    )
    edges: dict[IssueRef, set[IssueRef]] = {
        node: set(draw(st.lists(st.sampled_from(nodes), max_size=2))) for node in nodes
    }
    members = draw(st.lists(st.sampled_from(nodes), unique=True, min_size=1, max_size=6))
    for i, node in enumerate(members):
        edges[node].add(members[(i + 1) % len(members)])
    return draw(st.permutations(nodes)), edges


@settings(max_examples=200)
@given(graphs_with_planted_cycle())
def test_planted_cycle_is_reported_as_a_real_cycle(
    graph: tuple[list[IssueRef], dict[IssueRef, set[IssueRef]]],
) -> None:
    batch, edges = graph
    with pytest.raises(CircularDependency) as info:
        plan(batch, edges)
    by_name = {str(node): node for node in batch}
    cycle = [by_name[name] for name in info.value.cycle]
    assert len(cycle) >= 2
    assert cycle[0] == cycle[-1]
    assert len(set(cycle)) == len(cycle) - 1, "members are distinct apart from the closing one"
    for member, next_member in itertools.pairwise(cycle):
        assert next_member in edges[member], f"{member} is not blocked by {next_member}"
