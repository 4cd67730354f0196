"""Database access: engine creation, the `raw_events` mapping, migrations and status.

Each module imports SQLAlchemy/Alembic itself; importing this package costs nothing.
"""
