"""The precedent library: per disputed item, a stored search vector and the date its case was issued, both
kept current by triggers; the indexes of full-text and trigram search (PostgreSQL) and of the newest first."""

import django.contrib.postgres.search
from django.db import migrations, models

from ._postgresql import on_postgresql

# Triggers rather than a GeneratedField or code in save(): the vector cannot be generated on SQLite
# (no to_tsvector) and the publication date comes from another table; code in the services would
# miss the admin, the importer's bulk writes and any update(). A trigger fires whichever code writes.
# PostgreSQL only: SQLite's schema editor remakes a table to alter it, and would drop any trigger of
# a later migration's table; there the search reads the texts and joins the cases.

# The search vector: the request and its remaining portion weigh more than the rationale.
SEARCH_VECTOR = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """
    CREATE FUNCTION reviews_disputeditem_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.search_vector :=
            setweight(to_tsvector('english', coalesce(NEW.request_text, '') || ' ' || coalesce(NEW.remaining_part, '')), 'A')
            || setweight(to_tsvector('english', coalesce(NEW.rationale, '')), 'B');
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER reviews_disputeditem_search_vector
        BEFORE INSERT OR UPDATE OF request_text, remaining_part, rationale ON reviews_disputeditem
        FOR EACH ROW EXECUTE FUNCTION reviews_disputeditem_search_vector()
    """,
    "UPDATE reviews_disputeditem SET rationale = rationale",
    "CREATE INDEX reviews_item_search_vector_idx ON reviews_disputeditem USING gin (search_vector)",
    # Drug names misspelt: word similarity (%>) of the request, read from this index.
    "CREATE INDEX reviews_item_request_trgm_idx ON reviews_disputeditem USING gin (request_text gin_trgm_ops)",
]
SEARCH_VECTOR_BACK = [
    "DROP INDEX IF EXISTS reviews_item_request_trgm_idx",
    "DROP INDEX IF EXISTS reviews_item_search_vector_idx",
    "DROP TRIGGER IF EXISTS reviews_disputeditem_search_vector ON reviews_disputeditem",
    "DROP FUNCTION IF EXISTS reviews_disputeditem_search_vector()",
]

# The publication date: the case's decision date while the case is issued. Written on every insert
# or update of an item (whatever value the writer sent) and when a case's status or decision date
# changes.
_CASE_DATE = "(SELECT CASE WHEN c.status = 'issued' THEN c.decision_date END FROM reviews_case c WHERE c.id = {})"
PUBLISHED_ON = [
    f"""
    CREATE FUNCTION reviews_disputeditem_published_on() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.published_on := {_CASE_DATE.format("NEW.case_id")};
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER reviews_disputeditem_published_on BEFORE INSERT OR UPDATE ON reviews_disputeditem
        FOR EACH ROW EXECUTE FUNCTION reviews_disputeditem_published_on()
    """,
    """
    CREATE FUNCTION reviews_case_published_on() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE reviews_disputeditem SET published_on = CASE WHEN NEW.status = 'issued' THEN NEW.decision_date END
        WHERE case_id = NEW.id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER reviews_case_published_on AFTER UPDATE OF status, decision_date ON reviews_case
        FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.decision_date IS DISTINCT FROM NEW.decision_date)
        EXECUTE FUNCTION reviews_case_published_on()
    """,
    "UPDATE reviews_disputeditem SET published_on = published_on",  # the item trigger fills it in
]
PUBLISHED_ON_BACK = [
    "DROP TRIGGER IF EXISTS reviews_case_published_on ON reviews_case",
    "DROP FUNCTION IF EXISTS reviews_case_published_on()",
    "DROP TRIGGER IF EXISTS reviews_disputeditem_published_on ON reviews_disputeditem",
    "DROP FUNCTION IF EXISTS reviews_disputeditem_published_on()",
]


class Migration(migrations.Migration):
    dependencies = [("reviews", "0012_outbox_and_letter_status_time")]

    operations = [
        migrations.AddField(
            model_name="disputeditem",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="disputeditem",
            name="published_on",
            field=models.DateField(editable=False, null=True),
        ),
        migrations.AddIndex(
            model_name="disputeditem",
            index=models.Index(
                models.OrderBy(models.F("published_on"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                condition=models.Q(("published_on__isnull", False)),
                name="item_published_idx",
            ),
        ),
        # The extension is not dropped on the way back: other objects of the database may use it.
        migrations.RunPython(on_postgresql(SEARCH_VECTOR), on_postgresql(SEARCH_VECTOR_BACK), elidable=False),
        migrations.RunPython(on_postgresql(PUBLISHED_ON), on_postgresql(PUBLISHED_ON_BACK), elidable=False),
    ]
