"""seed_demo: the demo data a new user and the browser tests rely on, loaded once; --totp for the load test."""

import datetime as dt
from io import StringIO

import pyotp
import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import decrypt
from django.apps import apps
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from reviews.models import Case, DisputedItem, Reviewer


def _row_counts():
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


@pytest.fixture
def seeded(db):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_prints_the_url_and_the_logins(seeded):
    assert "http://127.0.0.1:8000/" in seeded
    for login in ("coordinator", "imr-demo-coordinator", "dr.alvarez", "imr-demo-reviewer", "admin", "imr-demo-admin"):
        assert login in seeded


def test_the_printed_logins_work(seeded):
    assert authenticate(username="coordinator", password="imr-demo-coordinator").groups.filter(name="Coordinators")
    assert authenticate(username="dr.alvarez", password="imr-demo-reviewer").reviewer
    assert authenticate(username="admin", password="imr-demo-admin").is_superuser


def test_a_second_run_changes_nothing(seeded):
    before = _row_counts()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert _row_counts() == before
    assert "(0 new rows)" in out.getvalue()


def test_there_are_cases_at_several_stages_of_the_workflow(seeded):
    statuses = set(Case.objects.values_list("status", flat=True))
    assert {
        Case.Status.RECEIVED,
        Case.Status.AWAITING_RECORDS,
        Case.Status.READY_FOR_ASSIGNMENT,
        Case.Status.ASSIGNED,
        Case.Status.IN_REVIEW,
        Case.Status.APPROVED,
    } <= statuses
    for case in Case.objects.all():
        case.full_clean()  # every demo case is valid, and numbered CM<yy>-<7 digits>


def test_the_physiatrist_has_the_credentials_the_example_letter_states(seeded):
    assert Reviewer.objects.filter(active=True).count() >= 4
    reviewer = Reviewer.objects.get(user__username="dr.alvarez")
    specialties = {c.specialty.name: c.specialty for c in reviewer.certifications.select_related("specialty__parent")}
    assert "Physical Medicine and Rehabilitation" in specialties
    assert specialties["Interventional Spine"].parent.name == "Physical Medicine and Rehabilitation"
    assert reviewer.licenses.filter(state="CA", status="active", expires_on__gt=dt.date.today()).exists()
    assert dt.date.today().year - reviewer.practice_start_year >= 15
    assert reviewer.weekly_hours >= 24


def test_the_example_case_holds_the_published_determination_as_structured_data(seeded):
    case = Case.objects.get(items__request_text__startswith="Additional occupational therapy 2x6 weeks")
    assert case.status == Case.Status.APPROVED
    assert case.employee_sex == Case.Sex.FEMALE
    assert case.date_of_injury == dt.date(2007, 2, 21)
    assert case.ur_decision_date == dt.date(2014, 8, 21)
    age = (case.ur_decision_date - case.employee_birth_date).days // 365
    assert age == 57
    assert case.reviewer.user.username == "dr.alvarez"
    assert [d.description for d in case.diagnoses.all()] == [
        "Lumbar disk displacement",
        "Cervicalgia",
        "Chronic pain syndrome",
        "Psychogenic pain",
        "Anxiety state NOS",
        "Depressive disorder NEC",
    ]
    assert "recent motor vehicle accident" in case.clinical_case_summary

    (item,) = case.items.all()
    assert item.request_text == (
        "Additional occupational therapy 2x6 weeks (12 sessions) low back, right shoulder, right wrist"
    )
    assert item.decision == DisputedItem.Decision.UPHELD
    assert item.rationale.endswith("exceeds what is recommended by MTUS.")
    ca_citation = item.citations.get(role="ca")
    assert ca_citation.guideline.source == "odg"
    assert ca_citation.sections == "Physical Therapy Guidelines"
    review_citation = item.citations.get(role="review")
    assert review_citation.guideline.citation_name == "MTUS Chronic Pain Treatment Guidelines"
    assert (review_citation.sections, review_citation.pages) == ("Physical Medicine", "98, 99")
    assert case.documents.filter(first_opened_at__isnull=True).count() == 0


LOAD_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _totp_secrets():
    return {
        a.user.username: decrypt(a.data["secret"])
        for a in Authenticator.objects.filter(type=Authenticator.Type.TOTP).select_related("user")
    }


def test_totp_gives_the_named_users_the_load_test_secret_and_its_codes_sign_them_in(db, client, monkeypatch, settings):
    settings.IMR_MFA_ENROLMENT_OPTIONAL = False  # production: the coordinator cannot sign in without the code
    monkeypatch.setenv("IMR_LOAD_TOTP_SECRET", LOAD_SECRET)
    out = StringIO()
    call_command("seed_demo", "--totp", "coordinator", "dr.alvarez", stdout=out)

    assert _totp_secrets() == {"coordinator": LOAD_SECRET, "dr.alvarez": LOAD_SECRET}
    assert "TOTP secret from IMR_LOAD_TOTP_SECRET: coordinator, dr.alvarez" in out.getvalue()
    signed_in = client.post("/accounts/login/", {"login": "coordinator", "password": "imr-demo-coordinator"})
    assert signed_in["Location"] == "/accounts/2fa/authenticate/"
    accepted = client.post("/accounts/2fa/authenticate/", {"code": pyotp.TOTP(LOAD_SECRET).now()})
    assert accepted["Location"] == "/"
    assert client.get("/").status_code == 200


def test_totp_again_changes_nothing_and_a_new_secret_replaces_the_old_one(db, monkeypatch):
    monkeypatch.setenv("IMR_LOAD_TOTP_SECRET", LOAD_SECRET)
    call_command("seed_demo", "--totp", "coordinator", stdout=StringIO())
    first = Authenticator.objects.get(user__username="coordinator")

    again = StringIO()
    call_command("seed_demo", "--totp", "coordinator", stdout=again)
    assert "(0 new rows)" in again.getvalue()
    assert Authenticator.objects.get(user__username="coordinator").pk == first.pk

    other = pyotp.random_base32()
    monkeypatch.setenv("IMR_LOAD_TOTP_SECRET", other)
    call_command("seed_demo", "--totp", "coordinator", stdout=StringIO())
    assert _totp_secrets() == {"coordinator": other}


def test_totp_for_an_unknown_user_is_refused_and_seeds_nothing(db, monkeypatch):
    monkeypatch.setenv("IMR_LOAD_TOTP_SECRET", LOAD_SECRET)
    with pytest.raises(CommandError, match="No user named nobody"):
        call_command("seed_demo", "--totp", "coordinator", "nobody", stdout=StringIO())
    assert not get_user_model().objects.exists()  # one transaction: the seed is rolled back too
    assert not Authenticator.objects.exists()


@pytest.mark.parametrize("secret", [None, "", "not base32!", "ABCDEFGHI", "JBSWY3DPEHPK3PXP"])
def test_totp_without_a_base32_secret_in_the_environment_is_refused_before_seeding(db, monkeypatch, secret):
    if secret is None:
        monkeypatch.delenv("IMR_LOAD_TOTP_SECRET", raising=False)
    else:
        monkeypatch.setenv("IMR_LOAD_TOTP_SECRET", secret)
    with pytest.raises(CommandError, match="IMR_LOAD_TOTP_SECRET, which must hold 128 bits or more in base32"):
        call_command("seed_demo", "--totp", "coordinator", stdout=StringIO())
    assert not get_user_model().objects.exists()
