"""The core names no bot and no payload key of any installed bot (issue 11: masking, retention,
the access review and the inbox read the bots' declarations instead).

What is scanned, in every file under ``backoffice/``:

- the installed bots' names, anywhere (code, docs, templates, static files): they are distinctive;
- the field names of every installed bot's item model (``declared()`` plus ``model_fields``,
  nested models followed), where code uses a key: Python string literals without whitespace (a
  key, a dotted path, a regular expression: ``"vendor_id"``, ``"lines.0.iban"``, ``r"(iban|...)"``;
  prose and messages have spaces), attribute names (``row.vendor_id``), and in templates the Jinja
  blocks and attribute values without whitespace.

Ignored: the core's own vocabulary, which a bot may reuse for its fields: the fields of the
core's models (Item, SourceRef, EvidenceRef, Violation, RuleSpec), the names of the data classes
(``personal.bank_account``) and the columns of its tables (``key``, ``kind``, ``source``,
``amount``, ``currency``, ``name``, ``file``, ``sha256``...), plus :data:`GENERIC`.
"""

from __future__ import annotations

import dataclasses
import io
import re
import tokenize
import typing
from pathlib import Path

from pydantic import BaseModel

import backoffice
from backoffice.data_classes import DataClass, declared
from backoffice.items import EvidenceRef, Item, SourceRef
from backoffice.plugins import registry
from backoffice.rules import RuleSpec, Violation

CORE = Path(backoffice.__file__).resolve().parent
TEXT_SUFFIXES = {".py", ".html", ".jinja", ".mako", ".css", ".js", ".txt", ".md", ".ini", ".toml", ".json"}
#: Core vocabulary that is not a field of a core model nor a column (and that bots reuse):
#: ``row`` a stored or read table row (``QueueItem.row``); ``ids`` the inbox's bulk form field of
#: item ids; ``problems`` what ``verify_pack`` found (``PackReport.problems``).
GENERIC = frozenset({"row", "ids", "problems"})
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")
_ATTR_VALUE = re.compile(r'="([^"\s]*)"')


def _models_in(annotation: typing.Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def field_names(model: type[BaseModel]) -> set[str]:
    """Every field name of ``model`` and of the models inside it (lists, unions, dicts)."""
    names: set[str] = set()
    seen: set[type[BaseModel]] = set()
    todo = [model]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        for name, info in m.model_fields.items():
            names.add(name)
            todo.extend(_models_in(info.annotation))
    names |= {part for pattern in declared(model) for part in pattern.split(".") if part != "*"}
    return names


def core_vocabulary() -> set[str]:
    import backoffice.retention  # noqa: F401 - its tables join the metadata
    from backoffice.schema import metadata

    words: set[str] = set(GENERIC)
    for model in (Item, SourceRef, EvidenceRef, Violation):
        words |= set(model.model_fields)
    words |= {f.name for f in dataclasses.fields(RuleSpec)}
    words |= {part for cls in DataClass for part in cls.value.split(".")}  # personal.bank_account
    for table in metadata.tables.values():
        words |= {c.name for c in table.columns}
    return words


def _code_words_py(text: str) -> list[tuple[int, str]]:
    """(line, word) for the words of whitespace-free string literals (implicitly concatenated
    parts count as one literal) and of attribute names."""
    out: list[tuple[int, str]] = []
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(text).readline)
        if t.type not in (tokenize.NL, tokenize.COMMENT)
    ]
    literal: list[tokenize.TokenInfo] = []

    def flush() -> None:
        if literal and not any(re.search(r"\s", t.string) for t in literal):
            out.extend((t.start[0], w) for t in literal for w in _WORD.findall(t.string))
        literal.clear()

    for i, tok in enumerate(tokens):
        if tok.type == tokenize.STRING:
            literal.append(tok)
            continue
        flush()
        if tok.type == tokenize.NAME and i and tokens[i - 1].string == ".":
            out.append((tok.start[0], tok.string))
    flush()
    return out


def _code_words_template(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        for block in [*_JINJA.findall(line), *_ATTR_VALUE.findall(line)]:
            out.extend((n, w) for w in _WORD.findall(block))
    return out


def scan(root: Path, bot_names: set[str], keys: dict[str, set[str]]) -> list[str]:
    """Every ``file:line`` under ``root`` that names a bot or uses a key of ``keys`` (key -> bots)."""
    found: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES):
        if "__pycache__" in path.parts:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        where = path.relative_to(root.parent)
        hits: list[tuple[int, str]] = []
        for n, line in enumerate(text.splitlines(), start=1):
            hits.extend((n, f"names the bot {name!r}") for name in sorted(bot_names) if name in line)
        words = _code_words_py(text) if path.suffix == ".py" else _code_words_template(text)
        for n, word in words:
            if word in keys:
                hits.append((n, f"uses {word!r}, a payload key of {', '.join(sorted(keys[word]))}"))
        found.extend(f"{where}:{n}: {what}" for n, what in sorted(hits, key=lambda h: h[0]))
    return found


def test_the_core_names_no_bot_and_no_payload_key_of_one() -> None:
    bots = registry().bots()
    assert {b.name for b in bots} >= {"invoice-matching", "payroll-reconciliation", "data-entry"}
    core = core_vocabulary()
    keys: dict[str, set[str]] = {}
    for bot in bots:
        for name in field_names(bot.model) - core:
            keys.setdefault(name, set()).add(bot.name)
    assert keys, "the installed bots' models declare no fields: the check would check nothing"
    problems = scan(CORE, {b.name for b in bots}, keys)
    assert not problems, "backoffice/ knows about bots:\n  " + "\n  ".join(problems)


def test_the_scan_finds_a_bot_name_a_key_and_a_key_pattern(tmp_path: Path) -> None:
    pkg = tmp_path / "core"
    (pkg / "templates").mkdir(parents=True)
    (pkg / "guess.py").write_text(
        '"""Masks the payroll figures (prose is not scanned: vendor_id)."""\n'
        "KEYS = ('vendor_id', \"employee.gross\")\n"
        'PATTERN = r"(iban|bank_?acct)"\n'
        'HELP = ("a path like "\n        "lines.0.gross")\n'
        "def f(row):\n"
        "    return row.vendor_id, 'invoice-matching'\n"
        "    # a comment about gross pay is prose\n"
    )
    (pkg / "templates" / "list.html").write_text(
        '<td>{{ it.payload.gross }}</td>\n<input name="iban">\n<p>gross pay of one person</p>\n'
    )
    keys = {"vendor_id": {"a"}, "gross": {"b"}, "iban": {"a"}}
    found = scan(pkg, {"invoice-matching"}, keys)
    assert found == [
        "core/guess.py:2: uses 'vendor_id', a payload key of a",
        "core/guess.py:2: uses 'gross', a payload key of b",
        "core/guess.py:3: uses 'iban', a payload key of a",
        "core/guess.py:7: names the bot 'invoice-matching'",
        "core/guess.py:7: uses 'vendor_id', a payload key of a",
        "core/templates/list.html:1: uses 'gross', a payload key of b",
        "core/templates/list.html:2: uses 'iban', a payload key of a",
    ]


def test_field_names_follow_nested_models() -> None:
    class Inner(BaseModel):
        deep_field: str

    class Outer(BaseModel):
        top: int
        many: list[Inner] = []
        maybe: Inner | None = None

    assert field_names(Outer) == {"top", "many", "maybe", "deep_field"}
