"""Masking of personal and secret data, by the data classes the bots declare.

The core never guesses from key names: a bot marks the personal fields of its item model with a
:class:`~backoffice.data_classes.DataClass` and this module masks exactly those. What a reader
sees, for values of each class:

=================================  ===============================================================
class                              masked as
=================================  ===============================================================
``personal.pay``                   ``•••.••``
``personal.bank_account``          the last 4 kept (:func:`mask_account`): ``••••3000``
``personal.national_id``           the last 4 kept
``personal.contact``               ``••••`` (hidden)
``secret``                         ``••••••``, for everyone, also for roles that may unmask
=================================  ===============================================================

A bank account or national id with fewer than 4 digits (``unique``, ``on file``) is a description,
not a number, and is shown.

Where the declarations apply (:class:`Masking`; look-ups go through the plugin registry by the
item's or entry's ``bot``):

- an item's ``payload`` and its act ``result`` (paths as in the payload);
- its ``violations``: a violation whose ``field`` path is declared gets ``expected``/``actual``
  masked by that class, and its ``message`` too (every amount in it for a pay field, the two
  values wherever they appear otherwise);
- its ``changes`` and an audit entry's ``before``/``after``/``set`` maps (``{"person.pay":
  ...}``: keys are payload paths);
- its ``amount`` when the bot's ``amount_class`` is personal, or the item's ``personal`` column
  is set (the runner sets it from ``amount_class``);
- a run's ``inputs`` by the data classes declared on the bot's ``Inputs`` (a password input);
- everywhere else free text only: IBANs (mod-97 valid) written in text keep their last 4, and
  ``password=...``-like assignments are hidden (:func:`mask_text`, also for logs through
  :func:`install_log_masking`).

An item or entry of a bot that is **not installed** (its declarations are unknown) is masked
conservatively: every value of its payload, result, changes, violations and amount with 4 or
more digits is masked (numbers as ``•••.••``, other text to its last 4). Entries with no bot
(logins, user changes, reads) hold no payload and get the free-text masking only.

Only roles allowed to unmask (``Action.UNMASK``: compliance) see clear values (``Masking(unmask=
True)``: secrets stay hidden); each unmask is audited with a reason (:func:`record_unmask`,
called by whoever shows clear values).

**Need to know** (DOMAIN.md): the people who work an item (its assignee, its current tier's
role, its checker: :func:`backoffice.queue.routing.works_on`) see the pay figures they must check on that item's page, its
violations and its correction form: ``Masking(clear=WORKER_CLEAR)``. Bank accounts and national
ids stay at their last 4 and contact data hidden for them (only an audited unmask shows those).
Lists, KPIs, exports and logs use the default ``Masking()``.

A violation's ``expected``/``actual`` are masked by the data class the bot declared for them
(:attr:`~backoffice.rules.Violation.data_class`), else by the class of its ``field``. Its
``message`` is shown as the bot built it to readers who see its figures (the class of its
values, pay when it declares none); to everyone else as its ``masked_message`` when the bot gave
one (:meth:`backoffice.rules.Violation.figures` builds both), else with the two values and, for
pay, every amount replaced.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from backoffice.data_classes import MASK, PAY_MASK, SECRET_MASK, DataClass, declared, mask_account, mask_as
from backoffice.errors import ConfigError
from backoffice.plugins import registry

if TYPE_CHECKING:
    from backoffice.store import Store
    from backoffice.users import User

__all__ = [
    "MASK",
    "PAY_MASK",
    "SECRET_MASK",
    "WORKER_CLEAR",
    "Masking",
    "Policy",
    "iban_spans",
    "install_log_masking",
    "mask_account",
    "mask_as",
    "mask_text",
    "may_unmask",
    "record_unmask",
    "value_at",
]

_AMOUNT = re.compile(r"(?<![\w.])\d[\d,']*\.\d+(?![\w.])")  # 1,234.56 / 33.52 in free text
_NUMBER = re.compile(r"[-+]?[\d,' ]*\d(\.\d+)?")
_IBAN = re.compile(r"\b([A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30})\b")
_SECRET_ASSIGN = re.compile(
    r"""(?i)\b(password|passwd|pwd|secret|token|api_?key|audit_key)(["']?\s*[=:]\s*["']?)([^\s"',;&]+)"""
)
WORKER_CLEAR = frozenset({DataClass.PAY})
"""What an item's own workers see in clear on that item (need to know)."""
_PERSONAL = frozenset(c for c in DataClass if c.personal)

# When one path matches several declarations (``lines.*.x`` and ``lines.0.x``), the strictest wins.
_RANK = {
    DataClass.SECRET: 5,
    DataClass.NATIONAL_ID: 4,
    DataClass.BANK_ACCOUNT: 3,
    DataClass.PAY: 2,
    DataClass.CONTACT: 1,
}


# -- values ------------------------------------------------------------------------------------------
def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _guarded(value: Any) -> Any:
    """A value of a bot whose declarations are unknown: masked if it holds 4 or more digits."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value)
    if _digits(text) < 4:
        return value
    return PAY_MASK if _NUMBER.fullmatch(text.strip()) else mask_account(text)


def _iban_ok(text: str) -> bool:
    """Whether an IBAN-shaped run of text has valid check digits (mod-97), so it is masked.

    A detector for masking, not the IBAN *check* (that is ``connectors.bankfiles.iban_problem`` on
    schwifty): it deliberately accepts what the check would refuse for structure or registry
    length, because a mistyped account in free text must be masked all the same."""
    s = text.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    digits = "".join(str(int(ch, 36)) for ch in s[4:] + s[:4])
    return int(digits) % 97 == 1


def mask_text(text: str) -> str:
    """Free text with every valid IBAN masked to its last 4 characters and the value of every
    ``password=...``/``token: ...``-like assignment hidden."""

    def repl(m: re.Match[str]) -> str:
        return mask_account(m.group(1)) if _iban_ok(m.group(1)) else m.group(0)

    text = _SECRET_ASSIGN.sub(lambda m: m.group(1) + m.group(2) + SECRET_MASK, text)
    return _IBAN.sub(repl, text)


def iban_spans(text: str) -> list[tuple[int, int]]:
    """Where :func:`mask_text` would mask an IBAN in ``text``: ``(start, end)`` offsets (for
    redacting a rendered page where its text layer holds one)."""
    return [m.span(1) for m in _IBAN.finditer(text) if _iban_ok(m.group(1))]


def _text(value: Any) -> Any:
    return mask_text(value) if isinstance(value, str) and len(value) >= 8 else value


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


# -- paths ---------------------------------------------------------------------------------------------
def _parts(path: str) -> list[str]:
    """``lines.0.account`` (and the older ``lines[0].account`` of stored violations) -> parts."""
    return [p for p in re.sub(r"\[(\d+)\]", r".\1", path).split(".") if p]


def value_at(obj: Any, path: str) -> Any:
    """The value at a dotted path (``header.party``, ``lines.0.qty``), or None."""
    node = obj
    for part in _parts(path):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


@dataclass
class _Node:
    """One step of the declared path patterns (``*`` matches any key or list position)."""

    cls: DataClass | None = None
    children: dict[str, _Node] = field(default_factory=dict)


def _tree(classes: Mapping[str, DataClass]) -> _Node:
    root = _Node()
    for pattern, cls in classes.items():
        node = root
        for part in pattern.split("."):
            node = node.children.setdefault(part, _Node())
        node.cls = cls
    return root


def _step(nodes: list[_Node], key: str) -> list[_Node]:
    out = []
    for n in nodes:
        for k in (key, "*"):
            child = n.children.get(k)
            if child is not None:
                out.append(child)
    return out


def _class(nodes: list[_Node]) -> DataClass | None:
    found = [n.cls for n in nodes if n.cls is not None]
    return max(found, key=_RANK.__getitem__) if found else None


# -- one bot's declarations ------------------------------------------------------------------------------
@dataclass(eq=False)
class Policy:
    """What the core knows about one bot's data: its declared classes, or that it is unknown.

    ``installed`` is False for a bot the registry does not know (or cannot load): its data is then
    masked conservatively (see the module docstring). ``bot`` is None for entries with no bot.
    """

    bot: str | None
    installed: bool
    classes: Mapping[str, DataClass] = field(default_factory=dict)
    inputs: Mapping[str, DataClass] = field(default_factory=dict)
    amount_class: DataClass | None = None
    title_field: str | None = None
    party_field: str | None = None

    @classmethod
    def of(cls, bot: str | None) -> Policy:
        """The policy of ``bot`` from the plugin registry in force."""
        if bot is None:
            return cls(None, installed=True)
        try:
            found = registry().find(bot)
        except ConfigError:  # an entry point that is not a Bot: treat its data as unknown
            found = None
        if found is None:
            return cls(bot, installed=False)
        return cls(
            bot,
            installed=True,
            classes=declared(found.model),
            inputs=declared(found.Inputs),
            amount_class=found.amount_class,
            title_field=found.title_field,
            party_field=found.party_field,
        )

    @property
    def conservative(self) -> bool:
        return self.bot is not None and not self.installed

    @property
    def amount_personal(self) -> bool:
        return self.amount_class is not None and self.amount_class.personal

    @cached_property
    def _payload_tree(self) -> _Node:
        return _tree(self.classes)

    @cached_property
    def _inputs_tree(self) -> _Node:
        return _tree(self.inputs)

    def _nodes(self, path: str, root: _Node | None = None) -> list[_Node]:
        nodes = [root if root is not None else self._payload_tree]
        for part in _parts(path):
            if _class(nodes) is not None:  # a declared field holding a record or list
                return [n for n in nodes if n.cls is not None]
            nodes = _step(nodes, part)
            if not nodes:
                return []
        return nodes

    def class_of(self, path: str) -> DataClass | None:
        """The declared data class of a concrete payload path (``person.pay``, ``lines.0.account``),
        also when the path lies inside a declared field; None when it is not declared."""
        return _class(self._nodes(path))

    @cached_property
    def _names(self) -> re.Pattern[str] | None:
        names = {p for pattern in self.classes for p in pattern.split(".") if p != "*"}
        names |= {p for pattern in self.inputs for p in pattern.split(".") if p != "*"}
        if self.amount_personal:
            names.add("amount")
        if not names:
            return None
        return re.compile(r'[".](?:' + "|".join(re.escape(n) for n in sorted(names)) + r')"')

    def may_mask(self, json_text: str, *, unmask: bool = False) -> bool:
        """A cheap pre-check on JSON text: False means masking would change nothing in it."""
        if self.conservative:
            return not unmask
        if unmask:
            has_secret = DataClass.SECRET in self.classes.values() or DataClass.SECRET in self.inputs.values()
            return has_secret and self._names is not None and bool(self._names.search(json_text))
        if _IBAN.search(json_text) or _SECRET_ASSIGN.search(json_text) or '"masked_message"' in json_text:
            return True
        return self._names is not None and bool(self._names.search(json_text))


def _data_class(value: Any) -> DataClass | None:
    try:
        return DataClass(value) if value else None
    except ValueError:
        return None


# -- masking what a reader sees ------------------------------------------------------------------------
_FLAT_MAPS = ("before", "after", "changes", "set")  # payload path -> value
_PAYLOADS = ("payload", "result")
_VIOLATION_LISTS = ("violations", "recorded")


class Masking:
    """Masks items, audit entries and payloads as one reader may see them.

    One object per listing, page or export: it looks each bot up in the registry once.
    ``unmask=True`` (the caller has checked the role and audited the unmask) shows clear values
    except secrets.
    """

    def __init__(self, *, unmask: bool = False, clear: frozenset[DataClass] = frozenset()) -> None:
        self.unmask = unmask
        self.clear = _PERSONAL if unmask else frozenset(clear) & _PERSONAL  # never a secret
        self._policies: dict[str | None, Policy] = {}

    def policy(self, bot: str | None) -> Policy:
        if bot not in self._policies:
            self._policies[bot] = Policy.of(bot)
        return self._policies[bot]

    # -- public entry points --------------------------------------------------------------------------
    def payload(self, bot: str | None, payload: Any) -> Any:
        """A copy of an item payload (or anything shaped like one) with declared fields masked."""
        p = self.policy(bot)
        return self._walk(p, payload, [p._payload_tree])

    def declared(self, classes: Mapping[str, DataClass], value: Any) -> Any:
        """A copy of ``value`` masked by the ``classes`` declared for it (path patterns as in
        :func:`backoffice.data_classes.declared`), e.g. a record of structured evidence."""
        return self._walk(Policy(None, installed=True, classes=classes), value, [_tree(classes)])

    def violations(self, bot: str | None, violations: Any) -> Any:
        p = self.policy(bot)
        if not isinstance(violations, list):
            return self._record(p, violations)
        return [self._violation(p, v) if isinstance(v, dict) else self._record(p, v) for v in violations]

    def amount(self, bot: str | None, amount: Any, *, personal: bool | None = None) -> Any:
        """An item's amount: masked when it is a person's pay (``personal`` is the item's column)."""
        p = self.policy(bot)
        if self.unmask or amount is None:
            return amount
        if personal or p.amount_personal:
            return amount if (p.amount_class or DataClass.PAY) in self.clear else PAY_MASK
        if p.conservative and personal is None:
            return _guarded(amount)
        return amount

    def item(self, item: Mapping[str, Any], *, personal: bool | None = None) -> dict[str, Any]:
        """An item dict (``bot``, ``payload``, ``violations``, ``amount``, ``changes``, ``reason``...)
        as the reader sees it. ``personal``: the item's column (else ``item["personal"]``)."""
        bot = item.get("bot")
        p = self.policy(bot if isinstance(bot, str) else None)
        flag = personal if personal is not None else item.get("personal")
        out = self._record(p, item)
        if "amount" in item:
            out["amount"] = self.amount(p.bot, item["amount"], personal=flag)
        return out

    def entry_data(self, bot: str | None, data: Any) -> Any:
        """An audit entry's ``data`` by the declarations of the entry's ``bot``."""
        return self._record(self.policy(bot), data)

    def entry(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """An audit entry (``bot`` and parsed ``data``) with its data masked."""
        out = dict(row)
        out["data"] = self.entry_data(row.get("bot"), row.get("data"))
        return out

    def text(self, text: Any) -> Any:
        """Free text (a comment, a reason)."""
        return text if self.unmask else _text(text)

    def title(self, bot: str | None, payload: Any) -> str:
        """An item's title for lists: the (masked) payload value at the bot's ``title_field``."""
        p = self.policy(bot)
        if not p.title_field:
            return ""
        value = value_at(self.payload(bot, payload), p.title_field)
        if value in (None, "") or isinstance(value, dict | list):
            return ""
        return str(value)[:80]

    # -- the walk -------------------------------------------------------------------------------------
    def _leaf(self, p: Policy, value: Any, *, guarded: bool) -> Any:
        if self.unmask:
            return value
        if guarded and p.conservative:
            return _guarded(value)
        return _text(value)

    def _as(self, cls: DataClass, value: Any) -> Any:
        """A value (or a whole record/list) of one declared class."""
        if cls in self.clear:
            return value
        if isinstance(value, dict):
            return {k: self._as(cls, v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._as(cls, v) for v in value]
        return mask_as(cls, value)

    def _walk(self, p: Policy, value: Any, nodes: list[_Node]) -> Any:
        """``value`` at a place in a payload; ``nodes``: the declared patterns that reach it."""
        cls = _class(nodes)
        if cls is not None:
            return self._as(cls, value)
        if isinstance(value, dict):
            return {k: self._walk(p, v, _step(nodes, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(p, v, _step(nodes, str(i))) for i, v in enumerate(value)]
        return self._leaf(p, value, guarded=True)

    def _flat(self, p: Policy, changes: Any) -> Any:
        """``{"person.pay": "5000.00", ...}``: keys are payload paths."""
        if not isinstance(changes, dict):
            return self._record(p, changes)
        return {k: self._walk(p, v, p._nodes(str(k))) for k, v in changes.items()}

    def _violation(self, p: Policy, v: Mapping[str, Any]) -> dict[str, Any]:
        keep = ("expected", "actual", "masked_message", "data_class")
        out = {k: (self._record(p, x) if k not in keep else x) for k, x in v.items()}
        out.pop("masked_message", None)  # the reader gets one message: clear or masked
        path = v.get("field")
        nodes = p._nodes(path) if isinstance(path, str) and path else []
        declared_cls = _data_class(v.get("data_class"))
        cls = declared_cls or _class(nodes)
        for k in ("expected", "actual"):
            if k in v:
                if declared_cls is not None:
                    out[k] = self._as(declared_cls, v[k])
                elif nodes:
                    out[k] = self._walk(p, v[k], nodes)
                else:
                    out[k] = self._leaf(p, v[k], guarded=True)
        message = v.get("message")
        if not isinstance(message, str):
            return out
        figures = cls or DataClass.PAY  # what the message quotes: its values' class, pay by default
        masked = v.get("masked_message")
        if figures in self.clear or (cls is None and not isinstance(masked, str) and not p.conservative):
            out["message"] = message if self.unmask else mask_text(message)
            return out
        if isinstance(masked, str):  # the bot built the masked rendering
            out["message"] = masked if self.unmask else mask_text(masked)
            return out
        if self.unmask:  # only a secret is left to hide
            text = message
        else:
            text = mask_text(message)
            if cls is DataClass.PAY or (cls is None and p.conservative):
                text = _AMOUNT.sub(PAY_MASK, text)
        for k in ("expected", "actual"):
            shown, clear = out.get(k), v.get(k)
            literal = isinstance(clear, str | int) and not isinstance(clear, bool) and len(str(clear)) >= 4
            if literal and shown != clear:
                text = text.replace(str(clear), str(shown))
        out["message"] = text
        return out

    def _record(self, p: Policy, value: Any) -> Any:
        """Anything else (an item dict, an entry's data, a nested part of it): the keys of the
        core's own vocabulary lead to payloads, path maps and violations; the rest is free text."""
        if isinstance(value, list):
            return [self._record(p, v) for v in value]
        if not isinstance(value, dict):
            return self._leaf(p, value, guarded=False)
        if isinstance(value.get("field"), str) and ("expected" in value or "actual" in value):
            return self._violation(p, value)
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if k in _PAYLOADS:
                out[k] = self._walk(p, v, [p._payload_tree])
            elif k in _FLAT_MAPS:
                out[k] = self._flat(p, v)
            elif k in _VIOLATION_LISTS and isinstance(v, list):
                out[k] = [self._violation(p, x) if isinstance(x, dict) else self._record(p, x) for x in v]
            elif k == "amount" and not isinstance(v, dict | list):
                out[k] = self.amount(p.bot, v)
            elif k == "inputs" and isinstance(v, dict):
                out[k] = self._walk(p, v, [p._inputs_tree])
            else:
                out[k] = self._record(p, v)
        return out


# -- who may see clear values ------------------------------------------------------------------------------
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
