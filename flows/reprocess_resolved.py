"""Flow: resolved items go back to their bots (approve -> act, correct -> re-check all rules, reject -> close)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from backoffice.flowkit import reprocess_flow_body
from backoffice.plugins import load_bot, load_bots


@flow(name="reprocess-resolved")
def reprocess_resolved(bots: list[str] | None = None) -> dict[str, Any]:
    chosen = [load_bot(name) for name in bots] if bots else load_bots()
    return reprocess_flow_body(chosen)
