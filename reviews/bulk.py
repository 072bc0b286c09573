"""Many new rows of one model at once: bulk_create's semantics (no save(), no signals), by COPY on PostgreSQL.

Django's bulk insert on PostgreSQL sends each column as one array literal, which psycopg escapes in
Python character by character: for text full of quotes (a history entry's JSON, a rationale) most
of an import's time. COPY sends the same rows escaped by psycopg's C code, several times faster.
"""

from collections.abc import Iterable, Sequence

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import CharField, Field, ForeignKey, IntegerField, Model, TextField

# Columns whose Python ints and strings go to the database as they are.
_PLAIN = (CharField, IntegerField, TextField)


def insert(objects: Sequence[Model]) -> None:
    """Insert new instances of one model whose key is drawn from a sequence (an AutoField), setting
    their primary keys, as `bulk_create(objects)` would."""
    if not objects:
        return
    model = type(objects[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objects)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key and not f.generated]  # as bulk_create
    values = [_database_value(f) for f in fields]
    rows = []
    for obj, pk in zip(objects, next_ids(model, len(objects)), strict=True):
        obj._prepare_related_fields_for_save(operation_name="bulk_create")  # refuses an unsaved relation
        obj.pk = pk
        rows.append([pk, *(value(obj) for value in values)])
    copy_rows(model, [model._meta.pk, *fields], rows)
    for obj in objects:
        obj._state.adding = False
        obj._state.db = DEFAULT_DB_ALIAS


def _database_value(field: Field):
    """The function giving the field's database value of an instance, as bulk_create computes it.

    Short-cut for the ints and strings of plain columns (most of the values), which Django's
    conversions give back unchanged: a tenth of an import's time.
    """

    def converted(obj):
        return field.get_db_prep_save(field.pre_save(obj, True), connection)

    column = field.target_field if isinstance(field, ForeignKey) else field
    if type(field).pre_save is not Field.pre_save or not isinstance(column, _PLAIN):
        return converted
    attname = field.attname

    def plain(obj):
        value = getattr(obj, attname)
        return value if value is None or type(value) is int or type(value) is str else converted(obj)

    return plain


def next_ids(model: type[Model], count: int) -> list[int]:
    """`count` primary keys drawn from the PostgreSQL table's sequence in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def copy_rows(model: type[Model], fields: Sequence[Field], rows: Iterable[Sequence]) -> None:
    """COPY rows of database values, in the order of `fields`, into the model's PostgreSQL table."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    # The psycopg cursor's own errors, turned into Django's (IntegrityError...) as a query's would be.
    statement = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
