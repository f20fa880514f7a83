"""The data-entry bot's Prefect flow; its parameters are the fields of ``DataEntryInputs``.

    backoffice run data-entry --input invoices.xlsx --target http://erp.example \\
        [--credentials-block NAME] [--no-headless] [--batch-size N] [--json]

Credentials come from BACKOFFICE_ERP_USER / BACKOFFICE_ERP_PASSWORD or from a Prefect Secret
block (``credentials_block``, its name only); they are never a parameter.
"""

from __future__ import annotations

from backoffice.orchestration.flows import bot_flow
from bots.data_entry.bot import bot

__all__ = ["data_entry"]

data_entry = bot_flow(bot)
