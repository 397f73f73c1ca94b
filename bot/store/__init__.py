"""Storage: SQLAlchemy 2.x tables, repositories, the unit of work, durable jobs, Alembic migrations.

store = Store.from_url(settings.database_url)
store.upgrade()                      # Alembic, to head
with store.unit_of_work() as uow:    # the one way to read and write: repositories in one transaction
    uow.timeline.add_entries(incident_id=..., entries=[...])
    uow.commit()
"""

from bot.store.db import StoreError, StoreUnavailable, make_engine
from bot.store.jobs import LeaseLost
from bot.store.records import (
    AuditRecord,
    DiagnosisRun,
    InboundEvent,
    Job,
    JobStatus,
    PostmortemStatus,
    PostmortemVersion,
)
from bot.store.repositories import NotFound
from bot.store.uow import Store, UnitOfWork

__all__ = [
    "AuditRecord",
    "DiagnosisRun",
    "InboundEvent",
    "Job",
    "JobStatus",
    "LeaseLost",
    "NotFound",
    "PostmortemStatus",
    "PostmortemVersion",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "UnitOfWork",
    "make_engine",
]
