"""Module-path home of every installed bot's flow, for deployments and workers.

``backoffice.orchestration.bot_flows.my_bot`` is the flow of the bot named
``my-bot``, built from the plugin registry when it is looked up (PEP 562), so a
process worker on any machine with the bot installed can load it by that entrypoint.
"""

from __future__ import annotations

from typing import Any

__all__: list[str] = []


def __getattr__(attr: str) -> Any:
    from backoffice.orchestration.flows import bot_flow, flow_attr
    from backoffice.plugins import registry

    for bot in registry().bots():
        if flow_attr(bot.name) == attr:
            return bot_flow(bot)
    raise AttributeError(f"no installed bot has a flow named {attr!r}")
