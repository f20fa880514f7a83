"""The ownership register of one engagement: a versioned TOML file, validated by pydantic.

Per workflow (bot) and rule code (``*`` for the bot's default) it names the delivery owner (a
provider user), the decision owner (one named user: shared ownership is refused) and a backup
(another named user), the response-time commitment in hours, the escalation thresholds (an amount
in the company currency, an age in hours) and the escalation path (associate -> team lead ->
the named client approver). Errors name the file, the line and the key:
``owners.toml line 12, rules[3].decision_owner: no user 'carl'``.

``engagement`` defaults to ``"default"`` (single-client use) until engagements land (issue 14.1);
the stored versions carry it so engagements can scope them.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from backoffice.errors import InputError, NotFound
from backoffice.ownership.keylines import KeyLines

__all__ = [
    "DECISION_ROLES",
    "DEFAULT_ENGAGEMENT",
    "DELIVERY_ROLES",
    "OwnerRow",
    "Problem",
    "Register",
    "RegisterError",
    "load_register",
    "parse_register",
]

DEFAULT_ENGAGEMENT = "default"
DELIVERY_ROLES = frozenset({"rpa_expert", "associate", "team_lead"})  # the provider's people
DECISION_ROLES = frozenset({"team_lead", "approver"})  # may approve a maker's decision
PATH_ROLES = ("associate", "team_lead", "approver")  # associate -> team lead -> client approver


@dataclass(frozen=True)
class Problem:
    line: int
    key: str
    message: str

    def describe(self, file: str) -> str:
        return f"{file} line {self.line}, {self.key}: {self.message}"


class RegisterError(InputError):
    """A register file that does not validate; ``problems`` lists every one (line, key, message)."""

    def __init__(self, file: str, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        self.register_file = file
        first = self.problems[0]
        super().__init__(first.message, file=file, row=first.line, field=first.key)

    def describe(self) -> str:
        return "\n".join(p.describe(self.register_file) for p in self.problems)


# -- the pydantic model of the file -------------------------------------------------------------------
def _users(info: ValidationInfo) -> Mapping[str, str] | None:
    ctx = info.context
    return ctx.get("users") if isinstance(ctx, Mapping) else None


def _check_user(name: str, info: ValidationInfo, roles: frozenset[str] | set[str], what: str) -> str:
    known = _users(info)
    if known is None:
        return name
    if name not in known:
        raise ValueError(f"no user {name!r}")
    if known[name] not in roles:
        raise ValueError(f"{name} is {known[name]}; {what} must be one of: {', '.join(sorted(roles))}")
    return name


def _one_name(value: Any) -> Any:
    if isinstance(value, list | tuple):
        raise ValueError("one decision owner per row; shared ownership is not allowed")
    if isinstance(value, str) and any(sep in value for sep in (",", "&", ";", " and ", "/")):
        raise ValueError(f"{value!r} names several users; one per row (shared ownership is not allowed)")
    return value


def _decimal(value: Any, what: str, *, money: bool = True) -> Any:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{what} is a number")
    if isinstance(value, float) and not money:
        return Decimal(str(value))
    if isinstance(value, float):
        raise ValueError(f'write {what} as an integer or a string ("{value}"), never a float')
    if isinstance(value, int | str):
        try:
            return Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{what} is not a number: {value!r}") from None
    return value


class RowModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    bot: str = Field(min_length=1, description="The workflow (bot) name.")
    code: str = Field(default="*", min_length=1, description="A rule code, or * for the bot's default.")
    delivery_owner: str = Field(min_length=1, description="The provider user who delivers the workflow.")
    decision_owner: str = Field(min_length=1, description="The one named user who decides.")
    backup: str = Field(min_length=1, description="Another named user, for when the owner is away.")
    response_hours: Decimal = Field(gt=0, description="Response-time commitment in hours.")
    escalate_amount: Decimal | None = Field(default=None, ge=0, description="Escalate above this amount.")
    escalate_age_hours: int | None = Field(default=None, gt=0, description="Escalate items older than this.")
    path: list[str] = Field(
        min_length=1, max_length=3, description="associate -> team lead -> client approver"
    )

    @field_validator("decision_owner", "backup", mode="before")
    @classmethod
    def _one_owner(cls, v: Any) -> Any:
        return _one_name(v)

    @field_validator("response_hours", mode="before")
    @classmethod
    def _hours(cls, v: Any) -> Any:
        return _decimal(v, "response_hours", money=False)

    @field_validator("escalate_amount", mode="before")
    @classmethod
    def _amount(cls, v: Any) -> Any:
        return _decimal(v, "an amount")

    @field_validator("delivery_owner")
    @classmethod
    def _delivery(cls, v: str, info: ValidationInfo) -> str:
        return _check_user(v, info, DELIVERY_ROLES, "the delivery owner (a provider user)")

    @field_validator("decision_owner", "backup")
    @classmethod
    def _decider(cls, v: str, info: ValidationInfo) -> str:
        return _check_user(v, info, DECISION_ROLES, f"the {(info.field_name or 'user').replace('_', ' ')}")

    @field_validator("path")
    @classmethod
    def _path(cls, v: list[str], info: ValidationInfo) -> list[str]:
        known = _users(info)
        if len(set(v)) != len(v):
            raise ValueError("a user appears twice in the path")
        if known is None:
            return v
        # the steps follow associate -> team lead -> approver; the last one is the client approver
        expected = PATH_ROLES[len(PATH_ROLES) - len(v) :]
        for step, (name, role) in enumerate(zip(v, expected, strict=True)):
            if name not in known:
                raise ValueError(f"path[{step}]: no user {name!r}")
            if known[name] != role:
                raise ValueError(
                    f"path[{step}]: {name} is {known[name]}; this step is a {role} "
                    f"(the path runs {' -> '.join(PATH_ROLES)})"
                )
        return v

    @model_validator(mode="after")
    def _backup_is_another(self) -> RowModel:
        if self.backup == self.decision_owner:
            raise ValueError(f"the backup must be another user than the decision owner ({self.backup})")
        return self


class RegisterModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engagement: str = Field(default=DEFAULT_ENGAGEMENT, min_length=1, max_length=80)
    currency: str | None = Field(default=None, description="Must be the company currency when given.")
    client_approver: str = Field(min_length=1, description="The engagement's named client approver.")
    rules: list[RowModel] = Field(min_length=1)

    @field_validator("client_approver")
    @classmethod
    def _approver(cls, v: str, info: ValidationInfo) -> str:
        return _check_user(v, info, {"approver"}, "the client approver")

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str | None, info: ValidationInfo) -> str | None:
        ctx = info.context
        company = ctx.get("currency") if isinstance(ctx, Mapping) else None
        if v is not None and company is not None and v.upper() != company:
            raise ValueError(f"amounts are in the company currency ({company}), not {v}")
        return v.upper() if v else v


# -- what the rest of the framework uses ---------------------------------------------------------------
@dataclass(frozen=True)
class OwnerRow:
    bot: str
    code: str
    delivery_owner: str
    decision_owner: str
    backup: str
    response_hours: Decimal | int
    escalate_amount: Decimal | None
    escalate_age_hours: int | None
    path: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bot": self.bot,
            "code": self.code,
            "delivery_owner": self.delivery_owner,
            "decision_owner": self.decision_owner,
            "backup": self.backup,
            "response_hours": str(self.response_hours),
            "escalate_amount": None if self.escalate_amount is None else str(self.escalate_amount),
            "escalate_age_hours": self.escalate_age_hours,
            "path": list(self.path),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OwnerRow:
        hours = Decimal(str(d["response_hours"]))
        amount = d.get("escalate_amount")
        return cls(
            bot=d["bot"],
            code=d["code"],
            delivery_owner=d["delivery_owner"],
            decision_owner=d["decision_owner"],
            backup=d["backup"],
            response_hours=int(hours) if hours == hours.to_integral_value() else hours,
            escalate_amount=None if amount is None else Decimal(str(amount)),
            escalate_age_hours=d.get("escalate_age_hours"),
            path=list(d.get("path") or []),
        )


@dataclass(frozen=True)
class Register:
    """One version of an engagement's ownership register."""

    engagement: str
    client_approver: str
    rows: list[OwnerRow]
    currency: str | None = None
    source: str = ""
    id: int | None = None  # the stored version's id (None for a file not yet proposed)
    status: str | None = None

    @property
    def version(self) -> str:
        """A content hash of what the register says (not of its formatting or comments)."""
        body = json.dumps(self.body(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def body(self) -> dict[str, Any]:
        return {
            "engagement": self.engagement,
            "client_approver": self.client_approver,
            "currency": self.currency,
            "rules": [r.to_dict() for r in self.rows],
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "version": self.version, "id": self.id, "status": self.status}

    def row_for(self, bot: str, code: str | None) -> OwnerRow | None:
        """The row of ``bot`` and ``code``, else the bot's default row (``*``), else None."""
        by_key = {(r.bot, r.code): r for r in self.rows}
        if code is not None and code != "*" and (bot, code) in by_key:
            return by_key[(bot, code)]
        return by_key.get((bot, "*"))

    def row_for_codes(self, bot: str, codes: Sequence[str]) -> OwnerRow | None:
        """The row an item of ``bot`` raising ``codes`` is owned by: of its codes' rows the one with
        the shortest response-time commitment (the first code on a tie), else the bot's default."""
        rows = [r for c in codes if (r := self.row_for(bot, c)) is not None and r.code == c]
        if rows:
            return min(rows, key=lambda r: Decimal(r.response_hours))
        return self.row_for(bot, None)

    def decision_owner_for(self, bot: str, code: str | None, *, store: Any, at: datetime) -> str:
        """The row's decision owner, or its backup when the owner is away at ``at``."""
        from backoffice.ownership.absences import is_away

        row = self.row_for(bot, code)
        if row is None:
            raise NotFound(
                f"the ownership register of {self.engagement} has no row for {bot} / {code or '*'}"
            )
        return row.backup if is_away(store, row.decision_owner, at) else row.decision_owner


def _key(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "register"


def _problems(exc: ValidationError, lines: KeyLines) -> list[Problem]:
    found: list[Problem] = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        msg = str(err["msg"]).removeprefix("Value error, ")
        # a model-level error naming a row ("rules[3]: ...") points at that row
        if msg.startswith("rules[") and "]: " in msg:
            where, _, msg = msg.partition(": ")
            key = where
        elif msg.startswith("path[") and "]: " in msg:
            where, _, msg = msg.partition(": ")
            key = _key([*loc, int(where[5:-1])]) if loc and loc[-1] == "path" else _key(loc)
        else:
            key = _key(loc)
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "missing"
        found.append(Problem(lines.line_of(key), key, msg))
    return found


def _duplicates(data: Mapping[str, Any], lines: KeyLines) -> list[Problem]:
    """Rows owning a (bot, code) an earlier row owns: one owner per row, one row per (bot, code)."""
    found: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
    rules = data.get("rules")
    for i, row in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(row, Mapping) or not isinstance(row.get("bot"), str):
            continue
        key = (row["bot"].strip(), str(row.get("code") or "*").strip())
        if key in seen:
            where = f"rules[{i}]"
            msg = f"{key[0]} / {key[1]} is already owned by rules[{seen[key]}] (one row per bot and code)"
            found.append(Problem(lines.line_of(where), where, msg))
        else:
            seen[key] = i
    return found


def parse_register(
    text: str,
    *,
    file: str = "owners.toml",
    users: Mapping[str, str] | None = None,
    currency: str | None = None,
) -> Register:
    """Validate a register's TOML text. ``users`` (name -> role) checks the names and their roles;
    ``currency`` the currency key. A :class:`RegisterError` lists every problem by line and key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"at line (\d+)", str(exc))
        raise RegisterError(file, [Problem(int(at.group(1)) if at else 1, "toml", str(exc))]) from None
    lines = KeyLines(text)
    problems = _duplicates(data, lines)
    try:
        model = RegisterModel.model_validate(data, context={"users": users, "currency": currency})
    except ValidationError as exc:
        problems = sorted([*_problems(exc, lines), *problems], key=lambda p: p.line)
    if problems:
        raise RegisterError(file, problems)
    rows = [
        OwnerRow.from_dict(
            {
                **r.model_dump(mode="python"),
                "response_hours": r.response_hours,
                "escalate_amount": r.escalate_amount,
            }
        )
        for r in model.rules
    ]
    return Register(
        engagement=model.engagement,
        client_approver=model.client_approver,
        rows=rows,
        currency=model.currency,
        source=text,
    )


def load_register(path: str | Path, *, store: Any = None) -> Register:
    """Read and validate a register file; with ``store``, its users and their roles are checked too."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", file=str(p)) from None
    users: dict[str, str] | None = None
    currency: str | None = None
    if store is not None:
        from backoffice.users import list_users

        users = {u.name: u.role for u in list_users(store) if u.active}
        currency = store.settings.company_currency
    return parse_register(text, file=p.name, users=users, currency=currency)
