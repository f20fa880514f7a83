"""Business rules: pure functions ``(model, ctx) -> Iterable[Violation]`` with stable codes.

>>> @rule(code="INV-PRICE", owner_role="associate", sla=timedelta(hours=24))
... def price_variance(inv, ctx):
...     if inv.price > ctx.limit:
...         yield Violation(code="", message="price above PO", field="price",
...                         expected=str(ctx.limit), actual=str(inv.price))

A :class:`RuleSet` has a version hash over its rules' codes, the source of every module its rules
depend on (the modules that define them, plus the helper modules named in ``depends_on``) and
the parameters the bot runs with; it is recorded with every decision, so a changed rule, helper
or tolerance shows up in the audit trail and in change control.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from backoffice.data_classes import DataClass, mask_as
from backoffice.jsonutil import canonical

__all__ = ["Rule", "RuleSet", "RuleSpec", "Violation", "field_path", "is_field_path", "rule"]

Severity = Literal["error", "warning", "info"]


class Violation(BaseModel):
    """A broken rule as data: what, where, expected vs actual. ``info`` is recorded but not queued."""

    code: str
    message: str
    field: str | None = Field(
        default=None,
        description="Where in the payload: payload keys joined by dots, list positions as numbers "
        "(``lines.0.quantity``), the syntax of ``queue resolve --set`` and of declared data classes; "
        "no brackets, no empty parts.",
    )
    expected: Any = None
    actual: Any = None
    severity: Severity = "error"
    data_class: DataClass | None = Field(
        default=None,
        description="The data class of expected/actual when the field's declared class does not say it "
        "(a figure computed from pay, no field): readers who may not see it get them masked.",
    )
    masked_message: str | None = Field(
        default=None,
        description="The message with its personal figures masked, for readers who may not see them "
        "(built by Violation.quoting); the message itself is shown to the item's workers.",
    )

    @classmethod
    def quoting(
        cls,
        code: str,
        template: str,
        figures: Mapping[str, Any],
        *,
        classes: Mapping[str, DataClass] | None = None,
        **fields: Any,
    ) -> Violation:
        """A violation whose message quotes personal figures: ``template`` has ``{name}``
        placeholders filled from ``figures``; its masked rendering fills each with the mask of its
        data class (``classes``; pay by default). Figures that are not personal go into the
        template before (an f-string with the personal ones as ``{{name}}``)."""
        kinds = classes or {}
        masked = {k: mask_as(kinds.get(k, DataClass.PAY), v) for k, v in figures.items()}
        return cls(
            code=code,
            message=template.format(**figures),
            masked_message=template.format(**masked),
            **fields,
        )

    @field_validator("field")
    @classmethod
    def _one_path_syntax(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not is_field_path(value):
            raise ValueError(
                f"field {value!r}: use payload keys joined by dots, list positions as numbers "
                "(lines.0.quantity)"
            )
        return value

    @property
    def blocking(self) -> bool:
        return self.severity != "info"


def is_field_path(value: str) -> bool:
    """Whether ``value`` is in the one path syntax of :attr:`Violation.field`."""
    return all(p and p == p.strip() and "[" not in p and "]" not in p for p in value.split("."))


def field_path(loc: Sequence[int | str], data: Any = None, *, missing: bool = False) -> str | None:
    """A pydantic error location as a :attr:`Violation.field` path (``("lines", 0, "qty")`` ->
    ``lines.0.qty``). Pydantic's type tags in ``loc`` (union members such as ``int`` or a model's
    name, ``list[int]``, ``[key]``, ``function-after[...]``) are not payload keys and are left out;
    ``data`` (the validated input) tells them apart, ``missing`` says the last key is absent."""
    parts: list[str] = []
    node: Any = data
    for i, p in enumerate(loc):
        if isinstance(p, int):
            parts.append(str(p))
            node = node[p] if isinstance(node, list) and -len(node) <= p < len(node) else None
            continue
        if "[" in p or "]" in p or not p.strip():
            continue  # a type tag
        if isinstance(node, Mapping):
            if p in node:
                parts.append(p)
                node = node[p]
            elif missing and i == len(loc) - 1:
                parts.append(p)
            continue  # absent from the input: a union member's name
        if node is None:
            parts.append(p)  # nothing to check against
        # else: a scalar or a list has no keys, so ``p`` is a type tag
    return ".".join(parts) or None


@dataclass(frozen=True)
class RuleSpec:
    code: str
    owner_role: str = "associate"
    sla: timedelta = timedelta(hours=24)
    description: str = ""
    approver_only: bool = False  # e.g. duplicates and bank changes: only an approver may accept
    priority: int = 3


RuleFn = Callable[[Any, Any], Iterable[Violation] | None]


@dataclass
class Rule:
    spec: RuleSpec
    fn: RuleFn
    codes: tuple[RuleSpec, ...] = ()

    @property
    def code(self) -> str:
        return self.spec.code

    def __call__(self, model: Any, ctx: Any) -> list[Violation]:
        found = self.fn(model, ctx) or ()
        out: list[Violation] = []
        for v in found:
            if not v.code:
                v = v.model_copy(update={"code": self.spec.code})
            out.append(v)
        return out


def _module_source(name: str) -> bytes:
    module = importlib.import_module(name)
    try:
        return inspect.getsource(module).encode()
    except (OSError, TypeError):  # no source (frozen, compiled): the compiled code stands in
        path = getattr(module, "__file__", None)
        return Path(path).read_bytes() if path else name.encode()


def rule(
    *,
    code: str,
    owner_role: str = "associate",
    sla: timedelta = timedelta(hours=24),
    description: str = "",
    approver_only: bool = False,
    priority: int = 3,
    codes: Iterable[RuleSpec] = (),
) -> Callable[[RuleFn], Rule]:
    """Declare a rule. Extra ``codes`` are further RuleSpecs the same function may yield."""

    def wrap(fn: RuleFn) -> Rule:
        spec = RuleSpec(
            code=code,
            owner_role=owner_role,
            sla=sla,
            description=description or (inspect.getdoc(fn) or "").split("\n")[0],
            approver_only=approver_only,
            priority=priority,
        )
        return Rule(spec=spec, fn=fn, codes=tuple(codes))

    return wrap


@dataclass
class RuleSet:
    """An ordered, versioned set of rules for one bot.

    ``params``: the tolerances the rules run with (a mapping or a pydantic model: pass the very
    object the bot uses). ``depends_on``: modules (or their names) whose code can change what the
    rules decide (matching helpers, tolerance maths) besides the modules defining the rules.
    """

    name: str
    rules: list[Rule]
    params: Mapping[str, Any] | BaseModel = field(default_factory=dict)
    depends_on: Sequence[ModuleType | str] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for spec in self._all_specs():
            if spec.code in seen:
                raise ValueError(f"rule code {spec.code!r} declared twice in {self.name}")
            seen.add(spec.code)

    def _all_specs(self) -> Iterable[RuleSpec]:
        for r in self.rules:
            yield r.spec
            yield from r.codes

    def modules(self) -> list[str]:
        """Names of every module whose source the version covers, sorted."""
        names = {r.fn.__module__ for r in self.rules}
        names.update(m if isinstance(m, str) else m.__name__ for m in self.depends_on)
        return sorted(names)

    def params_dict(self) -> dict[str, Any]:
        if isinstance(self.params, BaseModel):
            return dict(self.params.model_dump(mode="json"))
        return dict(self.params)

    def _code_digest(self) -> Any:
        digest = hashlib.sha256()
        digest.update(self.name.encode())
        for r in self.rules:
            digest.update(r.code.encode())
        for name in self.modules():
            digest.update(name.encode())
            digest.update(_module_source(name))
        return digest

    @functools.cached_property
    def version(self) -> str:
        digest = self._code_digest()
        digest.update(canonical(self.params_dict()).encode())
        return f"{self.name}@{digest.hexdigest()[:12]}"

    @functools.cached_property
    def code_version(self) -> str:
        """The version of the rules' code alone (params left out): change control tells a code
        change (a new ``code_version``) from a tolerance change (same code, other params)."""
        return f"{self.name}@{self._code_digest().hexdigest()[:12]}"

    def codes(self) -> dict[str, RuleSpec]:
        return {spec.code: spec for spec in self._all_specs()}

    def spec(self, code: str) -> RuleSpec:
        """The spec of a code; unknown codes (e.g. INPUT, SYSTEM) get the defaults."""
        return self.codes().get(code) or RuleSpec(code=code)

    def check(self, model: Any, ctx: Any) -> list[Violation]:
        """Run every rule; a rule that crashes is a defect and is reported as a violation, not hidden.

        One loop without a wrapper call or list per rule (that overhead was a fifth of the time
        of checking an item whose rules find nothing); a violation without a code takes its
        rule's; a rule's violations count all or none (one crashing half-way reports the crash)."""
        out: list[Violation] = []
        for r in self.rules:
            try:
                found = r.fn(model, ctx)
                if not found:
                    continue
                out.extend([v if v.code else v.model_copy(update={"code": r.spec.code}) for v in found])
            except Exception as exc:
                out.append(
                    Violation(
                        code="RULE-ERROR",
                        message=f"rule {r.code} failed: {type(exc).__name__}: {exc}",
                        severity="error",
                    )
                )
        return out
