"""Tables that fit the terminal: key columns stay whole, free text gives way.

An issue's key, its state and its elapsed time are what a person scans for, so
those columns are never cut. Free text (a title, the agent's last output) is cut
with an ellipsis when the terminal is narrow, and dropped altogether, the column
that gives way most first, when even a short cut would not fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

#: Between two columns of a rich table: a space, the rule, a space.
RICH_GAP = 3
#: Between two columns of plain text.
PLAIN_GAP = 2
ELLIPSIS = "…"


@dataclass(frozen=True)
class Column:
    header: str
    justify: Literal["left", "right"] = "left"
    #: 0: never cut nor dropped. Otherwise the order of giving way: the highest is
    #: cut first, and dropped first once every text column is down to `min_width`.
    give_way: int = 0
    #: Narrower than this, the column is dropped rather than cut further.
    min_width: int = 12


def fit_widths(
    columns: Sequence[Column], natural: Sequence[int], total: int | None, gap: int
) -> list[int | None]:
    """Each column's width within `total` characters, or None for a dropped column.

    `natural` is each column's widest cell (header included); `total` None means no
    limit (a pipe), where every column keeps its natural width.
    """
    widths: list[int | None] = list(natural)
    if total is None:
        return widths
    while True:
        shown = [i for i, width in enumerate(widths) if width is not None]
        flexible = sorted(
            (i for i in shown if columns[i].give_way), key=lambda i: -columns[i].give_way
        )
        fixed = sum(natural[i] for i in shown if not columns[i].give_way)
        room = total - fixed - gap * (len(shown) - 1)
        excess = sum(natural[i] for i in flexible) - room
        for i in flexible:
            width = widths[i]
            assert width is not None
            cut = max(0, min(excess, width - min(columns[i].min_width, natural[i])))
            widths[i] = width - cut
            excess -= cut
        if excess <= 0 or not flexible:
            return widths
        dropped = flexible[0]
        widths = [None if i == dropped else (w if w is None else natural[i])
                  for i, w in enumerate(widths)]


def cut(text: str, width: int) -> str:
    """`text` in at most `width` characters, an ellipsis marking a cut."""
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + ELLIPSIS if width > 0 else ""


def fitted_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str | Text]],
    width: int | None,
    row_styles: Sequence[str | None] | None = None,
) -> Table:
    """A rich table of `rows` no wider than `width` (see `fit_widths`)."""
    from rich.table import Table

    natural = [
        max([len(column.header)] + [len(_plain(row[i])) for row in rows])
        for i, column in enumerate(columns)
    ]
    widths = fit_widths(columns, natural, width, RICH_GAP)
    table = Table(show_edge=False, pad_edge=False)
    shown = [i for i, w in enumerate(widths) if w is not None]
    for i in shown:
        w = widths[i]
        table.add_column(
            columns[i].header, justify=columns[i].justify, no_wrap=True, overflow="ellipsis",
            width=w, min_width=w, max_width=w,
        )
    for index, row in enumerate(rows):
        style = row_styles[index] if row_styles else None
        table.add_row(*(row[i] for i in shown), style=style)
    return table


def plain_columns(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int | None = None,
    indent: str = "", header: bool = True,
) -> list[str]:
    """Aligned plain-text lines (no box drawing): whole cells when `width` is None."""
    every = [[c.header for c in columns], *rows] if header else list(rows)
    if not every:
        return []
    natural = [max(len(row[i]) for row in every) for i in range(len(columns))]
    room = None if width is None else width - len(indent)
    widths = fit_widths(columns, natural, room, PLAIN_GAP)
    lines = []
    for row in every:
        cells = []
        for i, w in enumerate(widths):
            if w is None:
                continue
            cell = cut(row[i], w)
            cells.append(cell.rjust(w) if columns[i].justify == "right" else cell.ljust(w))
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def _plain(cell: str | Text) -> str:
    return cell if isinstance(cell, str) else cell.plain
