"""An item's story: everything about one item, in order, for the inbox and ``audit item``."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from backoffice.audit.chain import ROW_FIELDS
from backoffice.audit.evidence import check_evidence
from backoffice.errors import IntegrityError, NotFound
from backoffice.pii import Masking
from backoffice.schema import audit, comments, evidence, items
from backoffice.store import Store

__all__ = ["item_story"]


def item_story(store: Store, item_id: int, *, unmask: bool = False) -> dict[str, Any]:
    """Everything about one item, in order: its source file, every audit entry from the bot
    reading it to the final decision, its comments, and its evidence files (each re-hashed)."""
    subject = f"item:{item_id}"
    masking = Masking(unmask=unmask)
    with store.read() as conn:
        row = conn.execute(select(items).where(items.c.id == item_id)).first()
        entries = [
            {name: r._mapping[name] for name in ROW_FIELDS}
            for r in conn.execute(select(audit).where(audit.c.subject == subject).order_by(audit.c.seq))
        ]
        notes = [
            {"user": c.user, "text": masking.text(c.text), "at": c.at.isoformat()}
            for c in conn.execute(
                select(comments).where(comments.c.item_id == item_id).order_by(comments.c.id)
            )
        ]
    if row is None and not entries:
        raise NotFound(f"no item {item_id} (and no audit entries about it)")
    item: dict[str, Any] | None = None
    ev_refs: dict[str, dict[str, Any]] = {}
    if row is not None:
        r = dict(row._mapping)
        clear = {
            "id": r["id"],
            "bot": r["bot"],
            "key": r["key"],
            "status": r["status"],
            "kind": r["kind"],
            "amount": r["amount"],
            "currency": r["currency"],
            "source": r["source"],
            "payload": r["payload"],
            "violations": r["violations"],
            "decision": r["decision"],
            "reason": r["reason"],
            "root_cause": r["root_cause"],
            "maker": r["maker"],
            "checker": r["checker"],
            "ruleset_version": r["ruleset_version"],
            "created_at": r["created_at"].isoformat() if r["created_at"] else None,
            "resolved_at": r["resolved_at"].isoformat() if r["resolved_at"] else None,
            "closed_at": r["closed_at"].isoformat() if r["closed_at"] else None,
        }
        item = masking.item(clear, personal=bool(r["personal"]))  # by the bot's data classes
        for ref in r["evidence"] or []:
            if isinstance(ref, dict) and "sha256" in ref:
                ev_refs[str(ref["sha256"])] = dict(ref)
    shown = []
    for e in entries:
        data = masking.entry_data(e["bot"], json.loads(e["data"]))
        for sha in json.loads(e["evidence"]):
            ev_refs.setdefault(sha, {"sha256": sha})
        shown.append({**e, "data": data, "evidence": json.loads(e["evidence"])})
    with store.read() as conn:
        metas = {
            r.sha256: r for r in conn.execute(select(evidence).where(evidence.c.sha256.in_(list(ev_refs))))
        }
    files = []
    for sha, ref in ev_refs.items():
        meta = metas.get(sha)
        try:
            check_evidence(store, sha)
            state = "ok"
        except IntegrityError as exc:
            state = str(exc)
        files.append(
            {
                "sha256": sha,
                "name": ref.get("name") or (meta.name if meta else sha),
                "media_type": ref.get("media_type") or (meta.media_type if meta else None),
                "size": ref.get("size") or (meta.size if meta else None),
                "state": state,
            }
        )
    return {"subject": subject, "item": item, "entries": shown, "comments": notes, "evidence": files}
