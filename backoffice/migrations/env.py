"""Alembic environment: runs on the connection backoffice.store hands over."""

from __future__ import annotations

from alembic import context

from backoffice.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - `alembic` CLI use
    from sqlalchemy import create_engine

    from backoffice.settings import get_settings

    engine = create_engine(get_settings().db_url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
