"""Bank files: payment files we send (pain.001, NACHA, CSV) and statements we get back (camt.053, MT940).

Payment files::

    pf = read_payment_file("salaries.xml")        # pain.001, NACHA or CSV, detected from the content
    pf.payments                                   # [Payment(end_to_end_id, name, account, amount, ...)]
    pf.control_problems()                         # [] when NbOfTxs/CtrlSum (or NACHA totals/entry hash) agree

Statements::

    for st in read_camt053("statement.xml"):      # also camt.054 notifications and .zip archives of them
        st.opening, st.closing, st.entries, st.balanced, st.balance_difference()
    read_mt940("statement.940")

A declared control total that disagrees with the content is *data* (``control_problems()``,
``balance_difference()``) so a reconciliation rule can report it; a lenient reading (30 February,
a trimmed NACHA record, a camt.053 without a booked closing balance) is a :class:`Notice` in
``warnings``; a file that cannot be read at all (not XML, wrong format, a malformed amount, an
MT940 statement without its closing balance, a statement where a payment file is expected) is an
:class:`InputError` naming file, position and a code. XML is parsed with entity resolution, DTDs
and network access switched off. ``backoffice extract statement|payments`` (:mod:`.cli`) print
what the readers read, as JSON.

One idea per module: :mod:`.accounts` (the IBAN check on schwifty, routing numbers, masking),
:mod:`.payments` and :mod:`.statements` (what the files hold), :mod:`.pain001`, :mod:`.nacha`,
:mod:`.payment_csv`, :mod:`.camt`, :mod:`.mt940` (one reader each) and :mod:`.detect` (which
reader a file needs, :mod:`.sniff` what a file is). Account numbers are masked with :func:`mask_account` (the core's,
``backoffice.pii``) wherever they are shown. Writers for sample files live in
``fixtures/bankfiles_writers.py``: only fixtures and tests write bank files.
"""

from __future__ import annotations

from connectors.bankfiles.accounts import (
    compact_account,
    iban_check_digits,
    iban_problem,
    is_valid_iban,
    mask_account,
    routing_number_valid,
)
from connectors.bankfiles.camt import read_camt053
from connectors.bankfiles.detect import read_payment_file, read_statement
from connectors.bankfiles.mt940 import read_mt940
from connectors.bankfiles.nacha import nacha_entry_hash, read_nacha
from connectors.bankfiles.notices import Notice
from connectors.bankfiles.pain001 import read_pain001
from connectors.bankfiles.payment_csv import PAYMENT_CSV_COLUMNS, read_payment_csv
from connectors.bankfiles.payments import Payment, PaymentFile
from connectors.bankfiles.statements import CamtEntry, CamtTransaction, Statement

__all__ = [
    "PAYMENT_CSV_COLUMNS",
    "CamtEntry",
    "CamtTransaction",
    "Notice",
    "Payment",
    "PaymentFile",
    "Statement",
    "compact_account",
    "iban_check_digits",
    "iban_problem",
    "is_valid_iban",
    "mask_account",
    "nacha_entry_hash",
    "read_camt053",
    "read_mt940",
    "read_nacha",
    "read_pain001",
    "read_payment_csv",
    "read_payment_file",
    "read_statement",
    "routing_number_valid",
]
