"""The object repository of a web target: a TOML file saying where things are on its pages.

A mapping file replaces page objects written in Python: :mod:`connectors.webform` drives any web
form from it. It declares the login steps, the search by key (to find a record entered before),
the form fields per input column (over one or more steps), an optional confirmation dialog, the
submit, the record page's read-back fields and id, and look-up tables. Every element is found by
ARIA role and accessible name or by its label first; ``css`` is the fallback, tried last::

    name = "Fixture ERP"

    [login]
    path = "/login"
    refused = { css = "#login-error" }
    [[login.steps]]
    fields.user = { label = "User", css = "#username" }
    fields.password = { label = "Password", css = "#password" }
    click = { role = "button", name = "Log in" }

:func:`load_mapping` reads and validates a file; a mistake is a :class:`MappingError` naming the
file, the line and the key (``erp.toml, line 14, key form.steps[0].fields.net_amount: ...``).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backoffice.errors import InputError

__all__ = [
    "Confirm",
    "Errors",
    "FieldSpec",
    "FormSpec",
    "Locator",
    "LoginSpec",
    "Lookup",
    "Mapping",
    "MappingError",
    "Part",
    "RecordSpec",
    "SearchSpec",
    "Step",
    "load_mapping",
    "parse_mapping",
]

LOGIN_SOURCES = frozenset({"user", "password"})
KEY_SOURCE = "key"  # a form field whose value is the item's idempotency key


class MappingError(InputError):
    """A mapping file that cannot be used, naming the file, the line and the key."""

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, key: str = ""
    ) -> None:
        self.line = line
        self.key = key
        super().__init__(message, file=file, code="MAPPING")

    @classmethod
    def at(cls, text: str, loc: tuple[Any, ...], message: str, *, file: str | None = None) -> MappingError:
        """A mistake at the key path ``loc`` (e.g. ``("form", "steps", 0, "fields", "net")``) of ``text``."""
        return cls(message, file=file, line=_line_of(text, loc), key=_dotted(loc))

    @property
    def where(self) -> str:
        parts = [
            p
            for p in (
                self.file,
                f"line {self.line}" if self.line else "",
                f"key {self.key}" if self.key else "",
            )
            if p
        ]
        return ", ".join(parts)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Locator(_Model):
    """Where an element is. Strategies are tried in this order, the first that finds exactly one
    element wins: ``role`` (+ ``name``, the accessible name), ``label``, ``placeholder``, ``text``,
    then ``css``. On a record page ``label`` is the text of the term (``dt``, ``th`` or ``label``)
    just before the value. ``attribute``: read this attribute instead of the element's text."""

    role: str | None = None
    name: str | None = None
    label: str | None = None
    placeholder: str | None = None
    text: str | None = None
    css: str | None = None
    attribute: str | None = None

    @model_validator(mode="after")
    def _some_strategy(self) -> Locator:
        if not any((self.role, self.label, self.placeholder, self.text, self.css)):
            raise ValueError("say where the element is: role (+ name), label, placeholder, text or css")
        if self.name and not self.role:
            raise ValueError("name is the accessible name of a role: give role too")
        return self

    def describe(self) -> str:
        parts = []
        if self.role:
            parts.append(f"role {self.role}" + (f" {self.name!r}" if self.name else ""))
        for k in ("label", "placeholder", "text", "css"):
            v = getattr(self, k)
            if v:
                parts.append(f"{k} {v!r}")
        return " / ".join(parts)


class FieldSpec(Locator):
    """A form field: where it is and which value goes in (``source``: an input column, default the
    field's own name; ``key`` for the item's idempotency key; ``user``/``password`` at the login)."""

    source: str | None = None
    error_key: str | None = Field(
        default=None, description="The name the app's error messages use for this field, if not the field's."
    )


class Step(_Model):
    """One page or panel of a form: fields to fill, then ``click`` (Next, Log in, Save)."""

    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    click: Locator | None = None


class Confirm(_Model):
    """A confirmation dialog shown after the last step's click: ``accept`` posts the form."""

    dialog: Locator
    accept: Locator
    cancel: Locator | None = None


class Errors(_Model):
    """The app's validation messages: one element per message; ``field_attribute`` names the field."""

    messages: Locator
    field_attribute: str | None = None


class LoginSpec(_Model):
    path: str = "/login"
    steps: list[Step] = Field(min_length=1)
    refused: Locator | None = None
    expired_path: str | None = Field(
        default=None,
        description="Landing on a page under this path means the session expired (default: path).",
    )

    @model_validator(mode="after")
    def _user_and_password(self) -> LoginSpec:
        sources = {f.source or n for s in self.steps for n, f in s.fields.items()}
        if not sources <= LOGIN_SOURCES:
            raise ValueError(f"login fields take user or password, not {sorted(sources - LOGIN_SOURCES)}")
        if "password" not in sources:
            raise ValueError("the login needs a password field")
        if self.steps[-1].click is None:
            raise ValueError("the last login step needs a click (the button that logs in)")
        return self

    @property
    def expired(self) -> str:
        return self.expired_path or self.path


class Part(_Model):
    """A value inside a found element: the text (or ``attribute``) of it or of its ``css`` child."""

    css: str | None = None
    attribute: str | None = None


class SearchSpec(_Model):
    """The search that finds a record entered before, by the key typed into it.

    ``mode = "fetch"``: the page at ``path`` (``{key}`` filled in) is fetched in the browser's
    session and read without rendering (``results`` by css); ``mode = "page"``: the page is opened,
    the key typed into ``field`` and ``submit`` clicked; the search is done when a result or the
    ``empty`` element shows."""

    path: str
    mode: Literal["fetch", "page"] = "page"
    field: Locator | None = None
    submit: Locator | None = None
    results: Locator
    empty: Locator | None = None
    hit_key: Part = Field(default_factory=Part)
    hit_id: Part = Field(default_factory=Part)

    @model_validator(mode="after")
    def _mode(self) -> SearchSpec:
        if self.mode == "fetch":
            if "{key}" not in self.path:
                raise ValueError('a fetched search needs {key} in its path, e.g. "/search?q={key}"')
            if not self.results.css:
                raise ValueError("a fetched search finds its results by css")
        elif self.field is None and "{key}" not in self.path:
            raise ValueError("say where the key goes: a field to type it into, or {key} in the path")
        return self


class FormSpec(_Model):
    path: str
    steps: list[Step] = Field(min_length=1)
    confirm: Confirm | None = None
    errors: Errors | None = None

    @model_validator(mode="after")
    def _clicks(self) -> FormSpec:
        for n, step in enumerate(self.steps):
            if step.click is None:
                raise ValueError(f"steps[{n}] needs a click (Next, or the button that saves)")
        return self

    @property
    def fields(self) -> dict[str, FieldSpec]:
        return {n: f for s in self.steps for n, f in s.fields.items()}


class RecordSpec(_Model):
    """The saved record's page: its id (``id`` element or ``id_pattern`` on the URL), the page
    of an existing record (``path`` with ``{id}``), the read-back ``fields`` and the ``mask``
    (css of personal data blacked out in screenshots)."""

    path: str
    id: Locator | None = None
    id_pattern: str | None = None
    fields: dict[str, Locator] = Field(min_length=1)
    mask: list[str] = Field(default_factory=list)

    @field_validator("id_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                groups = re.compile(value).groups
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
            if groups != 1:
                raise ValueError("the pattern needs exactly one group: the id")
        return value

    @model_validator(mode="after")
    def _id(self) -> RecordSpec:
        if self.id is None and self.id_pattern is None:
            raise ValueError(
                "say how to read the saved record's id: id (an element) or id_pattern (on the URL)"
            )
        if "{id}" not in self.path:
            raise ValueError('the record path needs {id}, e.g. "/invoices/{id}"')
        return self


class Lookup(_Model):
    """Reference data read once per run: ``options`` of a select, or table ``rows`` with ``columns``."""

    path: str
    options: Locator | None = None
    rows: Locator | None = None
    columns: dict[str, Part] = Field(default_factory=dict)
    equals: dict[str, str] = Field(
        default_factory=dict, description="column -> the value that makes it true (a flag column)"
    )

    @model_validator(mode="after")
    def _one(self) -> Lookup:
        if (self.options is None) == (self.rows is None):
            raise ValueError("a lookup reads either options (of a select) or rows (with columns)")
        if self.rows is not None and not self.columns:
            raise ValueError("rows need columns: name -> {css, attribute}")
        if self.rows is not None and not self.rows.css:
            raise ValueError("lookup rows are found by css")
        return self


class Check(_Model):
    """What ``--check-mapping`` may use: the id of an existing record, to check the read-back fields."""

    record_id: str | None = None


class Mapping(_Model):
    """A whole object repository (see the module docstring)."""

    name: str
    login: LoginSpec
    search: SearchSpec
    form: FormSpec
    record: RecordSpec
    lookups: dict[str, Lookup] = Field(default_factory=dict)
    check: Check = Field(default_factory=Check)

    @model_validator(mode="after")
    def _read_back_everything(self) -> Mapping:
        typed = self.form.fields
        missing = sorted(set(typed) - set(self.record.fields))
        if missing:
            raise ValueError(f"every field typed is read back: record.fields lacks {missing}")
        extra = sorted(set(self.record.fields) - set(typed))
        if extra:
            raise ValueError(f"record.fields {extra} are not typed by the form")
        return self

    def sources(self) -> set[str]:
        """The input columns (and ``key``) the form types."""
        return {f.source or n for n, f in self.form.fields.items()}


# -- loading -------------------------------------------------------------------------------------
_TABLE = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_.\"'-]+?)\s*=")
_INNER = re.compile(r"([A-Za-z0-9_-]+)\s*=")


def _split(dotted: str) -> list[str]:
    return [p.strip().strip("\"'") for p in dotted.split(".")]


def _paths(text: str) -> list[tuple[int, tuple[Any, ...]]]:
    """(line number, key path) of every key the TOML text defines, arrays of tables indexed."""
    out: list[tuple[int, tuple[Any, ...]]] = []
    table: tuple[Any, ...] = ()
    counts: dict[tuple[Any, ...], int] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _TABLE.match(line)
        if m:
            path = tuple(_split(m.group(2)))
            if m.group(1) == "[[":
                counts[path] = counts.get(path, -1) + 1
                table = (*path, counts[path])
            else:
                # a sub-table of the latest element of an array of tables: a.b where [[a]] was seen
                fixed: list[Any] = []
                for part in path:
                    fixed.append(part)
                    if tuple(p for p in fixed if not isinstance(p, int)) in counts:
                        fixed.append(counts[tuple(p for p in fixed if not isinstance(p, int))])
                table = tuple(fixed)
            out.append((n, table))
            continue
        k = _KEY.match(line)
        if k:
            key = (*table, *_split(k.group(1)))
            out.append((n, key))
            rest = line[k.end() :]
            if "{" in rest:
                out.extend((n, (*key, inner)) for inner in _INNER.findall(rest))
    return out


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    best: tuple[int, int] | None = None  # (matched length, line)
    for n, path in _paths(text):
        k = 0
        while k < min(len(path), len(loc)) and path[k] == loc[k]:
            k += 1
        if k == len(path) and k and (best is None or k > best[0]):
            best = (k, n)
    return best[1] if best else None


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_mapping(text: str, *, file: str = "<mapping>") -> Mapping:
    """Validate TOML text as a :class:`Mapping`; MappingError names the line and key of the first problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise MappingError(f"not valid TOML: {exc}", file=file, line=int(m.group(1)) if m else None) from None
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        err = next(
            (e for e in errors if e["type"] == "extra_forbidden"), errors[0]
        )  # a typo explains a missing key
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-after")))
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key (a typo?)"
        elif err["type"] == "missing":
            message = "required key missing"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise MappingError(message + more, file=file, line=_line_of(text, loc), key=_dotted(loc)) from None


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file; MappingError names the file, line and key of a mistake."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"cannot read the mapping: {exc.strerror or exc}", file=str(p)) from None
    return parse_mapping(text, file=str(p))
