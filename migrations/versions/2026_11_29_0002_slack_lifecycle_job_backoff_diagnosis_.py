"""The incident in Slack and the jobs behind it: the root message and the other posts (keyed so a
retried job posts once), incident fields the root message shows, job backoff (`available_at`),
diagnosis requests (incidents sharing one diagnosis), and the `changes_requested` review state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 18:52:46.236296+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('diagnosis_requests',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('incident_id', sa.String(length=64), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('service', sa.String(length=255), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_diagnosis_requests_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_diagnosis_requests_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_diagnosis_requests')),
    sa.UniqueConstraint('incident_id', 'job_id', name=op.f('uq_diagnosis_requests_incident_id_job_id'))
    )
    with op.batch_alter_table('diagnosis_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_diagnosis_requests_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_diagnosis_requests_service'), ['service'], unique=False)

    op.create_table('slack_posts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('incident_id', sa.String(length=64), nullable=True),
    sa.Column('channel', sa.String(length=64), nullable=True),
    sa.Column('ts', sa.String(length=32), nullable=True),
    sa.Column('reserved_by', sa.String(length=255), nullable=True),
    sa.Column('reserved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_slack_posts_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_slack_posts')),
    sa.UniqueConstraint('key', name=op.f('uq_slack_posts_key'))
    )
    with op.batch_alter_table('slack_posts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_slack_posts_incident_id'), ['incident_id'], unique=False)

    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pagerduty_service_id', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('assignee', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('priority', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('slack_channel', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('slack_ts', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('probable_cause', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('reopen_count', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('available_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('diagnosis_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rollback_candidates', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('image', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('dockerfile_fix', sa.JSON(), nullable=True))

    with op.batch_alter_table('postmortem_versions', schema=None) as batch_op:
        batch_op.alter_column('status',
               existing_type=sa.VARCHAR(length=16),
               type_=sa.String(length=32),
               existing_nullable=False)



def downgrade() -> None:
    with op.batch_alter_table("postmortem_versions", schema=None) as batch_op:
        batch_op.alter_column('status',
               existing_type=sa.String(length=32),
               type_=sa.VARCHAR(length=16),
               existing_nullable=False)

    with op.batch_alter_table('diagnosis_runs', schema=None) as batch_op:
        batch_op.drop_column('dockerfile_fix')
        batch_op.drop_column('image')
        batch_op.drop_column('rollback_candidates')

    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('available_at')

    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('reopen_count')
        batch_op.drop_column('probable_cause')
        batch_op.drop_column('slack_ts')
        batch_op.drop_column('slack_channel')
        batch_op.drop_column('priority')
        batch_op.drop_column('assignee')
        batch_op.drop_column('pagerduty_service_id')

    with op.batch_alter_table('slack_posts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_slack_posts_incident_id'))

    op.drop_table('slack_posts')
    with op.batch_alter_table('diagnosis_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_diagnosis_requests_service'))
        batch_op.drop_index(batch_op.f('ix_diagnosis_requests_job_id'))

    op.drop_table('diagnosis_requests')
