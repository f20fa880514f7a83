"""The rule-storm bound: a run whose rules raise too many exceptions stops before queuing them.

One wrong file (last month's bank statement, another company's register) can turn every item of
a run into an exception: 260,001 of them in one run, each to be looked at. A run counts, on its
handle (:attr:`~backoffice.runner.handle.Run.rule_checked`, ``rule_exceptions``), the items the
rules checked and those they blocked; before a batch is acted on or recorded,
:func:`guard` adds the batch's counts and, when the run crosses ``settings.storm_max_exceptions``
or, once ``settings.storm_min_items`` are checked, ``settings.storm_max_rate``,

- writes ONE audit entry ``run.incident`` (subject ``run:<id>``, :mod:`~backoffice.runner.incidents`)
  with the counts and the bounds,
- raises :class:`RuleStorm`, so the run is finished as ``failed``; that batch is neither acted on
  nor recorded: its items stay ``new`` (owned by a failed run, so the next run takes them over)
  and the items not read yet are read by the rerun.

Only items the rules judged count: items that arrive already broken (unreadable rows carry their
INPUT violations from the reader) are queued as before, whatever their number.
"""

from __future__ import annotations

from backoffice.errors import BackofficeError
from backoffice.runner.handle import Run
from backoffice.runner.incidents import record_incident

__all__ = ["RuleStorm", "guard"]


class RuleStorm(BackofficeError):
    """The run stopped: its rules raised more exceptions than the configured bound."""

    exit_code = 1


def guard(run: Run, checked: int, exceptions: int) -> None:
    """Count a batch's rule-checked items and rule exceptions; RuleStorm when the run crosses the bound."""
    run.rule_checked += checked
    run.rule_exceptions += exceptions
    s = run.settings
    total, bad = run.rule_checked, run.rule_exceptions
    rate = bad / total if total else 0.0
    if bad > s.storm_max_exceptions:
        why = f"{bad:,} exceptions (limit {s.storm_max_exceptions:,})"
    elif total >= s.storm_min_items and rate > s.storm_max_rate:
        why = f"{rate:.0%} of {total:,} checked items are exceptions (limit {s.storm_max_rate:.0%})"
    else:
        return
    record_incident(
        run,
        "rule-storm",
        {
            "checked": total,
            "exceptions": bad,
            "exception_rate": round(rate, 4),
            "max_exceptions": s.storm_max_exceptions,
            "max_rate": s.storm_max_rate,
            "min_items": s.storm_min_items,
            "unprocessed_batch": checked,
        },
    )
    raise RuleStorm(
        f"rule storm: run {run.run_id} stopped after {why}; one incident recorded, the rest of its "
        "items are left for a rerun (check the input files)"
    )
