"""A trigram index on the organisations' normalised names, for the case list's filter by employer or claims
administrator (normalized_name LIKE '%words%'): at 25,000 employers a scan of them cost 5 ms a search (issue 13)."""

from django.db import migrations

from ._postgresql import on_postgresql

INDEX = "CREATE INDEX organization_name_trgm_idx ON reviews_organization USING gin (normalized_name gin_trgm_ops)"
INDEX_BACK = "DROP INDEX IF EXISTS organization_name_trgm_idx"


class Migration(migrations.Migration):
    dependencies = [("reviews", "0021_case_submitted_at")]

    operations = [migrations.RunPython(on_postgresql([INDEX]), on_postgresql([INDEX_BACK]), elidable=False)]
