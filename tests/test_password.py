"""Password reset by e-mail, answering alike whether or not an account has the address; password change."""

import re

from auditlog.models import LogEntry

from tests.factories import UserFactory

OLD = "correct horse battery staple"
NEW = "a much longer new passphrase 42"


def _without_csrf_token(html: bytes) -> bytes:
    return re.sub(rb'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', rb"\1", html)


def _event_count(user, event):
    return LogEntry.objects.get_for_object(user).filter(additional_data__event=event).count()


def test_a_reset_answers_the_same_for_an_unknown_address_and_mails_only_the_account_and_its_history(
    client, db, mailoutbox
):
    dana = UserFactory(username="dana", email="dana@example.org")

    known = client.post("/accounts/password/reset/", {"email": "dana@example.org"}, follow=True)
    unknown = client.post("/accounts/password/reset/", {"email": "nobody@example.org"}, follow=True)

    assert known.redirect_chain == unknown.redirect_chain == [("/accounts/password/reset/done/", 302)]
    assert _without_csrf_token(known.content) == _without_csrf_token(unknown.content)
    assert [m.to for m in mailoutbox] == [["dana@example.org"]]
    assert mailoutbox[0].subject.startswith("[IMR Desk] ")
    asked = LogEntry.objects.get(additional_data__event="password reset requested")
    assert asked.object_pk == str(dana.pk) and asked.remote_addr == "127.0.0.1"  # whose, and from where
    assert asked.actor is None  # anyone may type an address


def test_the_link_in_the_mail_sets_a_new_password_once(client, db, mailoutbox):
    user = UserFactory(username="dana", email="dana@example.org")
    client.post("/accounts/password/reset/", {"email": "dana@example.org"})
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", mailoutbox[0].body).group(1)

    form = client.get(link, follow=True)
    response = client.post(form.redirect_chain[-1][0], {"password1": NEW, "password2": NEW})

    assert response["Location"] == "/accounts/password/reset/key/done/"
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert _event_count(user, "password reset") == 1
    assert b"The password reset link was invalid" in client.get(link, follow=True).content


def test_a_signed_in_user_changes_their_password_with_the_old_one(client, coordinator):
    client.force_login(coordinator)

    wrong = client.post("/accounts/password/change/", {"oldpassword": "not it", "password1": NEW, "password2": NEW})
    assert b"Please type your current password." in wrong.content
    response = client.post("/accounts/password/change/", {"oldpassword": OLD, "password1": NEW, "password2": NEW})

    assert response.status_code == 302
    coordinator.refresh_from_db()
    assert coordinator.check_password(NEW)
    assert client.get("/").status_code == 200  # the session goes on
    assert _event_count(coordinator, "password changed") == 1


def test_a_new_password_must_pass_the_validators(client, coordinator):
    client.force_login(coordinator)

    response = client.post(
        "/accounts/password/change/", {"oldpassword": OLD, "password1": "short", "password2": "short"}
    )

    assert b"This password is too short. It must contain at least 12 characters." in response.content
    coordinator.refresh_from_db()
    assert coordinator.check_password(OLD)


def test_the_password_pages_need_a_sign_in(client, db):
    assert client.get("/accounts/password/change/")["Location"].startswith("/accounts/login/")


def test_there_is_no_sign_up_and_no_self_service_e_mail_change(client, coordinator):
    assert b"Accounts are made by an administrator" in client.get("/accounts/signup/").content
    client.force_login(coordinator)
    assert client.get("/accounts/email/").status_code == 404
