"""Create the Coordinators and Reviewers groups with their permissions; load two years of holidays."""

from django.db import migrations
from django.utils import timezone


def create_groups(apps, schema_editor):
    from reviews.roles import ensure_role_groups

    ensure_role_groups(apps)


def load_holidays(apps, schema_editor):
    from reviews.deadlines import california_holidays

    Holiday = apps.get_model("reviews", "Holiday")
    year = timezone.localdate().year  # California's year, not the server's
    existing = set(Holiday.objects.values_list("date", flat=True))
    Holiday.objects.bulk_create(
        Holiday(date=day, name=name)
        for day, name in california_holidays([year, year + 1]).items()
        if day not in existing
    )


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_groups, migrations.RunPython.noop),
        migrations.RunPython(load_holidays, migrations.RunPython.noop),
    ]
