"""import_jobs: how the file came in (the upload form or `flask pars import`)

Revision ID: 0008
Revises: 0007

An import run from the command line has no user, and its history row said "—" under By,
as for a user since removed. Existing jobs take the `via` of their "import.uploaded" audit
event, which has always recorded it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("via", sa.String(length=16), server_default="web", nullable=False)
        )
    op.execute(
        """
        UPDATE import_jobs SET via = (
            SELECT e.via FROM audit_events e
            WHERE e.action = 'import.uploaded' AND e.entity_type = 'ImportJob'
              AND e.entity_id = import_jobs.id
            ORDER BY e.id LIMIT 1
        )
        WHERE EXISTS (
            SELECT 1 FROM audit_events e
            WHERE e.action = 'import.uploaded' AND e.entity_type = 'ImportJob'
              AND e.entity_id = import_jobs.id
        )
        """
    )


def downgrade():
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.drop_column("via")
