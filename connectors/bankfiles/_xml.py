"""Safe streaming XML for the ISO 20022 readers (pain.001, camt): no entities, DTDs or network.

Lookups use local names in any namespace, so every message version reads the same way.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from lxml import etree

from backoffice.errors import InputError

MAX_XML_BYTES = 1024**3


def xml_parser_kwargs() -> dict[str, Any]:
    return {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}


def local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


@lru_cache(maxsize=512)
def _path(path: tuple[str, ...]) -> str:
    return "/".join("{*}" + p for p in path)


def child(el: Any, *path: str) -> Any | None:
    """The first descendant along ``path`` (local names, any namespace), or None."""
    if el is None:
        return None
    return el.find(_path(path))


def intern_text(text: str | None) -> str | None:
    """Remittance texts repeat across a salary run: keep one copy."""
    return None if text is None or len(text) > 140 else sys.intern(text)


def children(el: Any | None, name: str) -> list[Any]:
    return [] if el is None else el.findall("{*}" + name)


def text_of(el: Any, *path: str) -> str | None:
    node = child(el, *path) if path else el
    if node is None or node.text is None:
        return None
    t = node.text.strip()
    return t or None


def decimal_of(text: str | None, where: str, file: str, field_name: str) -> Decimal:
    if text is None:
        raise InputError("missing amount", file=file, field=f"{where}/{field_name}")
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        raise InputError(f"not an amount: {text!r}", file=file, field=f"{where}/{field_name}") from None
    if not d.is_finite():
        raise InputError(f"not an amount: {text!r}", file=file, field=f"{where}/{field_name}")
    return d


def check_xml_file(p: Path) -> None:
    if not p.is_file():
        raise InputError("file not found", file=str(p))
    size = p.stat().st_size
    if size == 0:
        raise InputError("the file is empty", file=str(p))
    if size > MAX_XML_BYTES:
        raise InputError(f"file too large: {size:,} bytes", file=str(p))


def iterparse(source: Path | IO[bytes], label: str, tags: Sequence[str]) -> Iterator[Any]:
    """End events for elements whose local name is in ``tags``; XML errors become InputError."""
    try:
        for _event, el in etree.iterparse(
            source, events=("end",), tag=tuple("{*}" + t for t in tags), **xml_parser_kwargs()
        ):
            yield el
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else None
        raise InputError(f"not well-formed XML: {exc.msg}", file=label, row=line) from exc
