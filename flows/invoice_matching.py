"""The invoice-matching bot's Prefect flow, built from its ``Inputs``.

    backoffice run invoice-matching --invoices DIR --pos FILE --receipts FILE --vendors FILE \\
        [--ledger OUT.xlsx] [--fx CUR=RATE ...] [--json]

The CLI command and the flow's parameters come from ``InvoiceMatchingInputs``; the split flows
(``invoice-matching-split`` / ``invoice-matching-part``) are in ``bots.invoice_matching.split``.
"""

from __future__ import annotations

from backoffice.orchestration.flows import bot_flow
from bots.invoice_matching.bot import bot

__all__ = ["invoice_matching"]

invoice_matching = bot_flow(bot)
