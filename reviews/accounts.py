"""Sign-in policy: who must use two-factor authentication and when, and the allauth adapters that apply it."""

import datetime
import enum
import time

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.authentication import get_authentication_records
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.mfa.signals import authenticator_added
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.core.exceptions import PermissionDenied, ValidationError
from django.dispatch import receiver
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from .audit import record_account_event
from .middleware import client_address
from .permissions import is_coordinator, is_reviewer

# Session key of the enrolment offered after sign-in: where to continue, and whether it may be skipped.
ENROLMENT_STEP = "imr_mfa_enrolment"


class Mfa(enum.Enum):
    NOT_NEEDED = "not needed"  # no role that sees case data
    OFFERED = "offered"  # shown after sign-in as a step that may be skipped for now
    REQUIRED = "required"  # nothing else until it is set up, and used at every sign-in


def mfa_due(user) -> datetime.datetime | None:
    """From when `user` must have two-factor authentication: None if never.

    Coordinators and admins from their first sign-in; reviewers after a grace period from the day
    their account was made, so an admin can create an account before the reviewer has an app ready.
    """
    if user.is_staff or user.is_superuser or is_coordinator(user):
        return user.date_joined
    if is_reviewer(user):
        return user.date_joined + datetime.timedelta(days=settings.IMR_MFA_REVIEWER_GRACE_DAYS)
    return None


def mfa_policy(user) -> Mfa:
    """What two-factor authentication means for `user` now, set up or not (no query beyond the role's)."""
    due = mfa_due(user)
    if due is None:
        return Mfa.NOT_NEEDED
    if settings.IMR_MFA_ENROLMENT_OPTIONAL or timezone.now() < due:
        return Mfa.OFFERED
    return Mfa.REQUIRED


def has_totp(user) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def session_passed_mfa(request) -> bool:
    """Whether this session's sign-in (or a later enrolment) proved the second factor."""
    return any(record.get("method") == "mfa" for record in get_authentication_records(request, request.user))


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "too_many_login_attempts": (
            "Too many failed sign-in attempts for this account or from this address. Sign-in is refused, "
            "even with the right password, for up to {minutes} minutes. If you have forgotten your password, "
            "reset it by e-mail."
        ),
    }

    def is_open_for_signup(self, request):
        return False  # accounts are made by an admin, with a role

    def get_client_ip(self, request):
        """The address the rate limits count by: the audit log's, trusting only our own proxies."""
        address = client_address(request)
        if not address:
            raise PermissionDenied("No client address.")
        return address

    def validation_error(self, code, *args):
        if code == "too_many_login_attempts":
            minutes = -(-settings.IMR_LOGIN_FAILURE_WINDOW // 60)
            return ValidationError(self.error_messages[code].format(minutes=minutes), code=code)
        return super().validation_error(code, *args)

    def pre_authenticate(self, request, **credentials):
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            self._record_refused_sign_in(request, credentials.get("username", ""))
            raise

    @staticmethod
    def _record_refused_sign_in(request, username: str) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is not None:
            record_account_event(user, event="login refused: too many failures", request=request)

    def send_password_reset_mail(self, user, email, context):
        """A reset asked for an account is in its history, from where it was asked, as its completion is."""
        record_account_event(user, event="password reset requested", request=context["request"])
        super().send_password_reset_mail(user, email, context)

    def is_reauthentication_required(self, *, app, **kwargs):
        """A sign-in a few minutes ago counts as reauthentication: enrolling right after it asks no password again."""
        from allauth.account import app_settings as account_settings
        from allauth.core import context

        request = context.request
        records = get_authentication_records(request, request.user) if request is not None else []
        signed_in_at = next((r["at"] for r in reversed(records) if r.get("method") == "password"), None)
        if signed_in_at is not None and time.time() - signed_in_at < account_settings.REAUTHENTICATION_TIMEOUT:
            return False
        return super().is_reauthentication_required(app=app, **kwargs)

    def post_login(self, request, user, **kwargs):
        """Offer (or demand) the TOTP enrolment before the page the user was going to, until it is set up."""
        response = super().post_login(request, user, **kwargs)
        policy = mfa_policy(user)
        if policy is Mfa.NOT_NEEDED or has_totp(user):
            return response
        due = mfa_due(user)
        request.session[ENROLMENT_STEP] = {
            "next": response["Location"],
            "skippable": policy is Mfa.OFFERED,
            # A reviewer in the grace period is told until when; for anyone else it is due already.
            "due": timezone.localdate(due).isoformat() if due > timezone.now() else None,
        }
        return HttpResponseRedirect(reverse("mfa_activate_totp"))


@receiver(authenticator_added)
def _enrolment_proves_the_second_factor(sender, request, user, authenticator, **kwargs):
    """Setting up TOTP takes a code from the app: this session has passed the second factor, as a sign-in would."""
    # allauth's own record of the session's authentication steps (an internal API; allauth is pinned exactly).
    from allauth.account.internal.flows.login import record_authentication

    if authenticator.type == Authenticator.Type.TOTP:
        record_authentication(request, user, method="mfa", type=authenticator.type, id=authenticator.pk)


class MFAAdapter(DefaultMFAAdapter):
    def can_delete_authenticator(self, authenticator):
        # Whoever must use two-factor authentication cannot turn it off (recovery codes can be renewed).
        if authenticator.type == Authenticator.Type.TOTP and mfa_policy(authenticator.user) is Mfa.REQUIRED:
            return False
        return super().can_delete_authenticator(authenticator)


class MfaRequiredMiddleware:
    """Holds a user who must use two-factor authentication (Mfa.REQUIRED) to it, on every page.

    Until their TOTP is set up, every page but the account pages (sign-out, enrolment, password)
    redirects to the enrolment. A session of theirs that did not pass the second factor, from a sign-in
    that went around allauth's login stages, is ended. Users to whom it is only offered are shown the
    enrolment once after signing in (AccountAdapter.post_login) and never stopped here.

    Costs no query once the session has passed the second factor, and none for users who need not.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if settings.IMR_MFA_ENROLMENT_OPTIONAL:  # an offer at sign-in for everyone: nothing to hold anyone to
            return None
        user = request.user
        if not user.is_authenticated or _is_account_page(request) or session_passed_mfa(request):
            return None
        if mfa_policy(user) is not Mfa.REQUIRED:
            return None
        if has_totp(user):
            record_account_event(user, event="session ended: signed in without the second factor", request=request)
            logout(request)
            messages.error(request, "Sign in again with your authentication code.")
            return HttpResponseRedirect(reverse(settings.LOGIN_URL))
        messages.warning(request, "Set up two-factor authentication to continue: your role requires it.")
        request.session[ENROLMENT_STEP] = {"next": request.get_full_path(), "skippable": False, "due": None}
        return HttpResponseRedirect(reverse("mfa_activate_totp"))


def _is_account_page(request) -> bool:
    """allauth's own pages (names account_* and mfa_*): sign-out, enrolment, password change, reauthentication."""
    name = request.resolver_match.url_name or ""
    return name.startswith(("account_", "mfa_"))
