"""staff accounts per brand (email unique per brand) and session versions

Revision ID: b7d2e4f1a9c3
Revises: 9694f42783ea
Create Date: 2026-11-30 16:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7d2e4f1a9c3'
down_revision = '9694f42783ea'
branch_labels = None
depends_on = None

# The first migration made `UNIQUE (email)` without a name. PostgreSQL named it itself; SQLite
# keeps it unnamed, so batch mode (which rebuilds the table) is given a convention to name it.
_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_email_constraint() -> str:
    return "staff_users_email_key" if op.get_bind().dialect.name == "postgresql" else "uq_staff_users_email"


def upgrade():
    with op.batch_alter_table('staff_users', schema=None, naming_convention=_NAMING) as batch_op:
        batch_op.drop_constraint(_old_email_constraint(), type_='unique')
        batch_op.create_unique_constraint('uq_staff_users_brand_email', ['brand_id', 'email'])
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    # Fails if two brands now share an email: that is the point of this revision.
    with op.batch_alter_table('staff_users', schema=None, naming_convention=_NAMING) as batch_op:
        batch_op.drop_column('session_version')
        batch_op.drop_constraint('uq_staff_users_brand_email', type_='unique')
        batch_op.create_unique_constraint(_old_email_constraint(), ['email'])
