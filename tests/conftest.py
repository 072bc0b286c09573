"""Personas and shared fixtures: coordinator (alice), reviewer (bob), other_reviewer (charlie), admin."""

import pytest

from tests.factories import (
    BoardCertificationFactory,
    CoordinatorFactory,
    LicenseFactory,
    ReviewerFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2's deliberate slowness costs a quarter second a user; tests need no such protection.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def coordinator(db):
    return CoordinatorFactory(username="alice", first_name="Alice", last_name="Coordinator")


def _licensed_reviewer(username, first_name):
    reviewer = ReviewerFactory(user=UserFactory(username=username, first_name=first_name, last_name="Reviewer"))
    LicenseFactory(reviewer=reviewer)
    BoardCertificationFactory(reviewer=reviewer)
    return reviewer


@pytest.fixture
def reviewer(db):
    return _licensed_reviewer("bob", "Bob")


@pytest.fixture
def other_reviewer(db):
    return _licensed_reviewer("charlie", "Charlie")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def ready_case(coordinator):
    """A case through eligibility and records, ready for assignment; its one item is for PM&R reviewers."""
    from reviews import services
    from tests.factories import CaseFactory, DisputedItemFactory, SpecialtyFactory, TreatmentCategoryFactory

    category = TreatmentCategoryFactory(name="Rehabilitation")
    category.accepted_specialties.add(SpecialtyFactory())
    case = CaseFactory()
    DisputedItemFactory(case=case, category=category, position=1)
    case = services.case_confirm_eligibility(case=case, by=coordinator, eligible=True)
    case = services.case_request_records(case=case, by=coordinator)
    return services.case_complete_records(case=case, by=coordinator)


@pytest.fixture(scope="session", autouse=True)
def celery_broker_for_tests():
    """Without REDIS_URL, tests queue tasks in memory rather than in the developer's var/broker/."""
    from django.conf import settings

    from imr.celery import app

    if not settings.REDIS_URL:
        app.conf.broker_url = "memory://"
        app.conf.result_backend = "cache+memory://"
    return app


@pytest.fixture
def queued(monkeypatch):
    """Record the tasks a service queues (after commit) instead of sending them to the broker."""
    from reviews import tasks

    calls = []
    for name in ("notify_reviewer_assigned", "send_deadline_digest"):
        task = getattr(tasks, name)
        monkeypatch.setattr(task, "delay", lambda *args, _name=name, **kwargs: calls.append((_name, args)))
    return calls
