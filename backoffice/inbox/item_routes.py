"""/items/{id}: the item with its violations, evidence, history and comments; its actions.

Actions (POST, CSRF-checked): claim, release, correct, approve, reject, comment, escalate,
reopen, unmask. Who may do what is decided by the core (backoffice.queue / users): a refusal
is audited there and shown as the denial page.
"""

from __future__ import annotations

import io
import json
import re
import threading
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from backoffice.audit import entries, evidence_path
from backoffice.errors import InputError, NotFound
from backoffice.evidence_records import Record, parse_records
from backoffice.inbox.security import csrf_form, get_store, require_action
from backoffice.inbox.web import render
from backoffice.ownership.routing import ItemOwner, item_owner
from backoffice.pii import Masking, iban_spans, record_unmask
from backoffice.queue import QUEUED, ROOT_CAUSES, Queue, QueueItem, routing
from backoffice.queue.maker_checker import owner_gate, tier_article, why_approver
from backoffice.queue.rounds import history as round_history
from backoffice.queue.routing import may_check, may_make
from backoffice.schema import evidence as evidence_table
from backoffice.store import Store, utcnow
from backoffice.users import Action, User, allowed

__all__ = ["flatten", "masking_for", "router"]

router = APIRouter()

_PDFIUM = threading.Lock()
_JSON_INLINE_MAX = 2_000_000  # bytes; bigger JSON evidence is linked, not rendered

_DONE = {
    "claimed": "Claimed. The lease keeps it yours for a while; release it if you stop.",
    "released": "Released back to the queue.",
    "corrected": "Correction saved; the item will be re-checked by all rules when reprocessed.",
    "approval_requested": "Approval proposed; a second person must confirm it.",
    "approved": "Approved.",
    "rejected": "Rejected.",
    "refused": "Approval refused.",
    "commented": "Comment added.",
    "escalated": "Escalated to the next tier.",
    "reopened": "Reopened.",
}


def flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested payload -> ``[("lines.0.qty", 3), ...]`` (scalars only)."""
    out: list[tuple[str, Any]] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, list):
        if not obj:
            out.append((prefix, "[]"))
        for i, v in enumerate(obj):
            out.extend(flatten(v, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out.append((prefix, obj))
    return out


def _broken(path: str, fields: set[str]) -> bool:
    for f in fields:
        if path == f or path.startswith(f + ".") or f.startswith(path + "."):
            return True
        # "lines[0].qty" and "lines.0.qty" are the same place
        if path == re.sub(r"\[(\d+)\]", r".\1", f):
            return True
    return False


def _tables(payload: Any, fields: set[str], prefix: str = "") -> list[dict[str, Any]]:
    """Lists of records in the payload (invoice lines, matched PO/receipt lines) as tables."""
    out: list[dict[str, Any]] = []
    if isinstance(payload, dict):
        for k, v in payload.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, list) and v and all(isinstance(r, dict) for r in v):
                cols: list[str] = []
                for r in v:
                    for c in r:
                        if c not in cols and not isinstance(r[c], dict | list):
                            cols.append(c)
                rows = [
                    [(r.get(c), _broken(f"{path}.{i}.{c}", fields)) for c in cols] for i, r in enumerate(v)
                ]
                out.append({"name": path, "columns": cols, "rows": rows})
            elif isinstance(v, dict):
                out.extend(_tables(v, fields, path))
    return out


def _record_view(r: Record, masking: Masking) -> dict[str, Any]:
    """One record of structured evidence as the reader sees it: key/values or a table."""
    marked = set(r.highlight)
    view: dict[str, Any] = {"name": r.name, "kv": None, "table": None, "text": None}
    if isinstance(r.data, dict):
        shown = masking.declared(r.classes, r.data)
        view["kv"] = [
            (
                k,
                {
                    "value": v if not isinstance(v, dict | list) else json.dumps(v, ensure_ascii=False),
                    "broken": k in marked,
                },
            )
            for k, v in shown.items()
        ]
    elif isinstance(r.data, list) and r.data:
        shown = masking.declared({f"*.{k}": v for k, v in r.classes.items()}, r.data)
        rows = [x for x in shown if isinstance(x, dict)]
        tables = _tables({"rows": rows}, {f"rows.{i}.{k}" for i in range(len(rows)) for k in marked})
        view["table"] = tables[0] if tables else None
    else:
        view["text"] = "not found" if r.data is None else "none"
    return view


def _evidence_meta(
    store: Store, refs: list[dict[str, Any]], masking: Masking, bot: str
) -> list[dict[str, Any]]:
    shas = [r.get("sha256") for r in refs if r.get("sha256")]
    known: dict[str, Any] = {}
    if shas:
        with store.read() as conn:
            known = {
                r.sha256: r
                for r in conn.execute(select(evidence_table).where(evidence_table.c.sha256.in_(shas)))
            }
    out = []
    for r in refs:
        sha = str(r.get("sha256") or "")
        media = str(
            r.get("media_type") or (known[sha].media_type if sha in known else "application/octet-stream")
        )
        entry: dict[str, Any] = {
            "hidden": media.startswith("image/") and not r.get("redacted") and not masking.unmask,
            "sha256": sha,
            "name": r.get("name") or sha[:12],
            "media_type": media,
            "size": r.get("size"),
            "stored": sha in known,
            "table": None,
            "text": None,
            "records": None,
        }
        if media == "application/json" and sha in known and int(known[sha].size) <= _JSON_INLINE_MAX:
            try:
                data = json.loads(evidence_path(store, sha).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = None
            found = parse_records(data)
            if found is not None:  # structured records, masked by the classes the bot declared
                entry["records"] = [_record_view(r, masking) for r in found]
                out.append(entry)
                continue
            # other JSON evidence is masked by the item's bot's declarations (paths as in its payload)
            data = masking.payload(bot, data) if data is not None else None
            if isinstance(data, dict):
                lists = _tables(data, set())
                entry["table"] = lists or None
                if not lists:
                    entry["text"] = json.dumps(data, indent=2, ensure_ascii=False)[:20000]
            elif isinstance(data, list) and data and all(isinstance(x, dict) for x in data):
                entry["table"] = _tables({"records": data}, set())
            elif data is not None:
                entry["text"] = json.dumps(data, indent=2, ensure_ascii=False)[:20000]
        out.append(entry)
    return out


def _history(store: Store, item_id: int, masking: Masking) -> list[dict[str, Any]]:
    return [masking.entry(r) for r in entries(store, subject=f"item:{item_id}")]


def _page_hint(source: dict[str, Any] | None) -> int:
    loc = str((source or {}).get("locator") or "")
    m = re.search(r"page\s*(\d+)", loc, re.IGNORECASE)
    return int(m.group(1)) if m else 1


def masking_for(user: User, it: QueueItem, *, unmask: bool = False) -> Masking:
    """How ``user`` sees ``it`` (:func:`backoffice.queue.routing.masking_for`)."""
    return routing.masking_for(user.name, user.role, it, unmask=unmask)


def _shown(value: Any) -> Any:
    """A violation's expected/actual for reading: a record as ``key: value`` pairs, a list joined."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_shown(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(_shown(v)) for v in value)
    return value


def _readable(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**v, "expected": _shown(v.get("expected")), "actual": _shown(v.get("actual"))} for v in violations
    ]


def _rounds(store: Store, item_id: int, masking: Masking, bot: str) -> list[dict[str, Any]]:
    """Every round with its violations (masked for the reader), newest first."""
    out = []
    for r in round_history(store, item_id):
        out.append({**r, "violations": _readable(masking.violations(bot, r["violations"]))})
    return out[::-1]


def item_view(
    request: Request,
    user: User,
    item_id: int,
    *,
    unmask: bool = False,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    store = get_store(request)
    q = Queue(store)
    it = q.get(item_id)
    masking = masking_for(user, it, unmask=unmask)
    d = it.to_dict(masking=masking)  # payload, violations, amount by the bot's data classes
    d["violations"] = _readable(d["violations"])
    policy = masking.policy(it.row["bot"])
    fields = {str(v["field"]) for v in d["violations"] if v.get("field")}
    payload_rows = [
        {
            "path": path,
            "value": value,
            "broken": _broken(path, fields),
            "sensitive": policy.conservative or policy.class_of(path) is not None,
        }
        for path, value in flatten(d["payload"])
    ]
    known = {r["path"] for r in payload_rows}
    # the fields that broke a rule first, also when the payload does not hold them yet
    broken_rows = [r for r in payload_rows if r["broken"]] + [
        {"path": f, "value": None, "broken": True, "sensitive": policy.class_of(f) is not None}
        for f in sorted(fields)
        if f not in known and not any(p.startswith(f + ".") for p in known)
    ]
    done = request.query_params.get("done", "")
    is_mine = it.status == "claimed" and it.assignee == user.name
    tier = it.row["tier"]
    can_check = (
        it.status == "pending_approval"
        and allowed(user.role, Action.APPROVE)
        and user.role != "admin"
        and it.row["maker"] != user.name
    )
    above_limit = q._above_limit(it)
    needs_approver = can_check and above_limit and not allowed(user.role, Action.APPROVE_ABOVE_LIMIT)
    below_tier = can_check and not needs_approver and not may_check(user.role, tier)
    owner, gate = _ownership(store, it)
    ctx = {
        "owner": owner,  # the ownership register's decision owner, backup and response commitment
        "owner_gate": gate if gate not in (None, user.name) else None,
        "it": it,
        "d": d,
        "payload_rows": payload_rows,
        "tables": _tables(d["payload"], fields),
        "evidence": _evidence_meta(store, d["evidence"] or [], masking, it.row["bot"]),
        "pdf_page": _page_hint(d["source"]),
        "history": _history(store, item_id, masking),
        "rounds": _rounds(store, item_id, masking, it.row["bot"]),
        "comments": [{**c, "text": masking.text(c["text"])} for c in q.comments(item_id)],
        "root_causes": ROOT_CAUSES,
        "is_mine": is_mine,
        "can_claim": allowed(user.role, Action.WORK)
        and it.status in ("open", "claimed")
        and not is_mine
        and may_make(user.role, tier),
        "claim_below_tier": allowed(user.role, Action.WORK)
        and it.status in ("open", "claimed")
        and not may_make(user.role, tier),
        "can_check": can_check and not needs_approver and not below_tier and gate in (None, user.name),
        "needs_approver": needs_approver,
        "below_tier": below_tier,
        "why_approver": why_approver(it, store.settings) if above_limit else None,
        "checker_words": tier_article(tier or "team_lead"),
        "can_escalate": allowed(user.role, Action.ESCALATE)
        and it.status in QUEUED
        and it.row["tier"] != "approver",
        "can_reopen": allowed(user.role, Action.REOPEN) and it.status in ("resolved", "closed", "done"),
        "can_unmask": allowed(user.role, Action.UNMASK) and not unmask,
        "can_reprocess": it.status == "resolved"
        and (allowed(user.role, Action.WORK) or allowed(user.role, Action.RUN)),
        "unmasked": unmask,
        "sees_figures": bool(masking.clear)
        and (policy.amount_personal or any(c in masking.clear for c in policy.classes.values())),
        "correctable": broken_rows,
        "other_fields": [r for r in payload_rows if not r["broken"]],
        "flash": _DONE.get(done),
        "error": error,
        "above_limit": above_limit,
        "delegated_limit": store.settings.delegated_limit,
        "currency": store.settings.company_currency,
    }
    return render(request, "item.html", ctx, status_code=status_code)


def _id(item_id: str) -> int:
    if not item_id.isdigit() or len(item_id) > 12:
        raise NotFound(f"no item {item_id!r}")
    return int(item_id)


def _subject(request: Request, item_id: int) -> None:
    request.state.subject = f"item:{item_id}"


def _ownership(store: Store, it: QueueItem) -> tuple[ItemOwner | None, str | None]:
    """The item's owner by the ownership register, and who alone may check it (None: anyone fit)."""
    with store.read() as conn:
        owner = item_owner(conn, it.row, utcnow())
    return owner, owner_gate(store, it) if owner is not None and it.status == "pending_approval" else None


@router.get("/items/{item_id}")
def item_page(
    item_id: str, request: Request, user: User = Depends(require_action(Action.READ_QUEUE))
) -> Response:
    return item_view(request, user, _id(item_id))


def _done(item_id: int, what: str) -> Response:
    return RedirectResponse(f"/items/{item_id}?done={what}", status_code=303)


def _reason(form: FormData) -> str:
    return str(form.get("reason") or "").strip()


def _root_cause(form: FormData) -> str | None:
    value = str(form.get("root_cause") or "").strip()
    return value or None


@router.post("/items/{item_id}/claim")
def claim(
    item_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    i = _id(item_id)
    Queue(get_store(request)).claim(i, user.name)
    return _done(i, "claimed")


@router.post("/items/{item_id}/release")
def release(
    item_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    i = _id(item_id)
    Queue(get_store(request)).release(i, user.name)
    return _done(i, "released")


@router.post("/items/{item_id}/comment")
def comment(
    item_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    i = _id(item_id)
    Queue(get_store(request)).comment(i, user.name, str(form.get("text") or ""))
    return _done(i, "commented")


def _typed(old: Any, new: str) -> Any:
    """Keep the JSON type of the old value when the new text parses as that type."""
    if isinstance(old, bool | int | float) or old is None:
        try:
            value = json.loads(new)
        except ValueError:
            return new
        if old is None or type(value) is type(old) or (isinstance(old, float) and isinstance(value, int)):
            return value
    return new


def _changes(form: FormData, it: QueueItem, shown_payload: Any) -> dict[str, Any]:
    """The fields the form changed, in one submit: ``set:PATH`` inputs (the broken fields and
    every other field of the payload, pre-filled as the user sees them: a value sent back as shown
    is no change) and ``more``, any number of ``PATH=VALUE`` lines for fields not in the form."""
    current = dict(flatten(it.row["payload"]))
    shown = dict(flatten(shown_payload))
    changes: dict[str, Any] = {}
    for key in form:
        if not key.startswith("set:"):
            continue
        path = key[4:]
        new = str(form.get(key) or "")
        if path not in current:
            if new.strip():  # a broken field the payload does not hold yet
                changes[path] = new.strip()
            continue
        if new == str(shown.get(path)) or (new == "" and current[path] in (None, "")):
            continue  # unchanged (a masked value sent back as shown is not a change)
        changes[path] = _typed(current[path], new)
    for n, line in enumerate(str(form.get("more") or "").splitlines(), 1):
        if not line.strip():
            continue
        path, sep, value = line.partition("=")
        if not sep or not path.strip():
            raise InputError(
                f"line {n} of the further fields: write FIELD=VALUE, got {line.strip()!r}", field="more"
            )
        changes[path.strip()] = _typed(current.get(path.strip()), value.strip())
    return changes


@router.post("/items/{item_id}/correct")
def correct(
    item_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.WORK)),
) -> Response:
    from backoffice.plugins import registry

    i = _id(item_id)
    q = Queue(get_store(request))
    it = q.get(i)
    try:
        model = registry().get(it.row["bot"]).model
        changes = _changes(form, it, masking_for(user, it).payload(it.row["bot"], it.row["payload"]))
        if not changes:
            raise InputError("change at least one field", field="changes")
        q.resolve(
            i, user.name, "correct", _reason(form), root_cause=_root_cause(form), changes=changes, model=model
        )
    except (InputError, NotFound) as exc:
        return item_view(request, user, i, error=f"Correction not saved: {exc}", status_code=400)
    return _done(i, "corrected")


@router.post("/items/{item_id}/approve")
def approve(
    item_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    i = _id(item_id)
    q = Queue(get_store(request))
    try:
        it = q.resolve(i, user.name, "approve", _reason(form), root_cause=_root_cause(form))
    except InputError as exc:
        return item_view(request, user, i, error=str(exc), status_code=400)
    return _done(i, "approved" if it.status == "resolved" else "approval_requested")


@router.post("/items/{item_id}/reject")
def reject(
    item_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    i = _id(item_id)
    q = Queue(get_store(request))
    was = q.get(i).status
    try:
        q.resolve(i, user.name, "reject", _reason(form), root_cause=_root_cause(form))
    except InputError as exc:
        return item_view(request, user, i, error=str(exc), status_code=400)
    return _done(i, "refused" if was == "pending_approval" else "rejected")


@router.post("/items/{item_id}/escalate")
def escalate(
    item_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    i = _id(item_id)
    reason = _reason(form) or "escalated from the inbox"
    Queue(get_store(request)).escalate(i, user.name, reason)
    return _done(i, "escalated")


@router.post("/items/{item_id}/reopen")
def reopen(
    item_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    i = _id(item_id)
    try:
        Queue(get_store(request)).reopen(i, user.name, _reason(form))
    except InputError as exc:
        return item_view(request, user, i, error=str(exc), status_code=400)
    return _done(i, "reopened")


@router.post("/items/{item_id}/unmask")
def unmask(
    item_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    """Show the item with clear values, for roles that may unmask; every unmask is audited."""
    i = _id(item_id)
    _subject(request, i)
    store = get_store(request)
    Queue(store).get(i)  # 404 before anything is recorded
    try:
        record_unmask(store, user.name, f"item:{i}", _reason(form), "inbox item view")
    except InputError as exc:  # PermissionDenied (audited) goes to the denial page
        return item_view(request, user, i, error=str(exc), status_code=400)
    return item_view(request, user, i, unmask=True)


# -- evidence files ---------------------------------------------------------------------------------
def _evidence_row(store: Store, sha256: str) -> Any:
    path = evidence_path(store, sha256)  # NotFound for anything that is not a sha256
    with store.read() as conn:
        row = conn.execute(select(evidence_table).where(evidence_table.c.sha256 == sha256)).first()
    if row is None or not path.exists():
        raise NotFound(f"no evidence file {sha256}")
    return row, path


_INLINE = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "application/json",
}


_UNMASKED_FILES = ("application/pdf", "application/json")  # served as stored: unmask only


def _redacted_on(store: Store, item: str | None, sha256: str) -> bool:
    """Whether item ``item`` lists ``sha256`` as evidence its bot marked redacted (masked when taken)."""
    if item is None or not item.isdigit() or len(item) > 18:
        return False
    try:
        it = Queue(store).get(int(item))
    except NotFound:
        return False
    return any(r.get("sha256") == sha256 and r.get("redacted") for r in it.row.get("evidence") or [])


@router.get("/evidence/{sha256}")
def evidence_file(
    sha256: str,
    request: Request,
    item: str | None = None,
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    store = get_store(request)
    row, path = _evidence_row(store, sha256)
    if row.media_type in _UNMASKED_FILES or (
        str(row.media_type).startswith("image/") and not _redacted_on(store, item, sha256)
    ):
        # the original document (or record file) shows what the item page masks (a full IBAN, pay):
        # its pages and records are shown masked there; the file itself only to a role that may
        # unmask, audited. So is an image its bot did not mark redacted (a page render, a field
        # crop): only an item that lists it as redacted (``?item=ID``) serves it without an unmask.
        record_unmask(store, user.name, f"evidence:{sha256}", "opened the original evidence file", row.name)
    media = row.media_type if row.media_type in _INLINE else "application/octet-stream"
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", row.name)[:100] or sha256[:12]
    disposition = "inline" if media in _INLINE else "attachment"
    headers = {
        "Content-Disposition": f'{disposition}; filename="{safe_name}"',
        "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
    }
    return Response(path.read_bytes(), media_type=media, headers=headers)


_SCALE = 1.4


def _redact(page: Any, image: Any) -> None:
    """Black out every IBAN the page's text layer holds (found as :func:`backoffice.pii.mask_text`
    finds them), keeping its last 4 characters readable: page images are seen by everyone who
    works the queue, and only an audited unmask shows an account in full."""
    from PIL import ImageDraw

    text_page = page.get_textpage()
    try:
        n = text_page.count_chars()
        text = text_page.get_text_range(0, n) if n else ""
        if len(text) != n:  # generated characters shift the offsets: redact nothing wrongly placed
            text = "".join(text_page.get_text_range(i, 1)[:1] or " " for i in range(n))
        draw = ImageDraw.Draw(image)
        height = page.get_height()
        for start, end in iban_spans(text):
            hide = [i for i in range(start, end) if not text[i].isspace()][:-4]
            for i in hide:
                left, bottom, right, top = text_page.get_charbox(i, loose=True)
                draw.rectangle(
                    [left * _SCALE, (height - top) * _SCALE, right * _SCALE, (height - bottom) * _SCALE],
                    fill="black",
                )
    finally:
        text_page.close()


@router.get("/evidence/{sha256}/page/{page}.png")
def evidence_pdf_page(
    sha256: str, page: int, request: Request, user: User = Depends(require_action(Action.READ_QUEUE))
) -> Response:
    """One page of a PDF evidence file rendered server-side (no PDF viewer needed)."""
    import pypdfium2 as pdfium

    store = get_store(request)
    row, path = _evidence_row(store, sha256)
    if row.media_type != "application/pdf":
        raise NotFound(f"evidence {sha256} is not a PDF")
    with _PDFIUM:  # PDFium is not thread-safe; requests run in a thread pool
        try:
            pdf = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            raise InputError(f"the PDF cannot be rendered: {exc}", file=row.name) from None
        try:
            if page < 1 or page > len(pdf):
                raise NotFound(f"the PDF has {len(pdf)} page(s); no page {page}")
            pdf_page = pdf[page - 1]
            image = pdf_page.render(scale=_SCALE).to_pil()
            _redact(pdf_page, image)
        finally:
            pdf.close()
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return Response(buf.getvalue(), media_type="image/png")
