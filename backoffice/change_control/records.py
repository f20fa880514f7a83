"""Rule-set versions as change-control records: propose, approve, reject, and what a run may use.

A record is one rule-set version of a bot: the code hash of its rules (:attr:`RuleSet.code_version`)
and the params they run with; together they make :attr:`RuleSet.version`. An RPA expert proposes
one (``--set PARAM=VALUE`` typed and checked by the bot's params model); the client approver, never
its proposer, approves or rejects it; approving supersedes the bot's earlier approved record.

The params in force for a bot are those of its approved record (bots take their params in their
constructor, as the contract says: ``type(bot)(params)``); a run whose version (code + params) has
no approved record is refused in ``production`` mode and runs, flagged, in ``development``.
``engagement`` is the store's: each engagement approves its own rule-set versions in its own store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from backoffice import proposals
from backoffice.audit import AuditEntry, append, record
from backoffice.contract import Bot
from backoffice.errors import BackofficeError, ConfigError, ConflictError, NotFound, UsageError
from backoffice.jsonutil import jsonable
from backoffice.schema import rule_versions
from backoffice.store import Store, utcnow
from backoffice.users import Action, deny, require

__all__ = [
    "RuleVersion",
    "StartCheck",
    "UnapprovedRuleSet",
    "approve",
    "approved_record",
    "check_start",
    "configured",
    "development_notice",
    "get_version",
    "in_force",
    "list_versions",
    "params_of",
    "propose",
    "reject",
    "running_bot",
    "typed_params",
]

STATUSES = ("proposed", "approved", "rejected", "superseded")


class UnapprovedRuleSet(BackofficeError):
    """A run in production mode whose rule-set version has no approved record (exit 1)."""


@dataclass(frozen=True)
class RuleVersion:
    id: int
    engagement: str | None
    bot: str
    version: str
    code_version: str
    params: dict[str, Any]
    changes: dict[str, Any]
    status: str
    proposer: str
    proposed_at: datetime
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "engagement": self.engagement,
            "bot": self.bot,
            "version": self.version,
            "code_version": self.code_version,
            "params": self.params,
            "changes": self.changes,
            "status": self.status,
            "proposer": self.proposer,
            "proposed_at": self.proposed_at.isoformat(),
            "reason": self.reason,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "decision_reason": self.decision_reason,
        }


def _record(row: Any) -> RuleVersion:
    return RuleVersion(
        id=int(row.id),
        engagement=row.engagement,
        bot=row.bot,
        version=row.version,
        code_version=row.code_version,
        params=dict(row.params),
        changes=dict(row.changes or {}),
        status=row.status,
        proposer=row.proposer,
        proposed_at=row.proposed_at,
        reason=row.reason,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_reason=row.decision_reason,
    )


# -- params -----------------------------------------------------------------------------------------
def params_of(bot: Bot[Any, Any]) -> dict[str, Any]:
    """The params the bot's rule set runs with, as JSON values."""
    return bot.ruleset.params_dict()


def _parse_value(raw: str) -> Any:
    """A ``--set`` value: JSON lists/objects as such, ``none``/``null`` as None, else the text
    (the params model types it)."""
    text = raw.strip()
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def typed_params(bot: Bot[Any, Any], base: Mapping[str, Any], sets: Mapping[str, str]) -> dict[str, Any]:
    """``base`` with ``sets`` (PARAM -> text) applied, validated and typed by the bot's params model;
    a UsageError naming the param for an unknown one or a value the model refuses."""
    params = bot.ruleset.params
    model = type(params) if isinstance(params, BaseModel) else None
    known = sorted(model.model_fields) if model is not None else sorted(base)
    merged: dict[str, Any] = dict(base)
    for name, raw in sets.items():
        if name not in known:
            raise UsageError(
                f"--set {name}: bot {bot.name} has no param {name!r}; its params: {', '.join(known) or 'none'}",
                field=name,
            )
        merged[name] = _parse_value(raw)
    if model is None:
        return dict(jsonable(merged))
    try:
        checked = model.model_validate(merged)
    except ValidationError as exc:
        # "none"/"null" for a param that allows no limit: retry those as None
        nulls = {n for n, raw in sets.items() if raw.strip().lower() in ("none", "null")}
        if nulls:
            try:
                checked = model.model_validate({**merged, **dict.fromkeys(nulls)})
            except ValidationError:
                pass
            else:
                return dict(checked.model_dump(mode="json"))
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"]) or "params"
        shown = sets.get(str(err["loc"][0])) if err["loc"] else None
        raise UsageError(
            f"--set {name}={shown if shown is not None else merged.get(name)!s}: {err['msg']}"
            f" (bot {bot.name}, param {name})",
            field=name,
        ) from None
    return dict(checked.model_dump(mode="json"))


def configured(bot: Bot[Any, Any], params: Mapping[str, Any]) -> Bot[Any, Any]:
    """The bot running with ``params``: the bot itself when they are its params, else a new
    object of its class built with them (the contract: a bot with params takes them in its
    constructor and builds its rule set from them). A ConfigError when it cannot."""
    if jsonable(dict(params)) == params_of(bot):
        return bot
    current = bot.ruleset.params
    value: Any = (
        type(current).model_validate(dict(params)) if isinstance(current, BaseModel) else dict(params)
    )
    try:
        other = type(bot)(value)  # type: ignore[call-arg]
    except TypeError as exc:
        raise ConfigError(
            f"bot {bot.name} does not take its params in its constructor ({exc}); it cannot run "
            "with approved params other than its own"
        ) from None
    if params_of(other) != jsonable(dict(params)):
        raise ConfigError(f"bot {bot.name} built with the approved params does not run with them")
    return other


# -- queries ----------------------------------------------------------------------------------------
def _one(conn: Connection, version_id: int) -> RuleVersion:
    row = conn.execute(select(rule_versions).where(rule_versions.c.id == version_id)).first()
    if row is None:
        raise NotFound(f"no rule-set version #{version_id} (`backoffice rules list` lists them)")
    return _record(row)


def approved_record(store: Store, bot: str, version: str | None = None) -> RuleVersion | None:
    """The bot's approved record (of ``version`` when given): at most one is ``approved``."""
    q = select(rule_versions).where(rule_versions.c.bot == bot, rule_versions.c.status == "approved")
    if version is not None:
        q = q.where(rule_versions.c.version == version)
    with store.read() as conn:
        row = conn.execute(q.order_by(rule_versions.c.id.desc())).first()
    return _record(row) if row is not None else None


def _pending(store: Store, bot: str, version: str) -> RuleVersion | None:
    q = select(rule_versions).where(
        rule_versions.c.bot == bot, rule_versions.c.version == version, rule_versions.c.status == "proposed"
    )
    with store.read() as conn:
        row = conn.execute(q.order_by(rule_versions.c.id.desc())).first()
    return _record(row) if row is not None else None


def in_force(store: Store, bot: Bot[Any, Any]) -> tuple[Bot[Any, Any], RuleVersion | None]:
    """The bot as it runs now: with the params of its approved record (if it has one), and the
    approved record of that exact version (None when code or params are not approved)."""
    latest = approved_record(store, bot.name)
    running = bot
    if latest is not None:
        try:
            running = configured(bot, latest.params)
        except ValidationError:  # params of an earlier code that its params model no longer takes
            running = bot
    if latest is not None and latest.version == running.ruleset.version:
        return running, latest
    return running, approved_record(store, bot.name, running.ruleset.version)


def running_bot(
    store: Store, bot: Bot[Any, Any], overrides: Mapping[str, str] | None = None
) -> Bot[Any, Any]:
    """The bot a run starts with: with the params in force (:func:`in_force`), changed by
    ``overrides`` (``run --set PARAM=VALUE``; typed and checked as ``rules propose`` does, a
    UsageError naming a param the bot does not have or a value it refuses). Whether it may run
    is :func:`check_start`'s question: in production only an approved version does."""
    running, _ = in_force(store, bot)
    if not overrides:
        return running
    return configured(bot, typed_params(bot, params_of(running), overrides))


def get_version(store: Store, user: str, version_id: int) -> RuleVersion:
    require(store, user, Action.READ_RULES, f"rule_version:{version_id}")
    with store.read() as conn:
        return _one(conn, version_id)


def list_versions(store: Store, user: str, bot: str | None = None) -> list[RuleVersion]:
    require(store, user, Action.READ_RULES, f"rules:{bot}" if bot else "rules")
    q = select(rule_versions).order_by(rule_versions.c.id.desc())
    if bot is not None:
        q = q.where(rule_versions.c.bot == bot)
    with store.read() as conn:
        return [_record(r) for r in conn.execute(q)]


# -- decisions --------------------------------------------------------------------------------------
def propose(
    store: Store,
    bot: Bot[Any, Any],
    user: str,
    sets: Mapping[str, str] | Sequence[tuple[str, str]] = (),
    *,
    reason: str | None = None,
) -> RuleVersion:
    """Propose the bot's installed code with the params in force changed by ``sets``."""
    who = require(store, user, Action.PROPOSE_RULES, f"rules:{bot.name}")
    changes_in = dict(sets)
    running, _ = in_force(store, bot)
    base = params_of(running)
    params = typed_params(bot, base, changes_in)
    proposed = configured(bot, params)
    version = proposed.ruleset.version
    changes = {
        k: {"from": base.get(k), "to": params.get(k)} for k in sorted(params) if base.get(k) != params.get(k)
    }
    if (done := approved_record(store, bot.name, version)) is not None:
        raise ConflictError(f"{version} is already approved (#{done.id}); nothing to propose")
    if (waiting := _pending(store, bot.name, version)) is not None:
        raise ConflictError(f"{version} is already proposed as #{waiting.id}")
    now = utcnow()
    with store.write() as conn:
        result = conn.execute(
            insert(rule_versions).values(
                engagement=store.engagement,
                bot=bot.name,
                version=version,
                code_version=proposed.ruleset.code_version,
                params=params,
                changes=changes,
                status="proposed",
                proposer=who.name,
                proposed_at=now,
                reason=reason,
            )
        )
        pk = result.inserted_primary_key
        if pk is None:  # pragma: no cover - every backend returns the new id
            raise ConflictError("the proposal was not stored")
        new_id = int(pk[0])
        append(
            conn,
            store,
            AuditEntry(
                actor=who.name,
                role=who.role,
                action="rules.proposed",
                subject=f"rule_version:{new_id}",
                bot=bot.name,
                data={"version": version, "params": params, "changes": changes, "reason": reason},
                ruleset_version=version,
                outcome="proposed",
            ),
        )
        return _one(conn, int(new_id))


def _decide(store: Store, version_id: int, user: str, *, approve: bool, reason: str | None) -> RuleVersion:
    subject = f"rule_version:{version_id}"
    verb = "approve" if approve else "reject"
    who = require(store, user, Action.APPROVE_RULES, subject)
    with store.read() as conn:
        rec = _one(conn, version_id)
    if rec.proposer == who.name:
        raise deny(
            store,
            who.name,
            who.role,
            f"rules.{verb}",
            subject,
            f"{who.name} proposed {rec.version} (#{rec.id}) and may not {verb} it: maker != checker",
        )
    if rec.status != "proposed":
        raise ConflictError(f"#{rec.id} ({rec.version}) is {rec.status}, not proposed")
    with store.write() as conn:
        status, superseded = proposals.decide(
            conn,
            rule_versions,
            rec.id,
            decider=who.name,
            approve=approve,
            reason=reason,
            now=utcnow(),
            scope=rule_versions.c.bot == rec.bot,
            label=f"#{rec.id}",
        )
        append(
            conn,
            store,
            AuditEntry(
                actor=who.name,
                role=who.role,
                action=f"rules.{status}",
                subject=subject,
                bot=rec.bot,
                data={
                    "version": rec.version,
                    "params": rec.params,
                    "changes": rec.changes,
                    "proposer": rec.proposer,
                    "reason": reason,
                    "superseded": superseded,
                },
                ruleset_version=rec.version,
                outcome=status,
            ),
        )
        return _one(conn, rec.id)


def approve(store: Store, version_id: int, user: str, *, reason: str | None = None) -> RuleVersion:
    """Approve a proposal (client approver, not its proposer); the bot's runs then use it."""
    return _decide(store, version_id, user, approve=True, reason=reason)


def reject(store: Store, version_id: int, user: str, *, reason: str) -> RuleVersion:
    if not reason or not reason.strip():
        raise UsageError("rejecting a rule-set version takes a --reason", field="reason")
    return _decide(store, version_id, user, approve=False, reason=reason.strip())


# -- at the start of a run ----------------------------------------------------------------------------
@dataclass(frozen=True)
class StartCheck:
    """What change control says about a run about to start."""

    mode: str
    version: str
    approval: int | None  # the approved record's id, None when not approved

    @property
    def approved(self) -> bool:
        return self.approval is not None

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "rule_version": self.version, "approval": self.approval}


def _how_to(store: Store, bot: Bot[Any, Any]) -> str:
    waiting = _pending(store, bot.name, bot.ruleset.version)
    if waiting is not None:
        return (
            f"proposal #{waiting.id} awaits approval: `backoffice rules approve {waiting.id} --user APPROVER`"
        )
    return (
        f"propose it with `backoffice rules propose {bot.name} --user RPA_EXPERT` and have the client "
        "approver run `backoffice rules approve ID --user APPROVER`"
    )


def check_start(store: Store, bot: Bot[Any, Any], *, audit: bool = True) -> StartCheck:
    """Whether ``bot`` (as configured for this run) may start: in production mode its exact
    version must have an approved record, else UnapprovedRuleSet (audited as ``run.refused``)."""
    mode = store.settings.mode
    version = bot.ruleset.version
    rec = approved_record(store, bot.name, version)
    check = StartCheck(mode=mode, version=version, approval=rec.id if rec else None)
    if rec is None and mode == "production":
        message = (
            f"bot {bot.name}: rule-set version {version} (code {bot.ruleset.code_version}, params "
            f"{json.dumps(params_of(bot), sort_keys=True)}) has no approved record; production mode "
            f"runs approved versions only: {_how_to(store, bot)}"
        )
        if audit:
            record(
                store,
                AuditEntry(
                    actor=f"bot:{bot.name}",
                    role="bot",
                    action="run.refused",
                    bot=bot.name,
                    data={"why": "rule-set version not approved", "mode": mode},
                    ruleset_version=version,
                    outcome="refused",
                ),
            )
        raise UnapprovedRuleSet(message)
    return check


def development_notice(store: Store, bot: Bot[Any, Any]) -> str | None:
    """The line ``backoffice run`` prints before an unapproved version runs in development mode."""
    running, rec = in_force(store, bot)
    if rec is not None or store.settings.mode != "development":
        return None
    return (
        f"DEVELOPMENT MODE: bot {bot.name} runs rule-set version {running.ruleset.version}, which is "
        f"not approved; in production it would be refused ({_how_to(store, running)})"
    )
