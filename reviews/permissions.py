"""Roles, and the fetch-and-authorise helpers that answer 404 to outsiders."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from .models import Case

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


def coordinator_required(view):
    """Anonymous users go to the login page; signed-in users without the role get 403."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not is_coordinator(request.user):
            raise PermissionDenied("This page is for case coordinators.")
        return view(request, *args, **kwargs)

    return wrapper


def get_case_for_coordinator(user: AbstractBaseUser, case_number: str, queryset=None) -> Case:
    """The case, for a coordinator (who sees every case); 404 for anyone else."""
    if not is_coordinator(user):
        raise PermissionDenied("This page is for case coordinators.")
    return get_object_or_404(queryset if queryset is not None else Case.objects.all(), case_number=case_number)
