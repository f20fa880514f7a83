"""Business rules: pure functions ``(model, ctx) -> Iterable[Violation]`` with stable codes.

>>> @rule(code="INV-PRICE", owner_role="associate", sla=timedelta(hours=24))
... def price_variance(inv, ctx):
...     if inv.price > ctx.limit:
...         yield Violation(code="", message="price above PO", field="price",
...                         expected=str(ctx.limit), actual=str(inv.price))

A :class:`RuleSet` has a version hash over its rules' codes, source text and parameters; it is
recorded with every decision, so a changed rule or tolerance shows up in the audit trail.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel

from backoffice.jsonutil import canonical

__all__ = ["Rule", "RuleSet", "RuleSpec", "Violation", "rule"]

Severity = Literal["error", "warning", "info"]


class Violation(BaseModel):
    """A broken rule as data: what, where, expected vs actual. ``info`` is recorded but not queued."""

    code: str
    message: str
    field: str | None = None
    expected: Any = None
    actual: Any = None
    severity: Severity = "error"

    @property
    def blocking(self) -> bool:
        return self.severity != "info"


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
    """An ordered, versioned set of rules for one bot."""

    name: str
    rules: list[Rule]
    params: Mapping[str, Any] = field(default_factory=dict)

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

    @property
    def version(self) -> str:
        digest = hashlib.sha256()
        digest.update(self.name.encode())
        for r in self.rules:
            digest.update(r.code.encode())
            try:
                digest.update(inspect.getsource(r.fn).encode())
            except (OSError, TypeError):
                digest.update(r.fn.__qualname__.encode())
        digest.update(canonical(dict(self.params)).encode())
        return f"{self.name}@{digest.hexdigest()[:12]}"

    def codes(self) -> dict[str, RuleSpec]:
        return {spec.code: spec for spec in self._all_specs()}

    def spec(self, code: str) -> RuleSpec:
        """The spec of a code; unknown codes (e.g. INPUT, SYSTEM) get the defaults."""
        return self.codes().get(code) or RuleSpec(code=code)

    def check(self, model: Any, ctx: Any) -> list[Violation]:
        """Run every rule; a rule that crashes is a defect and is reported as a violation, not hidden."""
        out: list[Violation] = []
        for r in self.rules:
            try:
                out.extend(r(model, ctx))
            except Exception as exc:
                out.append(
                    Violation(
                        code="RULE-ERROR",
                        message=f"rule {r.code} failed: {type(exc).__name__}: {exc}",
                        severity="error",
                    )
                )
        return out
