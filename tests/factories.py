"""factory_boy factories for the domain: valid by default, override what a test is about."""

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from reviews import models
from reviews.permissions import COORDINATORS, REVIEWERS


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(*[Group.objects.get(name=name) for name in extracted])


class CoordinatorFactory(UserFactory):
    is_staff = True
    groups = factory.PostGeneration(
        lambda user, create, extracted, **kw: user.groups.add(Group.objects.get(name=COORDINATORS))
    )


class SpecialtyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Specialty
        django_get_or_create = ["name"]

    name = "Physical Medicine and Rehabilitation"


class ReviewerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Reviewer
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    degree = models.Reviewer.Degree.MD
    practice_start_year = 2005
    weekly_hours = 24
    capacity = 10

    @factory.post_generation
    def in_reviewers_group(self, create, extracted, **kwargs):
        if create:
            self.user.groups.add(Group.objects.get(name=REVIEWERS))


class LicenseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.License

    reviewer = factory.SubFactory(ReviewerFactory)
    state = "CA"
    number = factory.Sequence(lambda n: f"A{100000 + n}")
    expires_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=365))


class BoardCertificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.BoardCertification

    reviewer = factory.SubFactory(ReviewerFactory)
    specialty = factory.SubFactory(SpecialtyFactory)
    board = "American Board of Physical Medicine and Rehabilitation"
    certified_on = dt.date(2005, 6, 1)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Organization

    kind = models.Organization.Kind.EMPLOYER
    name = factory.Sequence(lambda n: f"Organization {n}")


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Provider

    name = factory.Sequence(lambda n: f"Dr. Provider {n}")


class TreatmentCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.TreatmentCategory
        django_get_or_create = ["name", "parent"]

    name = "Therapies"
    parent = None


class GuidelineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Guideline
        django_get_or_create = ["title", "edition"]

    source = models.Guideline.Source.MTUS
    title = "MTUS Chronic Pain Medical Treatment Guidelines"
    edition = "2009"
    citation_name = "MTUS Chronic Pain Treatment Guidelines"


class CaseFactory(factory.django.DjangoModelFactory):
    """A received case with a valid number; use reviews.services to move it along the workflow."""

    class Meta:
        model = models.Case

    # A year of its own: never the number of a case the demo data or a service gave out.
    case_number = factory.Sequence(lambda n: f"CM98-{n + 1:07d}")
    employee_name = factory.Faker("name")
    claim_number = factory.Sequence(lambda n: f"CLM-{n:06d}")
    date_of_injury = dt.date(2024, 3, 4)
    ur_decision_date = dt.date(2026, 10, 1)
    application_received_date = dt.date(2026, 10, 8)
    employer = factory.SubFactory(OrganizationFactory, kind=models.Organization.Kind.EMPLOYER)
    claims_administrator = factory.SubFactory(OrganizationFactory, kind=models.Organization.Kind.CLAIMS_ADMINISTRATOR)
    requesting_provider = factory.SubFactory(ProviderFactory)


class DiagnosisFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Diagnosis

    case = factory.SubFactory(CaseFactory)
    position = factory.Sequence(lambda n: n + 1)
    icd10_code = "M51.26"
    description = "Other intervertebral disc displacement, lumbar region"


class DisputedItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.DisputedItem

    case = factory.SubFactory(CaseFactory)
    position = factory.Sequence(lambda n: n + 1)
    request_text = "Physical therapy 2x6 weeks lumbar spine"
    category = factory.SubFactory(TreatmentCategoryFactory)
    ur_action = models.DisputedItem.URAction.DENIED


class AffiliationFactory(factory.django.DjangoModelFactory):
    """A declared tie to an organisation (set `provider` or `employee_name` instead, with organization=None)."""

    class Meta:
        model = models.Affiliation

    reviewer = factory.SubFactory(ReviewerFactory)
    kind = models.Affiliation.Kind.CONTRACT
    organization = factory.SubFactory(OrganizationFactory)


class LetterFactory(factory.django.DjangoModelFactory):
    """A queued letter; a ready one also needs `sha256` and `rendered_at` (a database constraint)."""

    class Meta:
        model = models.Letter

    case = factory.SubFactory(CaseFactory)
    version = 1


class LetterDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.LetterDelivery

    letter = factory.SubFactory(LetterFactory)
    recipient = "Jane Employee"
    role = "Employee"
    method = models.LetterDelivery.Method.MAIL
    address = "1 Main Street, Sacramento, CA 95814"


class CitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Citation

    item = factory.SubFactory(DisputedItemFactory)
    role = models.Citation.Role.REVIEW
    position = 1
    guideline = factory.SubFactory(GuidelineFactory)
    sections = "Physical Medicine"
    pages = "98, 99"


class CaseDocumentFactory(factory.django.DjangoModelFactory):
    """A document row; the file name is recorded but no file is written."""

    class Meta:
        model = models.CaseDocument

    case = factory.SubFactory(CaseFactory)
    kind = models.CaseDocument.Kind.PROGRESS_REPORT
    author = "Dr. Provider"
    service_date = dt.date(2026, 9, 15)
    submitted_by = models.CaseDocument.SubmittedBy.CLAIMS_ADMINISTRATOR
    received_at = factory.LazyFunction(timezone.now)
    file = "cases/2026/10/progress-report.pdf"
    original_name = "progress-report.pdf"
    content_type = "application/pdf"
    size = 1024
    page_count = 3


def confirm_public_copy(case, *, by):
    """Quality review confirms the proposed public copy as it stands, as it must before approving."""
    from reviews import services
    from reviews.letters import letter_queryset

    public_copy = services.public_copy_of(letter_queryset().get(pk=case.pk))
    return services.public_copy_confirm(case=case, by=by, digest=public_copy.digest)


def review_every_item(
    case,
    *,
    by,
    guideline,
    summary: str = "A 57-year-old with low back pain.",
    rationale: str = "The request exceeds the recommended number of sessions.",
    pages: str = "98",
    open_documents: bool = True,
):
    """The reviewer `by` writes the summary, upholds every item on `guideline` (the claims administrator
    cited none) and opens every document: what submitting needs, through the services as the workspace."""
    from reviews import services

    services.case_summary_save(case=case, by=by, version=case.summary_version, text=summary)
    for item in case.items.all():
        services.item_review_save(
            item=item,
            by=by,
            version=item.version,
            decision="upheld",
            ca_cited_no_evidence=True,
            ca_citations=[],
            review_citations=[services.CitationInput(guideline, sections="Physical Medicine", pages=pages)],
            review_cited_no_evidence=False,
            internal_note="",
            rationale=rationale,
        )
    if open_documents:
        for document in case.documents.all():
            services.document_open(document=document, by=by)
    return case
