"""The index a case's access history reads (reviews.audit.case_reads): the reads that name the case in their data.

PostgreSQL only: a GIN index on the audit log's additional data, restricted to reads (action 3,
"access"), serves the jsonb containment of {"case_number": ...} and {"shown": [...]}. SQLite, the
developer's database, scans.
"""

from django.db import migrations

from ._postgresql import on_postgresql

INDEX = (
    "CREATE INDEX IF NOT EXISTS reviews_logentry_reads_gin ON auditlog_logentry "
    "USING gin (additional_data jsonb_path_ops) WHERE action = 3"
)
INDEX_BACK = "DROP INDEX IF EXISTS reviews_logentry_reads_gin"


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0017_notices"),
        ("auditlog", "0017_add_actor_email"),
    ]

    operations = [migrations.RunPython(on_postgresql([INDEX]), on_postgresql([INDEX_BACK]), elidable=False)]
