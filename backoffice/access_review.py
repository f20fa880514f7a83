"""Access review: users, roles, last login, actions per role, segregation-of-duties conflicts.

Conflict codes (stable strings):

- ``SOD-MAKER-CHECKER``: one user both made (proposed, resolved or corrected) and approved the
  same item, from the items table (maker = checker) or across the item's audit history (e.g.
  after a reopen).
- ``SOD-BANK-CHANGE-APPROVAL``: a user changed a vendor's bank details (a correction of an
  ``iban``/``bank_account`` field on an item of that vendor, or a ``vendor.*`` audit entry
  changing them) and approved an item (a payment or invoice) of the same vendor.
- ``SOD-ADMIN-APPROVES``: an admin approved a transaction (admins never approve).
- ``SOD-BOT-APPROVES``: a bot account approved a transaction (bots never approve).

Dormant accounts (active, no login for ``dormant_days`` or never) are listed for revocation.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from backoffice.pii import is_sensitive
from backoffice.schema import audit, items
from backoffice.store import Store, utcnow
from backoffice.users import ROLES, Action, allowed, list_users

__all__ = ["CONFLICT_CODES", "access_review", "vendor_of"]

CONFLICT_CODES = ("SOD-MAKER-CHECKER", "SOD-BANK-CHANGE-APPROVAL", "SOD-ADMIN-APPROVES", "SOD-BOT-APPROVES")
MAKER_ACTIONS = ("item.approval_requested", "item.resolved")
CHECKER_ACTIONS = ("item.approved",)
_VENDOR_KEYS = ("vendor_id", "vendor_no", "vendor", "supplier_id", "seller_vat_id", "seller_name")
_BANK_WORDS = ("iban", "bank_account", "bankaccount", "account_number", "bic")


def vendor_of(payload: Any) -> str | None:
    """The vendor an item is about: the first of vendor_id, vendor_no, vendor, ..., seller_name."""
    if not isinstance(payload, dict):
        return None
    for key in _VENDOR_KEYS:
        value = payload.get(key)
        if isinstance(value, str | int) and str(value).strip():
            return str(value).strip().upper()
    header = payload.get("header") or payload.get("invoice")
    return vendor_of(header) if isinstance(header, dict) else None


def _bank_keys(changes: Any) -> list[str]:
    if not isinstance(changes, dict):
        return []
    return sorted(
        k for k in changes if any(w in str(k).lower() for w in _BANK_WORDS) or "iban" in str(k).lower()
    )


def _is_bank_change(entry_data: dict[str, Any]) -> list[str]:
    keys = _bank_keys(entry_data.get("after")) or _bank_keys(entry_data.get("changes"))
    field = str(entry_data.get("field") or "")
    if not keys and field and is_sensitive(field) and any(w in field.lower() for w in _BANK_WORDS):
        keys = [field]
    return keys


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
    bank_changes: list[dict[str, Any]] = []
    q = select(
        audit.c.seq, audit.c.at, audit.c.actor, audit.c.role, audit.c.action, audit.c.subject, audit.c.data
    ).order_by(audit.c.seq)
    with store.engine.connect() as conn:
        for r in conn.execution_options(yield_per=5000).execute(q):
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
            if r.action.startswith("item.") or r.action.startswith("vendor."):
                data = json.loads(r.data) if r.data else {}
                keys = _is_bank_change(data) if isinstance(data, dict) else []
                if keys and (r.action.startswith("vendor.") or r.action in MAKER_ACTIONS):
                    vendor = data.get("vendor") or data.get("vendor_id")
                    bank_changes.append(
                        {
                            "seq": r.seq,
                            "at": r.at,
                            "actor": r.actor,
                            "subject": r.subject,
                            "vendor": str(vendor).upper() if vendor else None,
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
            if user in makers.get(subject, {}) and (subject, user) not in seen:
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

    # bank change + approval for the same vendor
    for change in bank_changes:
        if change["vendor"] is None and change["subject"] in item_rows:
            change["vendor"] = vendor_of(item_rows[change["subject"]].payload)
    for subject, row in item_rows.items():
        if row.maker and _bank_keys(row.changes):
            already = any(c["subject"] == subject and c["actor"] == row.maker for c in bank_changes)
            if not already:
                bank_changes.append(
                    {
                        "seq": None,
                        "at": None,
                        "actor": row.maker,
                        "subject": subject,
                        "vendor": vendor_of(row.payload),
                        "fields": _bank_keys(row.changes),
                    }
                )
    reported: set[tuple[str, str, str]] = set()
    for change in bank_changes:
        if not change["vendor"]:
            continue
        for appr in approvals:
            approved = item_rows.get(appr["subject"])
            vendor = vendor_of(approved.payload) if approved is not None else None
            if appr["actor"] != change["actor"] or vendor != change["vendor"]:
                continue
            key = (appr["actor"], change["vendor"], appr["subject"])
            if key in reported:
                continue
            reported.add(key)
            conflicts.append(
                {
                    "code": "SOD-BANK-CHANGE-APPROVAL",
                    "user": appr["actor"],
                    "role": role_of.get(appr["actor"]),
                    "subject": appr["subject"],
                    "vendor": change["vendor"],
                    "detail": (
                        f"{appr['actor']} changed bank details ({', '.join(change['fields'])}) of vendor "
                        f"{change['vendor']} on {change['subject']} and approved {appr['subject']}"
                    ),
                    "seqs": sorted(s for s in (change["seq"], appr["seq"]) if s is not None),
                }
            )

    for appr in approvals:
        role = appr["role"] or role_of.get(appr["actor"])
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

    users_out = []
    for u in all_users:
        last = u.last_login_at
        idle = (now - last).days if last else None
        users_out.append(
            {
                "name": u.name,
                "role": u.role,
                "active": u.active,
                "has_password": u.has_password,
                "last_login_at": last.isoformat() if last else None,
                "days_since_login": idle,
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
