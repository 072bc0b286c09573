"""The landing page and the login it sits behind, for each role."""

import pytest

from reviews.models import Case
from tests.factories import CaseFactory


def test_logging_in_with_the_form_offers_the_mfa_enrolment_on_the_way_to_the_home_page(client, coordinator):
    # The embedded default (IMR_MFA_ENROLMENT_OPTIONAL) offers the enrolment as a step; tests/test_mfa.py has the rest.
    response = client.post(
        "/accounts/login/", {"login": "alice", "password": "correct horse battery staple"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/accounts/2fa/totp/activate/"
    assert b'href="/">Not now</a>' in response.content
    assert b"Alice" in client.get("/").content


def test_a_wrong_password_is_refused_with_a_message_in_place(client, coordinator):
    response = client.post("/accounts/login/", {"login": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"The username and/or password you specified are not correct." in response.content
    assert "_auth_user_id" not in client.session


def test_logging_out_ends_the_session(client, coordinator):
    client.force_login(coordinator)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_coordinators_see_counts_by_status_and_the_admin_link(client, coordinator):
    CaseFactory.create_batch(3)
    client.force_login(coordinator)
    response = client.get("/")
    assert response.status_code == 200
    assert dict(response.context["dashboard"]["open_counts"])[Case.Status.RECEIVED] == 3
    assert b'href="/admin/"' in response.content


def test_reviewers_land_on_their_queue(client, reviewer):
    client.force_login(reviewer.user)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/queue/"


def test_a_user_without_a_role_is_told_so(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="nobody"))
    response = client.get("/")
    assert "dashboard" not in response.context
    assert b"Your account has no role yet" in response.content


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_the_home_page_only_answers_get(client, coordinator, method):
    client.force_login(coordinator)
    assert getattr(client, method)("/").status_code == 405
