"""The precedent search: a stored search vector per disputed item, kept current by a trigger, and the
indexes of full-text and trigram search (PostgreSQL only); the newest determinations first."""

import django.contrib.postgres.search
from django.db import migrations, models

# A trigger rather than a GeneratedField or a save() hook: Django 5.2 could generate the vector on
# PostgreSQL, but the same field must exist on SQLite, which has no to_tsvector; and a hook in the
# services would miss the admin, the importer's bulk writes and any update(). The trigger fires
# whichever code writes the texts, and only when one of them is written.
FORWARD = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE FUNCTION reviews_disputeditem_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('english', coalesce(NEW.request_text, '') || ' ' || coalesce(NEW.remaining_part, '')), 'A')
        || setweight(to_tsvector('english', coalesce(NEW.rationale, '')), 'B');
    RETURN NEW;
END
$$;

CREATE TRIGGER reviews_disputeditem_search_vector
    BEFORE INSERT OR UPDATE OF request_text, remaining_part, rationale ON reviews_disputeditem
    FOR EACH ROW EXECUTE FUNCTION reviews_disputeditem_search_vector();

UPDATE reviews_disputeditem SET rationale = rationale;

CREATE INDEX reviews_item_search_vector_idx ON reviews_disputeditem USING gin (search_vector);
-- Drug names misspelt: word similarity (%>) of the request, read from this index.
CREATE INDEX reviews_item_request_trgm_idx ON reviews_disputeditem USING gin (request_text gin_trgm_ops);
"""

BACKWARD = """
DROP INDEX IF EXISTS reviews_item_request_trgm_idx;
DROP INDEX IF EXISTS reviews_item_search_vector_idx;
DROP TRIGGER IF EXISTS reviews_disputeditem_search_vector ON reviews_disputeditem;
DROP FUNCTION IF EXISTS reviews_disputeditem_search_vector();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # several statements: no parameters, simple protocol

    return run


class Migration(migrations.Migration):
    dependencies = [("reviews", "0008_modified_requests_and_no_evidence")]

    operations = [
        migrations.AddField(
            model_name="disputeditem",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                models.OrderBy(models.F("decision_date"), descending=True),
                condition=models.Q(("status", "issued")),
                name="case_issued_decided_idx",
            ),
        ),
        # The extension is not dropped on the way back: other databases' objects may use it.
        migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD), elidable=False),
    ]
