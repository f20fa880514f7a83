"""The handle of one run (:class:`Run`) and its counts (:class:`RunSummary`).

Kept apart from the run bookkeeping (:mod:`backoffice.runner.runs`) so the bot contract can name
these types without importing the runner.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backoffice.audit import AuditEntry, put_evidence, record
from backoffice.inputs import Inputs
from backoffice.items import EvidenceRef
from backoffice.settings import Settings
from backoffice.store import Store

__all__ = ["Run", "RunSummary"]


@dataclass
class Run:
    """One run of a bot: ids, validated inputs, store, and helpers for evidence and audit."""

    run_id: str
    bot: str
    inputs: Inputs
    store: Store
    ruleset_version: str | None = None
    reprocess: bool = False
    approval: int | None = None  # the approved change-control record of ruleset_version (None: not approved)
    rule_checked: int = 0  # items the rules judged so far (backoffice.runner.storm)
    rule_exceptions: int = 0  # of which blocked by a rule
    system_streak: list[str] = field(default_factory=list)  # keys of consecutive system failures
    down: BaseException | None = None  # why the circuit breaker stopped the run (backoffice.runner.breaker)

    @property
    def inputs_json(self) -> dict[str, Any]:
        """The inputs as stored with the run and in its audit entry."""
        return dict(self.inputs.model_dump(mode="json"))

    @property
    def settings(self) -> Settings:
        return self.store.settings

    @property
    def actor(self) -> str:
        return f"bot:{self.bot}/{self.run_id}"

    def store_evidence(
        self, data: bytes | Path, name: str, media_type: str = "application/octet-stream"
    ) -> EvidenceRef:
        return put_evidence(self.store, data, name, media_type)

    def audit(
        self,
        action: str,
        subject: str | None = None,
        data: dict[str, Any] | None = None,
        *,
        evidence: Iterable[str] = (),
        outcome: str | None = None,
    ) -> None:
        record(
            self.store,
            AuditEntry(
                actor=self.actor,
                role="bot",
                action=action,
                subject=subject,
                bot=self.bot,
                data=data or {},
                ruleset_version=self.ruleset_version,
                evidence=list(evidence),
                outcome=outcome,
            ),
        )


@dataclass
class RunSummary:
    run_id: str
    bot: str
    total: int = 0
    done: int = 0
    queued: int = 0
    system: int = 0
    skipped: int = 0
    closed: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    ruleset_version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, other: RunSummary) -> None:
        self.total += other.total
        self.done += other.done
        self.queued += other.queued
        self.system += other.system
        self.skipped += other.skipped
        self.closed += other.closed
        self.codes.update(other.codes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "bot": self.bot,
            "total": self.total,
            "done": self.done,
            "queued": self.queued,
            "system_exceptions": self.system,
            "skipped": self.skipped,
            "closed": self.closed,
            "codes": dict(sorted(self.codes.items())),
            "ruleset_version": self.ruleset_version,
            **self.extra,
        }
