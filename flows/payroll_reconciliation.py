"""The payroll reconciliation flow: one Prefect flow run per reconciliation, one task per batch.

Its parameters are the fields of :class:`bots.payroll_reconciliation.models.PayrollInputs`
(``register``, ``hr``, ``timesheets``, ``bank_file``, ``statement``, ``gl``, ``previous``,
``vendors``, ``out``) plus ``batch_size``; ``backoffice run payroll-reconciliation`` runs it.
"""

from __future__ import annotations

from backoffice.orchestration.flows import bot_flow
from bots.payroll_reconciliation.bot import bot

__all__ = ["payroll_reconciliation"]

payroll_reconciliation = bot_flow(bot)
