"""Users, roles and what each role may do (DOMAIN.md, Roles).

Passwords are hashed with scrypt (a slow KDF from the standard library). Every user change
is audited; so is every permission denial.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select, update

from backoffice.audit import AuditEntry, append, record
from backoffice.errors import ConflictError, InputError, NotFound, PermissionDenied
from backoffice.schema import users
from backoffice.store import Store, utcnow

__all__ = [
    "ROLES",
    "Action",
    "User",
    "add_user",
    "allowed",
    "authenticate",
    "deny",
    "get_user",
    "hash_password",
    "list_users",
    "require",
    "set_password",
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
    READ_QUEUE = "read_queue"
    READ_AUDIT = "read_audit"  # full audit trail
    EXPORT_AUDIT = "export_audit"
    UNMASK = "unmask"
    MANAGE_USERS = "manage_users"
    READ_USERS = "read_users"


_MATRIX: dict[Action, frozenset[str]] = {
    Action.RUN: frozenset({"rpa_expert"}),
    Action.WORK: frozenset({"associate", "team_lead"}),
    Action.APPROVE: frozenset({"team_lead", "approver"}),
    Action.APPROVE_ABOVE_LIMIT: frozenset({"approver"}),
    Action.REOPEN: frozenset({"qa_analyst"}),
    Action.ESCALATE: frozenset({"associate", "team_lead"}),
    Action.READ_QUEUE: frozenset(
        {"rpa_expert", "associate", "team_lead", "approver", "qa_analyst", "compliance"}
    ),
    Action.READ_AUDIT: frozenset({"compliance", "qa_analyst"}),  # qa_analyst sees it masked
    Action.EXPORT_AUDIT: frozenset({"compliance"}),
    Action.UNMASK: frozenset({"compliance"}),
    Action.MANAGE_USERS: frozenset({"admin"}),
    Action.READ_USERS: frozenset({"admin", "compliance"}),
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
        raise NotFound(f"no such user: {name!r} (add it with `backoffice users add {name} --role ROLE`)")
    return _user(row)


def list_users(store: Store) -> list[User]:
    with store.read() as conn:
        return [_user(r) for r in conn.execute(select(users).order_by(users.c.name))]


def add_user(store: Store, name: str, role: str, *, by: str = "system", password: str | None = None) -> User:
    name = name.strip()
    if not name or len(name) > 120 or any(ch.isspace() or ord(ch) < 32 for ch in name):
        raise InputError("a user name is 1-120 characters without spaces", field="name")
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


def set_role(store: Store, name: str, role: str, *, by: str = "system") -> None:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; roles: {', '.join(ROLES)}", field="role")
    old = get_user(store, name)
    with store.write() as conn:
        conn.execute(update(users).where(users.c.name == name).values(role=role))
        append(
            conn,
            store,
            AuditEntry(
                actor=by,
                action="user.role_changed",
                subject=f"user:{name}",
                data={"before": {"role": old.role}, "after": {"role": role}},
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
