"""Previewing a proposed rule-set version on the bot's last decided items.

Each item's payload is checked again, in the context of the run that decided it (its bot opened
with that run's inputs, as reprocessing does, but no run is recorded), by the version in force
and by the proposal, so the difference is the proposal's alone. When the proposal's code is not the
code in force (a code change) the baseline is the outcome recorded with the item instead. An
item's outcome is ``straight-through`` (no blocking violation) or ``queued`` (the codes that
block it); titles are masked as in any list.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from backoffice.change_control.records import RuleVersion, approved_record, configured, get_version, in_force
from backoffice.contract import Bot, State
from backoffice.errors import BackofficeError, ConflictError
from backoffice.pii import Masking
from backoffice.rules import Violation
from backoffice.runner.checks import check_item
from backoffice.runner.handle import Run
from backoffice.runner.reprocessing import _item_from_row
from backoffice.runner.runs import run_inputs
from backoffice.schema import items
from backoffice.store import Store

__all__ = ["Outcome", "Preview", "PreviewRow", "preview"]

DECIDED = ("done", "open", "claimed", "pending_approval", "resolved", "closed")


@dataclass(frozen=True)
class Outcome:
    outcome: str  # straight-through | queued
    codes: tuple[str, ...]

    @classmethod
    def of(cls, violations: list[Any]) -> Outcome:
        codes = sorted(
            {v.code if isinstance(v, Violation) else str(v.get("code")) for v in violations if _blocks(v)}
        )
        return cls("queued" if codes else "straight-through", tuple(codes))

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "codes": list(self.codes)}

    def label(self) -> str:
        return "queued: " + " ".join(self.codes) if self.codes else "straight-through"


def _blocks(v: Any) -> bool:
    if isinstance(v, Violation):
        return v.blocking
    return bool(v.get("code")) and v.get("severity", "error") != "info"


@dataclass
class PreviewRow:
    item_id: int
    title: str
    status: str
    before: Outcome | None
    after: Outcome | None
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.error is None and self.before != self.after

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.item_id,
            "title": self.title,
            "status": self.status,
            "changed": self.changed,
            "before": self.before.to_dict() if self.before else None,
            "after": self.after.to_dict() if self.after else None,
            "error": self.error,
        }


@dataclass
class Preview:
    proposal: RuleVersion
    baseline_version: str
    baseline: str  # re-checked | recorded
    rows: list[PreviewRow] = field(default_factory=list)

    @property
    def changed(self) -> list[PreviewRow]:
        return [r for r in self.rows if r.changed]

    def to_dict(self) -> dict[str, Any]:
        errors = [r for r in self.rows if r.error]
        return {
            "proposal": self.proposal.to_dict(),
            "baseline_version": self.baseline_version,
            "baseline": self.baseline,
            "checked": len(self.rows) - len(errors),
            "errors": len(errors),
            "changed": len(self.changed),
            "items": [r.to_dict() for r in self.rows],
        }


@contextmanager
def _opened(bot: Bot[Any, Any], store: Store, run_id: str | None) -> Iterator[State[Any]]:
    """The bot opened as for reprocessing the items of ``run_id`` (its inputs), no run recorded."""
    inputs = bot.parse_inputs(run_inputs(store, run_id) if run_id else {})
    run = Run(
        run_id=f"preview-{uuid.uuid4().hex[:8]}",
        bot=bot.name,
        inputs=inputs,
        store=store,
        ruleset_version=bot.ruleset.version,
        reprocess=True,
    )
    state = bot.open(inputs, run)
    try:
        yield state
    finally:
        bot.close(state)


def _outcomes(bot: Bot[Any, Any], store: Store, run_id: str | None, rows: list[Any]) -> list[Outcome]:
    with _opened(bot, store, run_id) as state:
        ctx = bot.rules_context(state)
        return [Outcome.of(check_item(bot, _item_from_row(r), ctx)[1]) for r in rows]


def preview(store: Store, bot: Bot[Any, Any], version_id: int, user: str, *, last: int = 50) -> Preview:
    """Which of the bot's last ``last`` decided items would change outcome under proposal ``version_id``."""
    rec = get_version(store, user, version_id)
    if rec.bot != bot.name:
        raise ConflictError(f"#{rec.id} is a version of {rec.bot}, not of {bot.name}")
    current, _ = in_force(store, bot)
    if rec.code_version != bot.ruleset.code_version:
        raise ConflictError(
            f"#{rec.id} is for code {rec.code_version} of {bot.name}; this installation runs "
            f"{bot.ruleset.code_version}: preview it where that code is installed"
        )
    proposed = configured(bot, rec.params)
    latest = approved_record(store, bot.name)
    # the code in force is not the installed one (a code change): compare with what was recorded
    recorded = latest is not None and latest.code_version != rec.code_version
    q = (
        select(items)
        .where(items.c.bot == bot.name, items.c.status.in_(DECIDED))
        .order_by(items.c.id.desc())
        .limit(max(1, last))
    )
    with store.read() as conn:
        rows = list(conn.execute(q))
    out = Preview(
        proposal=rec,
        baseline_version=current.ruleset.version,
        baseline="recorded" if recorded else "re-checked",
    )
    masking = Masking()
    by_run: dict[str | None, list[Any]] = {}
    for r in rows:
        by_run.setdefault(r.run_id, []).append(r)
    results: dict[int, PreviewRow] = {}
    for run_id, group in by_run.items():
        try:
            after = _outcomes(proposed, store, run_id, group)
            before = (
                [Outcome.of(list(r.violations or [])) for r in group]
                if recorded
                else _outcomes(current, store, run_id, group)
            )
        except (BackofficeError, OSError) as exc:
            for r in group:
                results[int(r.id)] = PreviewRow(
                    int(r.id),
                    masking.title(bot.name, r.payload),
                    r.status,
                    None,
                    None,
                    error=f"run {run_id}: cannot open its inputs again: {exc}",
                )
            continue
        for r, b, a in zip(group, before, after, strict=True):
            results[int(r.id)] = PreviewRow(int(r.id), masking.title(bot.name, r.payload), r.status, b, a)
    out.rows = [results[int(r.id)] for r in rows]
    return out
