"""Users, roles and what each role may do (DOMAIN.md, Roles).

Passwords are hashed with scrypt (a slow KDF from the standard library). Every user change
is audited; so is every permission denial.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select, update

from backoffice.audit import AuditEntry, append, record
from backoffice.errors import ConflictError, InputError, NotFound, PermissionDenied
from backoffice.schema import audit, users
from backoffice.store import Store, utcnow

__all__ = [
    "RESERVED_NAMES",
    "ROLES",
    "Action",
    "RoleChange",
    "User",
    "add_user",
    "allowed",
    "authenticate",
    "cancel_role",
    "confirm_role",
    "deny",
    "get_user",
    "hash_password",
    "list_users",
    "pending_role_change",
    "pending_role_changes",
    "require",
    "reserved_name",
    "set_password",
    "set_role",
    "verify_password",
]

ROLES = ("rpa_expert", "associate", "team_lead", "approver", "qa_analyst", "compliance", "admin")


class Action(StrEnum):
    RUN = "run"  # run bots, author rules
    WORK = "work"  # claim, release, comment, correct, reject, propose approval (maker)
    APPROVE = "approve"  # check a maker's approval (within limit for team leads)
    APPROVE_ABOVE_LIMIT = "approve_above_limit"  # above the delegated limit, duplicates, bank changes
    REOPEN = "reopen"  # sample review
    ESCALATE = "escalate"
    ASSIGN = "assign"  # assign queued items to workers (by hand or automatically)
    READ_QUEUE = "read_queue"
    READ_AUDIT = "read_audit"  # full audit trail
    EXPORT_AUDIT = "export_audit"
    UNMASK = "unmask"
    MANAGE_USERS = "manage_users"
    READ_USERS = "read_users"
    PROPOSE_RULES = "propose_rules"  # propose a rule-set version (code or tolerance change)
    APPROVE_RULES = "approve_rules"  # approve or reject a proposed rule-set version (client side)
    READ_RULES = "read_rules"  # list, show and preview rule-set versions
    PROPOSE_OWNERS = "propose_owners"  # propose a version of the ownership register (provider side)
    APPROVE_OWNERS = "approve_owners"  # approve or reject it (the client approver)
    READ_INCIDENTS = "read_incidents"  # list and show incidents and their timelines
    HANDLE_INCIDENTS = "handle_incidents"  # acknowledge and resolve an incident (provider side)
    DECIDE_INCIDENTS = "decide_incidents"  # decide whether to notify about it (client side)
    READ_REPORTS = "read_reports"  # the exception register and the governance report


_MATRIX: dict[Action, frozenset[str]] = {
    Action.RUN: frozenset({"rpa_expert"}),
    Action.WORK: frozenset({"associate", "team_lead"}),
    Action.APPROVE: frozenset({"team_lead", "approver"}),
    Action.APPROVE_ABOVE_LIMIT: frozenset({"approver"}),
    Action.REOPEN: frozenset({"qa_analyst"}),
    Action.ESCALATE: frozenset({"associate", "team_lead"}),
    Action.ASSIGN: frozenset({"team_lead"}),
    Action.READ_QUEUE: frozenset(
        {"rpa_expert", "associate", "team_lead", "approver", "qa_analyst", "compliance"}
    ),
    Action.READ_AUDIT: frozenset({"compliance", "qa_analyst"}),  # qa_analyst sees it masked
    Action.EXPORT_AUDIT: frozenset({"compliance"}),
    Action.UNMASK: frozenset({"compliance"}),
    Action.MANAGE_USERS: frozenset({"admin"}),
    Action.READ_USERS: frozenset({"admin", "compliance"}),
    Action.PROPOSE_RULES: frozenset({"rpa_expert"}),
    Action.APPROVE_RULES: frozenset({"approver"}),
    Action.READ_RULES: frozenset({"rpa_expert", "approver", "compliance"}),
    Action.PROPOSE_OWNERS: frozenset({"rpa_expert", "team_lead"}),
    Action.APPROVE_OWNERS: frozenset({"approver"}),
    Action.READ_INCIDENTS: frozenset({"rpa_expert", "team_lead", "approver", "compliance"}),
    Action.HANDLE_INCIDENTS: frozenset({"rpa_expert", "team_lead"}),
    Action.DECIDE_INCIDENTS: frozenset({"approver"}),
    Action.READ_REPORTS: frozenset({"team_lead", "approver", "compliance", "qa_analyst"}),
}


@dataclass(frozen=True)
class User:
    name: str
    role: str
    active: bool = True
    last_login_at: datetime | None = None
    has_password: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "active": self.active,
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
            "has_password": self.has_password,
        }


def allowed(role: str, action: Action) -> bool:
    return role in _MATRIX[action]


# -- passwords ----------------------------------------------------------------------------------
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    salt64, digest64 = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt64}${digest64}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    got = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), dklen=32, n=int(n), r=int(r), p=int(p)
    )
    return hmac.compare_digest(got, base64.b64decode(digest))


# -- users --------------------------------------------------------------------------------------
def _user(row: Any) -> User:
    return User(
        name=row.name,
        role=row.role,
        active=bool(row.active),
        last_login_at=row.last_login_at,
        has_password=bool(row.password_hash),
    )


def get_user(store: Store, name: str) -> User:
    with store.read() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    if row is None or not row.active:
        if store.engagement != "default":
            raise NotFound(
                f"no such user: {name!r} in engagement {store.engagement!r} (an admin of it adds it with "
                f"`backoffice users assign {name} --engagement {store.engagement} --role ROLE --by ADMIN`)"
            )
        raise NotFound(f"no such user: {name!r} (add it with `backoffice users add {name} --role ROLE`)")
    return _user(row)


def list_users(store: Store) -> list[User]:
    with store.read() as conn:
        return [_user(r) for r in conn.execute(select(users).order_by(users.c.name))]


# Names the system itself writes as audit actors (bots are ``bot:NAME/RUN``, the escalation job
# ``system:escalation``, CLI bootstrap and tools ``bootstrap``, ``cli``, ``demo``...): no person may
# carry one, so that an approval by a person is never mistaken for, or hidden as, a system's.
RESERVED_NAMES = frozenset({"system", "cli", "bootstrap", "demo", "bot", "inbox", "anonymous"})
RESERVED_PREFIXES = ("bot:", "bot-", "bot_", "system")


def reserved_name(name: str) -> str | None:
    """Why ``name`` looks like a bot or a system actor (None when it does not)."""
    low = name.strip().lower()
    if ":" in low or "/" in low:
        return "contains ':' or '/', as bot and system actors do (bot:NAME/RUN, system:escalation)"
    if low in RESERVED_NAMES:
        return f"{low!r} is the name of a system actor"
    if low.startswith(RESERVED_PREFIXES):
        return "starts like a bot or system actor (bot:, bot-, system)"
    return None


def add_user(store: Store, name: str, role: str, *, by: str = "system", password: str | None = None) -> User:
    name = name.strip()
    if not name or len(name) > 120 or any(ch.isspace() or ord(ch) < 32 for ch in name):
        raise InputError("a user name is 1-120 characters without spaces", field="name")
    why = reserved_name(name)
    if why:
        raise InputError(f"user name {name!r} is reserved: it {why}", field="name")
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; roles: {', '.join(ROLES)}", field="role")
    with store.write() as conn:
        if conn.execute(select(users.c.name).where(users.c.name == name)).first() is not None:
            raise ConflictError(f"user {name!r} exists")
        conn.execute(
            insert(users).values(
                name=name,
                role=role,
                active=True,
                created_at=utcnow(),
                password_hash=hash_password(password) if password else None,
            )
        )
        append(
            conn,
            store,
            AuditEntry(actor=by, action="user.added", subject=f"user:{name}", data={"role": role}),
        )
    return User(name=name, role=role, has_password=password is not None)


# -- role changes: four-eyes -----------------------------------------------------------------------
# A role change is requested by one admin and takes effect only when a second admin confirms it
# (neither the requester nor the user whose role changes). The pending request lives in the audit
# log itself: ``user.role_change_requested``, then ``user.role_changed`` (confirmed) or
# ``user.role_change_cancelled``. A store without any admin (bootstrap) changes roles at once.
ROLE_CHANGE_ACTIONS = ("user.role_change_requested", "user.role_changed", "user.role_change_cancelled")


@dataclass(frozen=True)
class RoleChange:
    """A requested role change waiting for a second admin."""

    user: str
    before: str
    role: str
    requested_by: str
    requested_at: datetime
    seq: int  # the audit entry of the request

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "before": self.before,
            "role": self.role,
            "requested_by": self.requested_by,
            "requested_at": self.requested_at.isoformat(),
            "seq": self.seq,
        }


def _admins(store: Store) -> list[str]:
    with store.read() as conn:
        q = select(users.c.name).where(users.c.role == "admin", users.c.active.is_(True))
        return [str(n) for (n,) in conn.execute(q)]


def _pending(conn: Any, name: str) -> RoleChange | None:
    """The open role-change request of ``name`` (the last role-change entry, if it is a request)."""
    q = (
        select(audit.c.seq, audit.c.at, audit.c.actor, audit.c.action, audit.c.data)
        .where(audit.c.subject == f"user:{name}", audit.c.action.in_(ROLE_CHANGE_ACTIONS))
        .order_by(audit.c.seq.desc())
        .limit(1)
    )
    row = conn.execute(q).first()
    if row is None or row.action != "user.role_change_requested":
        return None
    data = json.loads(row.data)
    return RoleChange(
        user=name,
        before=str(data["before"]["role"]),
        role=str(data["after"]["role"]),
        requested_by=str(row.actor),
        requested_at=datetime.fromisoformat(row.at),
        seq=int(row.seq),
    )


def pending_role_change(store: Store, name: str) -> RoleChange | None:
    """The role change of ``name`` waiting for a second admin, if any."""
    with store.read() as conn:
        return _pending(conn, name)


def pending_role_changes(store: Store) -> list[RoleChange]:
    """Every role change waiting for a second admin, by user name."""
    with store.read() as conn:
        names = [str(n) for (n,) in conn.execute(select(users.c.name).order_by(users.c.name))]
        found = [_pending(conn, n) for n in names]
    return [c for c in found if c is not None]


def set_role(store: Store, name: str, role: str, *, by: str = "system") -> RoleChange | None:
    """Request a change of ``name``'s role to ``role`` (four-eyes): ``by`` must be an admin, and
    the change waits for a second admin (:func:`confirm_role`). Returns the pending request; None
    when the store has no admin yet (bootstrap), where the role changes at once."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; roles: {', '.join(ROLES)}", field="role")
    old = get_user(store, name)
    if old.role == role:
        raise ConflictError(f"{name} is already {role}")
    if not _admins(store):
        _apply_role(store, name, old.role, role, by=by, data={"bootstrap": True})
        return None
    admin = require(store, by, Action.MANAGE_USERS, f"user:{name}")
    with store.write() as conn:
        _lock_user(conn, name)
        pending = _pending(conn, name)
        if pending is not None:
            raise ConflictError(
                f"a change of {name}'s role to {pending.role} (requested by {pending.requested_by}) is "
                f"waiting for a second admin: confirm or cancel it first"
            )
        append(
            conn,
            store,
            AuditEntry(
                actor=admin.name,
                role=admin.role,
                action="user.role_change_requested",
                subject=f"user:{name}",
                data={"before": {"role": old.role}, "after": {"role": role}},
                outcome="pending",
            ),
        )
        change = _pending(conn, name)
    assert change is not None
    return change


def confirm_role(store: Store, name: str, role: str, *, by: str) -> None:
    """A second admin confirms the pending change of ``name``'s role to ``role``: not the admin who
    requested it, nor ``name``; within ``role_change_hours`` of the request; the role is applied
    (audited as ``user.role_changed`` with both admins) and ``name``'s inbox sessions end."""
    admin = require(store, by, Action.MANAGE_USERS, f"user:{name}")
    current = get_user(store, name)
    change = pending_role_change(store, name)
    subject = f"user:{name}"
    if change is None:
        raise ConflictError(f"no role change of {name} is waiting for confirmation")
    if change.role != role:
        raise ConflictError(f"the pending change of {name}'s role is to {change.role}, not {role}")
    if admin.name == change.requested_by:
        raise deny(
            store,
            admin.name,
            admin.role,
            "user.confirm_role",
            subject,
            f"four-eyes: {admin.name} requested this role change; a second admin must confirm it",
        )
    if admin.name == name:
        raise deny(
            store,
            admin.name,
            admin.role,
            "user.confirm_role",
            subject,
            f"four-eyes: {admin.name} may not confirm a change of its own role",
        )
    hours = store.settings.role_change_hours
    if (utcnow() - change.requested_at).total_seconds() > hours * 3600:
        raise ConflictError(
            f"the role change of {name} was requested more than {hours} h ago; cancel it and request it again"
        )
    if current.role != change.before:
        raise ConflictError(f"{name}'s role changed since the request ({change.before} -> {current.role})")
    _apply_role(
        store,
        name,
        change.before,
        role,
        by=admin.name,
        data={"requested_by": change.requested_by, "request_seq": change.seq, "confirmed_by": admin.name},
        expect=change.seq,
    )


def cancel_role(store: Store, name: str, *, by: str, reason: str = "") -> RoleChange:
    """An admin (the requester or another) withdraws or refuses the pending change of ``name``'s role."""
    admin = require(store, by, Action.MANAGE_USERS, f"user:{name}")
    with store.write() as conn:
        _lock_user(conn, name)
        change = _pending(conn, name)
        if change is None:
            raise ConflictError(f"no role change of {name} is waiting for confirmation")
        append(
            conn,
            store,
            AuditEntry(
                actor=admin.name,
                role=admin.role,
                action="user.role_change_cancelled",
                subject=f"user:{name}",
                data={"role": change.role, "request_seq": change.seq, "reason": reason},
                outcome="cancelled",
            ),
        )
    return change


def _lock_user(conn: Any, name: str) -> None:
    """Serialise role changes of one user (PostgreSQL; SQLite's write transaction already is)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(users.c.name).where(users.c.name == name).with_for_update())


def _apply_role(
    store: Store,
    name: str,
    before: str,
    role: str,
    *,
    by: str,
    data: dict[str, Any],
    expect: int | None = None,
) -> None:
    with store.write() as conn:
        _lock_user(conn, name)
        if expect is not None:
            pending = _pending(conn, name)
            if pending is None or pending.seq != expect:
                raise ConflictError(f"the role change of {name} was confirmed or cancelled meanwhile")
        conn.execute(update(users).where(users.c.name == name).values(role=role))
        ended = end_sessions(conn, name, "role_changed")
        append(
            conn,
            store,
            AuditEntry(
                actor=by,
                action="user.role_changed",
                subject=f"user:{name}",
                data={"before": {"role": before}, "after": {"role": role}, **data, "sessions_ended": ended},
            ),
        )


def set_password(store: Store, name: str, password: str, *, by: str = "system") -> None:
    if len(password) < 8:
        raise InputError("a password has at least 8 characters", field="password")
    get_user(store, name)
    with store.write() as conn:
        conn.execute(update(users).where(users.c.name == name).values(password_hash=hash_password(password)))
        append(conn, store, AuditEntry(actor=by, action="user.password_set", subject=f"user:{name}"))


def authenticate(store: Store, name: str, password: str, *, source: str = "inbox") -> User:
    """Check a password; logins and failed logins are audited. Raises PermissionDenied."""
    with store.read() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    ok = row is not None and bool(row.active) and verify_password(password, row.password_hash)
    with store.write() as conn:
        if ok:
            conn.execute(update(users).where(users.c.name == name).values(last_login_at=utcnow()))
        append(
            conn,
            store,
            AuditEntry(
                actor=name[:120] or "?",
                role=row.role if row is not None else None,
                action="login" if ok else "login.failed",
                data={"source": source},
                outcome="ok" if ok else "denied",
            ),
        )
    if not ok or row is None:
        raise PermissionDenied("wrong user name or password")
    return _user(row)


def deny(
    store: Store, user: str, role: str | None, action: str, subject: str | None, why: str
) -> PermissionDenied:
    """Audit a refusal (in its own transaction) and return the error to raise."""
    record(
        store,
        AuditEntry(
            actor=user,
            role=role,
            action="permission.denied",
            subject=subject,
            data={"attempted": action, "why": why},
            outcome="denied",
        ),
    )
    return PermissionDenied(why)


def require(store: Store, name: str, action: Action, subject: str | None = None) -> User:
    """The user, if it exists and its role allows ``action``; else an audited PermissionDenied."""
    try:
        user = get_user(store, name)
    except NotFound as exc:
        raise deny(store, name, None, str(action), subject, str(exc)) from None
    if not allowed(user.role, action):
        roles = ", ".join(sorted(_MATRIX[action]))
        raise deny(
            store,
            user.name,
            user.role,
            str(action),
            subject,
            f"{user.name} ({user.role}) may not {action.value.replace('_', ' ')}; roles allowed: {roles}",
        )
    return user


# -- deactivation, sessions and personal API tokens -------------------------------------------------
# (sessions are the inbox's, kept in the store so that the core can end them; tokens authenticate
# the JSON API that `backoffice --server URL queue ...` uses.)

TOKEN_PREFIX = "bo_"  # noqa: S105 (a marker, not a secret)
MAX_TOKEN_DAYS = 365


@dataclass(frozen=True)
class ApiToken:
    id: str
    user: str
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return v.isoformat() if v else None

        return {
            "id": self.id,
            "user": self.user,
            "name": self.name,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "last_used_at": iso(self.last_used_at),
            "revoked_at": iso(self.revoked_at),
            "active": self.revoked_at is None and self.expires_at > utcnow(),
        }


def credential_fingerprint(password_hash: str | None) -> str:
    """What a session remembers of the password it was opened with (a new password ends it)."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()


def check_password(store: Store, name: str, password: str, *, mark_login: bool = True) -> User:
    """The user if ``password`` is its password (active users only); PermissionDenied otherwise.

    Audits nothing: the caller (the inbox's throttled login) decides what to record. The hash is
    checked outside any transaction; ``mark_login=False`` leaves the login time to the caller's
    transaction (:func:`mark_logged_in`)."""
    with store.read() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    ok = row is not None and bool(row.active) and verify_password(password, row.password_hash)
    if not ok or row is None:
        raise PermissionDenied("wrong user name or password")
    if mark_login:
        with store.write() as conn:
            mark_logged_in(conn, name)
    return _user(row)


def mark_logged_in(conn: Any, name: str) -> None:
    """Record ``name``'s login time inside the caller's write transaction."""
    conn.execute(update(users).where(users.c.name == name).values(last_login_at=utcnow()))


def session_binding(store: Store, name: str, *, conn: Any = None) -> tuple[str, str] | None:
    """(role, credential fingerprint) of an active user, None for an unknown or inactive one
    (read in ``conn`` when given)."""
    q = select(users.c.role, users.c.password_hash, users.c.active).where(users.c.name == name)
    if conn is not None:
        row = conn.execute(q).first()
    else:
        with store.read() as own:
            row = own.execute(q).first()
    if row is None or not row.active:
        return None
    return str(row.role), credential_fingerprint(row.password_hash)


def end_sessions(conn: Any, name: str, reason: str) -> int:
    """End every open inbox session of ``name`` inside the caller's transaction; returns how many."""
    from backoffice.schema import sessions

    result = conn.execute(
        update(sessions)
        .where(sessions.c.user == name, sessions.c.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )
    return int(result.rowcount or 0)


def deactivate_user(store: Store, name: str, *, by: str) -> None:
    """Deactivate ``name``: its sessions end and its API tokens are revoked at once (audited)."""
    from backoffice.schema import api_tokens

    with store.write() as conn:
        row = conn.execute(select(users.c.active).where(users.c.name == name)).first()
        if row is None:
            raise NotFound(f"no such user: {name!r}")
        if not row.active:
            raise ConflictError(f"user {name!r} is already inactive")
        if name == by:
            raise ConflictError("an admin may not deactivate itself; another admin must")
        conn.execute(update(users).where(users.c.name == name).values(active=False))
        ended = end_sessions(conn, name, "deactivated")
        revoked = conn.execute(
            update(api_tokens)
            .where(api_tokens.c.user == name, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_by=by)
        ).rowcount
        append(
            conn,
            store,
            AuditEntry(
                actor=by,
                action="user.deactivated",
                subject=f"user:{name}",
                data={"sessions_ended": ended, "tokens_revoked": int(revoked or 0)},
            ),
        )


def _token(row: Any) -> ApiToken:
    return ApiToken(
        id=row.id,
        user=row.user,
        name=row.name,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(store: Store, user: str, name: str, *, days: int, auth: str) -> tuple[ApiToken, str]:
    """A new personal token for ``user`` (who must have authenticated as itself: ``auth`` says how).

    Returns the token and its secret text, shown once; only a hash of the secret is stored."""
    from datetime import timedelta

    from backoffice.schema import api_tokens

    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise InputError(f"a token lasts 1 to {MAX_TOKEN_DAYS} days", field="days")
    name = name.strip()
    if not name or len(name) > 120:
        raise InputError("a token's name is 1-120 characters", field="name")
    owner = get_user(store, user)
    token_id = base64.b32encode(os.urandom(10)).decode().lower()  # 16 characters
    secret = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    now = utcnow()
    token = ApiToken(
        id=token_id, user=owner.name, name=name, created_at=now, expires_at=now + timedelta(days=days)
    )
    with store.write() as conn:
        conn.execute(
            insert(api_tokens).values(
                id=token.id,
                user=token.user,
                name=token.name,
                hash=_digest(secret),
                created_at=token.created_at,
                expires_at=token.expires_at,
            )
        )
        append(
            conn,
            store,
            AuditEntry(
                actor=owner.name,
                role=owner.role,
                action="token.created",
                subject=f"user:{owner.name}",
                data={
                    "token": token.id,
                    "name": name,
                    "expires_at": token.expires_at.isoformat(),
                    "auth": auth,
                },
            ),
        )
    return token, f"{TOKEN_PREFIX}{token.id}_{secret}"


def list_tokens(store: Store, user: str) -> list[ApiToken]:
    """``user``'s tokens (a user of this store: anyone else is refused, audited)."""
    from backoffice.schema import api_tokens

    with store.read() as conn:
        known = conn.execute(select(users.c.name).where(users.c.name == user)).first() is not None
    if not known:  # a deactivated user's tokens are still listed (all revoked)
        why = f"no such user: {user!r}" + (
            f" in engagement {store.engagement!r}" if store.engagement != "default" else ""
        )
        raise deny(store, user, None, "list_tokens", f"user:{user}", why)
    with store.read() as conn:
        rows = conn.execute(
            select(api_tokens).where(api_tokens.c.user == user).order_by(api_tokens.c.created_at)
        )
        return [_token(r) for r in rows]


def revoke_token(store: Store, token_id: str, *, by: str, auth: str) -> None:
    """Revoke a token: its owner may, and so may an admin (audited)."""
    from backoffice.schema import api_tokens

    actor = get_user(store, by)
    with store.write() as conn:
        row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
        if row is None or (row.user != actor.name and not allowed(actor.role, Action.MANAGE_USERS)):
            raise NotFound(f"no token {token_id!r} of {actor.name}")
        if row.revoked_at is not None:
            raise ConflictError(f"token {token_id!r} is already revoked")
        conn.execute(
            update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=utcnow(), revoked_by=by)
        )
        append(
            conn,
            store,
            AuditEntry(
                actor=actor.name,
                role=actor.role,
                action="token.revoked",
                subject=f"user:{row.user}",
                data={"token": token_id, "auth": auth},
            ),
        )


def authenticate_token(store: Store, text: str) -> User:
    """The active user a presented token belongs to; PermissionDenied for a bad, expired or revoked one."""
    from backoffice.schema import api_tokens

    bad = PermissionDenied("invalid, expired or revoked API token")
    if not text.startswith(TOKEN_PREFIX) or text.count("_") < 2:
        raise bad
    token_id, _, secret = text[len(TOKEN_PREFIX) :].partition("_")
    if len(token_id) > 24:
        raise bad
    with store.read() as conn:
        row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
    if row is None or not hmac.compare_digest(row.hash, _digest(secret)):
        raise bad
    now = utcnow()
    if row.revoked_at is not None or row.expires_at <= now:
        raise bad
    try:
        user = get_user(store, row.user)
    except NotFound:
        raise bad from None
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        with store.write() as conn:
            conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now))
    return user
