"""Recording a batch's outcomes: every item's final state (lifecycle ``finish`` or ``queue``,
with its routing and SLA) and its audit entry, in one transaction, for the items this run
still owns.

What registration stored (:class:`~backoffice.runner.ownership.Registered`) is not built or
written again: an item's payload is rewritten only when it differs from the stored one, and the
violations and evidence of a row registered by this batch only when there are some (it was
registered with none)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from backoffice import lifecycle
from backoffice.audit import AuditEntry, append_many
from backoffice.contract import Outcome
from backoffice.items import EvidenceRef, Item
from backoffice.jsonutil import jsonable
from backoffice.lifecycle import Event
from backoffice.ownership.records import current_in
from backoffice.ownership.routing import codes_of, owner_fields
from backoffice.queue.rounds import open_rounds
from backoffice.queue.routing import QUEUE_FIELD_NAMES, queue_fields
from backoffice.rules import RuleSet, Violation
from backoffice.runner.ownership import Registered
from backoffice.runner.runs import Run, RunSummary
from backoffice.schema import items
from backoffice.store import utcnow

__all__ = ["audit_entry", "record_outcomes"]

OWNER_FIELDS = ("decision_owner", "response_due")  # from the ownership register (backoffice.ownership)


def record_outcomes(
    run: Run,
    ruleset: RuleSet,
    todo: list[Item],
    checked: list[tuple[Item, list[Violation]]],
    outcomes: dict[str, Outcome],
    system: dict[str, Violation],
    info: dict[str, list[Violation]],
    summary: RunSummary,
    registered: dict[str, Registered] | None = None,
) -> None:
    """Write every item's final state and its audit entry in one transaction.

    ``registered``: what :func:`~backoffice.runner.ownership.register` stored for these items
    (none given: everything is written)."""
    known = registered or {}
    now = utcnow()
    fraction = run.settings.at_risk_fraction
    queued: list[tuple[Item, list[Violation], str, list[EvidenceRef]]] = [
        (it, vs, it.kind, list(it.evidence)) for it, vs in checked
    ]
    done: list[tuple[Item, Outcome]] = []
    for it in todo:
        if it.key in system:
            queued.append((it, [system[it.key]], "system", list(it.evidence)))
        elif it.key in outcomes:
            o = outcomes[it.key]
            if o.ok:
                done.append((it, o))
            else:
                queued.append((it, o.violations, o.kind, [*it.evidence, *o.evidence]))
    entries: list[AuditEntry] = []
    done_rows: list[dict[str, Any]] = []
    queued_rows: list[dict[str, Any]] = []
    rounds: list[dict[str, Any]] = []  # every round's violations are kept (backoffice.queue.rounds)
    with run.store.write() as conn:
        # Only items this run still owns: if our lease ran out and another run took an item over,
        # that run records it, not us.
        ids: dict[str, int] = {}
        owners = current_in(conn)  # the ownership register in force: decision owner, response time
        keys = [it.key for it in todo]
        for i in range(0, len(keys), 900):
            ids.update(
                {
                    k: int(n)
                    for n, k in conn.execute(
                        select(items.c.id, items.c.key).where(
                            items.c.bot == run.bot,
                            items.c.key.in_(keys[i : i + 900]),
                            items.c.run_id == run.run_id,
                            items.c.status == "new",
                        )
                    )
                }
            )
        for it, o in done:
            if it.key not in ids:
                summary.skipped += 1
                continue
            evidence = [*it.evidence, *o.evidence]
            reg = known.get(it.key)
            recorded = [v.model_dump(mode="json") for v in info.get(it.key, [])]
            row: dict[str, Any] = {"p_id": ids[it.key], "p_result": jsonable(o.result)}
            payload = jsonable(it.payload)
            if reg is None or not reg.fresh or payload != reg.payload:
                row["p_payload"] = payload
            if reg is None or not reg.fresh or evidence:
                row["p_evidence"] = [e.model_dump(mode="json") for e in evidence]
            if reg is None or not reg.fresh or recorded:
                row["p_violations"] = recorded
            done_rows.append(row)
            data: dict[str, Any] = {
                "key": it.key,
                "source": reg.source if reg is not None else it.source.model_dump(mode="json"),
                "result": o.result,
            }
            if recorded:
                data["recorded"] = recorded
            if run.reprocess:
                data["reprocessed"] = True
            entries.append(audit_entry(run, o.action, ids[it.key], data, evidence, "done"))
            summary.done += 1
        for it, vs, kind, evidence in queued:
            if it.key not in ids:
                summary.skipped += 1
                continue
            all_v = [*vs, *info.get(it.key, [])]
            fields = queue_fields(vs, ruleset, now, fraction)
            fields.update(owner_fields(owners, run.bot, codes_of(fields), now))
            queued_rows.append(
                {
                    "p_id": ids[it.key],
                    "p_kind": kind,
                    "p_payload": jsonable(it.payload),
                    "p_violations": [v.model_dump(mode="json") for v in all_v],
                    "p_evidence": [e.model_dump(mode="json") for e in evidence],
                    **{f"p_{k}": v for k, v in fields.items()},
                }
            )
            rounds.append(
                {
                    "item_id": ids[it.key],
                    "bot": run.bot,
                    "kind": kind,
                    "run_id": run.run_id,
                    "opened_by": run.actor,
                    "violations": queued_rows[-1]["p_violations"],
                }
            )
            for v in vs:
                summary.codes[v.code] += 1
            reg = known.get(it.key)
            data = {
                "key": it.key,
                "kind": kind,
                "source": reg.source if reg is not None else it.source.model_dump(mode="json"),
                "violations": [v.model_dump(mode="json") for v in all_v],
                "due_at": fields["due_at"].isoformat(),
            }
            if fields["decision_owner"]:
                data["decision_owner"] = fields["decision_owner"]
                data["response_due"] = fields["response_due"].isoformat()
            entries.append(audit_entry(run, "item.queued", ids[it.key], data, evidence, "queued"))
            if kind == "system":
                summary.system += 1
            else:
                summary.queued += 1
        # One executemany per outcome (and set of columns written) instead of one UPDATE per item.
        for names, rows in _by_columns(done_rows).items():
            lifecycle.apply_rows(
                conn,
                Event.FINISH,
                rows,
                values={
                    "lease_until": None,
                    "result": bindparam("p_result"),
                    **{name: bindparam(f"p_{name}") for name in names},
                    "ruleset_version": run.ruleset_version,
                    "closed_at": now,
                    "updated_at": now,
                },
            )
        lifecycle.apply_rows(
            conn,
            Event.QUEUE,
            queued_rows,
            values={
                "kind": bindparam("p_kind"),
                "payload": bindparam("p_payload"),
                "violations": bindparam("p_violations"),
                "evidence": bindparam("p_evidence"),
                "ruleset_version": run.ruleset_version,
                "updated_at": now,
                "decision": None,
                "assignee": None,
                "lease_until": None,
                "resolved_at": None,
                **{name: bindparam(f"p_{name}") for name in (*QUEUE_FIELD_NAMES, *OWNER_FIELDS)},
            },
        )
        open_rounds(conn, rounds, now=now)
        append_many(conn, run.store, entries)


_OPTIONAL = ("payload", "evidence", "violations")  # written by recording only when they changed


def _by_columns(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Rows grouped by which of the optional columns they write (one executemany per group)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        names = tuple(n for n in _OPTIONAL if f"p_{n}" in row)
        groups.setdefault(names, []).append(row)
    return groups


def audit_entry(
    run: Run,
    action: str,
    item_id: int | None,
    data: dict[str, Any],
    evidence: list[EvidenceRef],
    outcome: str,
) -> AuditEntry:
    return AuditEntry(
        actor=run.actor,
        role="bot",
        action=action,
        subject=f"item:{item_id}" if item_id is not None else None,
        bot=run.bot,
        data=data if run.approval is None else {**data, "approval": run.approval},
        ruleset_version=run.ruleset_version,
        evidence=[e.sha256 for e in evidence],
        outcome=outcome,
    )
