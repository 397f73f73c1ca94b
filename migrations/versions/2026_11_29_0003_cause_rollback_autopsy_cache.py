"""The diagnosis's probable cause and rollback decision (stored beside its findings, so the postmortem and
Slack read the decision instead of re-deriving it), and the image autopsy cache keyed by manifest digest
(shared by every replica; the admission gate answers from it within its deadline).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 21:27:07.283781+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('image_autopsies',
    sa.Column('digest', sa.String(length=128), nullable=False),
    sa.Column('ref', sa.Text(), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_image_autopsies'))
    )
    with op.batch_alter_table('diagnosis_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cause', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('rollback', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('diagnosis_runs', schema=None) as batch_op:
        batch_op.drop_column('rollback')
        batch_op.drop_column('cause')

    op.drop_table('image_autopsies')
