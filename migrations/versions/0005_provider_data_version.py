"""providers: data_version, the key of the cached dashboard counts

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    # Bumped with every change to a provider's activities or learner snapshots
    # (pars_app/services/data_version.py); a server default so existing rows start at 0.
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("data_version", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_column("data_version")
