"""``backoffice queue ...`` commands for the daily work around the queue: assign (by hand or
``--auto``), postpone and resume, export the current view, "awaiting my approval", and QA
sampling (``sample``, ``review``, ``accuracy``). Registered on :data:`backoffice.cli.queue.app`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from backoffice.cli._common import console, print_json, store
from backoffice.cli.queue import JsonOpt, UserOpt, _dict_table, _who, app
from backoffice.cli.remote import remote
from backoffice.cli.tables import Col, table
from backoffice.errors import UsageError
from backoffice.pii import Masking
from backoffice.queue import ROOT_CAUSES

__all__ = ["accuracy", "assign", "awaiting", "export", "postpone", "resume", "review", "sample"]


@app.command()
def assign(
    ctx: typer.Context,
    item_id: Annotated[int | None, typer.Argument(help="The item (omit with --auto).")] = None,
    to: Annotated[str | None, typer.Option("--to", help="The worker to assign it to.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the item's assignment.")] = False,
    auto: Annotated[
        bool, typer.Option("--auto", help="Assign every open unassigned item by least open work.")
    ] = False,
    bot: Annotated[str | None, typer.Option(help="With --auto: only this bot's items.")] = None,
    owner_role: Annotated[
        str | None, typer.Option(help="With --auto: only items owned by this role.")
    ] = None,
    user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Assign an item to a worker (team leads), or --auto: each open item to the worker of its
    owner role with the least open work."""
    if auto:
        if item_id is not None or to or clear:
            raise UsageError("--auto assigns many items: give no ITEM_ID, --to or --clear with it")
        if (r := remote(ctx)) is not None:
            got = r.call("POST", "/assign-auto", json={"bot": bot, "owner_role": owner_role})
        else:
            from backoffice.queue.assignment import auto_assign

            got = auto_assign(store(), _who(user), bot=bot, owner_role=owner_role).to_dict()
        if json_:
            print_json(got)
            return
        t = table(Col("item", justify="right"), "assigned to")
        for a in got["assigned"]:
            t.add_row(str(a["id"]), a["to"])
        console.print(t)
        console.print(f"{len(got['assigned'])} item(s) assigned")
        for role, n in got["no_worker"].items():
            console.print(f"{n} item(s) owned by {role} left unassigned: no active {role} to take them")
        return
    if item_id is None:
        raise UsageError("name the item to assign (or use --auto)", field="item_id")
    if bool(to) == clear:
        raise UsageError("give --to USER, or --clear to remove the assignment", field="to")
    if (r := remote(ctx)) is not None:
        d = r.call("POST", f"/items/{item_id}/assign", json={"to": to})
    else:
        from backoffice.queue.assignment import assign as assign_item

        d = assign_item(store(), item_id, _who(user), to).to_dict(masking=Masking())
    if json_:
        print_json(d)
    elif d["assigned_to"]:
        console.print(f"item {item_id} assigned to {d['assigned_to']}")
    else:
        console.print(f"item {item_id} is no longer assigned")


@app.command()
def postpone(
    ctx: typer.Context,
    item_id: int,
    until: Annotated[
        str, typer.Option(help="2026-12-24, 2026-12-24T09:30 (UTC unless an offset), or 3d / 12h.")
    ],
    reason: Annotated[str, typer.Option(help="Why; kept in the audit log.")],
    user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Hide an item from the queue until a date; it comes back by itself (its SLA pauses)."""
    from backoffice.queue.postpone import parse_until

    when = parse_until(until)
    if (r := remote(ctx)) is not None:
        d = r.call("POST", f"/items/{item_id}/postpone", json={"until": when.isoformat(), "reason": reason})
    else:
        from backoffice.queue.postpone import postpone as postpone_item

        d = postpone_item(store(), item_id, _who(user), when, reason).to_dict(masking=Masking())
    if json_:
        print_json(d)
        return
    console.print(
        f"item {item_id} postponed until {when:%Y-%m-%d %H:%M} UTC; now due {(d['due_at'] or '')[:16].replace('T', ' ')}"
    )


@app.command()
def resume(
    ctx: typer.Context,
    item_id: int,
    reason: Annotated[str, typer.Option(help="Why it is back early.")],
    user: UserOpt = None,
) -> None:
    """End an item's postponement now."""
    if (r := remote(ctx)) is not None:
        r.call("POST", f"/items/{item_id}/resume", json={"reason": reason})
    else:
        from backoffice.queue.postpone import resume as resume_item

        resume_item(store(), item_id, _who(user), reason)
    console.print(f"item {item_id} is back in the queue")


@app.command()
def export(
    format_: Annotated[str, typer.Option("--format", help="xlsx or csv")],
    out: Annotated[Path, typer.Option("--out", help="The file to write.")],
    status: Annotated[str | None, typer.Option(help="As for queue list (default: queued).")] = None,
    bot: Annotated[str | None, typer.Option()] = None,
    code: Annotated[str | None, typer.Option()] = None,
    owner_role: Annotated[str | None, typer.Option()] = None,
    assignee: Annotated[str | None, typer.Option()] = None,
    assigned_to: Annotated[str | None, typer.Option(help="Only items assigned to this user.")] = None,
    kind: Annotated[str | None, typer.Option()] = None,
    sla: Annotated[str | None, typer.Option()] = None,
    postponed: Annotated[bool, typer.Option("--postponed", help="Only postponed items.")] = False,
    sort: Annotated[str, typer.Option()] = "due",
    user: UserOpt = None,
) -> None:
    """Export the items a queue list would show to xlsx or CSV: masked as in lists, formula-safe."""
    from backoffice.queue.export import export_view

    filters: dict[str, Any] = {
        "status": status,
        "bot": bot,
        "code": code,
        "owner_role": owner_role,
        "assignee": assignee,
        "assigned_to": assigned_to,
        "kind": kind,
        "sla": sla,
        "postponed": postponed,
    }
    _, n = export_view(store(), _who(user), format_, filters=filters, sort=sort, out=out)
    console.print(f"{n} item(s) written to {out}")


@app.command()
def awaiting(
    bot: Annotated[str | None, typer.Option()] = None,
    user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Items waiting for your check (maker-checker): those you may approve or refuse."""
    from backoffice.queue.approvals import awaiting as awaiting_items

    rows = awaiting_items(store(), _who(user), bot=bot)
    masking = Masking()
    dicts = [it.to_dict(masking=masking) for it in rows]
    if json_:
        print_json(dicts)
        return
    console.print(_dict_table(dicts))
    console.print(f"{len(dicts)} item(s) awaiting your approval")
    if dicts:  # the checker confirms without claiming (a claim of a pending item is refused)
        console.print(
            f"confirm one with `backoffice queue resolve ID --decision approve --reason TEXT --user {_who(user)}`"
        )


def _date(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    from backoffice.queue.postpone import parse_until

    try:
        return parse_until(text)
    except Exception:
        raise UsageError(f"--{name} takes a date like 2026-12-01", field=name) from None


@app.command()
def sample(
    bot: Annotated[str, typer.Option(help="The bot whose finished items to sample.")],
    size: Annotated[int, typer.Option(help="How many items.")],
    seed: Annotated[int, typer.Option(help="The random seed (same seed, same population: same sample).")],
    from_: Annotated[str | None, typer.Option("--from", help="Finished on or after this date (UTC).")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Finished before this date (UTC).")] = None,
    user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Draw a seeded random QA sample of a bot's done and resolved items (QA analysts)."""
    from backoffice.queue.sampling import draw

    s = draw(store(), _who(user), bot, size, seed, date_from=_date(from_, "from"), date_to=_date(to, "to"))
    if json_:
        print_json(s.to_dict())
        return
    t = table(
        Col("#", justify="right"), Col("item", justify="right"), "decided by", title=f"QA sample {s.id}"
    )
    for r in s.reviews:
        t.add_row(str(r["position"]), str(r["item_id"]), r["worker"])
    console.print(t)
    console.print(
        f"sample {s.id}: {len(s.reviews)} of {s.population} finished {bot} items, seed {s.seed}; "
        f"review each with `backoffice queue review ITEM --verdict pass|fail --user {_who(user)}`"
    )


@app.command()
def review(
    item_id: int,
    verdict: Annotated[str, typer.Option(help="pass or fail (a fail reopens the item).")],
    reason: Annotated[str, typer.Option(help="Why (needed for a fail).")] = "",
    root_cause: Annotated[
        str | None, typer.Option(help=" | ".join(ROOT_CAUSES) + " (needed for a fail)")
    ] = None,
    sample_id: Annotated[
        int | None, typer.Option("--sample", help="The sample (default: the item's latest).")
    ] = None,
    user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Record a QA verdict on a sampled item."""
    from backoffice.queue.sampling import review as review_item

    got = review_item(
        store(), item_id, _who(user), verdict, reason=reason, root_cause=root_cause, sample_id=sample_id
    )
    if json_:
        print_json(got)
    elif got["reopened"]:
        console.print(f"item {item_id}: fail recorded (sample {got['sample']}); the item is reopened")
    else:
        console.print(f"item {item_id}: {verdict} recorded (sample {got['sample']})")


@app.command()
def accuracy(
    bot: Annotated[str | None, typer.Option()] = None,
    user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """QA-measured accuracy per bot and per worker, with the number of items reviewed."""
    from backoffice.queue.sampling import accuracy as qa_accuracy
    from backoffice.users import Action, require

    s = store()
    require(s, _who(user), Action.READ_QUEUE, "queue:accuracy")
    got = qa_accuracy(s, bot=bot)
    if json_:
        print_json(got)
        return
    for key, title in (("by_bot", "bot"), ("by_worker", "decided by")):
        t = table(title, *(Col(c, justify="right") for c in ("reviewed", "passed", "failed", "accuracy %")))
        for r in got[key]:
            t.add_row(r["name"], str(r["reviewed"]), str(r["passed"]), str(r["failed"]), str(r["accuracy"]))
        console.print(t)
