"""Personas and shared fixtures: coordinator (alice), reviewer (bob), other_reviewer (charlie), admin."""

import uuid
from types import SimpleNamespace

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


@pytest.fixture(autouse=True)
def cache_of_its_own(settings):
    """Each test's cache keys under a prefix of their own: sign-in rate limits (allauth counts failures in the
    cache) and used TOTP codes never carry over from one test, or one run, to the next. Nothing is flushed:
    on CI the cache shares Redis with the broker."""
    default = settings.CACHES["default"]
    settings.CACHES = {**settings.CACHES, "default": {**default, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}}


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
def who(coordinator, reviewer, other_reviewer):
    """The three personas together, for helpers that walk a case through steps taken by each."""
    return SimpleNamespace(coordinator=coordinator, reviewer=reviewer, other_reviewer=other_reviewer)


@pytest.fixture
def media(settings, tmp_path):
    """Uploaded and rendered files go to a temporary folder."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


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
    """Record the tasks the outbox relays (after commit) instead of sending them to the broker."""
    from reviews.services import outbox

    calls = []

    def record(connection, *, task, args, task_id):
        calls.append((task.rsplit(".", 1)[-1], tuple(args)))

    monkeypatch.setattr(outbox, "_send", record)
    return calls


@pytest.fixture
def run_relayed(monkeypatch):
    """Run each task the outbox relays at once, in this process, as the worker would; returns their names."""
    from imr.celery import app
    from reviews.services import outbox

    ran = []

    def run(connection, *, task, args, task_id):
        ran.append(task.rsplit(".", 1)[-1])
        app.tasks[task](*args)

    monkeypatch.setattr(outbox, "_send", run)
    return ran


@pytest.fixture
def submitted_case(ready_case, coordinator, reviewer):
    """ready_case reviewed by bob and submitted: accepted with the attestation, summary written, the item
    upheld on an MTUS citation (the claims administrator cited none), its one document opened."""
    from reviews import services
    from tests.factories import CaseDocumentFactory, GuidelineFactory, review_every_item

    case = services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    case = services.case_accept(case=case, by=reviewer.user, attested=True)
    CaseDocumentFactory(case=case, author="Dr. Linda Marsh")
    review_every_item(
        case,
        by=reviewer.user,
        guideline=GuidelineFactory(),
        summary="The patient is a 57-year-old female with chronic low back pain after a lifting injury.",
        rationale="MTUS pages 98 and 99 recommend 9 to 10 sessions; the 12 requested exceed them.",
        pages="98, 99",
    )
    return services.case_submit(case=case, by=reviewer.user)


@pytest.fixture(autouse=True)
def role_groups_in_transactional_tests(request):
    """Transactional tests (live server, threads): the role groups exist, as after migrating.

    A transactional test ends by emptying every table; the permissions come back (post_migrate)
    but the groups of the data migration do not, so the next transactional test would find none.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = {"transactional_db", "live_server"} & set(request.fixturenames) or (
        marker is not None and bool(marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    )
    if transactional:
        request.getfixturevalue("transactional_db")
        from reviews.roles import ensure_role_groups

        ensure_role_groups()
    elif "db" in request.fixturenames:
        # A database test that a worker (pytest-xdist) runs after a transactional one finds the groups
        # flushed too: make them again, once, outside the test's query counts.
        request.getfixturevalue("db")
        from django.contrib.auth.models import Group

        from reviews.permissions import COORDINATORS
        from reviews.roles import ensure_role_groups

        if not Group.objects.filter(name=COORDINATORS).exists():
            ensure_role_groups()
