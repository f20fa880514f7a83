"""Per-vendor invoice templates (our own TOML format) and the text parser that applies them.

A template is a ``*.toml`` file in this directory (or any directory passed as ``template_dirs``)::

    name = "nordwind"                    # template id, reported as the invoice's syntax
    keywords = ["Nordwind Industriebedarf GmbH", "USt-IdNr. DE811"]   # all must appear
    exclude_keywords = []                # none may appear
    decimal = ","                        # decimal separator of amounts ("," or ".")
    date_formats = ["%d.%m.%Y"]          # strptime formats tried before the generic date reader
    dayfirst = true                      # for ambiguous 01/02/2024 dates

    [defaults]                           # constant values (seller name, currency...)
    seller_name = "Nordwind Industriebedarf GmbH"
    currency = "EUR"

    [fields]                             # regex per field; group 1 (or the whole match) is the value
    invoice_number = 'Rechnungsnummer:\\s*(\\S+)'
    gross_total = 'Gesamtbetrag\\s+([\\d.,]+)'

    [lines]                              # optional: line items from the rows between start and end
    start = '^Pos\\s+Artikel'
    end = '^Nettobetrag'
    line = '^\\d+\\s+(?P<description>.+?)\\s+(?P<quantity>[\\d.,]+)\\s+(?P<unit_price>[\\d.,]+)\\s+(?P<line_amount>[\\d.,]+)$'
    skip = '^Lieferschein'               # optional: rows to ignore inside the table
    next_line = '^[A-Z]+\\d+\\s+(?P<description>.+)$'   # optional: the row right after a line
    next_line_mode = "replace"           # its description replaces ("replace") or extends ("append")
    prev_line = '^(?P<description>.+) - Description$'  # optional: the row right before a line names it
    tax_rate = "19"                      # optional: the rate of lines that print none

A template can be limited to one layout of a vendor with ``exclude_keywords``; when several match,
the one with more keywords wins. ``[fields]`` regexes may span rows (``\\n``) for layouts that
print labels on one row and values on the next.

Fields a template does not define come from the layout reader (``layout.read_invoice``), so a
template only needs the fields the generic reader gets wrong. Regexes are compiled with
``re.MULTILINE | re.IGNORECASE`` unless ``case_sensitive = true``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from backoffice.errors import ConfigError
from connectors.einvoice import AMOUNT_FIELDS, DATE_FIELDS, HEADER_FIELDS, ExtractedInvoice, InvoiceLine
from connectors.invoice_templates.generic import parse_date, parse_number
from connectors.invoice_templates.layout import read_invoice

__all__ = ["TEMPLATE_DIR", "Template", "load_templates", "match_template", "parse_text"]

TEMPLATE_DIR = Path(__file__).parent
_LINE_GROUPS = ("description", "quantity", "unit_price", "line_amount", "tax_rate")


@dataclass(frozen=True)
class Template:
    name: str
    keywords: tuple[str, ...]
    exclude_keywords: tuple[str, ...] = ()
    decimal: str = "."
    date_formats: tuple[str, ...] = ()
    dayfirst: bool = True
    defaults: dict[str, str] = field(default_factory=dict)
    fields: dict[str, re.Pattern[str]] = field(default_factory=dict)
    line_start: re.Pattern[str] | None = None
    line_end: re.Pattern[str] | None = None
    line_re: re.Pattern[str] | None = None
    line_skip: re.Pattern[str] | None = None
    line_next: re.Pattern[str] | None = None
    line_next_mode: str = "append"
    line_prev: re.Pattern[str] | None = None
    line_tax_rate: Decimal | None = None
    path: str = ""

    def matches(self, text: str) -> bool:
        return all(k in text for k in self.keywords) and not any(k in text for k in self.exclude_keywords)


def _compile(pattern: object, flags: int, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise ConfigError(f"{where}: expected a regex string, got {type(pattern).__name__}")
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ConfigError(f"{where}: bad regex {pattern!r}: {exc}") from None


def _template_from(data: dict[str, Any], path: Path) -> Template:
    where = str(path)
    name = data.get("name") or path.stem
    keywords = data.get("keywords")
    if not keywords or not isinstance(keywords, list):
        raise ConfigError(f"{where}: 'keywords' must be a non-empty list")
    flags = re.M if data.get("case_sensitive") else re.M | re.I
    fields_raw = data.get("fields", {})
    unknown = set(fields_raw) - set(HEADER_FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown fields {sorted(unknown)}; known: {list(HEADER_FIELDS)}")
    fields = {k: _compile(v, flags, f"{where} [fields] {k}") for k, v in fields_raw.items()}
    lines = data.get("lines", {})
    line_re = _compile(lines["line"], flags, f"{where} [lines] line") if "line" in lines else None
    if line_re is not None and not {"line_amount"} <= set(line_re.groupindex):
        raise ConfigError(f"{where}: [lines] line needs at least a (?P<line_amount>...) group")
    line_next = (
        _compile(lines["next_line"], flags, f"{where} [lines] next_line") if "next_line" in lines else None
    )
    if line_next is not None and "description" not in line_next.groupindex:
        raise ConfigError(f"{where}: [lines] next_line needs a (?P<description>...) group")
    line_prev = (
        _compile(lines["prev_line"], flags, f"{where} [lines] prev_line") if "prev_line" in lines else None
    )
    if line_prev is not None and "description" not in line_prev.groupindex:
        raise ConfigError(f"{where}: [lines] prev_line needs a (?P<description>...) group")
    mode = lines.get("next_line_mode", "append")
    if mode not in ("append", "replace"):
        raise ConfigError(f"{where}: [lines] next_line_mode must be 'append' or 'replace'")
    rate = lines.get("tax_rate")
    line_rate = parse_number(str(rate)) if rate is not None else None
    if rate is not None and line_rate is None:
        raise ConfigError(f"{where}: [lines] tax_rate {rate!r} is not a number")
    decimal = data.get("decimal", ".")
    if decimal not in (".", ","):
        raise ConfigError(f"{where}: decimal must be '.' or ','")
    return Template(
        name=str(name),
        keywords=tuple(str(k) for k in keywords),
        exclude_keywords=tuple(str(k) for k in data.get("exclude_keywords", [])),
        decimal=decimal,
        date_formats=tuple(data.get("date_formats", [])),
        dayfirst=bool(data.get("dayfirst", True)),
        defaults={k: str(v) for k, v in data.get("defaults", {}).items()},
        fields=fields,
        line_start=_compile(lines["start"], flags, f"{where} [lines] start") if "start" in lines else None,
        line_end=_compile(lines["end"], flags, f"{where} [lines] end") if "end" in lines else None,
        line_re=line_re,
        line_skip=_compile(lines["skip"], flags, f"{where} [lines] skip") if "skip" in lines else None,
        line_next=line_next,
        line_next_mode=mode,
        line_prev=line_prev,
        line_tax_rate=line_rate,
        path=where,
    )


@lru_cache(maxsize=16)
def _load_dir(directory: str) -> tuple[Template, ...]:
    out: list[Template] = []
    for path in sorted(Path(directory).glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        out.append(_template_from(data, path))
    return tuple(out)


def load_templates(dirs: Iterable[Path | str] | None = None) -> list[Template]:
    """Templates from ``dirs`` (default: this package's directory), in file-name order."""
    result: list[Template] = []
    for d in dirs if dirs is not None else [TEMPLATE_DIR]:
        result.extend(_load_dir(str(Path(d).resolve())))
    return result


def match_template(text: str, templates: Iterable[Template]) -> Template | None:
    """The first template whose keywords all appear (templates with more keywords win ties)."""
    hits = [t for t in templates if t.matches(text)]
    return max(hits, key=lambda t: len(t.keywords)) if hits else None


def _group(m: re.Match[str]) -> str:
    if m.re.groups:
        for g in m.groups():
            if g is not None:
                return g
    return m[0]


def _convert(name: str, raw: str, tpl: Template) -> Any:
    raw = " ".join(raw.split())
    if name in AMOUNT_FIELDS:
        return parse_number(raw, tpl.decimal)
    if name in DATE_FIELDS:
        return parse_date(raw, list(tpl.date_formats), dayfirst=tpl.dayfirst)
    if name in ("iban", "seller_vat_id"):
        return raw.replace(" ", "").upper()
    return raw


def _template_lines(text: str, tpl: Template) -> list[InvoiceLine]:
    out: list[InvoiceLine] = []
    if tpl.line_re is None:
        return out
    inside = tpl.line_start is None
    after_line = False
    previous = ""
    for raw in text.splitlines():
        line = raw.strip()
        just_after, after_line = after_line, False
        before, previous = previous, line
        if not inside:
            inside = bool(tpl.line_start and tpl.line_start.search(line))
            continue
        if tpl.line_end is not None and tpl.line_end.search(line):
            if tpl.line_start is None:
                break
            inside = False
            continue
        if tpl.line_skip is not None and tpl.line_skip.search(line):
            continue
        m = tpl.line_re.search(line)
        if not m:
            if just_after and out and tpl.line_next is not None:
                nxt = tpl.line_next.search(line)
                if nxt and nxt["description"]:
                    extra = " ".join(nxt["description"].split())
                    desc = out[-1].description if tpl.line_next_mode == "append" else None
                    out[-1].description = f"{desc} {extra}" if desc else extra
            continue
        after_line = True
        if tpl.line_prev is not None:
            prev = tpl.line_prev.search(before)
            if prev and prev["description"]:
                values_desc: str | None = " ".join(prev["description"].split())
            else:
                values_desc = None
        else:
            values_desc = None
        values: dict[str, Any] = {}
        for g in _LINE_GROUPS:
            v = m.groupdict().get(g)
            if v is None:
                values[g] = None
            elif g == "description":
                values[g] = " ".join(v.split())
            else:
                values[g] = parse_number(v, tpl.decimal)
        if values["tax_rate"] is None:
            values["tax_rate"] = tpl.line_tax_rate
        if (
            values["quantity"] is None
            and values["unit_price"] is not None
            and values["line_amount"] is not None
        ):
            values["quantity"] = Decimal(1)
        if values_desc is not None:
            values["description"] = values_desc
        out.append(InvoiceLine(**values))
    return out


def parse_text(text: str | Sequence[str], templates: Iterable[Template] | None = None) -> ExtractedInvoice:
    """Parse an invoice text layer (the text, or one string per page): the matching template's
    fields over the generic reader's. Template fields get confidence 0.9 and the span of their
    regex group in ``"\\n".join(pages)``."""
    pages = [text] if isinstance(text, str) else list(text)
    text = "\n".join(pages)
    tpl = match_template(text, templates if templates is not None else load_templates())
    inv = read_invoice(pages, dayfirst=tpl.dayfirst if tpl else True)
    if tpl is None:
        return inv
    inv.syntax = f"template:{tpl.name}"
    for name, value in tpl.defaults.items():
        if name in HEADER_FIELDS:
            setattr(inv, name, _convert(name, value, tpl))
            inv.confidence[name] = 0.9
            inv.spans.pop(name, None)
    for name, rx in tpl.fields.items():
        m = rx.search(text)
        setattr(inv, name, _convert(name, _group(m), tpl) if m else None)
        inv.spans.pop(name, None)
        inv.confidence.pop(name, None)
        if m and getattr(inv, name) is not None:
            inv.confidence[name] = 0.9
            group = 1 if m.re.groups else 0
            if m.start(group) >= 0:
                inv.spans[name] = (m.start(group), m.end(group))
    if tpl.line_re is not None:
        inv.lines = _template_lines(text, tpl)
    if "amount_due" not in tpl.fields and inv.gross_total is not None and "gross_total" in tpl.fields:
        inv.amount_due = inv.gross_total
        inv.confidence["amount_due"] = inv.confidence.get("gross_total", 0.6)
        inv.spans.pop("amount_due", None)
    return inv
