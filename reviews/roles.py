"""The two roles, defined once: who is a coordinator or a reviewer, who may take each workflow transition, and
the groups with their model permissions (created by migration, re-created on demand)."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import AbstractBaseUser

COORDINATORS = "Coordinators"
REVIEWERS = "Reviewers"


def _in_group(user: AbstractBaseUser, name: str) -> bool:
    if not user.is_authenticated:
        return False
    # Cache the user's group names on the instance: navigation asks on every page.
    if not hasattr(user, "_imr_groups"):
        user._imr_groups = set(user.groups.values_list("name", flat=True))
    return name in user._imr_groups


def is_coordinator(user: AbstractBaseUser) -> bool:
    return user.is_active and (user.is_superuser or _in_group(user, COORDINATORS))


def is_reviewer(user: AbstractBaseUser) -> bool:
    return user.is_active and _in_group(user, REVIEWERS) and hasattr(user, "reviewer")


# Who may take a workflow transition: the `permission=` of each @transition on models.Case. django-fsm-2
# calls it with the case and the acting user; services.workflow.case_transition refuses anyone else
# (PermissionDenied), and the case page offers a transition only to those it names.


def coordinator(case, user: AbstractBaseUser | None) -> bool:
    """Any active case coordinator (or superuser)."""
    return user is not None and is_coordinator(user)


def assigned_reviewer(case, user: AbstractBaseUser | None) -> bool:
    """The expert reviewer the case is assigned to, and no one else."""
    return user is not None and is_reviewer(user) and case.reviewer_id == user.reviewer.pk


def system(case, user: AbstractBaseUser | None) -> bool:
    """The application itself (the letter task, acting as no user): never a person."""
    return user is None


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
