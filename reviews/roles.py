"""The two roles, as groups with their model permissions; created by migration, re-created on demand."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

from .permissions import COORDINATORS, REVIEWERS

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


def ensure_role_groups(apps=global_apps) -> None:
    """Create (or complete) the Coordinators and Reviewers groups; `apps` is the migration's registry there.

    Idempotent. Also used where a test flushed the tables the migration filled.
    """
    # Permissions are normally created after all migrations; the groups need them now.
    app_config = apps.get_app_config("reviews")
    if apps is not global_apps:
        app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    if apps is not global_apps:
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, grants in ((COORDINATORS, COORDINATOR_PERMISSIONS), (REVIEWERS, REVIEWER_PERMISSIONS)):
        group, _ = Group.objects.get_or_create(name=name)
        codenames = [f"{action}_{model}" for model, actions in grants.items() for action in actions]
        group.permissions.set(Permission.objects.filter(content_type__app_label="reviews", codename__in=codenames))
