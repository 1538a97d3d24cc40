"""activities, moc_registrations: drop the provider_id and activity_id indexes others cover

Revision ID: 0007
Revises: 0006

Every index of activities starts with provider_id, and moc_registrations' unique
(activity_id, board) starts with activity_id: the single-column indexes answered nothing the
others do not, and each cost a B-tree write per row (an import writes 10,000 of each).
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_provider_id")
    with op.batch_alter_table("moc_registrations", schema=None) as batch_op:
        batch_op.drop_index("ix_moc_registrations_activity_id")


def downgrade():
    with op.batch_alter_table("moc_registrations", schema=None) as batch_op:
        batch_op.create_index("ix_moc_registrations_activity_id", ["activity_id"], unique=False)
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index("ix_activities_provider_id", ["provider_id"], unique=False)
