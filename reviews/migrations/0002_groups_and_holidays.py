"""Create the Coordinators and Reviewers groups with their permissions; load two years of holidays."""

import datetime as dt

from django.contrib.auth.management import create_permissions
from django.db import migrations

# model -> actions, per role. Coordinators run intake and quality review (and see the
# catalogues read-only in the admin); reviewers work through the application's own pages.
COORDINATOR_PERMISSIONS = {
    "case": ["view", "add", "change"],
    "diagnosis": ["view", "add", "change", "delete"],
    "disputeditem": ["view", "add", "change", "delete"],
    "citation": ["view"],
    "casedocument": ["view", "add", "change"],
    "caseevent": ["view"],
    "organization": ["view", "add", "change"],
    "provider": ["view", "add", "change"],
    "reviewer": ["view"],
    "license": ["view"],
    "boardcertification": ["view"],
    "affiliation": ["view"],
    "specialty": ["view"],
    "treatmentcategory": ["view"],
    "guideline": ["view"],
    "holiday": ["view"],
    "letter": ["view"],
    "letterdelivery": ["view"],
}
REVIEWER_PERMISSIONS = {
    "case": ["view"],
    "disputeditem": ["view", "change"],
    "citation": ["view", "add", "change", "delete"],
    "casedocument": ["view"],
    "guideline": ["view"],
}


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; groups need them now.
    app_config = apps.get_app_config("reviews")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, grants in (("Coordinators", COORDINATOR_PERMISSIONS), ("Reviewers", REVIEWER_PERMISSIONS)):
        group, _ = Group.objects.get_or_create(name=name)
        codenames = [f"{action}_{model}" for model, actions in grants.items() for action in actions]
        group.permissions.set(Permission.objects.filter(content_type__app_label="reviews", codename__in=codenames))


def load_holidays(apps, schema_editor):
    from reviews.deadlines import california_holidays

    Holiday = apps.get_model("reviews", "Holiday")
    year = dt.date.today().year
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
