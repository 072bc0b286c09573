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
