"""Masking of personal and sensitive data: bank accounts, national ids, salaries.

Masked by default everywhere (CLI, inbox, logs, exports); only roles allowed to unmask see
clear values, and each unmask is audited by the caller.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["SENSITIVE_KEYS", "is_sensitive", "mask_account", "mask_value", "masked"]

# Field names (lower case, any position in a dotted path) whose values are masked.
SENSITIVE_KEYS = re.compile(
    r"(iban|bank_?account|account_?(no|number)|acct|routing|bic_account|national_?id|ssn|social_security"
    r"|tax_?id_?person|salary|gross_pay|net_pay|base_pay|password|secret|token)",
    re.IGNORECASE,
)
_MONEY_KEYS = re.compile(r"(salary|gross_pay|net_pay|base_pay)", re.IGNORECASE)
_SECRET_KEYS = re.compile(r"(password|secret|token)", re.IGNORECASE)


def is_sensitive(key: str) -> bool:
    return bool(SENSITIVE_KEYS.search(key))


def mask_account(value: str) -> str:
    """``DE89370400440532013000`` -> ``••••3000`` (last 4 kept)."""
    clean = re.sub(r"\s+", "", value)
    if len(clean) <= 4:
        return "••••"
    return "••••" + clean[-4:]


def mask_value(key: str, value: Any) -> Any:
    if value is None or value == "":
        return value
    if _SECRET_KEYS.search(key):
        return "••••••"
    if _MONEY_KEYS.search(key):
        return "•••.••"
    return mask_account(str(value))


def masked(obj: Any, key: str = "") -> Any:
    """A copy of ``obj`` (dicts/lists/scalars) with sensitive fields masked."""
    if isinstance(obj, dict):
        return {
            k: (
                mask_value(k, v)
                if is_sensitive(str(k)) and not isinstance(v, dict | list)
                else masked(v, str(k))
            )
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [masked(v, key) for v in obj]
    return obj
