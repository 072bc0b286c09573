"""Account events and addresses in the audit log: sign-ins, refusals, sign-outs, password and group changes."""

from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from reviews.permissions import COORDINATORS
from tests.factories import UserFactory


def _events(user):
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(user), object_id=user.pk, action=LogEntry.Action.ACCESS
    ).order_by("timestamp", "pk")
    return [(e.additional_data["event"], e.remote_addr) for e in entries]


def test_a_sign_in_a_refused_one_and_a_sign_out_are_in_the_users_history_with_the_address(db, client, settings):
    settings.IMR_TRUSTED_PROXIES = 1
    user = UserFactory(username="dana")
    user.set_password("right-password")
    user.save()
    login = "/accounts/login/"
    proxied = {"HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.7", "REMOTE_ADDR": "10.0.0.2"}

    client.post(login, {"login": "dana", "password": "wrong"}, **proxied)
    client.post(login, {"login": "dana", "password": "right-password"}, **proxied)
    client.post("/accounts/logout/", **proxied)

    # One proxy: its entry (the last) is believed; the client's own "6.6.6.6" is not.
    assert _events(user) == [("login failed", "203.0.113.7"), ("login", "203.0.113.7"), ("logout", "203.0.113.7")]


def test_without_a_trusted_proxy_a_forwarded_address_is_ignored(db, client, settings):
    settings.IMR_TRUSTED_PROXIES = 0
    user = UserFactory(username="erin")
    user.set_password("pw-erin-123")
    user.save()
    client.post("/accounts/login/", {"login": "erin", "password": "pw-erin-123"}, HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert _events(user) == [("login", "127.0.0.1")]


def test_a_password_change_and_a_new_group_are_recorded_without_the_hash(db):
    user = UserFactory(username="frank")
    user.set_password("first-password")
    user.save()
    user.groups.add(Group.objects.get_or_create(name=COORDINATORS)[0])
    entries = LogEntry.objects.get_for_object(user).order_by("pk")
    changes = [e.changes for e in entries if e.changes]
    assert any("password" in c for c in changes)
    assert all("pbkdf2" not in str(c) and "md5" not in str(c) for c in changes)
    assert any(
        c.get("groups", {}).get("objects") == [COORDINATORS] for c in changes if isinstance(c.get("groups"), dict)
    )


def _m2m_changes(obj, field):
    entries = LogEntry.objects.get_for_object(obj).filter(action=LogEntry.Action.UPDATE).order_by("pk")
    return [(e.changes[field]["operation"], e.changes[field]["objects"]) for e in entries if field in (e.changes or {})]


def test_groups_given_or_taken_from_either_side_are_in_the_users_history(db):
    user = UserFactory(username="gina")
    coordinators = Group.objects.get_or_create(name=COORDINATORS)[0]
    auditors = Group.objects.create(name="Auditors")

    user.groups.add(coordinators, auditors)
    coordinators.user_set.remove(user)  # from the group's side
    user.groups.clear()  # only what was there is recorded as taken

    assert _m2m_changes(user, "groups") == [
        ("add", [COORDINATORS, "Auditors"]),
        ("delete", [COORDINATORS]),
        ("delete", ["Auditors"]),
    ]
    assert _m2m_changes(coordinators, "groups") == []  # nothing filed under the group


def test_a_users_own_permissions_are_recorded(db):
    user = UserFactory(username="gina")
    permission = Permission.objects.get(codename="change_case")

    user.user_permissions.add(permission)
    permission.user_set.remove(user)

    assert _m2m_changes(user, "user_permissions") == [("add", [str(permission)]), ("delete", [str(permission)])]


def test_a_groups_permissions_changed_in_the_admin_are_recorded_with_the_admin_and_the_address(admin_client, db):
    group = Group.objects.create(name="Auditors")
    view_case = Permission.objects.get(codename="view_case")
    admin = get_user_model().objects.get(username="admin")

    response = admin_client.post(
        f"/admin/auth/group/{group.pk}/change/",
        {"name": "Auditors", "permissions": [view_case.pk]},
        REMOTE_ADDR="192.0.2.44",
    )

    assert response.status_code == 302
    entry = LogEntry.objects.get_for_object(group).filter(changes__has_key="permissions").get()
    assert entry.changes["permissions"] == {"type": "m2m", "operation": "add", "objects": [str(view_case)]}
    assert (entry.actor, entry.remote_addr) == (admin, "192.0.2.44")
