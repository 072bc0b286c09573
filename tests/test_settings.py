"""Settings from the environment: production mode refuses to start without its secrets; the database URL.

Each test starts a fresh interpreter, because settings are read once per process. A `.env` file at
the project root would fill in missing variables, so these tests describe a checkout without one.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETUP = "import django; django.setup()"
PRINT_DATABASE = (
    "import django, json; django.setup(); from django.conf import settings; "
    "db = settings.DATABASES['default']; print(json.dumps({k: str(db.get(k, '')) for k in ('ENGINE', 'NAME', 'HOST')}))"
)
# Variables the settings read that would change the outcome when inherited from the test run.
SETTINGS_VARIABLES = (
    "DJANGO_DEBUG",
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "IMR_VAR_DIR",
    "DJANGO_ALLOW_ASYNC_UNSAFE",  # set by the browser tests' harness; check --deploy rightly warns of it
)


def run(code: str, **variables: str) -> subprocess.CompletedProcess:
    """Run `code` in a new interpreter at the project root, with the settings variables given here only."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    env.update(DJANGO_SETTINGS_MODULE="imr.settings", **variables)
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


PRODUCTION = {"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "x" * 50, "DJANGO_ALLOWED_HOSTS": "imr.example.org"}


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"])
def test_production_mode_refuses_to_start_without_a_required_variable(missing):
    variables = {k: v for k, v in PRODUCTION.items() if k != missing}

    result = run(SETUP, **variables)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} must be set when DJANGO_DEBUG is off" in result.stderr


@pytest.mark.parametrize("empty", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"])
def test_production_mode_refuses_to_start_with_a_required_variable_empty(empty):
    result = run(SETUP, **{**PRODUCTION, empty: ""})

    assert result.returncode != 0
    assert f"{empty} must be set when DJANGO_DEBUG is off" in result.stderr


def test_production_mode_starts_with_its_secret_key_and_allowed_hosts():
    result = run(
        SETUP + "; from django.conf import settings; print(settings.DEBUG, settings.ALLOWED_HOSTS)", **PRODUCTION
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False ['imr.example.org']"


def test_development_mode_starts_without_any_variable():
    result = run(SETUP + "; from django.conf import settings; print(settings.DEBUG)")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_database_url_selects_postgresql():
    result = run(PRINT_DATABASE, DATABASE_URL="postgres://imr:secret@db.example.org:5432/imr")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "imr",
        "HOST": "db.example.org",
    }


def test_without_database_url_the_database_is_sqlite_under_var():
    result = run(PRINT_DATABASE)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(ROOT / "var" / "imr.sqlite3"),
        "HOST": "",
    }


def test_the_deployment_checklist_is_clean_in_production_mode():
    secret = {"DJANGO_SECRET_KEY": "k3" + "Qz8!vR#1pL@w9" * 5}  # long and varied, as check --deploy demands
    code = (
        "import django; django.setup(); from django.core.management import call_command; "
        "call_command('check', deploy=True, fail_level='WARNING')"
    )
    result = run(code, **{**PRODUCTION, **secret})
    assert result.returncode == 0, result.stderr


def test_production_mode_requires_two_factor_authentication_whatever_the_environment_says():
    code = SETUP + "; from django.conf import settings; print(settings.IMR_MFA_ENROLMENT_OPTIONAL)"

    production = run(code, **PRODUCTION, IMR_MFA_ENROLMENT_OPTIONAL="true")
    development = run(code)

    assert (production.stdout.strip(), development.stdout.strip()) == ("False", "True"), production.stderr
