"""One error hierarchy for the whole framework.

::

    BackofficeError
    ├── ConfigError            settings or environment are wrong (exit 2 at the CLI)
    ├── InputError             a bad file, sheet, row, column, page or field; says where
    │   └── UsageError         the command line or the call was misused (exit 2 at the CLI)
    ├── ConnectorError         a system we talk to misbehaved
    │   ├── TransientError     worth retrying (timeouts, 5xx, locked files); a Transient
    │   ├── TerminalError      retrying will not help (element gone, login refused); a Terminal
    │   └── TargetDown         the target system is down or refuses the bot: not the item's fault;
    │                          stops the run (circuit breaker, backoffice.runner.breaker); a Terminal
    ├── RuleViolation          a broken business rule, carried as data (see rules.Violation)
    ├── NotFound               no such item, user or file
    ├── ConflictError          the state changed under you (claimed by someone else, lease lost)
    ├── PermissionDenied       role or maker-checker refuses the action (exit 3 at the CLI)
    └── IntegrityError         the audit chain or an evidence pack does not verify (exit 1)

Whether retrying can help is a marker, not a place in the tree (as dlt does it): mix
:class:`Transient` or :class:`Terminal` into any error class, e.g.
``class LedgerLocked(InputError, Transient)``. :mod:`backoffice.retry` is the one place that reads
the markers; an error with neither marker is not retried.

Violations are data, not control flow: rules return them, they are never raised in
normal processing. ``RuleViolation`` exists for API callers who want to raise them.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BackofficeError",
    "ConfigError",
    "ConflictError",
    "ConnectorError",
    "InputError",
    "IntegrityError",
    "NotFound",
    "PermissionDenied",
    "RuleViolation",
    "TargetDown",
    "Terminal",
    "TerminalError",
    "Transient",
    "TransientError",
    "UsageError",
]


class BackofficeError(Exception):
    """Root of every error the framework raises on purpose."""

    exit_code = 1


class ConfigError(BackofficeError):
    """Settings or environment are wrong."""

    exit_code = 2


class InputError(BackofficeError):
    """A bad input, with where it is: file, sheet, row, column/field, page.

    ``str(err)`` reads like ``invoices/a.pdf, page 2, field 'gross_total': not a number ('12,3x')``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        sheet: str | None = None,
        row: int | None = None,
        column: str | None = None,
        field: str | None = None,
        page: int | None = None,
        code: str = "INPUT",
    ) -> None:
        self.message = message
        self.file = file
        self.sheet = sheet
        self.row = row
        self.column = column
        self.field = field
        self.page = page
        self.code = code
        super().__init__(self.describe())

    @property
    def where(self) -> str:
        parts: list[str] = []
        if self.file:
            parts.append(str(self.file))
        if self.sheet:
            parts.append(f"sheet {self.sheet!r}")
        if self.page is not None:
            parts.append(f"page {self.page}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column!r}")
        if self.field:
            parts.append(f"field {self.field!r}")
        return ", ".join(parts)

    def describe(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.describe(),
            "file": self.file,
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "field": self.field,
            "page": self.page,
        }


class UsageError(InputError):
    """The command line or an API call was misused: a missing or malformed option (exit 2).

    An :class:`InputError` (the input is the command line), so callers catching bad input catch
    it too; replaces ``InputError(code="USAGE")``.
    """

    exit_code = 2

    def __init__(self, message: str, *, field: str | None = None, file: str | None = None) -> None:
        super().__init__(message, field=field, file=file, code="USAGE")


class Transient(Exception):
    """Marker: retrying may help (a timeout, HTTP 5xx, a locked file). Mix it into an error class;
    :func:`backoffice.retry.retry` retries these and nothing else."""


class Terminal(Exception):
    """Marker: retrying will not help (an element is gone, a login is refused). Wins over
    :class:`Transient` when a class carries both."""


class ConnectorError(BackofficeError):
    """A system we talk to misbehaved."""


class TransientError(ConnectorError, Transient):
    """Worth retrying: timeouts, HTTP 5xx, a locked file."""


class TerminalError(ConnectorError, Terminal):
    """Retrying will not help: an element is gone, a login is refused."""


class TargetDown(ConnectorError, Terminal):
    """The target system is down or refuses the bot (its login fails, or it fails item after item):
    no item's fault, and no use trying the next one. Raised from a bot's ``open``, ``read`` or
    ``act``, or by the runner's circuit breaker after ``settings.breaker_failures`` consecutive
    system failures: the run stops with one ``run.incident`` audit entry and fails; the items it
    has not acted on stay ``new`` for the next run (never one exception per item)."""

    def __init__(self, message: str, *, target: str | None = None, evidence: list[str] | None = None) -> None:
        self.target = target
        self.evidence = list(evidence or [])  # sha256 of evidence files (a screenshot of the login page)
        super().__init__(message)


class RuleViolation(BackofficeError):
    """A broken business rule raised by API callers; rules themselves return Violations."""

    def __init__(self, violations: list[Any]) -> None:
        self.violations = violations
        codes = ", ".join(getattr(v, "code", str(v)) for v in violations)
        super().__init__(f"rule violations: {codes}")


class NotFound(BackofficeError):
    """No such item, user, run or file."""


class ConflictError(BackofficeError):
    """The state changed under you: already claimed, lease lost, wrong status."""


class PermissionDenied(BackofficeError):
    """The role or the maker-checker rule refuses the action."""

    exit_code = 3


class IntegrityError(BackofficeError):
    """The audit chain or an evidence pack does not verify."""

    def __init__(self, message: str, *, first_bad_seq: int | None = None, file: str | None = None) -> None:
        self.first_bad_seq = first_bad_seq
        self.file = file
        super().__init__(message)
