"""activities: end date and learners in the (provider, format, start) index (enduring count, charts)

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    # "Enduring materials available in Y" tests start and end dates: with end_date in the index
    # the checklist's count reads the index alone, not ~2,600 table rows (docs/performance.md).
    # The learner columns make it covering for the dashboard's learners-by-format chart too.
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_provider_format")
        batch_op.create_index(
            "ix_activities_provider_format",
            [
                "provider_id",
                "format",
                "start_date",
                "end_date",
                "physician_learners",
                "other_learners",
            ],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_provider_format")
        batch_op.create_index(
            "ix_activities_provider_format", ["provider_id", "format", "start_date"], unique=False
        )
