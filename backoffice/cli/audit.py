"""``backoffice audit ...``: verify the chain, list entries, export and verify evidence packs,
retention and legal holds, purge, access review.

Personal data is masked in every output unless ``--unmask --reason`` by a role that may unmask
(compliance); reading the log through ``list``/``story`` is itself audited.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from backoffice import audit, pii, retention
from backoffice.access_review import access_review as build_access_review
from backoffice.audit import AuditEntry
from backoffice.audit.digests import write_digest
from backoffice.audit.integrity import verify_store
from backoffice.audit.pack import PackFilters, export_pack, verify_pack
from backoffice.audit.story import item_story
from backoffice.cli._common import console, err_console, print_json, store
from backoffice.cli.tables import Col, table
from backoffice.errors import ConfigError, InputError, IntegrityError, UsageError
from backoffice.users import Action, require

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention per record class and legal holds.", no_args_is_help=True)
app.add_typer(retention_app, name="retention")

UserOpt = Annotated[
    str | None,
    typer.Option("--user", "-u", envvar="BACKOFFICE_USER", help="Who acts (default: $BACKOFFICE_USER)."),
]
UnmaskOpt = Annotated[
    bool,
    typer.Option("--unmask", help="Show personal data in clear (compliance only; audited, needs --reason)."),
]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (for unmasking, holds).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _need_user(user: str | None) -> str:
    if not user:
        raise UsageError("name who acts with --user NAME (or set BACKOFFICE_USER)", field="user")
    return user


def _audit_read(
    user: str | None, what: str, details: dict[str, Any], unmask: bool, reason: str | None
) -> None:
    """Check the reader (every read names one: a usage error otherwise) and record the read;
    unmasking is checked and recorded too."""
    s = store()
    user = _need_user(user)
    role = require(s, user, Action.READ_AUDIT, "audit:read").role
    if unmask:
        pii.record_unmask(s, user, "audit:read", reason or "", what)
    with s.write() as conn:
        audit.append(
            conn,
            s,
            AuditEntry(
                actor=user,
                role=role,
                action="audit.read",
                subject="audit:read",
                data={"what": what, **details, "unmasked": unmask},
                outcome="ok",
            ),
        )


def parse_when(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"not a date or time: {text!r} (use YYYY-MM-DD or ISO 8601)", field=name) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@app.command()
def verify(
    json_: Annotated[bool, typer.Option("--json")] = False,
    digests: Annotated[
        Path | None,
        typer.Option(
            "--digests",
            help="Directory of the signed digest files (a copy from where they are kept): detects a log cut "
            "at its end or wiped.",
        ),
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Skip re-hashing the evidence files.")] = False,
) -> None:
    """Check the hash chain, its signed head, every item's state and the evidence files (and the digests
    with --digests); exit 1 naming the first bad entry or what is wrong."""
    s = store()
    result = verify_store(s, digests=digests, quick=quick)
    try:
        with s.write() as conn:
            audit.append(
                conn,
                s,
                AuditEntry(
                    actor="cli",
                    action="audit.verified",
                    data={**result.to_dict(), "digests": str(digests) if digests else None, "quick": quick},
                    outcome="ok" if result.ok else "failed",
                ),
            )
    except (ConfigError, IntegrityError) as exc:  # a wrong key or a broken head: say so, do not append
        err_console.print(f"[yellow]not recorded in the log[/]: {exc}")
    if result.ok:
        write_digest(s)
    if json_:
        print_json(result.to_dict())
    elif result.ok:
        since = f" after retention checkpoint #{result.start_seq - 1}" if result.start_seq > 1 else ""
        console.print(
            f"[green]audit chain intact[/]: {result.checked} entries{since}, "
            f"head #{result.head_seq} {result.head_hash[:16]}…"
            + (f"; digests under {digests} match" if digests else "")
            + ("" if quick else "; evidence files re-hashed")
            + "; items match their entries"
        )
    elif result.first_bad_seq is not None:
        err_console.print(f"[red]audit chain broken at entry {result.first_bad_seq}[/]: {result.reason}")
    else:
        err_console.print(f"[red]audit log does not verify[/]: {result.reason}")
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def digest(
    force: Annotated[bool, typer.Option("--force", help="Write one even if this period has one.")] = False,
) -> None:
    """Write the period's signed digest file (schedule it every BACKOFFICE_AUDIT_DIGEST_MINUTES)."""
    path = write_digest(store(), force=force)
    console.print(f"wrote {path}" if path is not None else "no digest due (or the log is empty)")


@app.command("list")
def list_(
    subject: Annotated[str | None, typer.Option(help="e.g. item:42, run:abc, user:alice")] = None,
    actor: Annotated[str | None, typer.Option()] = None,
    action: Annotated[str | None, typer.Option()] = None,
    bot: Annotated[str | None, typer.Option()] = None,
    since: Annotated[str | None, typer.Option(help="YYYY-MM-DD or ISO time (UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="YYYY-MM-DD or ISO time (UTC)")] = None,
    limit: Annotated[int, typer.Option()] = 200,
    user: UserOpt = None,
    unmask: UnmaskOpt = False,
    reason: ReasonOpt = None,
    json_: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Audit entries, newest last (personal data masked unless --unmask)."""
    filters = {
        "subject": subject,
        "actor": actor,
        "action": action,
        "bot": bot,
        "since": since,
        "until": until,
    }
    _audit_read(user, "list", {"filters": filters, "limit": limit}, unmask, reason)
    rows = audit.entries(
        store(),
        subject=subject,
        actor=actor,
        action=action,
        bot=bot,
        since=parse_when(since, "since"),
        until=parse_when(until, "until"),
        limit=limit,
        descending=True,
    )[::-1]
    masking = pii.Masking(unmask=unmask)
    rows = [masking.entry(r) for r in rows]  # by the data classes of each entry's bot
    if json_:
        print_json(rows)
        return
    t = table(
        Col("seq", justify="right"),
        "at",
        "actor",
        "action",
        "subject",
        "outcome",
        shrink={"subject": 14, "actor": 14, "action": 16},
    )
    for r in rows:
        at = r["at"][:19].replace("T", " ")
        t.add_row(str(r["seq"]), at, r["actor"], r["action"], r["subject"] or "", r["outcome"] or "")
    console.print(t)


@app.command()
def story(
    item: Annotated[int, typer.Argument(help="Item id.")],
    user: UserOpt = None,
    unmask: UnmaskOpt = False,
    reason: ReasonOpt = None,
    json_: JsonOpt = False,
) -> None:
    """An item's full story: source file, every audit entry to the final decision, evidence."""
    _audit_read(user, "story", {"item": item}, unmask, reason)
    out = item_story(store(), item, unmask=unmask)
    if json_:
        print_json(out)
        return
    it = out["item"]
    if it:
        console.print(
            f"[bold]item {it['id']}[/] {it['bot']} {it['status']} {it['amount'] or ''} {it['currency'] or ''}"
        )
        console.print(f"source: {it['source'].get('file')} {it['source'].get('locator') or ''}")
        console.print(
            f"decision: {it['decision'] or '-'} maker {it['maker'] or '-'} checker {it['checker'] or '-'}"
        )
    for e in out["entries"]:
        console.print(f"#{e['seq']} {e['at'][:19]} {e['actor']} {e['action']} {e['outcome'] or ''}")
    for f in out["evidence"]:
        console.print(f"evidence {f['sha256'][:16]}… {f['name']} [{f['state']}]")


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", help="The pack to write (PACK.zip).")],
    since: Annotated[str | None, typer.Option(help="YYYY-MM-DD or ISO time (UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="YYYY-MM-DD or ISO time (UTC)")] = None,
    bot: Annotated[str | None, typer.Option(help="Only this bot's entries.")] = None,
    item: Annotated[str | None, typer.Option(help="Only entries about this item (id or item:ID).")] = None,
    actor: Annotated[str | None, typer.Option(help="Only entries by this actor.")] = None,
    action: Annotated[str | None, typer.Option(help="Only entries with this action.")] = None,
    sample: Annotated[int | None, typer.Option(help="A seeded random sample of N entries.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the sample (recorded in the pack).")] = None,
    user: UserOpt = None,
    unmask: UnmaskOpt = False,
    reason: ReasonOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Write an evidence pack (zip) an auditor can verify offline with `verify-pack`."""
    filters = PackFilters(
        since=parse_when(since, "since"),
        until=parse_when(until, "until"),
        bot=bot,
        item=item,
        actor=actor,
        action=action,
        sample=sample,
        seed=seed,
    )
    result = export_pack(store(), out, user=_need_user(user), filters=filters, unmask=unmask, reason=reason)
    if json_:
        print_json(result.to_dict())
        return
    rng = f"#{result.first_seq}..#{result.last_seq}" if result.first_seq is not None else "no entries"
    console.print(
        f"[green]evidence pack written[/]: {result.path} ({result.entries} of {result.population} entries, "
        f"{rng}, {result.evidence_files} evidence files{', masked' if result.masked else ', UNMASKED'}"
        f"{f', seed {result.seed}' if result.seed is not None else ''})\nsha256 {result.pack_sha256}"
    )


@app.command("verify-pack")
def verify_pack_(
    pack: Annotated[Path, typer.Argument(help="The evidence pack (zip).")],
    key_env: Annotated[
        str | None,
        typer.Option("--key-env", help="Environment variable holding the audit HMAC key (keyed logs)."),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Re-check a pack offline (no database): every file's sha256, the manifest, the hash chain
    over the exported range and the control totals. Exit 1 naming the file if anything changed."""
    key: bytes | None = None
    if key_env:
        value = os.environ.get(key_env)
        if not value:
            raise UsageError(f"environment variable {key_env} is not set", field="key-env")
        key = value.encode()
    report = verify_pack(pack, key=key)
    if json_:
        print_json(report.to_dict())
    elif report.ok:
        ch = report.manifest.get("chain", {})
        console.print(
            f"[green]pack intact[/]: {report.entries} entries (#{ch.get('first_seq')}..#{ch.get('last_seq')}), "
            f"{report.recomputed} hashes recomputed, {report.links} links, {report.evidence_files} evidence files"
        )
        for note in report.notes:
            console.print(f"note: {note}")
    else:
        for p in report.problems:
            err_console.print(f"[red]{p['file']}[/]: {p['message']}")
        err_console.print(f"[red]pack does not verify[/]: {', '.join(report.bad_files)}")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def purge(
    user: UserOpt = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Purge as of this date (UTC); a future date only with --dry-run."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what would go.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Purge what retention allows; the chain stays verifiable through a signed checkpoint."""
    when = parse_when(as_of, "as-of")
    if when is not None and when > datetime.now(UTC) and not dry_run:
        raise UsageError("--as-of in the future only goes with --dry-run (a preview)", field="as-of")
    result = retention.purge(store(), by=_need_user(user), as_of=when, dry_run=dry_run)
    if json_:
        print_json(result.to_dict())
        return
    verb = "would purge" if dry_run else "purged"
    console.print(
        f"{verb} {result.entries_purged} audit entries"
        f"{f' (through #{result.through_seq})' if result.through_seq else ''}, {result.items_purged} items, "
        f"{result.evidence_purged} evidence files; {result.items_held} items on legal hold"
    )
    if result.stopped_at:
        console.print(
            f"kept from entry #{result.stopped_at['seq']} ({result.stopped_at['class']}: {result.stopped_at['why']})"
        )


@app.command("access-review")
def access_review_cmd(
    user: UserOpt = None,
    dormant_days: Annotated[int, typer.Option(help="Flag active users without a login for this long.")] = 90,
    days: Annotated[int, typer.Option(help="Activity window in days.")] = 365,
    json_: JsonOpt = False,
) -> None:
    """Users, roles, last login, actions per role, segregation-of-duties conflicts."""
    s = store()
    user = _need_user(user)
    role = require(s, user, Action.READ_USERS, "access-review").role
    report = build_access_review(s, dormant_days=dormant_days, days=days)
    with s.write() as conn:
        audit.append(
            conn,
            s,
            AuditEntry(
                actor=user,
                role=role,
                action="access_review.run",
                subject="access-review",
                data={"summary": report["summary"]},
                outcome="ok",
            ),
        )
    if json_:
        print_json(report)
        return
    t = table(
        "user",
        "role",
        "active",
        Col("last login", text=True),
        "dormant",
        Col("actions", justify="right"),
        Col("denials", justify="right"),
        Col("conflicts", justify="right"),
        title="users",
    )
    for u in report["users"]:
        t.add_row(
            u["name"],
            u["role"],
            "yes" if u["active"] else "no",
            (u["last_login_at"] or "never")[:16],
            "DORMANT" if u["dormant"] else "",
            str(sum(u["actions"].values())),
            str(u["denials"]),
            str(u["conflicts"]),
        )
    console.print(t)
    r = table(
        "role", Col("users", text=True), Col("may", text=True), Col("actions", justify="right"), title="roles"
    )
    for name, info in report["roles"].items():
        r.add_row(name, " ".join(info["users"]), " ".join(info["may"]), str(sum(info["actions"].values())))
    console.print(r)
    if report["conflicts"]:
        c = table(
            "code", "user", "subject", Col("detail", text=True), title="segregation-of-duties conflicts"
        )
        for x in report["conflicts"]:
            c.add_row(x["code"], x["user"], x["subject"] or "", x["detail"])
        console.print(c)
    else:
        console.print("[green]no segregation-of-duties conflicts[/]")


# -- retention ----------------------------------------------------------------------------------------
@retention_app.command("show")
def retention_show(user: UserOpt = None, json_: JsonOpt = False) -> None:
    """Retention days per record class, active legal holds, checkpoints."""
    s = store()
    require(s, _need_user(user), Action.READ_AUDIT, "retention")
    out = {
        "policies": [
            {"class": c, "days": d, "default": retention.CLASSES[c], "what": retention.CLASS_HELP[c]}
            for c, d in retention.policies(s).items()
        ],
        "holds": [h.to_dict() for h in retention.holds(s)],
        "checkpoints": retention.checkpoints(s),
    }
    if json_:
        print_json(out)
        return
    t = table("class", Col("days", justify="right"), Col("what", text=True), title="retention")
    for p in out["policies"]:
        t.add_row(p["class"], "forever" if p["days"] is None else str(p["days"]), p["what"])
    console.print(t)
    for h in out["holds"]:
        console.print(f"hold {h['id']}: {h['scope']} by {h['created_by']} ({h['reason']})")
    for cp in out["checkpoints"]:
        console.print(
            f"checkpoint #{cp['seq']} {cp['hash'][:16]}… {cp['purged']} purged {cp['at'][:19]} ({cp['alg']})"
        )


@retention_app.command("set")
def retention_set(
    record_class: Annotated[str, typer.Argument(help=" | ".join(retention.CLASSES))],
    days: Annotated[str, typer.Argument(help="Days, or 'forever'.")],
    user: UserOpt = None,
) -> None:
    """Set the retention of a record class (compliance; audited)."""
    if days == "forever":
        n: int | None = None
    else:
        try:
            n = int(days)
        except ValueError:
            raise UsageError(f"days is a number or 'forever', got {days!r}", field="days") from None
    retention.set_policy(store(), record_class, n, by=_need_user(user))
    console.print(f"{record_class}: {'forever' if n is None else f'{n} days'}")


@retention_app.command("hold")
def retention_hold(
    scope: Annotated[
        str, typer.Argument(help="item:ID, run:ID, user:NAME, bot:NAME, actor:NAME or class:CLASS")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (case number, litigation).")],
    user: UserOpt = None,
) -> None:
    """Place a legal hold: nothing in its scope is purged until it is released."""
    hold = retention.place_hold(store(), scope, reason, by=_need_user(user))
    console.print(f"legal hold {hold.id} placed on {hold.scope}")


@retention_app.command("release")
def retention_release(
    hold_id: Annotated[int, typer.Argument(help="The hold's id (see `retention show`).")],
    reason: Annotated[str, typer.Option("--reason", help="Why the hold ends.")],
    user: UserOpt = None,
) -> None:
    """Release a legal hold."""
    retention.release_hold(store(), hold_id, reason, by=_need_user(user))
    console.print(f"legal hold {hold_id} released")
