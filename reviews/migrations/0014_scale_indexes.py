"""Indexes the pages asked for at 100,000 cases (bench_pages --explain): the dashboard's open counts and its
list awaiting records, each reviewer's open load, the case list's order over every case, and the searches of the case list and the admin (trigram, PostgreSQL); and statistics
of the case table kept fresh for the dashboard's estimated closed counts."""

from django.db import migrations, models

from ._postgresql import on_postgresql

# PostgreSQL only, as in 0013: GIN and trigram operator classes do not exist on SQLite, whose search
# reads the rows. The case list and the admin search with icontains, UPPER(column) LIKE UPPER('%word%'):
# a trigram index on UPPER(column) answers that without reading every case.
SEARCHED = ["case_number", "claim_number", "employee_name", "adj_number"]
TRIGRAMS = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    *(
        f"CREATE INDEX case_{column}_trgm_idx ON reviews_case USING gin (UPPER({column}) gin_trgm_ops)"
        for column in SEARCHED
    ),
    # The closed counts are estimated from the status statistics (CaseQuerySet.closed_counts): analyse after
    # 2 % of the rows change rather than PostgreSQL's default 10 %, a month's work at a million cases.
    "ALTER TABLE reviews_case SET (autovacuum_analyze_scale_factor = 0.02)",
]
TRIGRAMS_BACK = [
    "ALTER TABLE reviews_case RESET (autovacuum_analyze_scale_factor)",
    *(f"DROP INDEX IF EXISTS case_{column}_trgm_idx" for column in SEARCHED),
]


class Migration(migrations.Migration):
    dependencies = [("reviews", "0013_precedent_search")]

    operations = [
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                condition=models.Q(("status__in", ["issued", "ineligible", "withdrawn", "terminated"]), _negated=True),
                fields=["status", "decision_due_date"],
                include=("decision_date",),
                name="case_open_status_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                condition=models.Q(("status__in", ["assigned", "accepted", "in_review", "returned", "submitted"])),
                fields=["reviewer", "decision_due_date"],
                name="case_reviewer_load_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                models.Case(models.When(priority="expedited", then=models.Value(0)), default=models.Value(1)),
                models.F("decision_due_date"),
                models.F("case_number"),
                name="case_due_order_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                models.Case(models.When(priority="expedited", then=models.Value(0)), default=models.Value(1)),
                models.F("records_due_date"),
                models.F("case_number"),
                condition=models.Q(("status", "awaiting_records")),
                name="case_awaiting_records_idx",
            ),
        ),
        migrations.RunPython(on_postgresql(TRIGRAMS), on_postgresql(TRIGRAMS_BACK), elidable=False),
    ]
