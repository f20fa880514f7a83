"""The target's credentials: from the environment, else from a Prefect Secret block.

They are never run inputs, so they never reach the store, the audit log or Prefect's parameters.
"""

from __future__ import annotations

import os
from typing import Any

from backoffice.errors import ConfigError
from connectors.web import Credentials

__all__ = ["ENV_PREFIX", "resolve_credentials"]

ENV_PREFIX = "BACKOFFICE_ERP"  # BACKOFFICE_ERP_USER / BACKOFFICE_ERP_PASSWORD


def resolve_credentials(block: str | None = None) -> Credentials:
    """Target credentials from BACKOFFICE_ERP_USER/_PASSWORD, else from a Prefect Secret block.

    The block holds ``{"user": ..., "password": ...}`` (or just the password, with the user in
    BACKOFFICE_ERP_USER). Raises ConfigError saying what to set when neither gives credentials.
    """
    env = Credentials.from_env(ENV_PREFIX)
    if env is not None:
        return env
    if block:
        from prefect.blocks.system import Secret

        try:
            secret: Any = Secret.load(block)  # sync outside an event loop
            value: Any = secret.get()
        except Exception as exc:
            raise ConfigError(
                f"could not load the Prefect Secret block {block!r}: {type(exc).__name__}"
            ) from exc
        if isinstance(value, dict) and value.get("user") and value.get("password"):
            return Credentials.of(str(value["user"]), str(value["password"]))
        user = os.environ.get(f"{ENV_PREFIX}_USER")
        if isinstance(value, str) and value and user:
            return Credentials.of(user, value)
        raise ConfigError(
            f"the Prefect Secret block {block!r} must hold {{'user': ..., 'password': ...}} "
            f"(or a password, with {ENV_PREFIX}_USER set)"
        )
    raise ConfigError(
        f"no credentials for the target: set {ENV_PREFIX}_USER and {ENV_PREFIX}_PASSWORD, or name a "
        "Prefect Secret block holding {'user': ..., 'password': ...} (--credentials-block)"
    )
