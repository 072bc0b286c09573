"""The coordinators' admin permissions: one table (reviews.roles) makes the group and bounds the admin's checks."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from reviews.models import Case, Diagnosis, DisputedItem, Guideline, Holiday, Organization
from reviews.permissions import COORDINATORS
from reviews.roles import COORDINATOR_PERMISSIONS, ensure_role_groups
from tests.factories import DiagnosisFactory, GuidelineFactory, OrganizationFactory

ACTIONS = ["view", "add", "change", "delete"]


def _admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_the_coordinators_group_holds_exactly_the_permissions_of_the_table(db):
    group = Group.objects.get(name=COORDINATORS)
    granted = set(group.permissions.values_list("codename", flat=True))
    assert granted == {f"{a}_{model}" for model, actions in COORDINATOR_PERMISSIONS.items() for a in actions}


def test_a_group_given_more_by_hand_is_trimmed_back_when_the_roles_are_set_again(db):
    group = Group.objects.get(name=COORDINATORS)
    group.permissions.add(Permission.objects.get(codename="delete_disputeditem"))

    ensure_role_groups()  # what the data migration runs

    assert not group.permissions.filter(codename="delete_disputeditem").exists()


@pytest.mark.parametrize(
    "model", sorted(admin.site._registry, key=lambda m: m._meta.label), ids=lambda m: m._meta.label
)
def test_the_admin_lets_a_coordinator_do_no_more_than_the_table_lists(rf, coordinator, model):
    request = rf.get("/admin/")
    request.user = coordinator
    model_admin = admin.site._registry[model]

    allowed = {action for action in ACTIONS if getattr(model_admin, f"has_{action}_permission")(request)}

    listed = (
        set(COORDINATOR_PERMISSIONS.get(model._meta.model_name, [])) if model._meta.app_label == "reviews" else set()
    )
    assert allowed <= listed


@pytest.mark.parametrize(
    ("model", "view"),
    [
        (Guideline, "changelist"),
        (Holiday, "add"),
        (Case, "add"),
        (DisputedItem, "add"),
        (Diagnosis, "add"),
    ],
)
def test_a_coordinator_cannot_reach_the_admin_pages_they_have_no_need_for(client, coordinator, model, view):
    client.force_login(coordinator)
    assert client.get(_admin_url(model, view)).status_code == 403


@pytest.mark.parametrize(
    "url", ["admin:auth_user_changelist", "admin:auth_group_changelist", "admin:auditlog_logentry_changelist"]
)
def test_users_groups_and_the_audit_log_are_not_the_coordinators(client, coordinator, url):
    client.force_login(coordinator)
    assert client.get(reverse(url)).status_code == 403


def test_a_coordinator_cannot_change_or_delete_a_diagnosis_in_the_admin_before_acceptance_either(
    client, coordinator, ready_case
):
    diagnosis = DiagnosisFactory(case=ready_case, position=1, description="Lumbar radiculopathy")
    client.force_login(coordinator)

    changed = client.post(
        _admin_url(Diagnosis, "change", diagnosis.pk),
        {"case": ready_case.pk, "position": 1, "icd10_code": "M54.5", "description": "Rewritten"},
    )
    deleted = client.post(_admin_url(Diagnosis, "delete", diagnosis.pk), {"post": "yes"})

    assert (changed.status_code, deleted.status_code) == (403, 403)
    diagnosis.refresh_from_db()
    assert diagnosis.description == "Lumbar radiculopathy"


def test_a_coordinator_corrects_a_party_and_reads_a_case_in_the_admin(client, coordinator, ready_case):
    employer = OrganizationFactory(kind=Organization.Kind.EMPLOYER, name="Acme Corp")
    client.force_login(coordinator)

    assert client.get(_admin_url(Case, "change", ready_case.pk)).status_code == 200
    response = client.post(
        _admin_url(Organization, "change", employer.pk), {"kind": employer.kind, "name": "Acme Corporation"}
    )

    assert response.status_code == 302
    employer.refresh_from_db()
    assert employer.name == "Acme Corporation"


def test_a_permission_added_to_the_group_by_hand_opens_no_admin_page(client, coordinator):
    guideline = GuidelineFactory()
    Group.objects.get(name=COORDINATORS).permissions.add(Permission.objects.get(codename="change_guideline"))
    client.force_login(coordinator)

    response = client.post(_admin_url(Guideline, "change", guideline.pk), {"title": "Rewritten"})

    assert response.status_code == 403
    guideline.refresh_from_db()
    assert guideline.title != "Rewritten"
