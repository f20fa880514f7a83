"""The audit explorer (``/audit``): search the log, an item's full story, evidence-pack export,
chain verification, retention and legal holds, and the access review.

Who: roles that may read the audit log (compliance in full; qa_analyst sees it masked).
Export, unmasking, holds and the access review are compliance's. Personal data is masked
unless a compliance user asks for clear values with a reason (a POST, audited as
``pii.unmasked``). Every look at the log is itself audited (``audit.viewed``).
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.responses import FileResponse, Response

from backoffice import audit, pii, retention
from backoffice.access_review import access_review
from backoffice.audit import AuditEntry, record
from backoffice.audit.pack import PackFilters, export_pack
from backoffice.audit.story import item_story
from backoffice.errors import InputError
from backoffice.inbox.ids import id_or_404, int_or_400
from backoffice.inbox.security import csrf_form, get_store, require_action, require_role
from backoffice.inbox.web import render
from backoffice.schema import audit as audit_table
from backoffice.store import Store, utcnow
from backoffice.users import Action, User

__all__ = ["router"]

router = APIRouter()
PAGE = 100
_FILTERS = ("since", "until", "actor", "action", "item", "subject", "bot")


def _record(store: Store, user: User, what: str, details: dict[str, Any], unmasked: bool = False) -> None:
    """Access to the audit log is itself audited."""
    record(
        store,
        AuditEntry(
            actor=user.name,
            role=user.role,
            action="audit.viewed",
            subject="audit:read",
            data={"what": what, **details, "unmasked": unmasked, "source": "inbox"},
            outcome="ok",
        ),
    )


def _day(text: str, field: str, *, end: bool = False) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"not a date: {text!r} (use YYYY-MM-DD)", field=field) from None
    if len(text) == 10 and end:
        when = datetime.combine(when.date(), time.max)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _filters(source: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in _FILTERS:
        value = source.get(name)
        out[name] = value.strip()[:200] if isinstance(value, str) else ""
    return out


def _subject(f: dict[str, str]) -> str | None:
    if f["item"]:
        item = f["item"].removeprefix("item:").removeprefix("#")
        if not item.isdigit():
            raise InputError(f"an item is a number, got {f['item']!r}", field="item")
        return f"item:{item}"
    return f["subject"] or None


def _search(
    store: Store, f: dict[str, str], before: int | None, unmask: bool
) -> tuple[list[dict[str, Any]], int | None]:
    c = audit_table.c
    q = select(audit_table)
    since, until = _day(f["since"], "since"), _day(f["until"], "until", end=True)
    if since:
        q = q.where(c.at >= since.isoformat(timespec="microseconds"))
    if until:
        q = q.where(c.at <= until.isoformat(timespec="microseconds"))
    if f["actor"]:
        q = q.where(c.actor == f["actor"])
    if f["action"]:
        action = f["action"]
        if action.endswith(("*", ".")):  # "item.*" or "item." : every item action
            q = q.where(c.action.startswith(action.rstrip("*"), autoescape=True))
        else:
            q = q.where(c.action == action)
    subject = _subject(f)
    if subject:
        q = q.where(c.subject == subject)
    if f["bot"]:
        q = q.where(c.bot == f["bot"])
    if before is not None:
        q = q.where(c.seq < before)
    with store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q.order_by(c.seq.desc()).limit(PAGE + 1))]
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    masking = pii.Masking(unmask=unmask)
    for r in rows:
        r["data"] = masking.entry_data(r["bot"], json.loads(r["data"]))
        r["evidence"] = json.loads(r["evidence"])
        r["item_id"] = (
            int(r["subject"][5:])
            if (r["subject"] or "").startswith("item:") and r["subject"][5:].isdigit()
            else None
        )
    return rows, (rows[-1]["seq"] if more and rows else None)


def _explorer(
    request: Request,
    user: User,
    source: Any,
    *,
    unmask: bool = False,
    reason: str = "",
    flash: str | None = None,
) -> Response:
    store = get_store(request)
    f = _filters(source)
    before_text = source.get("before") or ""
    before = int_or_400(before_text, "before") if isinstance(before_text, str) and before_text else None
    if unmask:
        pii.record_unmask(store, user.name, "audit:read", reason, "audit explorer search")
    rows, next_before = _search(store, f, before, unmask)
    _record(store, user, "search", {"filters": {k: v for k, v in f.items() if v}, "before": before}, unmask)
    query = {k: v for k, v in f.items() if v}
    return render(
        request,
        "audit.html",
        {
            "f": f,
            "rows": rows,
            "unmasked": unmask,
            "next_link": "/audit?" + urlencode({**query, "before": next_before}) if next_before else None,
            "first_link": "/audit?" + urlencode(query) if before is not None else None,
            "may_unmask": pii.may_unmask(user.role),
            "may_export": user.role == "compliance",
            "flash": flash,
        },
    )


@router.get("/audit")
def explorer(request: Request, user: User = Depends(require_action(Action.READ_AUDIT))) -> Response:
    return _explorer(request, user, request.query_params)


@router.post("/audit/unmask")
def explorer_unmasked(
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_AUDIT)),
) -> Response:
    reason = form.get("reason")
    return _explorer(request, user, form, unmask=True, reason=reason if isinstance(reason, str) else "")


@router.post("/audit/verify")
def verify_chain(
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_AUDIT)),
) -> Response:
    store = get_store(request)
    result = audit.verify(store)
    record(
        store,
        AuditEntry(
            actor=user.name,
            role=user.role,
            action="audit.verified",
            data=result.to_dict(),
            outcome="ok" if result.ok else "failed",
        ),
    )
    if result.ok:
        flash = (
            f"Audit chain intact: {result.checked} entries checked (#{result.start_seq}..#{result.head_seq})."
        )
        return _explorer(request, user, {}, flash=flash)
    ctx = {
        "heading": "Audit chain broken",
        "message": f"entry {result.first_bad_seq}: {result.reason}",
        "back": "/audit",
    }
    return render(request, "problem.html", ctx, status_code=409)


# -- an item's story ------------------------------------------------------------------------------
def _story(request: Request, user: User, item_id: str, *, unmask: bool = False, reason: str = "") -> Response:
    if not item_id.isdigit():
        raise InputError(f"an item is a number, got {item_id!r}", field="item")
    id_or_404(item_id)
    store = get_store(request)
    if unmask:
        pii.record_unmask(store, user.name, f"item:{item_id}", reason, "item story")
    story = item_story(store, int(item_id), unmask=unmask)
    _record(store, user, "item story", {"item": int(item_id)}, unmask)
    item = story["item"]
    payload_rows = _flatten(item["payload"]) if item else []
    return render(
        request,
        "audit_item.html",
        {
            "story": story,
            "item": item,
            "item_id": int(item_id),
            "payload_rows": payload_rows,
            "unmasked": unmask,
            "may_unmask": pii.may_unmask(user.role),
            "may_export": user.role == "compliance",
        },
    )


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    """``{"a": {"b": 1}, "c": [2]}`` -> ``[("a.b", "1"), ("c.0", "2")]``."""
    if isinstance(obj, dict):
        return [row for k, v in obj.items() for row in _flatten(v, f"{prefix}{k}.")]
    if isinstance(obj, list):
        return [row for i, v in enumerate(obj) for row in _flatten(v, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), "–" if obj is None else str(obj))]


@router.get("/audit/items/{item_id}")
def story_page(
    item_id: str, request: Request, user: User = Depends(require_action(Action.READ_AUDIT))
) -> Response:
    return _story(request, user, item_id)


@router.post("/audit/items/{item_id}/unmask")
def story_unmasked(
    item_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_AUDIT)),
) -> Response:
    reason = form.get("reason")
    return _story(request, user, item_id, unmask=True, reason=reason if isinstance(reason, str) else "")


# -- export -----------------------------------------------------------------------------------------
def _int(form: FormData, name: str) -> int | None:
    value = form.get(name)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise InputError(f"{name} is a whole number, got {value!r}", field=name) from None


@router.post("/audit/export")
def export(
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.EXPORT_AUDIT)),
) -> Response:
    """The same evidence pack as ``backoffice audit export``, as a download."""
    store = get_store(request)
    f = _filters(form)
    subject = _subject(f)
    filters = PackFilters(
        since=_day(f["since"], "since"),
        until=_day(f["until"], "until", end=True),
        bot=f["bot"] or None,
        item=subject,
        actor=f["actor"] or None,
        action=f["action"] or None,
        sample=_int(form, "sample"),
        seed=_int(form, "seed"),
    )
    unmask = form.get("unmask") == "1"
    reason = form.get("reason")
    tmpdir = Path(tempfile.mkdtemp(prefix="pack-", dir=store.home))
    name = f"evidence-pack-{utcnow().strftime('%Y%m%dT%H%M%SZ')}.zip"
    try:
        export_pack(
            store,
            tmpdir / name,
            user=user.name,
            filters=filters,
            unmask=unmask,
            reason=reason if isinstance(reason, str) else None,
        )
    except Exception:
        _cleanup(tmpdir)
        raise
    return FileResponse(
        tmpdir / name,
        media_type="application/zip",
        filename=name,
        background=BackgroundTask(_cleanup, tmpdir),
    )


def _cleanup(path: Path) -> None:
    for p in sorted(path.glob("*"), reverse=True):
        p.unlink(missing_ok=True)
    path.rmdir()


# -- access review ------------------------------------------------------------------------------------
@router.get("/audit/access-review")
def access_review_page(request: Request, user: User = Depends(require_role("compliance"))) -> Response:
    store = get_store(request)
    report = access_review(store)
    record(
        store,
        AuditEntry(
            actor=user.name,
            role=user.role,
            action="access_review.run",
            subject="access-review",
            data={"summary": report["summary"], "source": "inbox"},
            outcome="ok",
        ),
    )
    return render(request, "audit_access_review.html", {"report": report})


# -- retention and legal holds --------------------------------------------------------------------------
def _retention_page(request: Request, flash: str | None = None) -> Response:
    store = get_store(request)
    return render(
        request,
        "audit_retention.html",
        {
            "policies": [
                {"class": c, "days": d, "default": retention.CLASSES[c], "what": retention.CLASS_HELP[c]}
                for c, d in retention.policies(store).items()
            ],
            "holds": retention.holds(store),
            "checkpoints": retention.checkpoints(store),
            "flash": flash,
        },
    )


@router.get("/audit/retention")
def retention_page(request: Request, user: User = Depends(require_role("compliance"))) -> Response:
    return _retention_page(request)


@router.post("/audit/retention/holds")
def place_hold(
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_role("compliance")),
) -> Response:
    scope, reason = form.get("scope"), form.get("reason")
    hold = retention.place_hold(
        get_store(request),
        scope if isinstance(scope, str) else "",
        reason if isinstance(reason, str) else "",
        by=user.name,
    )
    return _retention_page(request, f"Legal hold {hold.id} placed on {hold.scope}.")


@router.post("/audit/retention/holds/{hold_id}/release")
def release_hold(
    hold_id: int,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_role("compliance")),
) -> Response:
    id_or_404(hold_id, "legal hold")
    reason = form.get("reason")
    retention.release_hold(
        get_store(request), hold_id, reason if isinstance(reason, str) else "", by=user.name
    )
    return _retention_page(request, f"Legal hold {hold_id} released.")
