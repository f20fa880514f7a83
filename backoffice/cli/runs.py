"""What every ``backoffice run BOT`` command shares: quiet Prefect, input checks, the summary."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backoffice.cli._common import console, print_json
from backoffice.cli.tables import Col
from backoffice.cli.tables import table as new_table
from backoffice.errors import InputError

__all__ = ["existing", "print_run_summary", "quiet_prefect"]

_PREFECT_LOGGERS = (
    "prefect",
    "prefect.flow_runs",
    "prefect.task_runs",
    "prefect.engine",
    "prefect.flow_engine",
    "prefect.task_engine",
)


@contextmanager
def quiet_prefect() -> Iterator[None]:
    """Errors are reported once, as one line by the CLI, not again as Prefect tracebacks."""
    loggers = [logging.getLogger(n) for n in _PREFECT_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def existing(path: Path, option: str, *, directory: bool = False) -> str:
    """The absolute path of an input that must exist; an InputError naming the option if not."""
    ok = path.is_dir() if directory else path.is_file()
    if not ok:
        raise InputError(
            "directory not found" if directory else "file not found", file=str(path), field=option
        )
    return str(path.resolve())


def print_run_summary(
    summary: dict[str, Any],
    *,
    bot: str,
    labels: tuple[str, str] = ("items", "done"),
    title: str | None = None,
    json_: bool = False,
) -> None:
    """The run summary as JSON, or as tables: counts, then exceptions by rule code."""
    if json_:
        print_json(summary)
        return
    items_label, done_label = labels
    table = new_table(
        *(Col(c, justify="right") for c in (items_label, done_label, "queued", "system", "already done")),
        title=title or f"{bot} run {summary['run_id']}",
    )
    table.add_row(
        str(summary["total"]),
        str(summary["done"]),
        str(summary["queued"]),
        str(summary["system_exceptions"]),
        str(summary["skipped"]),
    )
    console.print(table)
    if summary["codes"]:
        codes = new_table("code", Col("count", justify="right"), title="exceptions by rule")
        for code, n in summary["codes"].items():
            codes.add_row(code, str(n))
        console.print(codes)
    for key, value in summary.items():
        if key not in _STANDARD and value not in (None, "", [], {}):
            # a path or id is never broken across lines (it is copied from here); no markup in values
            console.print(f"{key.replace('_', ' ')}: {value}", soft_wrap=True, markup=False)
    console.print(
        f"rule set {summary['ruleset_version']}; `backoffice queue list --bot {bot} --user NAME` shows the queue"
    )


_STANDARD = frozenset(
    {
        "run_id",
        "bot",
        "total",
        "done",
        "queued",
        "system_exceptions",
        "skipped",
        "closed",
        "codes",
        "ruleset_version",
    }
)
