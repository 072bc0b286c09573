"""The Coordinators group's permissions set again from reviews.roles.COORDINATOR_PERMISSIONS, trimmed to what
the coordinators' pages and the admin need (issue 11)."""

from django.db import migrations


def set_role_groups(apps, schema_editor):
    from reviews.roles import ensure_role_groups

    ensure_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("reviews", "0019_item_coordinator_change")]

    # Not reversible to the old grants: they gave coordinators the determination's items to edit.
    operations = [migrations.RunPython(set_role_groups, migrations.RunPython.noop)]
