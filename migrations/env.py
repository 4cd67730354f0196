"""Alembic environment: runs on a connection handed over by `sentpipe db init`, or on
SENTPIPE_DATABASE_URL when a developer runs the `alembic` command from a checkout."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from sentiment_pipeline.db.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    from sentiment_pipeline.db.engine import create_engine
    from sentiment_pipeline.settings import load_settings

    engine = create_engine(load_settings().database)
    with engine.connect() as connection:
        _run(connection)


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported: the migration inspects the server")
run_migrations_online()
