"""Alembic migrations (this file only makes the directory ship inside the wheel)."""
