"""import_files: an import job's uploaded file moves out of the job's row

Revision ID: 0006
Revises: 0005

On SQLite every UPDATE of a job (claimed, progress, status) rewrote its whole row, file
included; the file now lives in a table of its own (models.ops.ImportFile).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_files",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["import_jobs.id"],
            name=op.f("fk_import_files_job_id_import_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_import_files")),
    )
    op.execute(
        "INSERT INTO import_files (job_id, content) "
        "SELECT id, content FROM import_jobs WHERE content IS NOT NULL"
    )
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.drop_column("content")


def downgrade():
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content", sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE import_jobs SET content = "
        "(SELECT content FROM import_files WHERE import_files.job_id = import_jobs.id)"
    )
    op.drop_table("import_files")
