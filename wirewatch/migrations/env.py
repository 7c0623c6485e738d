"""Alembic's environment for wirewatch: migrations run on the connection :mod:`wirewatch.migrate` hands in.

In: ``config.attributes["connection"]``. Out: the schema upgraded (or downgraded) in one transaction.
"""

from alembic import context

from wirewatch.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
