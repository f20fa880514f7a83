"""A run of a bot: its handle (:class:`Run`: ids, inputs, store, evidence and audit helpers),
its summary (:class:`RunSummary`), and the ``runs`` rows and audit entries that start and end it."""

from __future__ import annotations

import os
import socket
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from backoffice.audit import AuditEntry, append, put_evidence, record
from backoffice.contract import Bot, Inputs
from backoffice.errors import NotFound
from backoffice.items import EvidenceRef
from backoffice.schema import runs
from backoffice.settings import Settings
from backoffice.store import Store, utcnow

__all__ = ["Run", "RunSummary", "finish_run", "run_inputs", "start_run"]


@dataclass
class Run:
    """One run of a bot: ids, validated inputs, store, and helpers for evidence and audit."""

    run_id: str
    bot: str
    inputs: Inputs
    store: Store
    ruleset_version: str | None = None
    reprocess: bool = False

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


def start_run(bot: Bot[Any, Any], inputs: Inputs, store: Store, *, reprocess: bool = False) -> Run:
    run = Run(
        run_id=uuid.uuid4().hex[:12],
        bot=bot.name,
        inputs=inputs,
        store=store,
        ruleset_version=bot.ruleset.version,
        reprocess=reprocess,
    )
    with store.write() as conn:
        conn.execute(
            insert(runs).values(
                id=run.run_id,
                bot=bot.name,
                actor=run.actor,
                host=socket.gethostname(),
                pid=os.getpid(),
                started_at=utcnow(),
                status="running",
                inputs=run.inputs_json,
                ruleset_version=run.ruleset_version,
            )
        )
        append(
            conn,
            store,
            AuditEntry(
                actor=run.actor,
                role="bot",
                action="run.reprocess_started" if reprocess else "run.started",
                subject=f"run:{run.run_id}",
                bot=bot.name,
                data={"inputs": run.inputs_json},
                ruleset_version=run.ruleset_version,
            ),
        )
    return run


def finish_run(run: Run, summary: RunSummary, status: str = "finished") -> None:
    with run.store.write() as conn:
        conn.execute(
            update(runs)
            .where(runs.c.id == run.run_id)
            .values(finished_at=utcnow(), status=status, summary=summary.to_dict())
        )
        append(
            conn,
            run.store,
            AuditEntry(
                actor=run.actor,
                role="bot",
                action="run.finished" if status == "finished" else "run.failed",
                subject=f"run:{run.run_id}",
                bot=run.bot,
                data=summary.to_dict(),
                ruleset_version=run.ruleset_version,
                outcome=status,
            ),
        )


def run_inputs(store: Store, run_id: str) -> dict[str, Any]:
    with store.read() as conn:
        row = conn.execute(select(runs.c.inputs).where(runs.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"no run {run_id}")
    return dict(row.inputs)
