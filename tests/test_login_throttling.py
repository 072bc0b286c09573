"""Sign-in rate limits: per account and per address, the right password refused too once the limit is reached."""

from auditlog.models import LogEntry

from tests.factories import UserFactory

LOGIN = "/accounts/login/"
PASSWORD = "correct horse battery staple"


def _user(username):
    user = UserFactory(username=username)
    user.set_password(PASSWORD)
    user.save()
    return user


def test_after_five_failures_the_right_password_is_refused_with_a_clear_message(client, db, settings):
    assert settings.IMR_LOGIN_FAILURES_PER_ACCOUNT == 5
    user = _user("dana")
    for _ in range(5):
        response = client.post(LOGIN, {"login": "dana", "password": "wrong"})
        assert b"are not correct" in response.content

    response = client.post(LOGIN, {"login": "dana", "password": PASSWORD})

    assert response.status_code == 200
    assert b"Too many failed sign-in attempts for this account or from this address" in response.content
    assert b"even with the right password, for up to 15 minutes" in response.content
    assert "_auth_user_id" not in client.session
    refused = LogEntry.objects.get_for_object(user).filter(additional_data__event="login refused: too many failures")
    assert refused.count() == 1


def test_the_account_limit_holds_whichever_address_the_attempts_come_from(client, db):
    _user("dana")
    for n in range(5):
        client.post(LOGIN, {"login": "dana", "password": "wrong"}, REMOTE_ADDR=f"198.51.100.{n}")

    response = client.post(LOGIN, {"login": "dana", "password": PASSWORD}, REMOTE_ADDR="198.51.100.99")

    assert b"Too many failed sign-in attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_failures_on_one_account_do_not_lock_another(client, db):
    _user("dana")
    _user("erin")
    for _ in range(5):
        client.post(LOGIN, {"login": "dana", "password": "wrong"})

    response = client.post(LOGIN, {"login": "erin", "password": PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"]


def test_one_address_trying_many_accounts_is_stopped_by_the_address_limit(client, db, settings):
    settings.IMR_TRUSTED_PROXIES = 1
    _user("dana")
    attacker = {"HTTP_X_FORWARDED_FOR": "203.0.113.7", "REMOTE_ADDR": "10.0.0.2"}
    for n in range(settings.IMR_LOGIN_FAILURES_PER_ADDRESS):
        client.post(LOGIN, {"login": f"guess{n}", "password": "wrong"}, **attacker)

    refused = client.post(LOGIN, {"login": "dana", "password": PASSWORD}, **attacker)
    # The address counted is the one the trusted proxy saw, so another client behind the same proxy goes on.
    other = client.post(
        LOGIN, {"login": "dana", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="192.0.2.1", REMOTE_ADDR="10.0.0.2"
    )

    assert b"Too many failed sign-in attempts" in refused.content
    assert other.status_code == 302


def test_a_successful_sign_in_does_not_count_against_the_limit(client, db):
    _user("dana")
    for _ in range(10):
        assert client.post(LOGIN, {"login": "dana", "password": PASSWORD}).status_code == 302
        client.post("/accounts/logout/")
    for _ in range(4):
        client.post(LOGIN, {"login": "dana", "password": "wrong"})

    assert client.post(LOGIN, {"login": "dana", "password": PASSWORD}).status_code == 302
