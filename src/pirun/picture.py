"""`pirun graph`: a batch's dependency graph as Mermaid or Graphviz DOT text.

Pure functions over plain data, no I/O. Edges point from blocker to dependent ("must
finish before"). Issues of the batch are coloured by their run's state; blockers
outside the batch are dashed grey nodes labelled with their tracker state.

Titles come from the tracker, so anyone who can file an issue writes them: each
format's labels are escaped so that no title can end its label, start a statement,
or turn into markup when the picture is rendered.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pirun.graph import Plan
from pirun.keys import display_key, json_key, sort_key
from pirun.model import Blocker, Issue, IssueState, Status, StatusRecord

__all__ = ["FORMATS", "Edge", "Node", "Picture", "dot", "mermaid", "picture", "record_state"]

#: Longest title shown in a node; a picture of 30 issues must stay readable.
TITLE_WIDTH = 40

#: Fill and stroke per run state; a state missing here (not run, or one a plugin's
#: store invented) stays neutral.
COLOURS: dict[str, tuple[str, str]] = {
    "running": ("#cfe2ff", "#0d6efd"),
    "waiting": ("#fff3cd", "#b8860b"),
    "complete": ("#d1e7dd", "#198754"),
    "error": ("#f8d7da", "#dc3545"),
    "stopped": ("#ffe5d0", "#fd7e14"),
}
OUTSIDE = ("#f8f9fa", "#6c757d")


@dataclass(frozen=True)
class Node:
    key: str
    title: str
    #: Run state for an issue of the batch (None: never run); tracker state
    #: (`open`, `closed`, `not_planned`) for a blocker outside it.
    state: str | None
    #: The plan's layer; None for a blocker outside the batch.
    layer: int | None

    @property
    def outside(self) -> bool:
        return self.layer is None


@dataclass(frozen=True)
class Edge:
    blocker: str
    dependent: str


@dataclass(frozen=True)
class Picture:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [
                {"key": json_key(n.key), "title": n.title, "state": n.state, "layer": n.layer,
                 "outside": n.outside}
                for n in self.nodes
            ],
            "edges": [
                {"from": json_key(e.blocker), "to": json_key(e.dependent)} for e in self.edges
            ],
        }


def record_state(record: StatusRecord) -> str:
    """The state a node is coloured by. `pirun stop` records an error like any failure,
    but in a picture of the batch a run someone stopped is not a broken issue."""
    if record.status is Status.ERROR and record.source == "stop":
        return "stopped"
    return record.status.value


def picture(
    plan: Plan,
    issues: Mapping[str, Issue],
    outside: Mapping[str, Sequence[Blocker]],
    states: Mapping[str, str],
) -> Picture:
    """The nodes (the batch layer by layer, then the outside blockers in natural
    order) and edges (per dependent in plan order, blockers in natural order)."""
    nodes = [
        Node(key, issues[key].title if key in issues else "", states.get(key), plan.layer_of(key))
        for key in plan.order()
    ]
    edges: list[Edge] = []
    # One node per outside blocker even when several issues wait on it; the first
    # report of it wins (trackers describe one issue the same way each time).
    foreign: dict[str, Blocker] = {}
    for key in plan.order():
        edges += [Edge(b, key) for b in sorted(plan.blockers.get(key, ()), key=sort_key)]
        for blocker in sorted(outside.get(key, ()), key=lambda b: sort_key(b.key)):
            foreign.setdefault(blocker.key, blocker)
            edges.append(Edge(blocker.key, key))
    nodes += [
        Node(b.key, b.title, b.state.value, None)
        for b in sorted(foreign.values(), key=lambda b: sort_key(b.key))
    ]
    return Picture(tuple(nodes), tuple(edges))


def node_id(key: str) -> str:
    """An identifier both formats take bare, one per key: ASCII letters and digits
    stay, every other character is `_<hex code point>_`. (`keys.key_name` caps its
    length for session names, and an outside blocker's key never needs a session.)"""
    return "n_" + "".join(
        char if char.isascii() and char.isalnum() else f"_{ord(char):x}_" for char in key
    )


def _one_line(text: str) -> str:
    """`text` on one line, blanks collapsed: line breaks and other controls become
    spaces, format characters (bidi overrides, zero-width marks) go, since they could
    make a label read as something else and are invisible otherwise."""
    cleaned = "".join(
        "" if unicodedata.category(char) in ("Cf", "Cs")
        else " " if unicodedata.category(char) in ("Cc", "Zl", "Zp") else char
        for char in text
    )
    return " ".join(cleaned.split())


def _label(node: Node) -> str:
    title = _one_line(node.title)
    if len(title) > TITLE_WIDTH:
        title = title[: TITLE_WIDTH - 1].rstrip() + "…"
    # Keys come from the tracker too: cleaned, never cut (they tell nodes apart).
    text = f"{_one_line(display_key(node.key))} {title}".rstrip()
    if node.state is not None:
        text += f" ({node.state.replace('_', ' ')})"
    return text


# Mermaid reads `#name;` and `#123;` in a label as entities, strips nothing else, and
# the renderer puts labels into HTML: `"` would end the label, `;` after a `#word`
# would make an entity of the title's own text, `&`, `<` and `>` would be markup, and
# a backtick starts a Markdown string.
_MERMAID_ESCAPES = str.maketrans({
    '"': "#quot;", "&": "#amp;", "<": "#lt;", ">": "#gt;", ";": "#59;", "`": "#96;",
})


def _mermaid_label(node: Node) -> str:
    text = _label(node).translate(_MERMAID_ESCAPES)
    # Before parsing, Mermaid drops the last `;` of any line where `style` or
    # `classDef` comes before a `:` (its own colour syntax), which would spoil the
    # title's last entity; without a `:` that never matches.
    if "style" in text or "classDef" in text:
        text = text.replace(":", "#58;")
    return text


def _mermaid_class(node: Node) -> str | None:
    if node.outside:
        return "blocking" if IssueState(node.state or "open").blocks else "outside"
    return node.state if node.state in COLOURS else None


def mermaid(pic: Picture) -> str:
    lines = ["flowchart TD"]
    lines += [f'    {node_id(n.key)}["{_mermaid_label(n)}"]' for n in pic.nodes]
    outside = {n.key for n in pic.nodes if n.outside}
    lines += [
        f"    {node_id(e.blocker)} {'-.->' if e.blocker in outside else '-->'} "
        f"{node_id(e.dependent)}"
        for e in pic.edges
    ]
    classes: dict[str, list[str]] = {}
    for n in pic.nodes:
        if (name := _mermaid_class(n)) is not None:
            classes.setdefault(name, []).append(node_id(n.key))
    definitions = {
        **{state: f"fill:{fill},stroke:{stroke}" for state, (fill, stroke) in COLOURS.items()},
        # An open outside blocker holds its dependents back: the same dashes, red.
        "outside": f"fill:{OUTSIDE[0]},stroke:{OUTSIDE[1]},color:{OUTSIDE[1]},"
                   "stroke-dasharray:5 5",
        "blocking": f"fill:{OUTSIDE[0]},stroke:{COLOURS['error'][1]},color:{OUTSIDE[1]},"
                    "stroke-dasharray:5 5",
    }
    # Only the classes in use: the picture's source stays as short as the graph.
    for name, ids in classes.items():
        lines.append(f"    classDef {name} {definitions[name]}")
        lines.append(f"    class {','.join(ids)} {name}")
    return "\n".join(lines) + "\n"


def _dot_string(text: str) -> str:
    # Inside a quoted DOT string only `"` ends it and `\` escapes; labels give `\n`,
    # `\l`, `\N`, `\G` meanings, which doubling every backslash takes away.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_attributes(node: Node) -> str:
    label = f"label={_dot_string(_label(node))}"
    if node.outside:
        stroke = COLOURS["error"][1] if IssueState(node.state or "open").blocks else OUTSIDE[1]
        return (f'{label}, style="rounded,dashed,filled", fillcolor="{OUTSIDE[0]}", '
                f'color="{stroke}", fontcolor="{OUTSIDE[1]}"')
    if node.state in COLOURS:
        fill, stroke = COLOURS[node.state]
        return f'{label}, fillcolor="{fill}", color="{stroke}"'
    return label


def dot(pic: Picture) -> str:
    lines = [
        "digraph pirun {",
        "    rankdir=TB;",
        '    node [shape=box, style="rounded,filled", fillcolor="white"];',
    ]
    lines += [f"    {node_id(n.key)} [{_dot_attributes(n)}];" for n in pic.nodes]
    layers: dict[int, list[str]] = {}
    for n in pic.nodes:
        if n.layer is not None:
            layers.setdefault(n.layer, []).append(node_id(n.key))
    # The plan's layers as ranks, so the picture reads like `batch --dry-run`.
    lines += [f"    {{ rank=same; {'; '.join(ids)}; }}" for ids in layers.values() if len(ids) > 1]
    outside = {n.key for n in pic.nodes if n.outside}
    lines += [
        f"    {node_id(e.blocker)} -> {node_id(e.dependent)}"
        + (f' [style=dashed, color="{OUTSIDE[1]}"]' if e.blocker in outside else "") + ";"
        for e in pic.edges
    ]
    lines.append("}")
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Callable[[Picture], str]] = {"mermaid": mermaid, "dot": dot}
