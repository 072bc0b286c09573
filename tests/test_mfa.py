"""Two-factor authentication: who must have it and when, the enrolment step or wall, sign-in with a code.

The embedded default (and so the rest of the suite) offers the enrolment as a step that may be skipped;
`required` below turns that off, as production does, so the wall is tested here explicitly.
"""

import datetime

import pyotp
import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviews.accounts import Mfa, mfa_policy
from tests.factories import UserFactory

LOGIN = "/accounts/login/"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def required(settings):
    """Production's rule: whoever must have two-factor authentication cannot skip it."""
    settings.IMR_MFA_ENROLMENT_OPTIONAL = False


def enrol(user) -> tuple[str, list[str]]:
    """Give `user` a TOTP authenticator and recovery codes, as the enrolment page does; returns the secret and codes."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret, RecoveryCodes.activate(user).get_unused_codes()


def events(user):
    return list(
        LogEntry.objects.get_for_object(user)
        .filter(action=LogEntry.Action.ACCESS)
        .order_by("pk")
        .values_list("additional_data__event", flat=True)
    )


def test_coordinators_and_admins_must_have_it_and_reviewers_after_the_grace_period(
    coordinator, admin_user, reviewer, required, settings
):
    assert mfa_policy(coordinator) is Mfa.REQUIRED
    assert mfa_policy(admin_user) is Mfa.REQUIRED
    assert mfa_policy(reviewer.user) is Mfa.OFFERED  # the account is new
    reviewer.user.date_joined = timezone.now() - datetime.timedelta(days=settings.IMR_MFA_REVIEWER_GRACE_DAYS, hours=1)
    assert mfa_policy(reviewer.user) is Mfa.REQUIRED
    assert mfa_policy(UserFactory(username="nobody")) is Mfa.NOT_NEEDED


def test_the_embedded_default_only_offers_it(coordinator, settings):
    settings.IMR_MFA_ENROLMENT_OPTIONAL = True
    assert mfa_policy(coordinator) is Mfa.OFFERED


def test_until_enrolled_a_coordinator_is_sent_to_the_enrolment_from_every_page(client, coordinator, required):
    client.force_login(coordinator)

    response = client.get("/cases/")
    assert response["Location"] == "/accounts/2fa/totp/activate/"
    # No sign-in in this session yet (force_login), so the enrolment first asks for the password again.
    response = client.get(response["Location"], follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/reauthenticate/")
    assert b"Set up two-factor authentication to continue: your role requires it." in response.content
    # The account pages stay open: a password can be changed, the session ended.
    assert client.get("/accounts/password/change/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302


def test_signing_in_without_enrolment_leads_to_it_with_no_way_round(client, coordinator, required):
    response = client.post(LOGIN, {"login": "alice", "password": PASSWORD}, follow=True)

    assert response.redirect_chain[-1][0] == "/accounts/2fa/totp/activate/"
    assert b"your role requires a code from an authenticator app" in response.content
    assert b"Not now" not in response.content
    assert client.get("/").status_code == 302


# allauth announces the enrolment after commit, within the request: a real commit, as in production.
@pytest.mark.django_db(transaction=True)
def test_enrolling_with_a_code_from_the_app_opens_the_application_and_shows_recovery_codes(
    client, coordinator, required
):
    client.post(LOGIN, {"login": "alice", "password": PASSWORD})
    page = client.get("/accounts/2fa/totp/activate/")
    secret = page.context["form"].secret

    wrong = client.post("/accounts/2fa/totp/activate/", {"code": "000000"})
    assert b"Incorrect code." in wrong.content
    response = client.post("/accounts/2fa/totp/activate/", {"code": pyotp.TOTP(secret).now()}, follow=True)

    assert response.redirect_chain[-1][0] == "/accounts/2fa/recovery-codes/"
    assert len(response.context["unused_codes"]) == 10
    assert b"Continue to IMR Desk" in response.content
    assert Authenticator.objects.filter(user=coordinator, type=Authenticator.Type.TOTP).exists()
    # The code from the app was the second factor: this session goes on.
    assert client.get("/").status_code == 200
    assert events(coordinator) == ["login", "mfa added", "mfa added"]


def test_a_reviewer_in_the_grace_period_may_skip_it_until_a_date_they_are_told(client, reviewer, required, settings):
    reviewer.user.set_password(PASSWORD)
    reviewer.user.save()
    due = timezone.localdate(reviewer.user.date_joined + datetime.timedelta(days=settings.IMR_MFA_REVIEWER_GRACE_DAYS))

    response = client.post(LOGIN, {"login": "bob", "password": PASSWORD}, follow=True)

    assert response.redirect_chain[-1][0] == "/accounts/2fa/totp/activate/"
    assert f"You can skip this until {due.isoformat()}".encode() in response.content
    assert b'href="/">Not now</a>' in response.content
    assert client.get("/", follow=True).redirect_chain[-1][0] == "/queue/"


def test_signing_in_with_mfa_asks_for_the_code_and_refuses_a_wrong_one(client, coordinator, required):
    secret, _ = enrol(coordinator)

    response = client.post(LOGIN, {"login": "alice", "password": PASSWORD})
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert "_auth_user_id" not in client.session  # the password alone signs no one in
    assert client.get("/").status_code == 302

    refused = client.post("/accounts/2fa/authenticate/", {"code": "123456"})
    assert b"Incorrect code." in refused.content
    accepted = client.post("/accounts/2fa/authenticate/", {"code": pyotp.TOTP(secret).now()})

    assert accepted["Location"] == "/"
    assert client.get("/").status_code == 200
    assert events(coordinator) == ["mfa code refused", "mfa used", "login"]


def test_a_recovery_code_signs_in_once(client, coordinator, required):
    _, codes = enrol(coordinator)

    client.post(LOGIN, {"login": "alice", "password": PASSWORD})
    response = client.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert response["Location"] == "/"
    client.post("/accounts/logout/")

    client.post(LOGIN, {"login": "alice", "password": PASSWORD})
    reused = client.post("/accounts/2fa/authenticate/", {"code": codes[0]})

    assert b"Incorrect code." in reused.content
    assert "_auth_user_id" not in client.session
    used = LogEntry.objects.get_for_object(coordinator).filter(additional_data__event="mfa used").get()
    assert used.additional_data["type"] == "recovery_codes"


def test_a_session_that_skipped_the_second_factor_is_ended(client, coordinator, required):
    # force_login stands for any sign-in that went around allauth's login stages.
    enrol(coordinator)
    client.force_login(coordinator)

    response = client.get("/cases/")

    assert response["Location"] == LOGIN
    assert "_auth_user_id" not in client.session
    assert "session ended: signed in without the second factor" in events(coordinator)


def test_whoever_must_have_it_cannot_turn_it_off(client, coordinator, required):
    secret, _ = enrol(coordinator)
    client.post(LOGIN, {"login": "alice", "password": PASSWORD})
    client.post("/accounts/2fa/authenticate/", {"code": pyotp.TOTP(secret).now()})

    response = client.post("/accounts/2fa/totp/deactivate/")

    assert response.status_code == 200
    assert b"You cannot deactivate two-factor authentication." in response.content
    assert Authenticator.objects.filter(user=coordinator, type=Authenticator.Type.TOTP).exists()


def test_the_admin_signs_in_through_the_same_login(client, admin_user, required):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_once_the_session_passed_the_second_factor_holding_users_to_it_costs_no_query(
    client, coordinator, required, settings
):
    secret, _ = enrol(coordinator)
    client.post(LOGIN, {"login": "alice", "password": PASSWORD})
    client.post("/accounts/2fa/authenticate/", {"code": pyotp.TOTP(secret).now()})

    with CaptureQueriesContext(connection) as held:
        assert client.get("/cases/").status_code == 200
    settings.IMR_MFA_ENROLMENT_OPTIONAL = True
    with CaptureQueriesContext(connection) as offered:
        assert client.get("/cases/").status_code == 200

    assert len(held) == len(offered)
