"""The CLI's tables: one compact style for every table command, fitted to the terminal.

``table(...)`` makes a table whose columns never fold a word in the middle: a key column (ids,
codes, names, dates, amounts) stays on one line and is cut with an ellipsis only when the
terminal is too narrow for it; a ``Col(..., text=True)`` column wraps between words. When the
table is wider than the terminal it leaves out its ``optional`` columns, closes up the gaps
between columns (two spaces -> one), then narrows the columns named in ``shrink`` (in that
order) down to their floor, so an 80-column terminal shows a readable table.
``reprocess_table`` and ``escalate_table`` are the maintenance commands' tables
(``backoffice reprocess``, ``backoffice escalate``); ``--json`` prints the same figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

__all__ = ["Col", "FitTable", "escalate_table", "reprocess_table", "table"]

Justify = Literal["left", "right", "center"]
# Columns to narrow, in order, each down to its floor: {"bot": 10} or [("bot", 10), ("code", 13), ...]
Shrink = Mapping[str, int] | Sequence[tuple[str, int]]
_TEXT_MIN = 12  # a text column narrower than this wraps into a word a line


@dataclass(frozen=True)
class Col:
    """One column: ``text`` wraps between words, anything else stays on one line."""

    header: str
    justify: Justify = "left"
    text: bool = False
    max_width: int | None = None
    optional: bool = False  # left out when the table does not fit otherwise


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _text_width(cell: Any) -> int:
    return max((cell_len(line) for line in _plain(cell).splitlines()), default=0)


def _longest_word(s: str) -> int:
    return max((cell_len(w) for w in s.split()), default=0)


class FitTable(Table):
    """A ``Table`` that fits itself to the width it is rendered at (see the module docstring)."""

    def __init__(self, *args: Any, shrink: Shrink | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shrink = list(shrink.items() if isinstance(shrink, Mapping) else shrink or ())
        self.optional: set[str] = set()
        self._all_columns: list[Any] | None = None

    def _natural(self) -> list[int]:
        """Each column's width on one line (a text column: its longest word, it wraps)."""
        widths = []
        for col in self.columns:
            if col.no_wrap:
                w = max([_text_width(col.header), *(_text_width(c) for c in col._cells)])
            else:  # a text column wraps: as wide as its longest word, room for a few words at least
                words = max(
                    [_longest_word(_plain(col.header)), *(_longest_word(_plain(c)) for c in col._cells)]
                )
                full = max([_text_width(col.header), *(_text_width(c) for c in col._cells)])
                w = max(min(words, _TEXT_MIN + 4), min(full, _TEXT_MIN))  # a longer word folds
            widths.append(min(w, col.max_width) if col.max_width else w)
        return widths

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width if self.width is None else min(self.width, options.max_width)
        if self._all_columns is None:
            self._all_columns = list(self.columns)
        self.columns = list(self._all_columns)  # fitted again at every render
        if self.optional and sum(self._natural()) + len(self.columns) - 1 > width:
            self.columns = [c for c in self.columns if str(c.header) not in self.optional]
        for col in self.columns:
            if str(col.header) in dict(self.shrink):
                col.width = None
        natural = self._natural()
        if self.title:  # a title wider than the columns would fold: the table is at least as wide
            self.min_width = min(width, cell_len(str(self.title)))
        gaps = max(len(self.columns) - 1, 0)
        self.padding = (0, 1, 0, 0)  # a space of padding plus the box's blank divider: two spaces
        if sum(natural) + 2 * gaps > width:
            self.padding = (0, 0, 0, 0)  # one space between columns
        excess = sum(natural) + (2 if self.padding[1] else 1) * gaps - width
        for header, floor in self.shrink:
            if excess <= 0:
                break
            for i, col in enumerate(self.columns):
                if str(col.header) == header and natural[i] > floor:
                    cut = min(natural[i] - floor, excess)
                    natural[i] -= cut
                    col.width = natural[i]
                    excess -= cut
        yield from super().__rich_console__(console, options)


def table(
    *columns: str | Col,
    title: str | None = None,
    shrink: Shrink | None = None,
    show_header: bool = True,
    **kwargs: Any,
) -> FitTable:
    """A compact table (a rule under the header, no borders) with these columns."""
    t = FitTable(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        title=title,
        shrink=shrink,
        show_header=show_header,
        title_justify="left",
        **kwargs,
    )
    for c in columns:
        col = c if isinstance(c, Col) else Col(c)
        if col.optional:
            t.optional.add(col.header)
        t.add_column(
            col.header,
            justify=col.justify,
            no_wrap=not col.text,
            overflow="fold" if col.text else "ellipsis",  # a text column breaks only a word longer than it
            min_width=_longest_word(col.header) if col.text else cell_len(col.header),
            max_width=col.max_width,
        )
    return t


_FIGURES = ("total", "done", "queued", "system_exceptions", "closed", "skipped")


def reprocess_table(result: dict[str, Any]) -> RenderableType:
    """One row per bot: items sent back, and where they ended."""
    if not result:
        return Text("no bot to reprocess")
    heads = [Col(f.replace("_", " "), justify="right", text=True) for f in _FIGURES]
    t = table("bot", *heads, Col("codes", text=True), title="reprocessed", shrink={"bot": 12})
    for bot, s in result.items():
        codes = " ".join(f"{c}×{n}" for c, n in (s.get("codes") or {}).items())
        t.add_row(bot, *(str(s.get(k, 0)) for k in _FIGURES), codes)
    total = sum(int(s.get("total", 0)) for s in result.values())
    note = Text(f"{total} resolved item(s) went back through their bots" if total else "nothing was resolved")
    return Group(t, note)


def escalate_table(result: dict[str, Any]) -> RenderableType:
    """The items moved up a tier."""
    ids = result.get("items") or []
    assigned = result.get("assigned")
    note = (
        Text(f"{len(assigned)} open item(s) assigned by least open work (auto_assign)") if assigned else None
    )
    if not ids:
        empty = Text("no overdue item to escalate")
        return Group(empty, note) if note else empty
    t = table(Col("item", justify="right"), title="escalated")
    for i in ids:
        t.add_row(str(i))
    done = Text(f"{result.get('escalated', len(ids))} overdue item(s) escalated to the next tier")
    return Group(t, done, note) if note else Group(t, done)
