"""Masking of personal and sensitive data: bank accounts, national ids, salaries, secrets.

Masked by default everywhere (CLI, inbox, logs, exports); only roles allowed to unmask
(``Action.UNMASK``: compliance) see clear values, and each unmask is audited with a reason
(:func:`record_unmask`, called by whoever shows clear values).

What is masked:
- values under sensitive keys (``iban``, ``bank_account``, ``national_id``, ``ssn``, ``salary``, ...);
- pay figures (``gross``, ``net``, ``rate``, ``taxes``, ...) inside a record about one person (a
  dict with an ``employee_id``, or under an ``employee`` key), not invoice or department totals;
  and the ``amount`` of an item whose ``payload`` is about one employee;
- ``expected``/``actual`` of a violation whose ``field`` is sensitive (``{"field": "iban", ...}``)
  or a person's pay figure (``gross``, ``net``, ``rate``, ``overtime_pay``, ...), and then the
  amounts in its ``message`` too;
- IBANs (mod-97 valid) written inside free text, e.g. a violation message;
- secrets (``password``, ``secret``, ``token``, ``api_key``) always, for every role, also as
  ``password=...`` inside text.

Logs: :func:`install_log_masking` (called by the CLI) masks IBANs and secret assignments in
every log record.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backoffice.store import Store
    from backoffice.users import User

__all__ = [
    "MASK",
    "SENSITIVE_KEYS",
    "install_log_masking",
    "is_sensitive",
    "mask_account",
    "mask_text",
    "mask_value",
    "masked",
    "may_hold_pii",
    "may_unmask",
    "record_unmask",
    "scrub_secrets",
    "view",
]

MASK = "••••"

# Field names (lower case, any position in a dotted path) whose values are masked.
SENSITIVE_KEYS = re.compile(
    r"(iban|bank_?account|account_?(no|number)|acct|routing|bic_account|national_?id|ssn|social_security"
    r"|tax_?id_?person|salary|gross_pay|net_pay|base_pay|hourly_rate|pay_rate|wage"
    r"|password|passwd|secret|token|api_?key|audit_key)",
    re.IGNORECASE,
)
_MONEY_KEYS = re.compile(
    r"(salary|gross_pay|net_pay|base_pay|hourly_rate|pay_rate|wage|^gross$|^net$|^rate$|overtime_pay"
    r"|other_earnings|taxes|pretax_deductions|posttax_deductions)",
    re.IGNORECASE,
)
_ID_KEYS = re.compile(r"(national_?id|ssn|social_security|tax_?id_?person)", re.IGNORECASE)
_SECRET_KEYS = re.compile(r"(password|passwd|secret|token|api_?key|audit_key)", re.IGNORECASE)
# Pay figures that are personal only inside a record about one employee.
_PERSONAL_PAY = frozenset(
    {
        "gross",
        "net",
        "rate",
        "base_pay",
        "overtime_pay",
        "other_earnings",
        "taxes",
        "pretax_deductions",
        "posttax_deductions",
        "annual_salary",
        "hourly_rate",
    }
)
_AMOUNT = re.compile(r"(?<![\w.])\d[\d,']*\.\d+(?![\w.])")  # 1,234.56 / 33.52 in free text
_IBAN = re.compile(r"\b([A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30})\b")


def _last(key: str) -> str:
    return key.rsplit(".", 1)[-1].lower()


@functools.lru_cache(maxsize=8192)
def is_sensitive(key: str) -> bool:
    """True for a field name (or dotted path) whose value is personal or secret."""
    if SENSITIVE_KEYS.search(key):
        return True
    parts = key.lower().split(".")
    return len(parts) > 1 and "employee" in parts[:-1] and parts[-1] in _PERSONAL_PAY


def is_secret(key: str) -> bool:
    return bool(_SECRET_KEYS.search(key))


def mask_account(value: str) -> str:
    """``DE89370400440532013000`` -> ``••••3000`` (last 4 kept)."""
    clean = re.sub(r"\s+", "", value)
    if len(clean) <= 4:
        return MASK
    return MASK + clean[-4:]


def mask_value(key: str, value: Any) -> Any:
    if value is None or value == "":
        return value
    if _SECRET_KEYS.search(key):
        return "••••••"
    if _MONEY_KEYS.search(_last(key)) or _MONEY_KEYS.search(key):
        return "•••.••"
    if _ID_KEYS.search(key):
        return MASK
    text = str(value)
    if sum(ch.isdigit() for ch in text) < 4:  # "unique", "on file": a description, not an account
        return value
    return mask_account(text)


def _iban_ok(text: str) -> bool:
    s = text.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    digits = "".join(str(int(ch, 36)) for ch in s[4:] + s[:4])
    return int(digits) % 97 == 1


_SECRET_ASSIGN = re.compile(
    r"""(?i)\b(password|passwd|pwd|secret|token|api_?key|audit_key)(["']?\s*[=:]\s*["']?)([^\s"',;&]+)"""
)


def mask_text(text: str) -> str:
    """Free text with every valid IBAN masked to its last 4 characters and the value of every
    ``password=...``/``token: ...``-like assignment hidden."""

    def repl(m: re.Match[str]) -> str:
        return mask_account(m.group(1)) if _iban_ok(m.group(1)) else m.group(0)

    text = _SECRET_ASSIGN.sub(lambda m: m.group(1) + m.group(2) + "••••••", text)
    return _IBAN.sub(repl, text)


_log_masking = False


def install_log_masking() -> None:
    """Mask IBANs and secret assignments in every log record from now on (idempotent).

    Wraps the log-record factory, so it covers every logger and handler (ours, Prefect's,
    libraries'), and only costs anything for records that are actually emitted.
    """
    global _log_masking
    if _log_masking:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return record
        clean = mask_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return record

    logging.setLogRecordFactory(factory)
    _log_masking = True


def is_personal_payload(payload: Any) -> bool:
    """True when an item is about one person (its amount is that person's pay)."""
    return isinstance(payload, dict) and ("employee" in payload or "employee_id" in payload)


def masked(obj: Any, key: str = "") -> Any:
    """A copy of ``obj`` (dicts/lists/scalars) with sensitive fields masked."""
    if isinstance(obj, dict):
        personal = "employee_id" in obj or _last(key) == "employee"
        payload = obj.get("payload")
        # an item whose payload is about one employee: its amount is that person's pay
        personal_item = is_personal_payload(payload) or obj.get("personal") is True
        field = obj.get("field")
        violation_field = isinstance(field, str) and ("expected" in obj or "actual" in obj)
        pay_field = violation_field and _last(str(field)) in _PERSONAL_PAY
        out: dict[Any, Any] = {}
        for k, v in obj.items():
            name = str(k)
            sensitive = is_sensitive(name) or (personal and name.lower() in _PERSONAL_PAY)
            if personal_item and name == "amount":
                sensitive, name = True, "net_pay"
            if violation_field and name in ("expected", "actual") and (is_sensitive(str(field)) or pay_field):
                sensitive, name = True, ("net_pay" if pay_field else str(field))
            if pay_field and name == "message" and isinstance(v, str):
                out[k] = _AMOUNT.sub("•••.••", mask_text(v))
                continue
            if sensitive and not isinstance(v, dict | list):
                out[k] = mask_value(name, v)
            elif sensitive and isinstance(v, list) and all(not isinstance(x, dict | list) for x in v):
                out[k] = [mask_value(name, x) for x in v]
            else:
                out[k] = masked(v, name)
        return out
    if isinstance(obj, list):
        return [masked(v, key) for v in obj]
    if isinstance(obj, str):
        return mask_text(obj) if len(obj) >= 8 else obj
    return obj


def may_hold_pii(text: str) -> bool:
    """A cheap pre-check on JSON text: False means :func:`masked` would change nothing in it."""
    return bool(
        SENSITIVE_KEYS.search(text)
        or "employee" in text
        or _PAY_FIELD.search(text)
        or _IBAN.search(text)
        or _SECRET_ASSIGN.search(text)
    )


_PAY_FIELD = re.compile(r'"field":\s*"(?:[^"]*\.)?(?:' + "|".join(sorted(_PERSONAL_PAY)) + r')"')


def scrub_secrets(obj: Any) -> Any:
    """A copy with only secrets hidden (what even an unmasking role sees)."""
    if isinstance(obj, dict):
        return {
            k: (
                "••••••"
                if is_secret(str(k)) and v not in (None, "") and not isinstance(v, dict | list)
                else scrub_secrets(v)
            )
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [scrub_secrets(v) for v in obj]
    return obj


def may_unmask(role: str | None) -> bool:
    """Whether ``role`` may see clear values (DOMAIN.md: compliance only)."""
    from backoffice.users import Action, allowed

    return role is not None and allowed(role, Action.UNMASK)


def record_unmask(store: Store, user_name: str, subject: str | None, reason: str, what: str) -> User:
    """Check that ``user_name`` may unmask and audit it (who, what, why). Returns the user.

    Raises InputError without a reason and an audited PermissionDenied for other roles.
    """
    from backoffice.audit import AuditEntry, record
    from backoffice.errors import InputError
    from backoffice.users import Action, require

    if not reason or not reason.strip():
        raise InputError("unmasking needs a reason (--reason)", field="reason")
    user = require(store, user_name, Action.UNMASK, subject)
    record(
        store,
        AuditEntry(
            actor=user.name,
            role=user.role,
            action="pii.unmasked",
            subject=subject,
            data={"what": what, "reason": reason.strip()[:1000]},
            outcome="ok",
        ),
    )
    return user


def view(obj: Any, *, unmask: bool = False) -> Any:
    """What a reader sees: masked by default; with ``unmask`` only secrets stay hidden.

    The caller checks the role (:func:`may_unmask`) and audits the unmask.
    """
    return scrub_secrets(obj) if unmask else masked(obj)
