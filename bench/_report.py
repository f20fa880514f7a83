"""What every bench prints: ratios against a baseline measured in the same run.

Each bench takes ``--json`` (print one JSON object per measured ratio, one per line, nothing
else on stdout) and ``--quick`` (a size that finishes in under two minutes on 2 cores; same
ratios, smaller n). A result has at least ``bench``, ``ratio``, ``target``, ``better``
(``"lower"`` or ``"higher"``) and the absolute figures it was computed from::

    results = Results("queue", json_=args.json)
    results.add("claim+resolve, 8 workers, SQLite", ratio=0.61, target=0.5, better="higher",
                items_per_s=1234.0, baseline_items_per_s=2020.0, n=10_000)
    results.done()   # prints the table (or nothing more with --json); exit status 0

``make bench`` runs every bench with ``--quick --json`` and prints one table
(``python bench/_report.py table`` reads the JSON lines on stdin).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Result", "Results", "add_common_args", "met"]

Better = Literal["lower", "higher"]


def add_common_args(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    ap.add_argument("--json", action="store_true", help="print one JSON object per result, nothing else")
    ap.add_argument("--quick", action="store_true", help="a size that finishes in under two minutes")
    return ap


def met(ratio: float, target: float | None, better: Better) -> bool | None:
    if target is None:
        return None
    return ratio <= target if better == "lower" else ratio >= target


@dataclass
class Result:
    bench: str
    ratio: float
    target: float | None
    better: Better
    figures: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "ratio": round(self.ratio, 3),
            "target": self.target,
            "better": self.better,
            "met": met(self.ratio, self.target, self.better),
            **self.figures,
        }


class Results:
    """Collects one bench's results; prints them as JSON lines or as a table at the end."""

    def __init__(self, name: str, *, json_: bool = False) -> None:
        self.name = name
        self.json = json_
        self.items: list[Result] = []

    def add(self, what: str, *, ratio: float, target: float | None, better: Better, **figures: Any) -> Result:
        result = Result(f"{self.name}: {what}", ratio, target, better, figures)
        self.items.append(result)
        if self.json:
            print(json.dumps(result.to_dict(), default=str), flush=True)
        return result

    def done(self) -> None:
        if not self.json:
            print(table([r.to_dict() for r in self.items]))


def table(rows: list[dict[str, Any]]) -> str:
    """The results as a plain-text table: bench, ratio, target, met."""
    if not rows:
        return "(no results)"
    width = max(len(str(r["bench"])) for r in rows)
    lines = [f"{'bench':<{width}}  {'ratio':>8}  {'target':>10}  met"]
    for r in rows:
        target = r.get("target")
        sign = "<=" if r.get("better") == "lower" else ">="
        shown = f"{sign} {target:g}" if isinstance(target, int | float) else "-"
        verdict = {True: "yes", False: "NO", None: "-"}[r.get("met")]
        lines.append(f"{r['bench']:<{width}}  {r['ratio']:>7.2f}x  {shown:>10}  {verdict}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv[:1] != ["table"]:
        print("usage: python bench/_report.py table < results.jsonl", file=sys.stderr)
        return 2
    rows = []
    for line in sys.stdin:
        line = line.strip()
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
