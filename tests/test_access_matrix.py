"""Who may open what: every URL pattern of the URLconf × six personas × a case in each state.

The patterns are read from the URLconf, so a new one fails `test_every_url_pattern_is_classified`
until it has a rule in APP_RULES (the application's and the libraries' pages) or, for the
admin, until its model has a kind in ADMIN_MODELS. For each pattern, persona and state the
matrix sends a GET and a POST and checks the status; for every refused request it also checks
that nothing changed in the database, and every answer to a signed-in user (and every error)
must forbid caching. The world (cases, people, files) is built once for the
module; every request runs in a savepoint rolled back after it, so each sees the same world.
"""

import dataclasses
import io
import re
import time
from collections.abc import Callable
from http.cookies import SimpleCookie

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.test.utils import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from reviews import health
from tests.factories import (
    BoardCertificationFactory,
    CaseFactory,
    CoordinatorFactory,
    DiagnosisFactory,
    DisputedItemFactory,
    GuidelineFactory,
    LicenseFactory,
    ReviewerFactory,
    SpecialtyFactory,
    TreatmentCategoryFactory,
    UserFactory,
    confirm_public_copy,
    review_every_item,
)

# The personas: reviewer_a holds every case that has a reviewer; reassigned held each of them
# (and had accepted it) before the coordinator reassigned it to reviewer_a; reviewer_b never had one.
PERSONAS = ["anonymous", "reviewer_a", "reviewer_b", "reassigned", "coordinator", "admin"]
REVIEWERS = ("reviewer_a", "reviewer_b", "reassigned")
COORDINATORS = ("coordinator", "admin")  # a superuser is a coordinator too (permissions.is_coordinator)

# One case in each state that changes who may see it; "missing" is a well-formed number of no case.
STATES = ["received", "assigned", "in_review", "submitted", "issued", "closed", "missing"]
ACCEPTED = ("in_review", "submitted", "issued")  # reviewer_a has accepted these: the records are open to them
MISSING_CASE_NUMBER = "CM99-9999999"

# Outcomes. LOGIN and ADMIN_LOGIN are redirects to those sign-in pages; REDIRECT is any other.
OK, BAD, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, NOT_ALLOWED, CONFLICT = 200, 400, 401, 403, 404, 405, 409
LOGIN, ADMIN_LOGIN, REDIRECT = "login", "admin login", "redirect"
# A permitted request that reached the view's own logic: done, refused as bad input, or out of date.
ALLOWED = frozenset({OK, REDIRECT, BAD, CONFLICT})
AVAILABLE = frozenset({OK, REDIRECT})  # a page shown while its step is open to the case, else sent to the case page
REFUSALS = {LOGIN, ADMIN_LOGIN, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, NOT_ALLOWED}


# Rules: (persona, state, method) -> the expected outcome, or a set of acceptable ones.


@dataclasses.dataclass(frozen=True)
class Page:
    """A page open to `audience(persona, state)`; everyone else gets `anonymous` or `outsider`.

    `get` and `post` are what a permitted persona gets (a callable takes the state); None means
    the view does not take the method (405 for everyone: the method check runs first).
    """

    audience: Callable[[str, str], bool]
    get: object = OK
    post: object = None
    anonymous: object = LOGIN
    outsider: object = FORBIDDEN
    case: bool = True  # the URL names a case: a permitted persona gets 404 for a missing one

    def __call__(self, persona, state, method):
        wanted = self.get if method == "GET" else self.post
        if wanted is None:
            return NOT_ALLOWED
        if persona == "anonymous":
            return self.anonymous
        if not self.audience(persona, state):
            return self.outsider
        if self.case and state == "missing":
            return NOT_FOUND
        return wanted(state) if callable(wanted) else wanted


def anyone(persona, state):
    return True


def coordinators(persona, state):
    return persona in COORDINATORS


def reviewers(persona, state):
    return persona in REVIEWERS


def library_readers(persona, state):
    return persona in REVIEWERS + COORDINATORS


def case_reviewer(*states):
    """The case's own reviewer, while the case is in one of `states`; 404 to everyone else signed in."""
    return lambda persona, state: persona == "reviewer_a" and state in states


def coordinators_or(reviewer_rule):
    return lambda persona, state: coordinators(persona, state) or reviewer_rule(persona, state)


def only_in(states, yes, no):
    return lambda state: yes if state in states else no


def coordinator_page(get=OK, post=None, case=True):
    return Page(coordinators, get=get, post=post, case=case)


def reviewer_case_page(audience, get=OK, post=None):
    return Page(audience, get=get, post=post, outsider=NOT_FOUND)


def account_page(signed_in, anonymous=None):
    """One of allauth's account pages: no case data, the same for every signed-in persona.

    `signed_in` and `anonymous` (default: the same) are (GET, POST) outcomes. The personas are signed
    in without a second factor or a recent password, so the MFA pages ask to reauthenticate first.
    """

    def rule(persona, state, method):
        outcomes = anonymous if persona == "anonymous" and anonymous is not None else signed_in
        return outcomes[0 if method == "GET" else 1]

    return rule


OPEN_PAGE = (OK, NOT_ALLOWED)
SIGN_IN_FIRST = (LOGIN, LOGIN)
ACCOUNT_RULES = {
    "account_login": account_page((REDIRECT, REDIRECT), anonymous=(OK, OK)),  # a wrong password: the form again
    "account_logout": account_page((OK, REDIRECT), anonymous=(REDIRECT, REDIRECT)),  # GET asks to confirm
    "account_inactive": account_page(OPEN_PAGE),
    "account_signup": account_page((REDIRECT, REDIRECT), anonymous=(OK, OK)),  # "sign-up is closed"
    "account_reauthenticate": account_page((OK, OK), anonymous=SIGN_IN_FIRST),
    # An admin keeps each user's e-mail address: allauth's page is answered 404.
    "accounts/email/": account_page((NOT_FOUND, NOT_FOUND)),
    "account_email": account_page((NOT_FOUND, NOT_FOUND)),
    "account_email_verification_sent": account_page(OPEN_PAGE),
    "account_change_password": account_page((OK, OK), anonymous=SIGN_IN_FIRST),
    "account_set_password": account_page((REDIRECT, REDIRECT), anonymous=SIGN_IN_FIRST),  # to the change page
    # Whether the address is known or not, the same answer: on to the "sent" page.
    "account_reset_password": account_page((OK, REDIRECT)),
    "account_reset_password_done": account_page(OPEN_PAGE),
    "account_reset_password_from_key": account_page((OK, OK)),  # a key that is not one: "bad link"
    "account_reset_password_from_key_done": account_page(OPEN_PAGE),
    "account_confirm_login_code": account_page((REDIRECT, REDIRECT)),  # no sign-in by code here
    "account_confirm_email": account_page((OK, NOT_FOUND)),
    "mfa_index": account_page((OK, NOT_ALLOWED), anonymous=SIGN_IN_FIRST),
    "mfa_authenticate": account_page((REDIRECT, REDIRECT)),  # only in the middle of a sign-in
    "mfa_reauthenticate": account_page((REDIRECT, REDIRECT), anonymous=SIGN_IN_FIRST),
    "mfa_activate_totp": account_page((REDIRECT, REDIRECT), anonymous=SIGN_IN_FIRST),
    "mfa_deactivate_totp": account_page((NOT_FOUND, NOT_FOUND), anonymous=SIGN_IN_FIRST),  # none to deactivate
    "mfa_view_recovery_codes": account_page((NOT_FOUND, NOT_ALLOWED), anonymous=SIGN_IN_FIRST),
    "mfa_generate_recovery_codes": account_page((REDIRECT, REDIRECT), anonymous=SIGN_IN_FIRST),
    "mfa_download_recovery_codes": account_page((NOT_FOUND, NOT_FOUND), anonymous=SIGN_IN_FIRST),
}


def _home(persona, state, method):
    if method != "GET":
        return NOT_ALLOWED
    return {"anonymous": LOGIN, **dict.fromkeys(REVIEWERS, REDIRECT)}.get(persona, OK)  # reviewers: to their queue


# The application's pages and the libraries' (sign-in, health check), by pattern name.
APP_RULES = {
    "reviews:home": _home,
    "reviews:case_list": coordinator_page(case=False),
    "reviews:case_import": coordinator_page(post=ALLOWED, case=False),
    "reviews:determination_import": coordinator_page(post=ALLOWED, case=False),
    "reviews:determination_batch": coordinator_page(case=False),
    "reviews:case_intake": coordinator_page(post=BAD, case=False),
    "reviews:qa_list": coordinator_page(case=False),
    "reviews:organization_search": coordinator_page(case=False),
    "reviews:provider_search": coordinator_page(case=False),
    "reviews:case_detail": coordinator_page(),
    "reviews:case_eligibility": coordinator_page(get=only_in(["received"], OK, REDIRECT), post=ALLOWED),
    "reviews:case_request_records": coordinator_page(get=None, post=ALLOWED),
    "reviews:case_records_complete": coordinator_page(get=None, post=ALLOWED),
    "reviews:case_assign": coordinator_page(get=only_in(["assigned", "in_review"], OK, REDIRECT), post=ALLOWED),
    "reviews:case_qa": coordinator_page(),
    "reviews:case_qa_return": coordinator_page(get=None, post=ALLOWED),
    "reviews:case_qa_approve": coordinator_page(get=None, post=ALLOWED),
    "reviews:case_public_copy": coordinator_page(),
    "reviews:public_copy_remove": coordinator_page(get=None, post=ALLOWED),
    "reviews:public_copy_keep": coordinator_page(get=None, post=ALLOWED),
    "reviews:public_copy_confirm": coordinator_page(get=None, post=ALLOWED),
    "reviews:case_letters": reviewer_case_page(coordinators_or(case_reviewer(*ACCEPTED))),
    # Version 1 exists, ready, on the issued case only.
    "reviews:letter_download": reviewer_case_page(
        coordinators_or(case_reviewer(*ACCEPTED)), get=only_in(["issued"], OK, NOT_FOUND)
    ),
    "reviews:letter_retry": coordinator_page(get=None, post=only_in(["issued"], REDIRECT, NOT_FOUND)),
    "reviews:letter_serve_again": coordinator_page(get=None, post=only_in(["issued"], REDIRECT, NOT_FOUND)),
    "reviews:letter_correct": coordinator_page(get=None, post=ALLOWED),
    "reviews:document_upload": coordinator_page(post=BAD),
    "reviews:document_file": reviewer_case_page(coordinators_or(case_reviewer(*ACCEPTED))),
    # The steps beside the main path: a step's page shows while the step is open to the case and
    # otherwise sends to the case page.
    "reviews:case_withdraw": coordinator_page(get=AVAILABLE, post=ALLOWED),
    "reviews:case_terminate": coordinator_page(get=AVAILABLE, post=ALLOWED),
    "reviews:case_expedite": coordinator_page(get=AVAILABLE, post=ALLOWED),
    "reviews:case_remand": coordinator_page(get=AVAILABLE, post=ALLOWED),
    "reviews:case_reopen": coordinator_page(get=AVAILABLE, post=ALLOWED),
    "reviews:item_category": coordinator_page(get=None, post=ALLOWED),
    "reviews:reviewer_completed": Page(reviewers, case=False),
    "reviews:case_access_history": coordinator_page(),
    # Items and diagnoses changed by the coordinator after intake (item 1 and diagnosis 1 exist on every case).
    "reviews:case_dispute": coordinator_page(get=AVAILABLE),
    "reviews:dispute_item_add": coordinator_page(get=AVAILABLE, post=ALLOWED),
    "reviews:dispute_item": coordinator_page(get=AVAILABLE, post=ALLOWED),
    "reviews:dispute_item_remove": coordinator_page(get=None, post=ALLOWED),
    "reviews:dispute_diagnosis_add": coordinator_page(get=AVAILABLE, post=ALLOWED),
    "reviews:dispute_diagnosis": coordinator_page(get=AVAILABLE, post=ALLOWED),
    "reviews:dispute_diagnosis_remove": coordinator_page(get=None, post=ALLOWED),
    # A notice or a delivery the case may not have: 404.
    "reviews:notice_retry": coordinator_page(get=None, post=ALLOWED | {NOT_FOUND}),
    "reviews:notice_serve_again": coordinator_page(get=None, post=ALLOWED | {NOT_FOUND}),
    "reviews:delivery_mailed": coordinator_page(get=None, post=ALLOWED | {NOT_FOUND}),
    "reviews:reviewer_queue": Page(reviewers, case=False),
    "reviews:guideline_search": Page(library_readers, case=False),
    "reviews:case_attest": reviewer_case_page(case_reviewer("assigned"), post=BAD),
    "reviews:case_workspace": reviewer_case_page(case_reviewer(*ACCEPTED)),
    # Autosave answers an expired session with 401 (the page keeps the text); a submitted or issued
    # review is no longer editable (409), and the payload's version is a stale one (409) otherwise.
    "reviews:case_summary_save": Page(
        case_reviewer(*ACCEPTED), get=None, post=CONFLICT, anonymous=UNAUTHORIZED, outsider=NOT_FOUND
    ),
    "reviews:case_item_save": Page(
        case_reviewer(*ACCEPTED), get=None, post=CONFLICT, anonymous=UNAUTHORIZED, outsider=NOT_FOUND
    ),
    "reviews:case_preview": reviewer_case_page(case_reviewer(*ACCEPTED)),
    "reviews:case_submit": reviewer_case_page(case_reviewer(*ACCEPTED), get=None, post=ALLOWED),
    "reviews:case_precedents": reviewer_case_page(case_reviewer(*ACCEPTED)),
    "reviews:precedent_search": Page(library_readers, case=False),
    "reviews:precedent_chart": Page(library_readers, case=False),
    # Other reviewers read a determination only once it is issued, and then as its public copy.
    "reviews:precedent_public_copy": Page(library_readers, get=only_in(["issued"], OK, NOT_FOUND), outsider=NOT_FOUND),
    "favicon.ico": Page(anyone, get=REDIRECT, post=REDIRECT, anonymous=REDIRECT, case=False),
    # What an operator's monitor polls: no case data, open to anyone (its checks: tests/test_health.py).
    "healthz": Page(anyone, anonymous=OK, case=False),
}


# The admin, by model and by view. Kinds of model, and who may do what with each in the admin:
# v(iew), a(dd), c(hange), d(elete), for the coordinator and for a superuser. Models whose rows
# belong to a case also lock with it (`lock`: the states in which change and delete are refused).
@dataclasses.dataclass(frozen=True)
class AdminKind:
    coordinator: str
    superuser: str
    lock: tuple = ()


APPROVED_OR_LATER = ("issued",)  # reviews.admin.FinalCaseReadOnlyMixin (approved, issued) among our states
ACCEPTED_OR_LATER = ACCEPTED  # reviews.admin.AcceptedCaseLockMixin: the reviewer's from acceptance

ACCOUNTS = AdminKind(coordinator="", superuser="vacd")
CATALOGUE = AdminKind(coordinator="", superuser="vacd")  # the admins' alone
LOOKUP = AdminKind(coordinator="v", superuser="vacd")  # read by the look-ups of the coordinator's admin forms
PARTIES = AdminKind(coordinator="vc", superuser="vacd")  # new parties come through intake
CASE = AdminKind(coordinator="vc", superuser="vacd", lock=APPROVED_OR_LATER)  # new cases come through intake
CASE_PART = AdminKind(coordinator="v", superuser="vacd", lock=ACCEPTED_OR_LATER)  # the coordinator's: the dispute page
CITATION = AdminKind(coordinator="v", superuser="vacd", lock=ACCEPTED_OR_LATER)
DOCUMENT = AdminKind(coordinator="vc", superuser="vcd", lock=APPROVED_OR_LATER)  # documents arrive by upload
APP_RECORD = AdminKind(coordinator="v", superuser="v")  # written by the application only
INTERNAL_RECORD = AdminKind(coordinator="", superuser="v")

ADMIN_MODELS = {
    "auth.user": ACCOUNTS,
    "auth.group": ACCOUNTS,
    "account.emailaddress": ACCOUNTS,
    "mfa.authenticator": ACCOUNTS,
    "auditlog.logentry": INTERNAL_RECORD,
    "reviews.specialty": LOOKUP,
    "reviews.treatmentcategory": CATALOGUE,
    "reviews.guideline": CATALOGUE,
    "reviews.holiday": CATALOGUE,
    "reviews.reviewer": LOOKUP,
    "reviews.license": CATALOGUE,
    "reviews.boardcertification": CATALOGUE,
    "reviews.affiliation": CATALOGUE,
    "reviews.organization": PARTIES,
    "reviews.provider": PARTIES,
    "reviews.case": CASE,
    "reviews.diagnosis": CASE_PART,
    "reviews.disputeditem": CASE_PART,
    "reviews.citation": CITATION,
    "reviews.casedocument": DOCUMENT,
    "reviews.caseevent": APP_RECORD,
    "reviews.letter": APP_RECORD,
    "reviews.letterdelivery": APP_RECORD,
    "reviews.casenumbersequence": INTERNAL_RECORD,
    "reviews.determinationimport": INTERNAL_RECORD,
    "reviews.outboxentry": INTERNAL_RECORD,
}

# The models whose admin pages are tried once per state, with the row that belongs to that state's case.
CASE_MODELS = {"reviews.case", "reviews.diagnosis", "reviews.disputeditem", "reviews.citation", "reviews.casedocument"}
CASE_OF = {"reviews.case": "pk", "reviews.citation": "item__case"}  # the others: "case"


def _admin_staff(persona):
    return {"coordinator": "coordinator", "admin": "superuser"}.get(persona)


def admin_model_view(label, view):
    """The rule of one view of a model's admin; `view` is the end of the pattern's name."""
    kind = ADMIN_MODELS[label]
    # What each view needs, for GET and for POST (the change page shows to whoever may view).
    needs = {
        "changelist": ("vc", None),
        "add": ("a", "a"),
        "change": ("vc", "c"),
        "delete": ("d", "d"),
        "history": ("vc", None),
        "auditlog": ("vc", None),
        "password": ("c", "c"),  # auth.user's password page
        "redirect": ("vc", None),  # <id>/ sends to <id>/change/
    }[view]

    def rule(persona, state, method):
        need = needs[0] if method == "GET" else needs[1]
        staff = _admin_staff(persona)
        if staff is None:
            return ADMIN_LOGIN
        if view == "redirect":
            return REDIRECT  # to the change page, which answers for itself
        if need is None:
            # Django's admin views take any method; a POST to a list or history page reads it.
            need = needs[0]
        granted = set(getattr(kind, staff))
        if state in kind.lock:
            granted -= {"c", "d"}
        if not granted & set(need):
            return FORBIDDEN
        return OK if method == "GET" else ALLOWED

    return rule


def _admin_staff_page(ok=OK, post=ALLOWED):
    def rule(persona, state, method):
        if _admin_staff(persona) is None:
            return ADMIN_LOGIN
        return ok if method == "GET" else post

    return rule


def _admin_login(persona, state, method):
    """The admin is entered through the application's own sign-in (its second factor and rate limits:
    allauth's secure_admin_login); signed-in users who are not staff are refused, staff go on to the index."""
    if persona == "anonymous":
        return LOGIN
    if _admin_staff(persona) is None:
        return FORBIDDEN
    return REDIRECT if method == "GET" else OK


ADMIN_SITE_RULES = {
    "admin:index": _admin_staff_page(post=OK),
    "admin:app_list": _admin_staff_page(post=OK),
    "admin:password_change": _admin_staff_page(),
    "admin:password_change_done": _admin_staff_page(post=NOT_ALLOWED),
    "admin:jsi18n": _admin_staff_page(post=NOT_ALLOWED),
    # The reviews app's autocomplete for a case's remand_of field: staff who may view cases.
    "admin:autocomplete": _admin_staff_page(post=NOT_ALLOWED),
    # No model here has a public page to view on the site.
    "admin:view_on_site": _admin_staff_page(ok=NOT_FOUND, post=NOT_FOUND),
    # /admin/<anything unknown>: 404 to staff, the sign-in page to everyone else.
    "admin:catch_all": _admin_staff_page(ok=NOT_FOUND, post=NOT_FOUND),
    "admin:login": _admin_login,
    # Signing out of the admin: anyone who is not staff is sent to the admin's index (and so to sign in).
    "admin:logout": lambda persona, state, method: (
        NOT_ALLOWED if _admin_staff(persona) and method == "GET" else REDIRECT
    ),
}


# The URLconf, walked.


@dataclasses.dataclass(frozen=True)
class Pattern:
    key: str  # the pattern's qualified name, or its route for an unnamed one
    route: str
    pattern: URLPattern
    admin_model: str = ""  # for a model admin's pattern: the model's label and the view
    admin_view: str = ""

    @property
    def arguments(self):
        return list(self.pattern.pattern.regex.groupindex)


def _admin_model_of(name: str, route: str):
    for model in admin.site._registry:
        meta = model._meta
        prefix = f"{meta.app_label}_{meta.model_name}_"
        if name and name.startswith(prefix):
            return meta.label_lower, name.removeprefix(prefix).removesuffix("_change") or "change"
        if not name and route == f"admin/{meta.app_label}/{meta.model_name}/<path:object_id>/":
            return meta.label_lower, "redirect"
    return "", ""


def url_patterns(resolver=None, prefix="", namespace=""):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = namespace + (f"{entry.namespace}:" if entry.namespace else "")
            yield from url_patterns(entry, prefix + str(entry.pattern), inner)
            continue
        route = prefix + str(entry.pattern)
        key = namespace + entry.name if entry.name else route
        if key == "admin/(?P<url>.*)$":
            key = "admin:catch_all"
        model, view = _admin_model_of(entry.name or "", route) if namespace == "admin:" else ("", "")
        yield Pattern(key=key, route=route, pattern=entry, admin_model=model, admin_view=view)


def rule_of(pattern: Pattern):
    if pattern.admin_model:
        return admin_model_view(pattern.admin_model, pattern.admin_view)
    return APP_RULES.get(pattern.key) or ACCOUNT_RULES.get(pattern.key) or ADMIN_SITE_RULES.get(pattern.key)


PATTERNS = list(url_patterns())


def test_every_url_pattern_is_classified():
    unclassified = [p.key for p in PATTERNS if not p.admin_model and rule_of(p) is None]
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert unclassified == [], "give each new URL pattern a rule in APP_RULES, ACCOUNT_RULES or ADMIN_SITE_RULES"
    assert registered - set(ADMIN_MODELS) == set(), "give each newly registered admin model a kind in ADMIN_MODELS"
    assert {p.admin_view for p in PATTERNS if p.admin_model} <= {
        "changelist",
        "add",
        "change",
        "delete",
        "history",
        "auditlog",
        "password",
        "redirect",
    }, "a model admin has a view of a new kind: add it to admin_model_view's needs"


def test_the_tables_name_no_pattern_that_is_gone():
    keys = {p.key for p in PATTERNS}
    assert (set(APP_RULES) | set(ACCOUNT_RULES) | set(ADMIN_SITE_RULES)) - keys == set()
    assert set(ADMIN_MODELS) - {model._meta.label_lower for model in admin.site._registry} == set()


# The world: one case per state, its people, its files.


def _pdf_bytes() -> bytes:
    from pypdf import PdfWriter

    writer, buffer = PdfWriter(), io.BytesIO()
    writer.add_blank_page(width=612, height=792)
    writer.write(buffer)
    return buffer.getvalue()


def _reviewer(username):
    reviewer = ReviewerFactory(user=UserFactory(username=username, first_name=username.title(), last_name="Reviewer"))
    LicenseFactory(reviewer=reviewer)
    BoardCertificationFactory(reviewer=reviewer)
    return reviewer


def _build_world():
    from allauth.account.models import EmailAddress

    from reviews import services
    from reviews.models import CaseDocument, DeterminationImport, Letter, OutboxEntry
    from reviews.services import letters as letter_services

    people = {
        "coordinator": CoordinatorFactory(username="matrix-coordinator"),
        "admin": UserFactory(username="matrix-admin", is_staff=True, is_superuser=True),
    }
    reviewer_a, reviewer_b, reassigned = (_reviewer(n) for n in ("matrix-a", "matrix-b", "matrix-r"))
    people.update(reviewer_a=reviewer_a.user, reviewer_b=reviewer_b.user, reassigned=reassigned.user)
    coordinator = people["coordinator"]
    category = TreatmentCategoryFactory(name="Rehabilitation")
    category.accepted_specialties.add(SpecialtyFactory())
    guideline = GuidelineFactory()

    def new_case():
        case = CaseFactory()
        DiagnosisFactory(case=case, position=1)
        DisputedItemFactory(case=case, category=category, position=1)
        upload = SimpleUploadedFile("report.pdf", _pdf_bytes(), content_type="application/pdf")
        services.document_add(case=case, by=coordinator, file=upload, kind="progress_report", submitted_by="ca")
        return case

    def to_reviewer_a(case, *, accept):
        """Through the reassigned reviewer (who accepts and opens the records) to reviewer_a."""
        case = services.case_confirm_eligibility(case=case, by=coordinator, eligible=True)
        case = services.case_request_records(case=case, by=coordinator)
        case = services.case_complete_records(case=case, by=coordinator)
        case = services.case_assign_reviewer(case=case, reviewer=reassigned, by=coordinator)
        case = services.case_accept(case=case, by=reassigned.user, attested=True)
        for document in case.documents.all():
            services.document_open(document=document, by=reassigned.user)
        case = services.case_reassign_reviewer(case=case, reviewer=reviewer_a, by=coordinator, reason="Matrix")
        return services.case_accept(case=case, by=reviewer_a.user, attested=True) if accept else case

    def review(case):
        return review_every_item(case, by=reviewer_a.user, guideline=guideline)

    cases = {"received": new_case()}
    cases["assigned"] = to_reviewer_a(new_case(), accept=False)
    cases["in_review"] = review(to_reviewer_a(new_case(), accept=True))
    cases["submitted"] = services.case_submit(case=review(to_reviewer_a(new_case(), accept=True)), by=reviewer_a.user)
    issued = services.case_submit(case=review(to_reviewer_a(new_case(), accept=True)), by=reviewer_a.user)
    confirm_public_copy(issued, by=coordinator)
    issued = services.case_approve(case=issued, by=coordinator)
    letter_services.letter_render(letter_id=issued.letters.get(kind=Letter.Kind.FINAL_DETERMINATION, version=1).pk)
    issued.refresh_from_db()
    assert issued.status == "issued"
    cases["issued"] = issued
    cases["closed"] = services.case_confirm_eligibility(
        case=new_case(), by=coordinator, eligible=False, reason="Filed late."
    )
    for state, case in cases.items():
        case.refresh_from_db()
        assert case.status == {"in_review": "in_review", "closed": "ineligible"}.get(state, state), (state, case)
    batch = DeterminationImport.objects.create(created_by=coordinator, files=[])
    EmailAddress.objects.create(user=coordinator, email=coordinator.email, primary=True)  # for its admin pages
    OutboxEntry.objects.update(sent_at=timezone.now())  # relayed: /healthz finds nothing left unsent
    documents = {state: CaseDocument.objects.filter(case=case).get() for state, case in cases.items()}
    return dataclasses.make_dataclass("World", ["people", "cases", "documents", "batch"])(
        people, cases, documents, batch
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Built once for the module inside a transaction rolled back at its end (each test's own `db`
    transaction nests inside it), with one signed-in client per persona."""
    overrides = override_settings(
        MEDIA_ROOT=tmp_path_factory.mktemp("media"),
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    overrides.enable()
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        built = _build_world()
        built.clients = {"anonymous": Client()}
        for persona, user in built.people.items():
            built.clients[persona] = Client()
            built.clients[persona].force_login(user)
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)
    overrides.disable()


# Requests.


def _admin_object(world, label, state):
    """The row a model admin's object pages are tried on: the state's own for a case's records."""
    model = apps.get_model(label)
    manager = model._default_manager.order_by("pk")
    if label in CASE_MODELS:
        return manager.filter(**{CASE_OF.get(label, "case"): world.cases[state].pk}).first()
    return manager.first()


# The admin's object pages of a case's records lock at acceptance (items, diagnoses, citations) and
# at approval (the case, its documents): one state on each side of each lock.
ADMIN_STATES = ["received", "in_review", "issued"]


def _states_of(pattern: Pattern):
    if "case_number" in pattern.arguments:
        return STATES
    if pattern.admin_model in CASE_MODELS and "object_id" in pattern.arguments:
        return ADMIN_STATES
    return ["received"]  # the page names no case: one state stands for all


def _url(world, pattern: Pattern, state):
    case = world.cases.get(state)
    samples = {
        "case_number": case.case_number if case else MISSING_CASE_NUMBER,
        "position": 1,
        "version": 1,
        "kind": "final",
        "fmt": "pdf",
        "document_id": world.documents[state].pk if case else 1,
        "delivery_id": 1,  # none is made: a delivery the case may not have answers 404
        "batch_id": world.batch.pk,
        "app_label": "reviews",
        "url": "no-such-page/",
        "key": "not-a-key",
        "uidb36": "1",
    }
    if pattern.admin_model:
        obj = _admin_object(world, pattern.admin_model, state)
        if obj is None:
            return None
        samples["object_id"] = samples["id"] = str(obj.pk)
    if pattern.key == "admin:view_on_site":
        samples["content_type_id"] = ContentType.objects.get_for_model(case).pk
        samples["object_id"] = case.pk
    missing = [name for name in pattern.arguments if name not in samples]
    assert not missing, f"{pattern.key}: teach _url a sample value for {missing}"
    if not pattern.pattern.name:
        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(samples[m[1]]), pattern.route).replace(
            "(?P<url>.*)$", samples["url"]
        )
    kwargs = {name: samples[name] for name in pattern.arguments}
    url = reverse(pattern.key, kwargs=kwargs)
    queries = {
        "reviews:organization_search": "?kind=employer&q=Org",
        "reviews:provider_search": "?q=Dr",
        "reviews:case_precedents": "?item=1",
        "reviews:precedent_chart": "?q=therapy",
        "admin:autocomplete": "?app_label=reviews&model_name=case&field_name=remand_of&term=CM",
    }
    return url + queries.get(pattern.key, "")


# Plausible payloads: what the page's own form would send.
PAYLOADS = {
    "reviews:case_summary_save": {"version": 0, "clinical_case_summary": "Rewritten by someone."},
    "reviews:case_item_save": {"version": 0, "decision": "overturned", "rationale": "Rewritten by someone."},
    "reviews:case_qa_return": {"comments": "Please cite the guideline's pages."},
    "reviews:case_assign": {"reviewer": "1", "reason": "Matrix"},
    "reviews:case_eligibility": {"eligible": "no", "reason": "Late"},
    "reviews:case_request_records": {"sent_on": "2026-10-09"},
    "reviews:case_records_complete": {"complete_on": "2026-10-20"},
    "reviews:case_attest": {"action": "accept"},
    "reviews:letter_correct": {"reason": "A typo in the employer's name."},
    "reviews:public_copy_remove": {"text": "Physical"},
    "reviews:public_copy_keep": {"text": "Physical"},
    "account_login": {"login": "matrix-nobody", "password": "wrong"},
    "account_reset_password": {"email": "matrix-nobody@example.org"},
    "admin:login": {"username": "matrix-nobody", "password": "wrong"},
}


def _payload(pattern: Pattern):
    if pattern.admin_view == "delete":
        return {"post": "yes"}
    return PAYLOADS.get(pattern.key, {})


def _snapshot_queries():
    from auditlog.models import LogEntry

    tables = sorted(
        t for t in connection.introspection.table_names() if t not in ("django_session", "auditlog_logentry")
    )
    quote = connection.ops.quote_name
    # Table names from the database's own catalogue, not from a request.
    counts = [f"(SELECT COUNT(*) FROM {quote(t)})" for t in tables]  # noqa: S608
    counts.append(f"(SELECT COUNT(*) FROM auditlog_logentry WHERE action != {LogEntry.Action.ACCESS})")  # noqa: S608
    return [*tables, "audit log changes"], "SELECT " + ", ".join(counts)


def _snapshot(queries):
    """Row counts of every table but the sessions', the audit log's entries other than reads, and each case's
    status and last change: what a refused request must leave as it was."""
    names, counts = queries
    with connection.cursor() as cursor:
        cursor.execute(counts)
        row = cursor.fetchone()
        cursor.execute("SELECT id, status, updated_at FROM reviews_case ORDER BY id")
        cases = cursor.fetchall()
    return dict(zip(names, row, strict=True)), cases


def _outcome(response):
    if response.status_code in (301, 302):
        location = response["Location"]
        if location.startswith(resolve_url("admin:login")):
            return ADMIN_LOGIN
        if location.startswith(resolve_url(settings.LOGIN_URL) + "?"):
            return LOGIN
        return REDIRECT
    return response.status_code


def _matches(outcome, expected):
    return outcome in expected if isinstance(expected, frozenset | set) else outcome == expected


SIGN_OUTS = {"account_logout", "admin:logout"}


def run_matrix(world, persona):
    client = world.clients[persona]
    cookies = SimpleCookie(client.cookies.output(header="", sep="\n"))
    failures, queries = [], _snapshot_queries()
    cache.clear()  # sign-in failures of earlier tests from this address: no rate limit reached here
    for pattern in PATTERNS:
        rule = rule_of(pattern)
        for state in _states_of(pattern):
            url = _url(world, pattern, state)
            if url is None:
                continue
            for method in ("GET", "POST"):
                expected = rule(persona, state, method)
                if pattern.admin_model and method == "POST" and expected is ALLOWED:
                    continue  # the admin's own saving is tested in tests/test_admin.py; here, its refusals
                if pattern.key == "healthz":
                    cache.set(health.HEARTBEAT_KEY, time.time())  # a worker is alive: /healthz answers 200
                before = _snapshot(queries)
                with transaction.atomic():
                    response = client.get(url) if method == "GET" else client.post(url, _payload(pattern))
                    outcome = _outcome(response)
                    changed = ""
                    if outcome in REFUSALS | {BAD, CONFLICT}:
                        after = _snapshot(queries)
                        if after != before:
                            counts = {k: (v, after[0][k]) for k, v in before[0].items() if after[0][k] != v}
                            changed = f" but changed {counts or 'a case'}"
                    transaction.set_rollback(True)
                client.cookies = SimpleCookie(cookies.output(header="", sep="\n"))  # a sign-out undone
                # Case data is never kept by a browser or proxy (reviews.middleware.NoStoreMiddleware); a sign-out's
                # answer goes to a user already signed out, and carries none.
                cache_control = response.get("Cache-Control", "")
                signed_out = pattern.key in SIGN_OUTS
                if (persona != "anonymous" and not signed_out or response.status_code >= 400) and (
                    "no-store" not in cache_control
                ):
                    changed += f" without Cache-Control: no-store ({cache_control})"
                if not _matches(outcome, expected) or changed:
                    failures.append(f"{method} {url} [{pattern.key}, {state}]: {outcome}, expected {expected}{changed}")
    return failures


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_persona_gets_what_the_matrix_says_on_every_url_and_refusals_change_nothing(world, db, persona):
    failures = run_matrix(world, persona)
    assert failures == [], f"{len(failures)} unexpected:\n" + "\n".join(failures)
