"""Atlassian Document Format (ADF) to readable, Markdown-ish plain text.

Jira Cloud's REST API v3 returns rich text (an issue's description, comments) as ADF, a JSON
tree of block nodes (paragraph, heading, lists, codeBlock, table, ...) holding inline nodes
(text, hardBreak, mention, emoji, inlineCard, ...), text carrying marks (link, code, strong,
em, strike, ...). See developer.atlassian.com/cloud/jira/platform/apis/document/structure.

`adf_to_text` never raises: a node it does not know contributes its text content, anything
that is not a node is skipped, and a document too deep to walk is cut off. A plain string
(what API v2 returns) is passed through.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

#: Deeper than any real document; a guard against cycles and hostile input.
MAX_DEPTH = 64

INLINE_TYPES = frozenset({
    "text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status", "placeholder",
    "mediaInline", "inlineExtension",
})


def adf_to_text(doc: Any) -> str:
    """`doc` (an ADF document, a node, a list of nodes, a string or None) as plain text."""
    try:
        if doc is None:
            return ""
        if isinstance(doc, str):
            return doc.strip()
        return _tidy(_Renderer().blocks(_content(doc) if _is_node(doc, "doc") else [doc], 0))
    except Exception:  # promised never to raise: fall back to bare text
        try:
            return _tidy(" ".join(_texts(doc, 0)))
        except Exception:
            return ""


def _is_node(node: Any, kind: str | None = None) -> bool:
    return isinstance(node, dict) and (kind is None or node.get("type") == kind)


def _content(node: Any) -> list[Any]:
    if isinstance(node, list):
        return node
    content = node.get("content") if isinstance(node, dict) else None
    return content if isinstance(content, list) else []


def _attrs(node: dict[str, Any]) -> dict[str, Any]:
    attrs = node.get("attrs")
    return attrs if isinstance(attrs, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _texts(node: Any, depth: int) -> list[str]:
    """Every `text` in the tree, in order: the last resort for malformed documents."""
    if depth > MAX_DEPTH:
        return []
    if isinstance(node, list):
        return [t for child in node for t in _texts(child, depth + 1)]
    if not isinstance(node, dict):
        return []
    found = [node["text"]] if isinstance(node.get("text"), str) else []
    return found + _texts(_content(node), depth + 1)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _indent(text: str, first: str, rest: str) -> str:
    lines = text.split("\n")
    return "\n".join([first + lines[0]] + [(rest + line) if line else line for line in lines[1:]])


def _timestamp(value: Any) -> str:
    try:
        return datetime.fromtimestamp(int(str(value)) / 1000, tz=UTC).strftime("%Y-%m-%d")
    except (ValueError, OverflowError, OSError):
        return _str(value)


class _Renderer:
    def blocks(self, nodes: list[Any], depth: int, sep: str = "\n\n") -> str:
        """Block nodes, separated by `sep`; stray inline nodes are gathered into paragraphs."""
        if depth > MAX_DEPTH:
            return ""
        parts: list[str] = []
        run: list[Any] = []

        def flush() -> None:
            if run:
                parts.append(self.inline(run, depth))
                run.clear()

        for node in nodes:
            if isinstance(node, str):
                run.append({"type": "text", "text": node})
            elif _is_node(node) and (node.get("type") in INLINE_TYPES or "text" in node):
                run.append(node)
            elif _is_node(node):
                flush()
                parts.append(self.block(node, depth + 1))
        flush()
        return sep.join(p for p in parts if p.strip())

    def block(self, node: dict[str, Any], depth: int) -> str:
        kind = _str(node.get("type"))
        render: Callable[[dict[str, Any], int], str] | None = getattr(
            self, f"block_{kind}", None
        )
        if render is not None:
            return render(node, depth)
        if kind in ("blockCard", "embedCard"):
            return self.card(node)
        if kind in ("mediaSingle", "mediaGroup", "media", "mediaInline"):
            return self.media(node, depth)
        # Unknown blocks (layouts, extensions, panels of future kinds): their content.
        return self.blocks(_content(node), depth)

    # -- blocks -------------------------------------------------------------------------

    def block_paragraph(self, node: dict[str, Any], depth: int) -> str:
        return self.inline(_content(node), depth)

    def block_heading(self, node: dict[str, Any], depth: int) -> str:
        level = _attrs(node).get("level")
        level = level if isinstance(level, int) and 1 <= level <= 6 else 1
        text = " ".join(self.inline(_content(node), depth).split())
        return f"{'#' * level} {text}" if text else ""

    def block_bulletList(self, node: dict[str, Any], depth: int) -> str:
        return "\n".join(
            _indent(item, "- ", "  ") for item in self.items(node, depth) if item
        )

    def block_orderedList(self, node: dict[str, Any], depth: int) -> str:
        start = _attrs(node).get("order")
        number = start if isinstance(start, int) and start >= 0 else 1
        lines = []
        for item in self.items(node, depth):
            marker = f"{number}. "
            lines.append(_indent(item or "", marker, " " * len(marker)))
            number += 1
        return "\n".join(lines)

    def items(self, node: dict[str, Any], depth: int) -> list[str]:
        items = []
        for child in _content(node):
            if _is_node(child, "listItem"):
                items.append(self.blocks(_content(child), depth + 1, sep="\n"))
            elif _is_node(child):  # malformed: a bare node where a listItem belongs
                items.append(self.blocks([child], depth + 1, sep="\n"))
        return items

    def block_listItem(self, node: dict[str, Any], depth: int) -> str:
        return _indent(self.blocks(_content(node), depth, sep="\n"), "- ", "  ")

    def block_taskList(self, node: dict[str, Any], depth: int) -> str:
        lines = []
        for child in _content(node):
            if _is_node(child, "taskItem"):
                done = _attrs(child).get("state") == "DONE"
                text = self.blocks(_content(child), depth + 1, sep="\n")
                lines.append(_indent(text, "- [x] " if done else "- [ ] ", "      "))
            elif _is_node(child):  # nested taskList
                lines.append(_indent(self.block(child, depth + 1), "  ", "  "))
        return "\n".join(lines)

    def block_decisionList(self, node: dict[str, Any], depth: int) -> str:
        return "\n".join(
            _indent(self.blocks(_content(child), depth + 1, sep="\n"), "- ", "  ")
            for child in _content(node)
            if _is_node(child)
        )

    def block_codeBlock(self, node: dict[str, Any], depth: int) -> str:
        language = _str(_attrs(node).get("language")).strip()
        code = "".join(_texts(_content(node), depth)).rstrip("\n")
        fence = "````" if "```" in code else "```"
        return f"{fence}{language}\n{code}\n{fence}"

    def block_blockquote(self, node: dict[str, Any], depth: int) -> str:
        text = self.blocks(_content(node), depth)
        return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))

    def block_panel(self, node: dict[str, Any], depth: int) -> str:
        kind = _str(_attrs(node).get("panelType"))
        text = self.blocks(_content(node), depth)
        if kind and text:
            text = f"{kind.capitalize()}: {text}"
        return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))

    def block_rule(self, node: dict[str, Any], depth: int) -> str:
        return "---"

    def block_expand(self, node: dict[str, Any], depth: int) -> str:
        title = _str(_attrs(node).get("title")).strip()
        body = self.blocks(_content(node), depth)
        return f"{title}\n\n{body}" if title and body else title or body

    block_nestedExpand = block_expand

    def block_table(self, node: dict[str, Any], depth: int) -> str:
        rows: list[str] = []
        for index, row in enumerate(r for r in _content(node) if _is_node(r)):
            cells = [c for c in _content(row) if _is_node(c)]
            texts = [
                " ".join(self.blocks(_content(c), depth + 1, sep=" ").split()).replace("|", "\\|")
                for c in cells
            ]
            rows.append("| " + " | ".join(texts) + " |")
            if index == 0 and cells and all(_is_node(c, "tableHeader") for c in cells):
                rows.append("|" + "|".join(" --- " for _ in cells) + "|")
        return "\n".join(rows)

    def card(self, node: dict[str, Any]) -> str:
        attrs = _attrs(node)
        data = attrs.get("data") if isinstance(attrs.get("data"), dict) else {}
        return _str(attrs.get("url")) or _str(data.get("url")) or _str(data.get("name"))

    def media(self, node: dict[str, Any], depth: int) -> str:
        if node.get("type") in ("mediaSingle", "mediaGroup"):
            inner = [self.media(c, depth + 1) for c in _content(node) if _is_node(c)]
            caption = [
                self.inline(_content(c), depth) for c in _content(node) if _is_node(c, "caption")
            ]
            return " ".join(p for p in inner + caption if p)
        if node.get("type") == "caption":
            return ""
        attrs = _attrs(node)
        name = _str(attrs.get("alt")) or _str(attrs.get("filename"))
        return f"[attachment: {name}]" if name else "[attachment]"

    # -- inline -------------------------------------------------------------------------

    def inline(self, nodes: list[Any], depth: int) -> str:
        if depth > MAX_DEPTH:
            return ""
        return "".join(self.inline_node(node, depth + 1) for node in nodes)

    def inline_node(self, node: Any, depth: int) -> str:
        if isinstance(node, str):
            return node
        if not isinstance(node, dict):
            return ""
        kind = node.get("type")
        attrs = _attrs(node)
        if kind == "text" or (kind not in INLINE_TYPES and isinstance(node.get("text"), str)):
            return self.marked(_str(node.get("text")), node.get("marks"))
        if kind == "hardBreak":
            return "\n"
        if kind == "mention":
            name = _str(attrs.get("text")) or _str(attrs.get("displayName"))
            name = name or _str(attrs.get("id"))
            return name if name.startswith("@") else f"@{name}" if name else ""
        if kind == "emoji":
            return _str(attrs.get("text")) or _str(attrs.get("shortName"))
        if kind == "inlineCard":
            return self.card(node)
        if kind == "date":
            return _timestamp(attrs.get("timestamp"))
        if kind == "status":
            text = _str(attrs.get("text"))
            return f"[{text}]" if text else ""
        if kind == "placeholder":
            return _str(attrs.get("text"))
        if kind == "mediaInline":
            return self.media(node, depth)
        if kind == "inlineExtension":
            return ""
        # Unknown: an inline node of a future kind, or a block misplaced inside a paragraph.
        if _content(node):
            if any(_is_node(c) and c.get("type") not in INLINE_TYPES for c in _content(node)):
                return self.blocks(_content(node), depth, sep=" ")
            return self.inline(_content(node), depth)
        return ""

    @staticmethod
    def marked(text: str, marks: Any) -> str:
        if not text or not isinstance(marks, list):
            return text
        kinds = {m.get("type"): m for m in marks if isinstance(m, dict)}
        if "code" in kinds:
            text = f"`{text}`"
        else:
            if "em" in kinds:
                text = f"_{text}_"
            if "strong" in kinds:
                text = f"**{text}**"
            if "strike" in kinds:
                text = f"~~{text}~~"
        link = kinds.get("link")
        if link is not None:
            href = _str(_attrs(link).get("href"))
            if href and href != text.strip("`*_~"):
                text = f"{text} ({href})"
        return text
