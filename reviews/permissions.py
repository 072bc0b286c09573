"""The fetch-and-authorise helpers that answer 404 to outsiders; the roles themselves are in roles.py."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import Case, CaseDocument
from .roles import COORDINATORS, REVIEWERS, is_coordinator, is_reviewer  # noqa: F401 (imported from here too)


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


def get_case_for_reviewer(user: AbstractBaseUser, case_number: str, *, accepted: bool = True, queryset=None) -> Case:
    """The case, for its assigned reviewer (once accepted, unless `accepted` is False); 404 for anyone else."""
    if not is_reviewer(user):
        raise Http404("No such case.")
    # The records and the review open only once the reviewer accepted (with the conflict attestation).
    statuses = Case.Status.ACCEPTED_BY_REVIEWER if accepted else (Case.Status.ASSIGNED,)
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
        accepted = Case.Status.ACCEPTED_BY_REVIEWER
        return get_object_or_404(documents, case__reviewer__user=user, case__status__in=accepted)
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
