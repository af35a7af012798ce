"""audit subject ids fit the longest external ids (100 characters; a 65th was a 500 on PostgreSQL)

Revision ID: d3a9c6e1f2b4
Revises: b7d2e4f1a9c3
Create Date: 2026-11-30 17:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd3a9c6e1f2b4'
down_revision = 'b7d2e4f1a9c3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('subject_id', existing_type=sa.String(length=64), type_=sa.String(length=255))


def downgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('subject_id', existing_type=sa.String(length=255), type_=sa.String(length=64))
