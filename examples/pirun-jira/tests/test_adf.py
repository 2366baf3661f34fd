"""ADF to text. The realistic document is fixtures/adf_description.json (see its README)."""

from __future__ import annotations

import random

import pytest

from pirun_jira.adf import adf_to_text

from .conftest import load

EXPECTED = """\
## Context

Checkout fails for **guest** users since the `v2.3` release, reported by @Mia Krystof 😬
See the runbook (https://wiki.acme.test/runbook) and https://acme.atlassian.net/browse/ABC-3.

### Steps

1. Add an item to the cart
2. Pay as a guest
   - with a card
   - _with PayPal_

```python
def total(cart):
    return sum(i.price for i in cart)
```

> Error 500: cart is None

> Warning: Do not touch the payment provider config.

---

- [x] Reproduce
- [ ] Fix and add a test

| Browser | Result |
| --- | --- |
| Firefox | [FAILS] |

[attachment: screenshot.png]

Unknown nodes keep their text."""


def doc(*content):
    return {"type": "doc", "version": 1, "content": list(content)}


def para(*content):
    return {"type": "paragraph", "content": list(content)}


def text(value, *marks):
    node = {"type": "text", "text": value}
    if marks:
        node["marks"] = list(marks)
    return node


def test_realistic_description():
    assert adf_to_text(load("adf_description.json")) == EXPECTED


def test_the_description_of_a_fetched_issue():
    issue = load("search_by_key.json")["issues"][0]
    assert adf_to_text(issue["fields"]["description"]) == EXPECTED


def test_paragraphs_breaks_and_empty_documents():
    assert adf_to_text(doc(para(text("a"), {"type": "hardBreak"}, text("b")), para(text("c")))) \
        == "a\nb\n\nc"
    assert adf_to_text(doc()) == ""
    assert adf_to_text(None) == ""
    assert adf_to_text("  plain v2 text ") == "plain v2 text"


def test_marks_and_inline_nodes():
    link = {"type": "link", "attrs": {"href": "https://x.test"}}
    assert adf_to_text(doc(para(text("x", link)))) == "x (https://x.test)"
    assert adf_to_text(doc(para(text("https://x.test", link)))) == "https://x.test"
    assert adf_to_text(doc(para(text("a", {"type": "strong"}, {"type": "em"})))) == "**_a_**"
    assert adf_to_text(doc(para(text("gone", {"type": "strike"})))) == "~~gone~~"
    mention = {"type": "mention", "attrs": {"id": "123", "text": "Bob"}}
    assert adf_to_text(doc(para(mention))) == "@Bob"
    assert adf_to_text(doc(para({"type": "emoji", "attrs": {"shortName": ":tada:"}}))) == ":tada:"
    date = {"type": "date", "attrs": {"timestamp": "1700000000000"}}
    assert adf_to_text(doc(para(date))) == "2023-11-14"


def test_lists_nest_and_number_from_order():
    item = lambda *c: {"type": "listItem", "content": list(c)}  # noqa: E731
    nested = {"type": "bulletList", "content": [item(para(text("inner")))]}
    tree = doc({"type": "orderedList", "attrs": {"order": 3},
                "content": [item(para(text("three")), nested), item(para(text("four")))]})
    assert adf_to_text(tree) == "3. three\n   - inner\n4. four"


def test_headings_quotes_code():
    tree = doc(
        {"type": "heading", "attrs": {"level": 1}, "content": [text("Title")]},
        {"type": "blockquote", "content": [para(text("one")), para(text("two"))]},
        {"type": "codeBlock", "content": [text("x = 1")]},
    )
    assert adf_to_text(tree) == "# Title\n\n> one\n>\n> two\n\n```\nx = 1\n```"


MALFORMED = [
    {}, [], 42, 3.5, True, {"type": "doc"}, {"type": "doc", "content": "nope"},
    {"type": "doc", "content": [None, 1, "loose text", [], {"type": None}]},
    {"type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text"}]}]},
    {"type": "doc", "content": [{"type": "heading", "attrs": "x", "content": [{"text": 5}]}]},
    {"type": "doc", "content": [{"type": "orderedList", "attrs": {"order": "z"},
                                 "content": [{"type": "paragraph"}, 7]}]},
    {"type": "doc", "content": [{"type": "table", "content": [{"type": "tableRow",
                                                               "content": "cells"}]}]},
    {"type": "doc", "content": [{"type": "text", "text": "text at the top", "marks": "bold"}]},
    {"type": "doc", "content": [{"type": "mention", "attrs": None},
                                {"type": "date", "attrs": {"timestamp": "x"}}]},
]


@pytest.mark.parametrize("node", MALFORMED)
def test_malformed_input_never_raises(node):
    assert isinstance(adf_to_text(node), str)


def test_stray_text_and_unknown_nodes_keep_their_text():
    stray = {"type": "doc", "content": ["loose", {"type": "x", "text": "y"}]}
    assert adf_to_text(stray) == "loosey"
    assert adf_to_text({"type": "doc", "content": [{"type": "newThing", "content": [
        {"type": "paragraph", "content": [text("kept")]}]}]}) == "kept"


def test_very_deep_documents_are_cut_off_not_crashed():
    node: dict = {"type": "paragraph", "content": [text("leaf")]}
    for _ in range(5000):
        node = {"type": "blockquote", "content": [node]}
    assert isinstance(adf_to_text(doc(node)), str)


def test_random_trees_never_raise():
    rng = random.Random(1234)
    kinds = ["doc", "paragraph", "text", "heading", "bulletList", "orderedList", "listItem",
             "codeBlock", "blockquote", "table", "tableRow", "tableCell", "mention", "emoji",
             "hardBreak", "inlineCard", "panel", "taskList", "taskItem", "media", "zzz", None, 3]
    values = [None, 0, -1, "", "x", [], {}, {"href": 1}, {"level": 99}, {"order": -5}]

    def tree(depth: int):
        if depth > 4 or rng.random() < 0.2:
            return rng.choice(values)
        node = {"type": rng.choice(kinds)}
        if rng.random() < 0.7:
            node["content"] = [tree(depth + 1) for _ in range(rng.randint(0, 4))]
        if rng.random() < 0.5:
            node["text"] = rng.choice(["t", 5, None])
        if rng.random() < 0.5:
            node["attrs"] = rng.choice(values)
        if rng.random() < 0.3:
            node["marks"] = [rng.choice([{"type": "link", "attrs": rng.choice(values)},
                                         {"type": "code"}, "m", None])]
        return node

    for _ in range(2000):
        assert isinstance(adf_to_text(tree(0)), str)
