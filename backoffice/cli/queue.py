"""``backoffice queue ...``: list, show, claim, release, resolve, comment, reopen, escalate, stats."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from backoffice.authn import authenticated
from backoffice.cli._common import console, parse_pairs, print_json, store
from backoffice.cli.remote import make_remote, remote
from backoffice.cli.tables import Col, table
from backoffice.errors import NotFound, UsageError
from backoffice.pii import Masking
from backoffice.plugins import registry
from backoffice.queue import DECISIONS, ROOT_CAUSES, Queue, QueueItem
from backoffice.queue.maker_checker import tier_article
from backoffice.queue.rounds import history as round_history
from backoffice.queue.routing import masking_for
from backoffice.store import Store
from backoffice.users import Action, User, require

app = typer.Typer(help="Work the exception queue.", no_args_is_help=True)

UserOpt = Annotated[
    str | None,
    typer.Option(
        "--user",
        "-u",
        envvar="BACKOFFICE_USER",
        help="Who acts or reads (local store access; default $BACKOFFICE_USER); with --server the token's user.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def source_line(source: Any) -> str:
    """An item's source reference as a reader writes it: file, locator, sha256 prefix."""
    if not isinstance(source, dict):
        return str(source or "-")
    parts = [str(source.get("file") or "-")]
    if source.get("locator"):
        parts.append(str(source["locator"]))
    if source.get("sha256"):
        parts.append(f"sha256 {str(source['sha256'])[:12]}…")
    return ", ".join(parts)


@app.callback()
def _group(
    ctx: typer.Context,
    server: Annotated[
        str | None,
        typer.Option("--server", help="Act through the inbox at this URL (token in BACKOFFICE_TOKEN)."),
    ] = None,
) -> None:
    """Work the exception queue."""
    r = make_remote(server)
    if r is not None:
        ctx.obj = r
    else:
        ctx.with_resource(authenticated("local"))


def _who(user: str | None) -> str:
    if not user:
        raise UsageError(
            "name who acts or reads with --user NAME (or set BACKOFFICE_USER, or use --server with a token)",
            field="user",
        )
    return user


def _reader(s: Store, user: str | None) -> User:
    """Every read names a user with a role that may read the queue (exit 2 without one, 3 if refused)."""
    return require(s, _who(user), Action.READ_QUEUE, "queue:read")


def _table(rows: list[QueueItem], *, wide: bool = False) -> Table:
    masking = Masking()  # one registry look-up per bot for the whole table
    return _dict_table([it.to_dict(masking=masking) for it in rows], wide=wide)


_NARROW = ("id", "bot", "status", "codes", "amount", "due", "sla", "assignee")
_WIDE_WIDTH = 200  # --wide: every column at full width, whatever the terminal
# Narrowed in this order when the terminal is too narrow: the bot name first ("payroll-r…", then
# "payroll…"), then a long assignee; a rule code only when nothing else gives ("INV-VENDOR-U…").
_NARROW_SHRINK = [("bot", 10), ("assignee", 8), ("bot", 8), ("codes", 13)]
_WIDE = (
    "id",
    "bot",
    "status",
    "kind",
    "prio",
    "codes",
    "amount",
    "due",
    "sla",
    "owner",
    "tier",
    "assignee",
    "assigned",
    "postponed",
)


def _print_table(t: Table, *, wide: bool) -> None:
    if wide:  # every column at its full width, whatever the terminal's
        Console(width=_WIDE_WIDTH, soft_wrap=True).print(t)
    else:
        console.print(t)


def _dict_table(rows: list[dict[str, Any]], *, wide: bool = False) -> Table:
    """Queue rows as the CLI shows them, from the item dicts (local, masked) or the API's: the
    columns that fit 80 characters (an item's codes one per line, never cut inside a code
    unless the terminal is narrower still), or every column with ``wide``."""
    cols = _WIDE if wide else _NARROW
    t = table(
        *(Col(c, justify="right" if c in ("id", "amount", "prio") else "left") for c in cols),
        shrink=None if wide else _NARROW_SHRINK,
    )
    for d in rows:
        status = d["status"] if wide else d["status"].replace("pending_approval", "pending")
        cells = {
            "id": str(d["id"]),
            "bot": d["bot"],
            "status": status,
            "kind": d["kind"],
            "prio": str(d.get("priority") or ""),
            "codes": (" " if wide else "\n").join(d["codes"]),
            "amount": f"{d['amount'] or ''} {d['currency'] or ''}".strip(),
            "due": (d["due_at"] or "")[5 if not wide else 0 : 16].replace("T", " "),
            "sla": (d["sla_state"] or "").replace("_", " ").replace("none", ""),
            "owner": d.get("owner_role") or "",
            "tier": d.get("tier") or "",
            "assignee": d["assignee"] or "",
            "assigned": d.get("assigned_to") or "",
            "postponed": (d.get("postponed_until") or "")[:16].replace("T", " "),
        }
        t.add_row(*(cells[c] for c in cols))
    return t


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="open, claimed, pending_approval, resolved, done, closed, queued")
    ] = None,
    bot: Annotated[str | None, typer.Option(help="Only this bot's items.")] = None,
    code: Annotated[str | None, typer.Option(help="Only items that broke this rule code.")] = None,
    owner_role: Annotated[str | None, typer.Option(help="Only items owned by this role.")] = None,
    assignee: Annotated[str | None, typer.Option(help="Only items claimed by this user.")] = None,
    kind: Annotated[str | None, typer.Option(help="business or system")] = None,
    sla: Annotated[str | None, typer.Option(help="ok, at_risk or overdue")] = None,
    assigned_to: Annotated[str | None, typer.Option(help="Only items assigned to this user.")] = None,
    postponed: Annotated[
        bool, typer.Option("--postponed", help="Only postponed items (hidden otherwise until their date).")
    ] = False,
    sort: Annotated[str, typer.Option(help="due, priority, age, newest, id")] = "due",
    limit: Annotated[int, typer.Option(help="Page size.")] = 100,
    offset: Annotated[int, typer.Option(help="Rows to skip.")] = 0,
    wide: Annotated[bool, typer.Option("--wide", help="Every column (default: those that fit 80).")] = False,
    json_: JsonOpt = False,
    user: UserOpt = None,
) -> None:
    """List queued items (default: everything open, claimed or waiting for approval)."""
    if (r := remote(ctx)) is not None:
        filters = {"status": status, "bot": bot, "code": code, "owner_role": owner_role}
        filters |= {"assignee": assignee, "kind": kind, "sla": sla}
        filters |= {"assigned_to": assigned_to, "postponed": "true" if postponed else None}
        got = r.call("GET", "/queue", params={**filters, "sort": sort, "limit": limit, "offset": offset})
        if json_:
            print_json(got["items"])
            return
        _print_table(_dict_table(got["items"], wide=wide), wide=wide)
        console.print(f"{len(got['items'])} of {got['total']} shown")
        return
    s = store()
    _reader(s, user)
    q = Queue(s)
    rows = q.list(
        status=status,
        bot=bot,
        code=code,
        owner_role=owner_role,
        assignee=assignee,
        kind=kind,
        sla=sla,
        assigned_to=assigned_to,
        postponed=postponed,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    if json_:
        masking = Masking()
        print_json([r.to_dict(masking=masking) for r in rows])
        return
    _print_table(_table(rows, wide=wide), wide=wide)
    total = q.count(
        status=status,
        bot=bot,
        code=code,
        owner_role=owner_role,
        assignee=assignee,
        kind=kind,
        sla=sla,
        assigned_to=assigned_to,
        postponed=postponed,
    )
    console.print(f"{len(rows)} of {total} shown")


@app.command()
def show(ctx: typer.Context, item_id: int, json_: JsonOpt = False, user: UserOpt = None) -> None:
    """One item with its violations, evidence, comments and history (its workers see its pay figures)."""
    if (r := remote(ctx)) is not None:
        d = r.call("GET", f"/items/{item_id}")
    else:
        s = store()
        reader = _reader(s, user)
        q = Queue(s)
        from backoffice import audit

        it = q.get(item_id)
        masking = masking_for(reader.name, reader.role, it)
        d = it.to_dict(masking=masking)
        d["comments"] = [
            {"user": c["user"], "text": masking.text(c["text"]), "at": c["at"].isoformat()}
            for c in q.comments(item_id)
        ]
        d["history"] = [
            {
                "seq": e["seq"],
                "at": e["at"],
                "actor": e["actor"],
                "action": e["action"],
                "outcome": e["outcome"],
            }
            for e in audit.entries(s, subject=f"item:{item_id}")
        ]
        d["rounds"] = [  # every round's violations, kept across corrections and reopens
            {
                "round": r["round"],
                "queued_at": r["queued_at"].isoformat(),
                "opened_by": r["opened_by"],
                "decision": r["decision"],
                "maker": r["maker"],
                "checker": r["checker"],
                "violations": masking.violations(d["bot"], r["violations"]),
            }
            for r in round_history(s, item_id)
        ]
    if json_:
        print_json(d)
        return
    console.print(
        f"[bold]item {d['id']}[/] {d['bot']}  status={d['status']} kind={d['kind']} tier={d['tier']}"
    )
    amount = f"{d['amount']} {d['currency'] or ''}".strip() if d["amount"] is not None else "-"
    console.print(f"source: {source_line(d['source'])}   amount: {amount}   due: {d['due_at']}")
    t = table(
        "code",
        "field",
        Col("expected", text=True),
        Col("actual", text=True),
        Col("message", text=True),
        title="violations",
        shrink={"field": 16, "code": 13},
    )
    for v in d["violations"]:
        t.add_row(
            v["code"],
            str(v.get("field") or ""),
            str(v.get("expected") or ""),
            str(v.get("actual") or ""),
            v["message"],
        )
    console.print(t)
    for e in d["evidence"]:
        console.print(f"evidence: {e['name']} sha256={e['sha256']}")
    for r in d.get("rounds") or []:
        who = f" by {r['maker']}" if r["maker"] else ""
        who += f", checked by {r['checker']}" if r["checker"] else ""
        codes = ", ".join(f"{v['code']} ({v.get('expected')} / {v.get('actual')})" for v in r["violations"])
        console.print(
            f"round {r['round']} {r['queued_at'][:16]}: {codes or 'reopened by ' + r['opened_by']}"
            + (f" -> {r['decision']}{who}" if r["decision"] else "")
        )
    for h in d["history"]:
        console.print(f"  #{h['seq']} {h['at'][:19]} {h['actor']} {h['action']} {h['outcome'] or ''}")


@app.command()
def claim(ctx: typer.Context, item_id: int, user: UserOpt = None) -> None:
    """Claim an item for the lease time."""
    if (r := remote(ctx)) is not None:
        d = r.call("POST", f"/items/{item_id}/claim")
        console.print(f"item {item_id} claimed by {d['assignee']} until {d['lease_until'][:16]} UTC")
        return
    it = Queue(store()).claim(item_id, _who(user))
    console.print(f"item {item_id} claimed by {user} until {it.row['lease_until']:%Y-%m-%d %H:%M} UTC")


@app.command("next")
def next_(
    ctx: typer.Context,
    user: UserOpt = None,
    bot: Annotated[str | None, typer.Option()] = None,
    json_: JsonOpt = False,
) -> None:
    """Claim the most urgent open item."""
    if (r := remote(ctx)) is not None:
        got = r.call("POST", "/claim-next", json={"bot": bot})["item"]
        if got is None:
            console.print("nothing to claim")
            raise typer.Exit(0)
        if json_:
            print_json(got)
        else:
            console.print(f"claimed item {got['id']} ({' '.join(got['codes'])})")
        return
    it = Queue(store()).claim_next(_who(user), bot=bot)
    if it is None:
        console.print("nothing to claim")
        raise typer.Exit(0)
    if json_:
        print_json(it.to_dict())
    else:
        console.print(f"claimed item {it.row['id']} ({' '.join(it.to_dict()['codes'])})")


@app.command()
def release(ctx: typer.Context, item_id: int, user: UserOpt = None) -> None:
    """Give a claimed item back to the queue."""
    if (r := remote(ctx)) is not None:
        r.call("POST", f"/items/{item_id}/release")
    else:
        Queue(store()).release(item_id, _who(user))
    console.print(f"item {item_id} released")


@app.command()
def comment(
    ctx: typer.Context,
    item_id: int,
    text: Annotated[str, typer.Option("--text", help="The comment.")],
    user: UserOpt = None,
) -> None:
    """Add a comment to an item."""
    if (r := remote(ctx)) is not None:
        r.call("POST", f"/items/{item_id}/comment", json={"text": text})
    else:
        Queue(store()).comment(item_id, _who(user), text)
    console.print(f"comment added to item {item_id}")


@app.command()
def resolve(
    ctx: typer.Context,
    item_id: int,
    decision: Annotated[str, typer.Option(help=" | ".join(DECISIONS))],
    reason: Annotated[str, typer.Option(help="Why; kept in the audit log.")],
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="FIELD=VALUE (dotted paths like lines.0.quantity); with --decision correct."
        ),
    ] = None,
    root_cause: Annotated[str | None, typer.Option(help=" | ".join(ROOT_CAUSES))] = None,
    json_: JsonOpt = False,
    user: UserOpt = None,
) -> None:
    """Approve, correct or reject an item (approvals need a second person: maker-checker)."""
    if (r := remote(ctx)) is not None:
        body = {"decision": decision, "reason": reason, "root_cause": root_cause}
        d = r.call(
            "POST",
            f"/items/{item_id}/resolve",
            json=body | {"changes": parse_pairs(set_ or []) or None},
        )
        if json_:
            print_json(d)
        elif d["status"] == "pending_approval":
            console.print(f"item {item_id}: approval requested; {tier_article(d['tier'])} must check it")
        else:
            console.print(f"item {item_id} resolved: {d['decision']}")
        return
    user = _who(user)
    s = store()
    q = Queue(s)
    changes = parse_pairs(set_ or [])
    model = None
    if changes:
        try:
            model = registry().get(q.get(item_id).row["bot"]).model
        except NotFound:
            model = None
    it = q.resolve(
        item_id, user, decision, reason, root_cause=root_cause, changes=changes or None, model=model
    )
    if json_:
        print_json(it.to_dict())
    elif it.status == "pending_approval":
        console.print(
            f"item {item_id}: approval requested; {tier_article(it.row['tier'])} who is not {user} must check it"
        )
    else:
        console.print(f"item {item_id} resolved: {it.row['decision']}")


@app.command()
def reopen(
    ctx: typer.Context, item_id: int, reason: Annotated[str, typer.Option()], user: UserOpt = None
) -> None:
    """Reopen a decided or finished item (sample review)."""
    if (r := remote(ctx)) is not None:
        r.call("POST", f"/items/{item_id}/reopen", json={"reason": reason})
    else:
        Queue(store()).reopen(item_id, _who(user), reason)
    console.print(f"item {item_id} reopened")


@app.command()
def escalate(
    ctx: typer.Context, item_id: int, reason: Annotated[str, typer.Option()], user: UserOpt = None
) -> None:
    """Move an item up one tier."""
    if (r := remote(ctx)) is not None:
        tier = r.call("POST", f"/items/{item_id}/escalate", json={"reason": reason})["tier"]
    else:
        tier = Queue(store()).escalate(item_id, _who(user), reason).row["tier"]
    console.print(f"item {item_id} escalated to {tier}")


@app.command()
def stats(
    bot: Annotated[str | None, typer.Option()] = None, json_: JsonOpt = False, user: UserOpt = None
) -> None:
    """KPIs: straight-through rate, exception rate by rule, handling and waiting time, SLA attainment,
    backlog age."""
    s = store()
    _reader(s, user)
    st = Queue(s).stats(bot=bot)
    if json_:
        print_json(st)
        return
    t = table("figure", Col("value", justify="right"), title="queue KPIs" + (f" ({bot})" if bot else ""))
    for k in (
        "items",
        "queued",
        "straight_through_rate",
        "exception_rate",
        "avg_handling_seconds",
        "avg_waiting_seconds",
        "sla_attainment",
    ):
        t.add_row(k, str(st[k]))
    for k, v in st["backlog_age_seconds"].items():
        t.add_row(f"backlog age {k} (s)", str(v))
    for k, v in st["ageing_buckets"].items():
        t.add_row(f"ageing {k}", str(v))
    for k, v in st["exceptions_by_code"].items():
        t.add_row(f"code {k}", str(v))
    console.print(t)


@app.command()
def trends(
    bot: Annotated[str | None, typer.Option()] = None,
    days: Annotated[int | None, typer.Option(help="The last N days, today included (default 30).")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD (UTC).")] = None,
    to: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD (default today).")] = None,
    json_: JsonOpt = False,
    user: UserOpt = None,
) -> None:
    """KPIs over time, per UTC day: straight-through rate, backlog at the end of the day, SLA
    attainment; and the period's exceptions by rule, most first (the KPI page's charts)."""
    from backoffice.queue.trends import Period, daily

    s = store()
    _reader(s, user)
    period = Period.parse(from_, to, str(days) if days is not None else None)
    tr = daily(s, period, bot=bot)
    if json_:
        print_json(tr)
        return
    t = table(
        "day",
        *(Col(c, justify="right") for c in ("processed", "straight %", "backlog", "decided", "SLA %")),
        title=f"queue KPIs per day, {tr['from']} to {tr['to']}" + (f" ({bot})" if bot else ""),
    )
    for d in tr["days"]:
        t.add_row(
            d["day"],
            str(d["processed"]),
            "–" if d["straight_through_rate"] is None else str(d["straight_through_rate"]),
            str(d["backlog"]),
            str(d["decided"]),
            "–" if d["sla_attainment"] is None else str(d["sla_attainment"]),
        )
    console.print(t)
    r = table(
        "code",
        Col("items", justify="right"),
        Col("% of processed", justify="right"),
        title="exceptions by rule in the period",
    )
    for b in tr["by_code"]:
        r.add_row(b["code"], str(b["items"]), "–" if b["percent"] is None else str(b["percent"]))
    console.print(r)
