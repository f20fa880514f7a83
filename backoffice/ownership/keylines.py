"""Where a key of a TOML register sits: the line of ``rules[3].decision_owner`` (tomllib keeps none).

A small scanner of the layout registers are written in: top-level ``key = value`` lines and
``[[rules]]`` tables of ``key = value`` lines. A key it cannot place falls back to its table's
header line (or line 1), so an error always names a line.
"""

from __future__ import annotations

import re

__all__ = ["KeyLines"]

_HEADER = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_\-]+)\s*\]\]\s*(#.*)?$")
_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_\-.]+)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]+\")\s*=")


class KeyLines:
    """Line numbers (1-based) of the keys of one TOML text, by dotted path (``rules[3].bot``)."""

    def __init__(self, text: str) -> None:
        self._lines: dict[str, int] = {}
        counts: dict[str, int] = {}
        prefix = ""
        for number, line in enumerate(text.splitlines(), start=1):
            if m := _HEADER.match(line):
                name = m.group(1)
                index = counts.get(name, 0)
                counts[name] = index + 1
                prefix = f"{name}[{index}]"
                self._lines.setdefault(prefix, number)
                self._lines.setdefault(name, number)
                continue
            if m := _TABLE.match(line):
                prefix = m.group(1)
                self._lines.setdefault(prefix, number)
                continue
            if m := _KEY.match(line):
                key = m.group(1).strip('"')
                self._lines.setdefault(f"{prefix}.{key}" if prefix else key, number)

    def line_of(self, path: str) -> int:
        """The line of ``path``, else of its nearest enclosing table, else 1."""
        probe = path
        while probe:
            if probe in self._lines:
                return self._lines[probe]
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return 1
