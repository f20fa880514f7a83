"""Engagements: the clients a BPO serves, each with a store of its own (issue 14, deliverable 1).

An engagement's runs, items, evidence files, audit chain, users, registers, rule-set approvals,
incidents and reports live in its own store (see :mod:`backoffice.store`), so no query made through
one engagement's store can read another's: the isolation is in the store layer, not in the pages.
The provider's store (the ``default`` engagement's) lists the engagements.

Users are assigned to engagements with a role in each (:func:`assign_user`): the user's account
is copied into the engagement's store with that role (its password too, so the same password opens
the engagement's inbox); from then on the engagement's store holds it, as the client owns identity
and permissions. A provider associate may so work for two clients, a client approver is added in
one engagement only (``backoffice users add NAME --role approver --engagement ACME``).

Who may do what: adding an engagement takes an admin of the provider's store; assigning a user to
an engagement takes an admin of that engagement (the admin who added the engagement becomes its
first admin). Both are audited: in the provider's log and in the engagement's.

The one read across engagements (DOMAIN.md: "except for the provider's compliance role, audited")
is :func:`review`: a compliance officer of the provider's store gets, per engagement, whether its
audit chain verifies, its head, its open items by status and its users by role: no item, payload
or audit entry crosses. Each engagement's log records the read (``engagement.reviewed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from backoffice.audit import AuditEntry, append
from backoffice.errors import ConflictError, InputError, NotFound
from backoffice.schema import engagements, users
from backoffice.store import DEFAULT_ENGAGEMENT, Store, check_engagement_name, utcnow
from backoffice.users import ROLES, Action, RoleChange, User, deny, require, set_role

#: The client's own role: its approvers decide for one client only (DOMAIN.md, the matrix).
CLIENT_ROLE = "approver"

__all__ = [
    "Engagement",
    "add_engagement",
    "assign_user",
    "deactivate_everywhere",
    "list_engagements",
    "provider_store",
    "review",
]


@dataclass(frozen=True)
class Engagement:
    name: str
    title: str
    created_at: datetime | None
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "created_by": self.created_by,
        }


def provider_store() -> Store:
    """The provider's store: the default engagement's, which lists the engagements."""
    return Store.open(engagement=DEFAULT_ENGAGEMENT)


def list_engagements(provider: Store, user: str) -> list[Engagement]:
    """Every engagement, the default one first; for the provider's admins and compliance."""
    require(provider, user, Action.READ_USERS, "engagements")
    default = Engagement(DEFAULT_ENGAGEMENT, "the provider's own (default) engagement", None, "system")
    return [default, *_registered(provider)]


def _registered(provider: Store) -> list[Engagement]:
    """The engagements the provider's store lists, by name."""
    with provider.read() as conn:
        rows = conn.execute(select(engagements).order_by(engagements.c.name)).all()
    return [Engagement(r.name, r.title, r.created_at, r.created_by) for r in rows]


def review(provider: Store, user: str) -> list[dict[str, Any]]:
    """Per engagement (default first): chain verified or not, its head, item counts by status,
    users by role. For the provider's compliance role; audited in every engagement's log."""
    from sqlalchemy import func

    from backoffice.audit.chain import verify
    from backoffice.schema import items

    who = require(provider, user, Action.READ_AUDIT, "engagements")
    if who.role != "compliance":
        why = f"{who.name} ({who.role}) may not review across engagements; only compliance may"
        raise deny(provider, who.name, who.role, "review_engagements", "engagements", why)
    out = []
    for e in list_engagements(provider, user):
        s = Store.open(engagement=e.name)
        result = verify(s)
        with s.read() as conn:
            statuses: dict[str, int] = dict(
                conn.execute(select(items.c.status, func.count()).group_by(items.c.status)).all()
            )
            roles: dict[str, int] = dict(
                conn.execute(
                    select(users.c.role, func.count()).where(users.c.active).group_by(users.c.role)
                ).all()
            )
        with s.write() as conn:
            append(
                conn,
                s,
                AuditEntry(
                    actor=who.name,
                    role=who.role,
                    action="engagement.reviewed",
                    subject=f"engagement:{e.name}",
                    data={"from": DEFAULT_ENGAGEMENT, "chain_ok": result.ok},
                ),
            )
        out.append(
            {
                "engagement": e.name,
                "title": e.title,
                "chain_ok": result.ok,
                "chain_entries": result.checked,
                "head_seq": result.head_seq,
                "first_bad_seq": result.first_bad_seq,
                "items": {str(k): int(v) for k, v in sorted(statuses.items())},
                "users": {str(k): int(v) for k, v in sorted(roles.items())},
            }
        )
    return out


def add_engagement(provider: Store, name: str, *, by: str, title: str | None = None) -> Engagement:
    """Add engagement ``name`` (an admin of the provider's store does), create its store, and make
    the adding admin the engagement's first admin."""
    if provider.engagement != DEFAULT_ENGAGEMENT:
        raise InputError("engagements are added in the provider's (default) store", field="engagement")
    check_engagement_name(name)
    if name in (DEFAULT_ENGAGEMENT, "all"):
        raise InputError(f"{name!r} is reserved and cannot name a new engagement", field="engagement")
    admin = require(provider, by, Action.MANAGE_USERS, f"engagement:{name}")
    title = (title or name).strip()[:200] or name
    now = utcnow()
    with provider.write() as conn:
        if conn.execute(select(engagements.c.name).where(engagements.c.name == name)).first():
            raise ConflictError(f"engagement {name!r} exists")
        conn.execute(
            insert(engagements).values(name=name, title=title, created_at=now, created_by=admin.name)
        )
        append(
            conn,
            provider,
            AuditEntry(
                actor=admin.name,
                role=admin.role,
                action="engagement.added",
                subject=f"engagement:{name}",
                data={"title": title},
            ),
        )
    own = Store.open(engagement=name)
    with provider.read() as conn:
        row = conn.execute(select(users).where(users.c.name == admin.name)).one()
    with own.write() as conn:
        append(
            conn,
            own,
            AuditEntry(
                actor=admin.name,
                role=admin.role,
                action="engagement.created",
                subject=f"engagement:{name}",
                data={"title": title, "provider": provider.safe_url},
            ),
        )
        _copy_user(conn, own, row, "admin", by=admin.name, source=DEFAULT_ENGAGEMENT)
    return Engagement(name, title, now, admin.name)


def assign_user(
    target: Store, name: str, role: str, *, by: str, source: Store | None = None
) -> User | RoleChange | None:
    """Give ``name`` (a user of ``source``, default the provider's store) ``role`` in the engagement
    whose store is ``target``; ``by`` is an admin of that engagement.

    A user new to the engagement is copied in with the role (and the password), audited in both
    logs. A user already in it has its role changed the four-eyes way (:func:`set_role`), which
    returns the pending request."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; roles: {', '.join(ROLES)}", field="role")
    source = source or provider_store()
    if role == CLIENT_ROLE:
        raise InputError(
            f"a client approver belongs to one engagement and is the client's own: add them there "
            f"(`backoffice users add {name} --role approver --engagement {target.engagement} --by ADMIN`), "
            f"never by assignment from another",
            field="role",
        )
    if source.url == target.url:
        raise InputError(
            f"{name} is already a user of {target.engagement!r}: name another engagement with "
            f"--engagement NAME (or change the role with `backoffice users set-role`)",
            field="engagement",
        )
    with target.read() as conn:
        present = conn.execute(select(users.c.name).where(users.c.name == name)).first() is not None
    if present:
        return set_role(target, name, role, by=by)
    admin = require(target, by, Action.MANAGE_USERS, f"user:{name}")
    with source.read() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    if row is None or not row.active:
        raise NotFound(f"no user {name!r} in engagement {source.engagement!r} to assign")
    if row.role == CLIENT_ROLE:
        raise InputError(
            f"{name} is a client approver of {source.engagement!r}: a client approver belongs to one engagement",
            field="role",
        )
    with target.write() as conn:
        if conn.execute(select(users.c.name).where(users.c.name == name)).first() is not None:
            raise ConflictError(f"user {name!r} was just added to {target.engagement!r}")
        _copy_user(conn, target, row, role, by=admin.name, source=source.engagement)
    with source.write() as conn:
        append(
            conn,
            source,
            AuditEntry(
                actor=admin.name,
                action="user.assigned_elsewhere",
                subject=f"user:{name}",
                data={"engagement": target.engagement, "role": role},
            ),
        )
    return User(name=name, role=role, has_password=bool(row.password_hash))


def deactivate_everywhere(provider: Store, name: str, *, by: str) -> list[str]:
    """Offboarding a provider user: deactivate ``name`` in the provider's store and in every
    engagement it was assigned to from there (its sessions end, its tokens are revoked; audited in
    each). A client's own user of the same name (added in the engagement, not assigned from the
    provider) is left alone. Returns the engagements it was deactivated in, the default first."""
    from backoffice.audit import entries
    from backoffice.users import deactivate_user

    deactivate_user(provider, name, by=by)
    done = [DEFAULT_ENGAGEMENT]
    for eng in (e.name for e in _registered(provider)):
        s = Store.open(engagement=eng)
        with s.read() as conn:
            row = conn.execute(select(users.c.active).where(users.c.name == name)).first()
        if row is None or not row.active:
            continue
        assigned = entries(s, action="user.assigned", subject=f"user:{name}")
        if not any((e.get("data") or {}).get("from_engagement") == DEFAULT_ENGAGEMENT for e in assigned):
            continue  # the client's own user of that name
        deactivate_user(s, name, by=by)
        done.append(eng)
    return done


def _copy_user(conn: Any, store: Store, row: Any, role: str, *, by: str, source: str) -> None:
    conn.execute(
        insert(users).values(
            name=row.name, role=role, active=True, created_at=utcnow(), password_hash=row.password_hash
        )
    )
    append(
        conn,
        store,
        AuditEntry(
            actor=by,
            action="user.assigned",
            subject=f"user:{row.name}",
            data={"role": role, "from_engagement": source},
        ),
    )
