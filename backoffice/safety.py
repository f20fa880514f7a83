"""Text that is safe to put in a spreadsheet cell or a CSV export (no formula injection).

The one formula neutraliser: every report, CSV export and evidence pack cell goes through
:func:`neutralise_formula`.
"""

from __future__ import annotations

import re

__all__ = ["neutralise_formula"]

_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def neutralise_formula(text: str) -> str:
    """Make text safe to put in a spreadsheet cell or a CSV export.

    Text that a spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``, tab,
    carriage return, or their full-width forms) gets a leading apostrophe; characters that
    XML cannot carry are replaced with U+FFFD.
    """
    s = _ILLEGAL_XML.sub("\ufffd", text)
    if s.startswith(_FORMULA_TRIGGERS):
        return "'" + s
    return s
