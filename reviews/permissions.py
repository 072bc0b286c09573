"""Roles, and the fetch-and-authorise helpers that answer 404 to outsiders."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import Case, CaseDocument

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


def require_coordinator(user: AbstractBaseUser) -> None:
    """For services: raise PermissionDenied unless `user` is a case coordinator."""
    if not is_coordinator(user):
        raise PermissionDenied("Only case coordinators may do this.")


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


# The reviewer sees the records and the review only once they have accepted the case (with the
# conflict attestation); before that, only the attestation page.
REVIEWER_READING_STATUSES = (
    Case.Status.ACCEPTED,
    Case.Status.IN_REVIEW,
    Case.Status.SUBMITTED,
    Case.Status.RETURNED,
    Case.Status.APPROVED,
    Case.Status.ISSUED,
)


def get_case_for_reviewer(user: AbstractBaseUser, case_number: str, *, accepted: bool = True, queryset=None) -> Case:
    """The case, for its assigned reviewer (once accepted, unless `accepted` is False); 404 for anyone else."""
    if not is_reviewer(user):
        raise Http404("No such case.")
    statuses = REVIEWER_READING_STATUSES if accepted else (Case.Status.ASSIGNED,)
    queryset = queryset if queryset is not None else Case.objects.all()
    return get_object_or_404(queryset, case_number=case_number, reviewer__user=user, status__in=statuses)


def get_document_for_user(user: AbstractBaseUser, case_number: str, document_id: int) -> CaseDocument:
    """A case's document, for a coordinator or for the case's reviewer once they accepted it; 404 for anyone else.

    The case and its reviewer come with it (select_related), ready for services.document_open.
    """
    documents = CaseDocument.objects.select_related("case", "case__reviewer").filter(
        pk=document_id, case__case_number=case_number
    )
    if is_coordinator(user):
        return get_object_or_404(documents)
    if is_reviewer(user):
        return get_object_or_404(documents, case__reviewer__user=user, case__status__in=REVIEWER_READING_STATUSES)
    raise Http404("No such document.")


def library_reader_required(view):
    """The precedent library: coordinators and reviewers; anonymous users log in, others get 403."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not (is_coordinator(request.user) or is_reviewer(request.user)):
            raise PermissionDenied("The precedent library is for coordinators and expert reviewers.")
        return view(request, *args, **kwargs)

    return wrapper


def get_issued_case_for_library(user: AbstractBaseUser, case_number: str, queryset=None) -> Case:
    """An issued case, to read as its public copy: any coordinator or reviewer; 404 for anyone else and
    for a case not issued (a reviewer reads other reviewers' determinations only once published)."""
    if not (is_coordinator(user) or is_reviewer(user)):
        raise Http404("No such determination.")
    queryset = queryset if queryset is not None else Case.objects.all()
    return get_object_or_404(queryset, case_number=case_number, status=Case.Status.ISSUED)
