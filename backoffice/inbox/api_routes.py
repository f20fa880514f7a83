"""The inbox's JSON API (``/api/v1``) for ``backoffice queue --server URL ...``.

Requests authenticate with a personal API token (``Authorization: Bearer bo_...``; see
``backoffice tokens create``), so associates and leads need no access to the store. Tokens are
made at ``POST /api/v1/tokens`` with the user's password (throttled like the login page). No
cookie is read here, so the API needs no CSRF token. The queue checks each action's permission
as for the CLI and the browser; every audit entry an API request writes records ``auth: token``
(``password`` for a token's creation).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from backoffice import audit
from backoffice.audit import AuditEntry, record
from backoffice.errors import ConflictError, NotFound, PermissionDenied
from backoffice.inbox import throttle
from backoffice.inbox.security import get_store
from backoffice.pii import Masking
from backoffice.plugins import registry
from backoffice.queue import Queue, routing
from backoffice.users import (
    Action,
    User,
    allowed,
    authenticate_token,
    check_password,
    create_token,
    deny,
    list_tokens,
    revoke_token,
)

__all__ = ["ApiAuthError", "api_user", "item_id_of", "router"]

router = APIRouter(prefix="/api/v1")


class ApiAuthError(Exception):
    """No valid token on an API request (401)."""


def api_user(request: Request) -> User:
    """Dependency: the active user of a valid ``Authorization: Bearer`` token."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiAuthError(
            "send a personal API token: Authorization: Bearer bo_... (backoffice tokens create)"
        )
    store = get_store(request)
    asked = request.headers.get(ENGAGEMENT_HEADER)
    if asked is not None and asked != store.engagement:  # the CLI's --engagement: never act elsewhere
        raise ConflictError(
            f"this inbox serves engagement {store.engagement!r}, not {asked!r}: use that engagement's "
            f"inbox, or --engagement {store.engagement}"
        )
    try:
        user = authenticate_token(store, value.strip())
    except PermissionDenied as exc:
        raise ApiAuthError(str(exc)) from None
    request.state.user = user
    return user


#: The header the CLI sends with --server: the engagement it means to act in.
ENGAGEMENT_HEADER = "X-Backoffice-Engagement"


def item_id_of(text: str) -> int:
    """An item id from a path: digits, at most 12 of them (anything else is no item: 404)."""
    if not text.isdigit() or len(text) > 12:
        raise NotFound(f"no item {text!r}")
    return int(text)


def _reader(request: Request, user: User = Depends(api_user)) -> User:
    if not allowed(user.role, Action.READ_QUEUE):
        why = f"{user.name} ({user.role}) may not read the queue"
        raise deny(
            get_store(request), user.name, user.role, f"{request.method} {request.url.path}", None, why
        )
    return user


@router.get("/whoami")
def whoami(user: User = Depends(api_user)) -> dict[str, Any]:
    return {"name": user.name, "role": user.role}


@router.get("/queue")
def queue_list(
    request: Request,
    status: str | None = None,
    bot: str | None = None,
    code: str | None = None,
    owner_role: str | None = None,
    assignee: str | None = None,
    kind: str | None = None,
    sla: str | None = None,
    assigned_to: str | None = None,
    postponed: bool = False,
    sort: str = "due",
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=10**9),
    user: User = Depends(_reader),
) -> dict[str, Any]:
    q = Queue(get_store(request))
    filters = {
        "status": status,
        "bot": bot,
        "code": code,
        "owner_role": owner_role,
        "assignee": assignee,
        "kind": kind,
        "sla": sla,
        "assigned_to": assigned_to,
        "postponed": postponed,
    }
    rows = q.list(sort=sort, limit=limit, offset=offset, **filters)
    masking = Masking()
    return {"items": [r.to_dict(masking=masking) for r in rows], "total": q.count(**filters)}


@router.get("/items/{item_id}")
def item_show(item_id: str, request: Request, user: User = Depends(_reader)) -> dict[str, Any]:
    i = item_id_of(item_id)
    store = get_store(request)
    q = Queue(store)
    it = q.get(i)
    masking = routing.masking_for(user.name, user.role, it)  # its workers see what they must check
    d: dict[str, Any] = it.to_dict(masking=masking)
    d["comments"] = [
        {"user": c["user"], "text": masking.text(c["text"]), "at": c["at"].isoformat()} for c in q.comments(i)
    ]
    d["history"] = [
        {"seq": e["seq"], "at": e["at"], "actor": e["actor"], "action": e["action"], "outcome": e["outcome"]}
        for e in audit.entries(store, subject=f"item:{i}")
    ]
    return d


@router.post("/items/{item_id}/claim")
def item_claim(item_id: str, request: Request, user: User = Depends(api_user)) -> dict[str, Any]:
    it = Queue(get_store(request)).claim(item_id_of(item_id), user.name)
    return it.to_dict(masking=Masking())


class NextBody(BaseModel):
    bot: str | None = None


@router.post("/claim-next")
def claim_next(body: NextBody, request: Request, user: User = Depends(api_user)) -> dict[str, Any]:
    it = Queue(get_store(request)).claim_next(user.name, bot=body.bot)
    return {"item": it.to_dict(masking=Masking()) if it is not None else None}


@router.post("/items/{item_id}/release")
def item_release(item_id: str, request: Request, user: User = Depends(api_user)) -> dict[str, Any]:
    it = Queue(get_store(request)).release(item_id_of(item_id), user.name)
    return it.to_dict(masking=Masking())


class CommentBody(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)


@router.post("/items/{item_id}/comment")
def item_comment(
    item_id: str, body: CommentBody, request: Request, user: User = Depends(api_user)
) -> dict[str, Any]:
    i = item_id_of(item_id)
    Queue(get_store(request)).comment(i, user.name, body.text)
    return {"id": i, "commented": True}


class ResolveBody(BaseModel):
    decision: str
    reason: str = Field(max_length=10_000)
    root_cause: str | None = None
    changes: dict[str, str] | None = None


@router.post("/items/{item_id}/resolve")
def item_resolve(
    item_id: str, body: ResolveBody, request: Request, user: User = Depends(api_user)
) -> dict[str, Any]:
    i = item_id_of(item_id)
    q = Queue(get_store(request))
    model = None
    if body.changes:
        try:
            model = registry().get(q.get(i).row["bot"]).model
        except NotFound:
            model = None
    it = q.resolve(
        i,
        user.name,
        body.decision,
        body.reason,
        root_cause=body.root_cause,
        changes=body.changes,
        model=model,
    )
    return it.to_dict(masking=Masking())


class ReasonBody(BaseModel):
    reason: str = Field(min_length=1, max_length=10_000)


@router.post("/items/{item_id}/escalate")
def item_escalate(
    item_id: str, body: ReasonBody, request: Request, user: User = Depends(api_user)
) -> dict[str, Any]:
    it = Queue(get_store(request)).escalate(item_id_of(item_id), user.name, body.reason)
    return it.to_dict(masking=Masking())


@router.post("/items/{item_id}/reopen")
def item_reopen(
    item_id: str, body: ReasonBody, request: Request, user: User = Depends(api_user)
) -> dict[str, Any]:
    it = Queue(get_store(request)).reopen(item_id_of(item_id), user.name, body.reason)
    return it.to_dict(masking=Masking())


# -- assignment, postponement, bulk (issue 13) ------------------------------------------------------
class AssignBody(BaseModel):
    to: str | None = Field(default=None, max_length=120)


@router.post("/items/{item_id}/assign")
def item_assign(
    item_id: str, body: AssignBody, request: Request, user: User = Depends(api_user)
) -> dict[str, Any]:
    from backoffice.queue.assignment import assign

    it = assign(get_store(request), item_id_of(item_id), user.name, body.to or None)
    return it.to_dict(masking=Masking())


class AutoAssignBody(BaseModel):
    bot: str | None = None
    owner_role: str | None = None


@router.post("/assign-auto")
def assign_auto(body: AutoAssignBody, request: Request, user: User = Depends(api_user)) -> dict[str, Any]:
    from backoffice.queue.assignment import auto_assign

    return auto_assign(get_store(request), user.name, bot=body.bot, owner_role=body.owner_role).to_dict()


class PostponeBody(BaseModel):
    until: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=10_000)


@router.post("/items/{item_id}/postpone")
def item_postpone(
    item_id: str, body: PostponeBody, request: Request, user: User = Depends(api_user)
) -> dict[str, Any]:
    from backoffice.queue.postpone import parse_until, postpone

    it = postpone(get_store(request), item_id_of(item_id), user.name, parse_until(body.until), body.reason)
    return it.to_dict(masking=Masking())


@router.post("/items/{item_id}/resume")
def item_resume(
    item_id: str, body: ReasonBody, request: Request, user: User = Depends(api_user)
) -> dict[str, Any]:
    from backoffice.queue.postpone import resume

    it = resume(get_store(request), item_id_of(item_id), user.name, body.reason)
    return it.to_dict(masking=Masking())


class BulkBody(BaseModel):
    action: str
    ids: list[int] = Field(min_length=1, max_length=500)
    to: str | None = None
    reason: str = Field(default="", max_length=10_000)
    root_cause: str | None = None
    until: str | None = None


@router.post("/bulk")
def bulk(body: BulkBody, request: Request, user: User = Depends(api_user)) -> dict[str, Any]:
    """The inbox's bulk actions for scripts: each item checked and audited on its own; the answer
    lists each item's outcome (``ok`` and ``message``)."""
    from backoffice.errors import BackofficeError
    from backoffice.inbox.queue_routes import bulk_step

    step = bulk_step(get_store(request), user, body.action, body.model_dump())
    results = []
    for i in dict.fromkeys(body.ids):
        try:
            results.append({"id": i, "ok": True, "message": step(i)})
        except BackofficeError as exc:
            results.append({"id": i, "ok": False, "message": str(exc)})
    return {"action": body.action, "done": sum(r["ok"] for r in results), "results": results}


# -- tokens ---------------------------------------------------------------------------------------
class TokenBody(BaseModel):
    user: str = Field(min_length=1, max_length=120)
    password: str = Field(min_length=1, max_length=1000)
    name: str = Field(min_length=1, max_length=120)
    days: int | None = Field(default=None, ge=1, le=365)


@router.post("/tokens")
def token_create(body: TokenBody, request: Request) -> Response:
    """A new token for the user whose password this is (the only API call without a token)."""
    store = get_store(request)
    client = request.client.host if request.client is not None else "?"
    attempt = throttle.begin(store, body.user, client)
    if not attempt.allowed:
        return JSONResponse(
            {"error": f"too many failed logins; try again in {attempt.retry_after} seconds"},
            status_code=429,
            headers={"Retry-After": str(attempt.retry_after)},
        )
    try:
        user = check_password(store, body.user, body.password)
    except PermissionDenied as exc:
        if attempt.audit_failure:
            record(
                store,
                AuditEntry(
                    actor=body.user[:120],
                    action="login.failed",
                    data={
                        "source": "api",
                        "client": client[:200],
                        "failures": attempt.failures,
                        "auth": "password",
                    },
                    outcome="denied",
                ),
            )
        return JSONResponse({"error": str(exc)}, status_code=401)
    throttle.succeeded(store, body.user, client)
    token, secret = create_token(
        store, user.name, body.name, days=body.days or int(store.settings.token_days), auth="password"
    )
    return JSONResponse({"token": secret, **token.to_dict()}, status_code=201)


@router.get("/tokens")
def token_list(request: Request, user: User = Depends(api_user)) -> list[dict[str, Any]]:
    return [t.to_dict() for t in list_tokens(get_store(request), user.name)]


@router.delete("/tokens/{token_id}")
def token_revoke(token_id: str, request: Request, user: User = Depends(api_user)) -> dict[str, Any]:
    if len(token_id) > 24:
        raise NotFound(f"no token {token_id!r}")
    revoke_token(get_store(request), token_id, by=user.name, auth="token")
    return {"id": token_id, "revoked": True}
