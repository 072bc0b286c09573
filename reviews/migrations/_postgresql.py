"""What the migrations run on PostgreSQL only: GIN indexes, trigram operator classes and triggers do not exist on
SQLite, the developer's database, whose searches read the rows. (A module whose name starts with "_" is not a
migration.)"""


def on_postgresql(statements):
    """A RunPython function executing the SQL `statements` on PostgreSQL and nothing elsewhere."""

    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql, params=None)  # no parameters: $$ bodies go through as written

    return run
