"""Access review: users, roles, last login, actions per role, segregation-of-duties conflicts.

Conflict codes (stable strings):

- ``SOD-MAKER-CHECKER``: one user both made (proposed, resolved or corrected) and approved the
  same item, from the items table (maker = checker) or across the item's audit history: an
  approval of an item the approver had made a decision on before (e.g. in a round before a
  reopen). Checking a round and being the maker of a later round (after a QA reopen) is not a
  conflict: each decision still had two people.
- ``SOD-BANK-CHANGE-APPROVAL``: a user changed a counterparty's bank details and approved an item
  (a payment or invoice) of the same counterparty. A bank change is an audit entry (a correction,
  or a bot's own master-data entry) whose ``before``/``after``/``changes``/``set`` changes a field
  its bot declares ``personal.bank_account``; the counterparty is the value at the bot's
  ``party_field`` (in the entry's data, else in the payload of the item it is about). Entries of
  bots that are not installed, or that declare no ``party_field``, cannot be matched.
- ``SOD-ADMIN-APPROVES``: an admin approved a transaction (admins never approve).
- ``SOD-BOT-APPROVES``: a bot account (role ``bot``, or a name that looks like a bot or system
  actor: ``bot:...``, ``system``...) approved a transaction (bots never approve).
- ``SOD-ROLE-CHANGE-APPROVAL``: a user whose role changed within the review window approved a
  transaction within it (e.g. an admin made itself approver, approved, and changed back); each
  such approval is listed with the role changes, for the reviewer to confirm.

Dormant accounts (active, with neither a login nor any audited action, inbox or CLI, for
``dormant_days``, or never) are listed for revocation.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from backoffice.data_classes import DataClass
from backoffice.pii import Masking, Policy, value_at
from backoffice.schema import audit, items
from backoffice.store import Store, utcnow
from backoffice.users import ROLES, Action, allowed, list_users, reserved_name

__all__ = ["CONFLICT_CODES", "access_review", "bank_fields", "party_of"]

CONFLICT_CODES = (
    "SOD-MAKER-CHECKER",
    "SOD-BANK-CHANGE-APPROVAL",
    "SOD-ADMIN-APPROVES",
    "SOD-BOT-APPROVES",
    "SOD-ROLE-CHANGE-APPROVAL",
)
MAKER_ACTIONS = ("item.approval_requested", "item.resolved")
CHECKER_ACTIONS = ("item.approved",)
ROLE_CHANGED = "user.role_changed"
_CHANGE_MAPS = ("after", "changes", "set")  # payload path -> new value


def party_of(policy: Policy, record: Any) -> str | None:
    """The counterparty a payload (or an entry's data) is about: the value at the bot's declared
    ``party_field``, upper-cased; None when the bot declares none or the value is missing."""
    if not policy.party_field or not isinstance(record, dict):
        return None
    value = value_at(record, policy.party_field)
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip().upper()
    return None


def bank_fields(policy: Policy, changes: Any) -> list[str]:
    """The paths in a change map (``{"lines.0.account": ...}``) that the bot declares bank accounts."""
    if not isinstance(changes, dict):
        return []
    return sorted(str(k) for k in changes if policy.class_of(str(k)) is DataClass.BANK_ACCOUNT)


def _bank_change(policy: Policy, entry_data: dict[str, Any]) -> list[str]:
    for name in _CHANGE_MAPS:
        found = bank_fields(policy, entry_data.get(name))
        if found:
            return found
    return []


def access_review(
    store: Store, *, as_of: datetime | None = None, dormant_days: int = 90, days: int = 365
) -> dict[str, Any]:
    """The access review report (plain JSON-able dict). ``days``: activity window."""
    now = as_of or utcnow()
    since = (now - timedelta(days=days)).isoformat(timespec="microseconds")
    all_users = list_users(store)
    role_of = {u.name: u.role for u in all_users}

    per_user: dict[str, Counter[str]] = defaultdict(Counter)
    per_role: dict[str, Counter[str]] = defaultdict(Counter)
    denials: Counter[str] = Counter()
    makers: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))  # item -> user -> seqs
    checkers: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    approvals: list[dict[str, Any]] = []
    role_changes: dict[str, list[dict[str, Any]]] = defaultdict(list)  # user -> changes in the window
    bank_changes: list[dict[str, Any]] = []
    last_action: dict[str, str] = {}  # actor -> ISO time of its last audited action
    bots = Masking()  # each bot's declarations, looked up once
    q = select(
        audit.c.seq,
        audit.c.at,
        audit.c.actor,
        audit.c.role,
        audit.c.action,
        audit.c.subject,
        audit.c.bot,
        audit.c.data,
    ).order_by(audit.c.seq)
    with store.engine.connect() as conn:
        for r in conn.execution_options(yield_per=5000).execute(q):
            last_action[r.actor] = r.at  # in seq order: the last one wins (inbox and CLI alike)
            recent = r.at >= since
            if recent:
                per_user[r.actor][r.action] += 1
                per_role[r.role or "-"][r.action] += 1
                if r.action == "permission.denied":
                    denials[r.actor] += 1
            if r.action in MAKER_ACTIONS and r.subject:
                makers[r.subject][r.actor].append(r.seq)
            if r.action in CHECKER_ACTIONS and r.subject:
                checkers[r.subject][r.actor].append(r.seq)
                approvals.append(
                    {"seq": r.seq, "at": r.at, "actor": r.actor, "role": r.role, "subject": r.subject}
                )
            if r.action == ROLE_CHANGED and recent and (r.subject or "").startswith("user:"):
                change = json.loads(r.data)
                role_changes[r.subject.removeprefix("user:")].append(
                    {
                        "seq": r.seq,
                        "at": r.at,
                        "by": r.actor,
                        "before": (change.get("before") or {}).get("role"),
                        "after": (change.get("after") or {}).get("role"),
                    }
                )
            if r.bot and any(f'"{name}"' in (r.data or "") for name in _CHANGE_MAPS):
                policy = bots.policy(r.bot)
                data = json.loads(r.data)
                keys = _bank_change(policy, data) if isinstance(data, dict) else []
                if keys:
                    bank_changes.append(
                        {
                            "seq": r.seq,
                            "at": r.at,
                            "actor": r.actor,
                            "subject": r.subject,
                            "party": party_of(policy, data),
                            "fields": keys,
                        }
                    )

    with store.read() as conn:
        item_rows = {
            f"item:{r.id}": r
            for r in conn.execute(
                select(
                    items.c.id, items.c.bot, items.c.payload, items.c.maker, items.c.checker, items.c.changes
                )
            )
        }
    conflicts: list[dict[str, Any]] = []

    # maker = checker
    seen: set[tuple[str, str]] = set()
    for subject, row in item_rows.items():
        if row.maker and row.maker == row.checker:
            seen.add((subject, row.maker))
            conflicts.append(
                {
                    "code": "SOD-MAKER-CHECKER",
                    "user": row.maker,
                    "role": role_of.get(row.maker),
                    "subject": subject,
                    "detail": f"{row.maker} is both maker and checker of {subject}",
                    "seqs": [],
                }
            )
    for subject, by_user in checkers.items():
        for user, seqs in by_user.items():
            made = makers.get(subject, {}).get(user, [])
            # only an approval after the user's own decision: checking, then making a later round is fine
            if made and min(made) < max(seqs) and (subject, user) not in seen:
                seen.add((subject, user))
                conflicts.append(
                    {
                        "code": "SOD-MAKER-CHECKER",
                        "user": user,
                        "role": role_of.get(user),
                        "subject": subject,
                        "detail": f"{user} made and approved {subject} (audit history)",
                        "seqs": sorted([*makers[subject][user], *seqs]),
                    }
                )

    # bank change + approval for the same counterparty
    def item_party(subject: str | None) -> str | None:
        row = item_rows.get(subject or "")
        return party_of(bots.policy(row.bot), row.payload) if row is not None else None

    for change in bank_changes:
        if change["party"] is None:
            change["party"] = item_party(change["subject"])
    for subject, row in item_rows.items():
        fields = bank_fields(bots.policy(row.bot), row.changes) if row.maker else []
        if fields:
            already = any(c["subject"] == subject and c["actor"] == row.maker for c in bank_changes)
            if not already:
                bank_changes.append(
                    {
                        "seq": None,
                        "at": None,
                        "actor": row.maker,
                        "subject": subject,
                        "party": item_party(subject),
                        "fields": fields,
                    }
                )
    reported: set[tuple[str, str, str]] = set()
    for change in bank_changes:
        if not change["party"]:
            continue
        for appr in approvals:
            if appr["actor"] != change["actor"] or item_party(appr["subject"]) != change["party"]:
                continue
            key = (appr["actor"], change["party"], appr["subject"])
            if key in reported:
                continue
            reported.add(key)
            conflicts.append(
                {
                    "code": "SOD-BANK-CHANGE-APPROVAL",
                    "user": appr["actor"],
                    "role": role_of.get(appr["actor"]),
                    "subject": appr["subject"],
                    "party": change["party"],
                    "detail": (
                        f"{appr['actor']} changed bank details ({', '.join(change['fields'])}) of "
                        f"{change['party']} on {change['subject']} and approved {appr['subject']}"
                    ),
                    "seqs": sorted(s for s in (change["seq"], appr["seq"]) if s is not None),
                }
            )

    for appr in approvals:
        role = appr["role"] or role_of.get(appr["actor"])
        if role != "bot" and reserved_name(appr["actor"]):
            role = "bot"  # a person may not carry a bot's or the system's name
        if role in ("admin", "bot"):
            conflicts.append(
                {
                    "code": "SOD-ADMIN-APPROVES" if role == "admin" else "SOD-BOT-APPROVES",
                    "user": appr["actor"],
                    "role": role,
                    "subject": appr["subject"],
                    "detail": f"{appr['actor']} ({role}) approved {appr['subject']}",
                    "seqs": [appr["seq"]],
                }
            )

    # an approval by a user whose role changed within the window
    for appr in approvals:
        changes = role_changes.get(appr["actor"])
        if not changes or appr["at"] < since:
            continue
        steps = "; ".join(f"{c['before']} -> {c['after']} at {c['at'][:19]} by {c['by']}" for c in changes)
        conflicts.append(
            {
                "code": "SOD-ROLE-CHANGE-APPROVAL",
                "user": appr["actor"],
                "role": appr["role"] or role_of.get(appr["actor"]),
                "subject": appr["subject"],
                "detail": (
                    f"{appr['actor']} approved {appr['subject']} as {appr['role'] or '?'} and its role "
                    f"changed within the review window ({steps})"
                ),
                "seqs": sorted([appr["seq"], *(c["seq"] for c in changes)]),
            }
        )

    users_out = []
    for u in all_users:
        last = u.last_login_at
        acted = datetime.fromisoformat(last_action[u.name]) if u.name in last_action else None
        seen_at = max((t for t in (last, acted) if t is not None), default=None)
        idle = (now - seen_at).days if seen_at else None
        users_out.append(
            {
                "name": u.name,
                "role": u.role,
                "active": u.active,
                "has_password": u.has_password,
                "last_login_at": last.isoformat() if last else None,
                "last_action_at": acted.isoformat() if acted else None,
                "days_since_login": (now - last).days if last else None,
                "days_idle": idle,
                "dormant": u.active and (idle is None or idle >= dormant_days),
                "actions": dict(sorted(per_user.get(u.name, Counter()).items())),
                "denials": denials.get(u.name, 0),
                "conflicts": sum(1 for c in conflicts if c["user"] == u.name),
            }
        )
    roles_out = {
        role: {
            "users": sorted(u.name for u in all_users if u.role == role and u.active),
            "may": [a.value for a in Action if allowed(role, a)],
            "actions": dict(sorted(per_role.get(role, Counter()).items())),
        }
        for role in ROLES
    }
    return {
        "as_of": now.isoformat(),
        "window_days": days,
        "dormant_days": dormant_days,
        "users": users_out,
        "roles": roles_out,
        "conflicts": sorted(conflicts, key=lambda c: (c["code"], c["user"], c["subject"] or "")),
        "summary": {
            "users": len(all_users),
            "active": sum(1 for u in all_users if u.active),
            "dormant": sum(1 for u in users_out if u["dormant"]),
            "conflicts": dict(sorted(Counter(c["code"] for c in conflicts).items())),
        },
    }
