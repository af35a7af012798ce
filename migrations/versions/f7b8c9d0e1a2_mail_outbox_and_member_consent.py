"""mail: the mail outbox (mail_messages) and members' consent (members.subscribed)

Revision ID: f7b8c9d0e1a2
Revises: e5a1b2c3d4f6
Create Date: 2026-11-30 19:20:00.000000

"""
from alembic import op
import sqlalchemy as sa

import lixi.database


# revision identifiers, used by Alembic.
revision = 'f7b8c9d0e1a2'
down_revision = 'e5a1b2c3d4f6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mail_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=True),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', lixi.database.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', lixi.database.UTCDateTime(), nullable=False),
    sa.Column('sent_at', lixi.database.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.create_index('ix_mail_messages_brand', ['brand_id', 'id'], unique=False)
        batch_op.create_index('ix_mail_messages_due', ['status', 'next_attempt_at'], unique=False)

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subscribed', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('subscribed')

    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_mail_messages_due')
        batch_op.drop_index('ix_mail_messages_brand')

    op.drop_table('mail_messages')
