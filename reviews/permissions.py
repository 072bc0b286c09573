"""Roles, and the fetch-and-authorise helpers that answer 404 to outsiders."""

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
