"""The IMR domain: reviewers and their credentials, parties, cases, items, documents, letters."""

import re
import unicodedata
import uuid

from django.conf import settings
from django.contrib.postgres.lookups import TrigramWordSimilar
from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVectorField,
)
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import connections, models
from django.db.models import Exists, F, OuterRef, Q, Value
from django.utils import timezone
from django.utils.functional import classproperty
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition

from .roles import assigned_reviewer, coordinator, system

CASE_NUMBER_RE = r"^CM[0-9]{2}-[0-9]{7}$"
# ICD-10-CM: a letter, two digits (or digit + letter), optionally a dot and 1-4 characters.
ICD10_RE = r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$"
icd10_validator = RegexValidator(ICD10_RE, "Enter an ICD-10 code such as M51.26 (letter, two characters, dot, detail).")
npi_validator = RegexValidator(r"^[0-9]{10}$", "An NPI is exactly ten digits.")


def name_validator(value: str) -> None:
    """Refuse control and formatting characters in a name: a right-to-left override can make a name
    read differently on screen than it is stored. The joiners some scripts need stay allowed."""
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cf") and char not in "\u200c\u200d":
            raise ValidationError(
                "Remove the invisible control character (%(code)s) from this name.",
                code="control_character",
                params={"code": f"U+{ord(char):04X}"},
            )


# Free text bounds: several times the longest published letter's, so a paste gone wrong is refused.
REQUEST_TEXT_MAX = 1000
LONG_TEXT_MAX = 20_000

US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
    "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
    "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
}  # fmt: skip


def normalize_name(name: str) -> str:
    """Fold case, accents, punctuation and legal suffixes so "ACME, Inc." matches "Acme Inc"."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    folded = re.sub(r"[^a-z0-9 ]+", " ", folded)
    words = [w for w in folded.split() if w not in {"inc", "llc", "llp", "corp", "co", "ltd", "the", "pc"}]
    return " ".join(words)


class Specialty(models.Model):
    """A medical specialty; a subspecialty ("Interventional Spine") has its specialty as parent."""

    name = models.CharField(max_length=120, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="subspecialties")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "specialties"
        constraints = [
            models.CheckConstraint(condition=~Q(parent=F("id")), name="specialty_not_own_parent"),
        ]

    def __str__(self):
        return f"{self.parent.name} / {self.name}" if self.parent_id else self.name


class ReviewerQuerySet(models.QuerySet):
    def with_open_load(self):
        """Each reviewer's `open_load` (cases counting against capacity) and `next_due` (the earliest decision
        due among them), as correlated subqueries: each reads the reviewer's open cases alone from the partial
        index case_reviewer_load_idx, whatever the number of cases closed before."""
        load = Case.objects.filter(reviewer=OuterRef("pk"), status__in=S.LOAD).order_by()
        return self.annotate(
            open_load=models.functions.Coalesce(
                models.Subquery(
                    load.values("reviewer").annotate(n=models.Count("*")).values("n"),  # read from the index alone
                    output_field=models.IntegerField(),
                ),
                0,
            ),
            next_due=models.Subquery(
                load.filter(decision_due_date__isnull=False)
                .order_by("decision_due_date")
                .values("decision_due_date")[:1]
            ),
        )

    def for_load_panel(self):
        """Active reviewers by name with their open load (with_open_load): the dashboard's panel, 1 query."""
        return (
            self.filter(active=True)
            .select_related("user")
            .with_open_load()
            .order_by("user__last_name", "user__first_name", "pk")
        )


class Reviewer(models.Model):
    """An expert reviewer: a user with clinical credentials. Never named in a letter."""

    class Degree(models.TextChoices):
        MD = "MD", "MD"
        DO = "DO", "DO"
        DC = "DC", "DC"
        DPM = "DPM", "DPM"
        PHD = "PhD", "PhD"
        PSYD = "PsyD", "PsyD"
        PHARMD = "PharmD", "PharmD"
        DDS = "DDS", "DDS"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviewer")
    degree = models.CharField(max_length=8, choices=Degree.choices)
    practice_start_year = models.PositiveSmallIntegerField(
        help_text="Year clinical practice began.", validators=[MinValueValidator(1940)]
    )
    weekly_hours = models.PositiveSmallIntegerField(
        help_text="Hours a week currently in active practice.", validators=[MaxValueValidator(100)]
    )
    capacity = models.PositiveSmallIntegerField(default=10, help_text="Open cases at once.")
    active = models.BooleanField(default=True)
    specialties = models.ManyToManyField(Specialty, through="BoardCertification", related_name="reviewers")

    objects = ReviewerQuerySet.as_manager()

    class Meta:
        ordering = ["user__last_name", "user__first_name"]
        constraints = [
            models.CheckConstraint(condition=Q(practice_start_year__gte=1940), name="reviewer_practice_year_plausible"),
            models.CheckConstraint(condition=Q(weekly_hours__lte=100), name="reviewer_weekly_hours_plausible"),
        ]

    def __str__(self):
        return f"{self.user.get_full_name() or self.user.get_username()}, {self.degree}"

    # What the load reads, of a reviewer annotated by ReviewerQuerySet.with_open_load().

    @property
    def at_capacity(self) -> bool:
        return self.open_load >= self.capacity

    @property
    def load_high(self) -> int:
        """From here the load is high (a <meter>'s red): one case short of capacity."""
        return max(self.capacity - 1, 0)

    @property
    def load_low(self) -> int:
        """Up to here the load is low (the meter's green); amber above three quarters of capacity."""
        return self.capacity * 3 // 4


class License(models.Model):
    """A reviewer's licence to practise in one state."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        SUSPENDED = "suspended", "Suspended"
        REVOKED = "revoked", "Revoked"

    reviewer = models.ForeignKey(Reviewer, on_delete=models.CASCADE, related_name="licenses")
    state = models.CharField(max_length=2, choices=sorted(US_STATES.items(), key=lambda s: s[1]))
    number = models.CharField(max_length=40)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    expires_on = models.DateField()

    class Meta:
        ordering = ["state"]
        constraints = [
            models.UniqueConstraint(fields=["state", "number"], name="license_unique_state_number"),
            models.CheckConstraint(condition=Q(state__regex=r"^[A-Z]{2}$"), name="license_state_is_two_letters"),
        ]

    def __str__(self):
        return f"{self.state} {self.number} ({self.get_status_display()}, expires {self.expires_on:%m/%d/%Y})"


class BoardCertification(models.Model):
    """A reviewer's board certification in a specialty or subspecialty."""

    reviewer = models.ForeignKey(Reviewer, on_delete=models.CASCADE, related_name="certifications")
    specialty = models.ForeignKey(Specialty, on_delete=models.PROTECT, related_name="certifications")
    board = models.CharField(max_length=160, help_text="e.g. American Board of Physical Medicine and Rehabilitation")
    certified_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True, help_text="Empty for a lifetime certificate.")

    class Meta:
        ordering = ["specialty__name"]
        constraints = [
            models.UniqueConstraint(fields=["reviewer", "specialty"], name="certification_unique_per_specialty"),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gt=F("certified_on")),
                name="certification_expires_after_certified",
            ),
        ]

    def __str__(self):
        return f"{self.specialty} ({self.board})"


class Organization(models.Model):
    """A party that is not a person: employer, claims administrator, UR organisation, group, law firm."""

    class Kind(models.TextChoices):
        EMPLOYER = "employer", "Employer"
        CLAIMS_ADMINISTRATOR = "claims_administrator", "Claims administrator"
        UR_ORGANIZATION = "ur_organization", "Utilization review organisation"
        PROVIDER_GROUP = "provider_group", "Provider group"
        LAW_FIRM = "law_firm", "Law firm"

    kind = models.CharField(max_length=24, choices=Kind.choices)
    name = models.CharField(max_length=200, validators=[name_validator])
    normalized_name = models.CharField(max_length=200, editable=False, db_index=True)
    email = models.EmailField(blank=True)
    address = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "normalized_name"],
                name="organization_unique_kind_name",
                violation_error_message="An organisation of this kind with this name is already on file.",
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.normalized_name = normalize_name(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "normalized_name"}
        super().save(*args, **kwargs)

    def clean(self):
        if not normalize_name(self.name):
            raise ValidationError({"name": "Enter a name with at least one letter or digit."})

    def validate_constraints(self, exclude=None):
        # normalized_name is no form field, so forms leave its unique constraint out and "ACME,
        # Inc." beside "Acme Inc" would only fail on save, as a server error. Check it always.
        self.normalized_name = normalize_name(self.name)
        super().validate_constraints(exclude={*(exclude or ())} - {"normalized_name", "kind", "name"})


class Provider(models.Model):
    """A requesting or treating physician."""

    name = models.CharField(max_length=160, validators=[name_validator])
    specialty = models.ForeignKey(Specialty, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    npi = models.CharField("NPI", max_length=10, blank=True, validators=[npi_validator])
    group = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="providers",
        limit_choices_to={"kind": Organization.Kind.PROVIDER_GROUP},
    )
    email = models.EmailField(blank=True)
    address = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["npi"], condition=~Q(npi=""), name="provider_unique_npi"),
            models.CheckConstraint(condition=Q(npi="") | Q(npi__regex=r"^[0-9]{10}$"), name="provider_npi_ten_digits"),
        ]

    def __str__(self):
        return self.name


class Affiliation(models.Model):
    """A reviewer's declared tie to an organisation, a provider or an employee: it disqualifies."""

    class Kind(models.TextChoices):
        EMPLOYMENT = "employment", "Employment"
        CONTRACT = "contract", "Contract"
        FINANCIAL = "financial", "Financial interest above 1 %"
        FAMILY = "family", "Family"
        PRIOR_TREATMENT = "prior_treatment", "Prior treatment of the employee"

    reviewer = models.ForeignKey(Reviewer, on_delete=models.CASCADE, related_name="affiliations")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="affiliations"
    )
    provider = models.ForeignKey(Provider, null=True, blank=True, on_delete=models.CASCADE, related_name="affiliations")
    employee_name = models.CharField(
        max_length=160, blank=True, validators=[name_validator], help_text="For family ties or prior treatment."
    )
    employee_birth_date = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=240, blank=True)
    declared_on = models.DateField(auto_now_add=True)

    class Meta:
        constraints = [
            # Exactly one of: an organisation, a provider, or a named employee.
            models.CheckConstraint(
                condition=(
                    Q(organization__isnull=False, provider__isnull=True, employee_name="")
                    | Q(organization__isnull=True, provider__isnull=False, employee_name="")
                    | (Q(organization__isnull=True, provider__isnull=True) & ~Q(employee_name=""))
                ),
                name="affiliation_exactly_one_party",
            ),
        ]

    def __str__(self):
        party = self.organization or self.provider or self.employee_name
        return f"{self.get_kind_display()}: {party}"


class TreatmentCategory(models.Model):
    """DWC treatment taxonomy; a subcategory has a parent. Admins map accepted specialties."""

    name = models.CharField(max_length=120)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="subcategories")
    accepted_specialties = models.ManyToManyField(
        Specialty,
        blank=True,
        related_name="treatment_categories",
        help_text="A reviewer certified in any of these may decide items of this category.",
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "treatment categories"
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=Q(parent__isnull=True), name="treatment_category_unique_top_name"
            ),
            models.UniqueConstraint(fields=["parent", "name"], name="treatment_category_unique_sub_name"),
        ]

    def __str__(self):
        return f"{self.parent.name} / {self.name}" if self.parent_id else self.name


class Holiday(models.Model):
    """A day on which business-day clocks do not run (California state holidays)."""

    date = models.DateField(unique=True)
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["date"]

    def __str__(self):
        return f"{self.date:%m/%d/%Y} {self.name}"


class CaseStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    ELIGIBLE = "eligible", "Eligible"
    INELIGIBLE = "ineligible", "Ineligible (closed)"
    AWAITING_RECORDS = "awaiting_records", "Awaiting records"
    READY_FOR_ASSIGNMENT = "ready_for_assignment", "Ready for assignment"
    ASSIGNED = "assigned", "Assigned"
    ACCEPTED = "accepted", "Accepted"
    IN_REVIEW = "in_review", "In review"
    SUBMITTED = "submitted", "Submitted"
    RETURNED = "returned", "Returned for changes"
    APPROVED = "approved", "Approved"
    ISSUED = "issued", "Issued"
    WITHDRAWN = "withdrawn", "Withdrawn"
    TERMINATED = "terminated", "Terminated (authorised by CA)"

    # The groups of statuses the code asks about, each defined here and nowhere else. They are
    # class properties, so the enum does not take them for members; each returns a new list.

    @classproperty
    def CLOSED(cls) -> list:
        """Nothing left to do: issued, or closed without a determination."""
        return [cls.ISSUED, cls.INELIGIBLE, cls.WITHDRAWN, cls.TERMINATED]

    @classproperty
    def OPEN(cls) -> list:
        """Before issue (or any other closing): the case may still be withdrawn or terminated."""
        return [s for s in cls if s not in cls.CLOSED]

    @classproperty
    def WITH_REVIEWER(cls) -> list:
        """A reviewer holds the case and has not submitted: it may be reassigned."""
        return [cls.ASSIGNED, cls.ACCEPTED, cls.IN_REVIEW, cls.RETURNED]

    @classproperty
    def LOAD(cls) -> list:
        """The case counts against its reviewer's capacity: from assignment until approval."""
        return [*cls.WITH_REVIEWER, cls.SUBMITTED]

    @classproperty
    def ACCEPTED_BY_REVIEWER(cls) -> list:
        """From the reviewer's acceptance (with the conflict attestation) on: the reviewer reads the records, and
        the items and diagnoses they decide on are theirs to rely on (no admin edits)."""
        return [cls.ACCEPTED, cls.IN_REVIEW, cls.SUBMITTED, cls.RETURNED, cls.APPROVED, cls.ISSUED]

    @classproperty
    def EDITABLE(cls) -> list:
        """The assigned reviewer writes the determination."""
        return [cls.ACCEPTED, cls.IN_REVIEW, cls.RETURNED]

    @classproperty
    def FINAL(cls) -> list:
        """Approved: nothing about the determination changes any more, in any interface."""
        return [cls.APPROVED, cls.ISSUED]

    @classproperty
    def DISPUTE_CHANGEABLE(cls) -> list:
        """Open and not approved: a coordinator may change the items and diagnoses (services/dispute.py)."""
        return [s for s in cls.OPEN if s not in cls.FINAL]

    @classproperty
    def HAS_REVIEWER(cls) -> list:
        """A reviewer is named on the case (a database constraint)."""
        return [*cls.LOAD, *cls.FINAL]

    @classproperty
    def BEFORE_DECISION(cls) -> list:
        """The determination is made when quality review approves it (the decision date): withdrawal,
        termination and conversion to expedited are possible only before."""
        return [s for s in cls.OPEN if s != cls.APPROVED]

    @classproperty
    def REOPENABLE(cls) -> list:
        """Closed without a determination: may be reopened (services.steps.case_reopen); an issued one never."""
        return [cls.INELIGIBLE, cls.WITHDRAWN, cls.TERMINATED]


S = CaseStatus


def expedited_last():
    """0 for an expedited case, else 1: what the lists order by first. The indexes of those orders start
    with the same expression, so that PostgreSQL reads a page of them in index order."""
    return models.Case(models.When(priority="expedited", then=models.Value(0)), default=models.Value(1))


def _list_order_index(then: str, name: str, **options) -> models.Index:
    """An index in a list's order: expedited first (expedited_last()), then `then`, then the case number."""
    return models.Index(expedited_last(), F(then), F("case_number"), name=name, **options)


class CaseQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(status__in=S.CLOSED)

    def undecided(self):
        """Open cases whose determination is still to be made: the ones a decision clock runs for."""
        return self.open().filter(decision_date__isnull=True)

    def overdue(self, today):
        """Undecided cases due before `today`: a decision is due at the end of its day, California time."""
        return self.undecided().filter(decision_due_date__lt=today)

    def due_between(self, first, last):
        """Undecided cases whose decision is due from `first` to `last`, both included."""
        return self.undecided().filter(decision_due_date__range=(first, last))

    def _expedited_first(self):
        """`expedited_last` (expedited_last()) to order by."""
        return self.alias(expedited_last=expedited_last())

    def with_due_order(self):
        """Expedited cases first, then by decision due date (cases without one last), then case number."""
        return self._expedited_first().order_by(
            "expedited_last", F("decision_due_date").asc(nulls_last=True), "case_number"
        )

    def waiting_for_quality_review(self):
        """Submitted cases as the quality-review list shows them (for_case_list's rows): expedited first,
        then the longest waiting, in the order of the index case_qa_wait_idx."""
        return (
            self.for_case_list()
            .filter(status=S.SUBMITTED)
            ._expedited_first()
            .order_by("expedited_last", "submitted_at", "case_number")
        )

    # Long texts no list shows: left out of list rows (a summary runs to pages).
    LIST_DEFERRED = ["clinical_case_summary", "closed_reason", "qa_comments"]

    def for_dashboard(self):
        """Rows of the coordinator's dashboard lists: the reviewer named, in due order, without the long texts."""
        return self.select_related("reviewer__user").defer(*self.LIST_DEFERRED).with_due_order()

    def dashboard_counts(self, *, today, soon_until) -> dict:
        """Open cases by status, and how many undecided ones are overdue or due by `soon_until`, in one query;
        closed cases by status from closed_counts() (a second query).

        Returns {"by_status": {status: n}, "overdue": n, "due_soon": n, "estimated": {status, ...}}.

        The open counts are exact and read only the open cases, through the partial index
        case_open_status_idx: a desk's open work is bounded by its intake, whatever its history.
        """
        undecided = Q(decision_date__isnull=True)
        rows = (
            self.open()
            .order_by()  # the default ordering would join the GROUP BY
            .values("status")
            # COUNT(status), not COUNT(id): the index holds every column read, so the count never visits the table.
            .annotate(
                n=models.Count("status"),
                overdue=models.Count("status", filter=undecided & Q(decision_due_date__lt=today)),
                due_soon=models.Count("status", filter=undecided & Q(decision_due_date__range=(today, soon_until))),
            )
        )
        closed, estimated = self.closed_counts()
        counts = {"by_status": closed, "overdue": 0, "due_soon": 0, "estimated": estimated}
        for row in rows:
            counts["by_status"][row["status"]] = row["n"]
            counts["overdue"] += row["overdue"]
            counts["due_soon"] += row["due_soon"]
        return counts

    def with_item_count(self):
        """Each case with `item_count`, its number of disputed items.

        A correlated subquery rather than a JOIN + GROUP BY, so the database counts items for the
        rows of the page only, after sorting and LIMIT.
        """
        items = (
            DisputedItem.objects.filter(case=models.OuterRef("pk"))
            .order_by()
            .values("case")
            .annotate(n=models.Count("pk"))
            .values("n")
        )
        return self.annotate(
            item_count=models.functions.Coalesce(models.Subquery(items, output_field=models.IntegerField()), 0)
        )

    # Past this many cases, the closed counts are PostgreSQL's estimate rather than a count.
    ESTIMATE_ABOVE = 50_000

    def closed_counts(self) -> tuple[dict[str, int], set[str]]:
        """Closed cases by status (of the whole table, whatever the queryset's filters), and which are estimates.

        Closed cases are the desk's history: they grow without bound, and counting them exactly reads
        every one (a tenth of a second at a million cases, on every dashboard). A dashboard needs their
        size, not their exact number, so on PostgreSQL past ESTIMATE_ABOVE cases they are the planner's
        estimate: the table's row count times each status's share, from the statistics autovacuum keeps
        (migration 0014 has it analyse the table every 2 % of changes). Exact below that, and on SQLite.
        """
        connection = connections[self.db]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT c.reltuples, s.most_common_vals::text::text[], s.most_common_freqs FROM pg_class c "
                    "LEFT JOIN pg_stats s ON s.schemaname = current_schema() AND s.tablename = c.relname "
                    "AND s.attname = 'status' WHERE c.oid = %s::regclass",
                    [Case._meta.db_table],
                )
                rows, values, freqs = cursor.fetchone()
            if rows > self.ESTIMATE_ABOVE and values:
                share = dict(zip(values, freqs, strict=True))
                return {s: round(rows * share.get(s, 0)) for s in S.CLOSED}, set(S.CLOSED)
        exact = self.model.objects.using(self.db).filter(status__in=S.CLOSED).order_by()
        return dict(exact.values_list("status").annotate(n=models.Count("pk"))), set()

    def for_case_list(self):
        """Rows of the case list: claims administrator, reviewer and the number of disputed items.

        The long texts (LIST_DEFERRED) are left out; reading one on a row costs a query per row.
        """
        return (
            self.select_related("claims_administrator", "reviewer__user").defer(*self.LIST_DEFERRED).with_item_count()
        )

    def for_reviewer_queue(self, reviewer):
        """A reviewer's own cases, from assignment to submission, expedited first then by due date (1 query).

        Each row carries `item_count` (the items in review) and `terminated_count` (those the claims
        administrator authorised since), counted by correlated subqueries as in for_case_list.
        """

        def count(items):
            counted = items.filter(case=models.OuterRef("pk")).order_by().values("case")
            counted = counted.annotate(n=models.Count("pk")).values("n")
            return models.functions.Coalesce(models.Subquery(counted, output_field=models.IntegerField()), 0)

        return (
            self.filter(reviewer=reviewer, status__in=S.LOAD)
            .only(
                "case_number",
                "status",
                "priority",
                "date_assigned",
                "decision_due_date",
                "reviewer",
                "expedited_certified_on",
            )
            .annotate(
                item_count=count(DisputedItem.objects.in_review()),
                terminated_count=count(DisputedItem.objects.filter(authorized_on__isnull=False)),
            )
            .with_due_order()
        )

    def for_reviewer_completed(self, reviewer):
        """A reviewer's finished determinations (approved, then issued), the latest decision first (1 query)."""
        return (
            self.filter(reviewer=reviewer, status__in=S.FINAL)
            .only("case_number", "status", "priority", "date_assigned", "decision_date", "reviewer")
            .with_item_count()
            .order_by(F("decision_date").desc(nulls_first=True), "-case_number")
        )


class Case(FSMModelMixin, models.Model):
    """One IMR application: the parties, the dispute, the clocks and the determination."""

    class Priority(models.TextChoices):
        STANDARD = "standard", "Standard"
        EXPEDITED = "expedited", "Expedited"
        FORMULARY = "formulary", "Formulary"

    Status = CaseStatus

    class Sex(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        UNKNOWN = "U", "Not stated"

    class Requester(models.TextChoices):
        EMPLOYEE = "employee", "Employee"
        ATTORNEY = "attorney", "Employee's attorney"
        REPRESENTATIVE = "representative", "Other designated representative"

    case_number = models.CharField(max_length=12, unique=True, editable=False)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.STANDARD)
    status = FSMField(max_length=24, choices=Status.choices, default=Status.RECEIVED, protected=True)

    employee_name = models.CharField(max_length=160, validators=[name_validator])
    employee_birth_date = models.DateField(null=True, blank=True)
    employee_sex = models.CharField(max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    claim_number = models.CharField(max_length=40, db_index=True)
    adj_number = models.CharField("ADJ number", max_length=20, blank=True)
    date_of_injury = models.DateField()
    employer = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="cases_as_employer",
        limit_choices_to={"kind": Organization.Kind.EMPLOYER},
    )
    claims_administrator = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="cases_as_claims_administrator",
        limit_choices_to={"kind": Organization.Kind.CLAIMS_ADMINISTRATOR},
    )
    ur_organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases_as_ur_organization",
        limit_choices_to={"kind": Organization.Kind.UR_ORGANIZATION},
    )
    requesting_provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="requested_cases")
    employee_attorney = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases_as_attorney",
        limit_choices_to={"kind": Organization.Kind.LAW_FIRM},
    )

    ur_decision_date = models.DateField("UR decision date")
    application_received_date = models.DateField()
    date_assigned = models.DateField(null=True, blank=True)
    records_due_date = models.DateField(null=True, blank=True)
    records_complete_date = models.DateField(null=True, blank=True)
    decision_due_date = models.DateField(null=True, blank=True, db_index=True)
    decision_date = models.DateField(null=True, blank=True)
    closed_reason = models.TextField(blank=True, max_length=2000)
    # Where a withdrawn, terminated or ineligible case stood when it closed: reopening returns it there.
    closed_from = models.CharField(max_length=24, choices=CaseStatus.choices, blank=True, editable=False)
    withdrawal_requested_by = models.CharField(
        max_length=160, blank=True, validators=[name_validator], help_text="Who asked to withdraw the application."
    )
    withdrawal_requester = models.CharField(
        "Relationship to the employee", max_length=16, choices=Requester.choices, blank=True
    )
    withdrawal_requested_on = models.DateField("Withdrawal requested on", null=True, blank=True)
    expedited_certified_on = models.DateField(
        null=True, blank=True, help_text="When the treating physician certified an imminent, serious threat to health."
    )
    expedited_certification = models.CharField(
        max_length=240, blank=True, help_text="The certifying document, or a note of where it is."
    )
    # Set by the deadline sweep, so each case is announced once as due soon and once as overdue.
    due_soon_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    overdue_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The last submission for quality review (its CaseEvent is the record): the quality-review list
    # orders by it through case_qa_wait_idx, and the public copy's confirmation must come after it.
    submitted_at = models.DateTimeField(null=True, blank=True, editable=False)

    reviewer = models.ForeignKey(Reviewer, null=True, blank=True, on_delete=models.PROTECT, related_name="cases")
    remand_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="remands",
        help_text="The earlier case this one re-reviews; its reviewer may not review this one.",
    )
    clinical_case_summary = models.TextField(blank=True, max_length=LONG_TEXT_MAX)
    # Bumped on every save of the summary: a save made from an older copy is refused, not merged.
    summary_version = models.PositiveIntegerField(default=0, editable=False)
    qa_comments = models.TextField(
        "Quality review comments", blank=True, max_length=LONG_TEXT_MAX, help_text="Shown to the reviewer on return."
    )
    # A published determination imported as a historical case (DESIGN.md section 8): where it came
    # from, and the organisation that issued it, which its letter names instead of ours.
    imported_from = models.CharField(max_length=255, blank=True, editable=False)
    issuing_organization = models.CharField(max_length=200, blank=True, editable=False)
    issuing_organization_short = models.CharField(max_length=80, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["decision_due_date", "case_number"]
        constraints = [
            models.CheckConstraint(condition=Q(case_number__regex=CASE_NUMBER_RE), name="case_number_format"),
            models.CheckConstraint(
                condition=Q(date_of_injury__lte=F("ur_decision_date")), name="case_injury_on_or_before_ur_decision"
            ),
            models.CheckConstraint(
                condition=Q(ur_decision_date__lte=F("application_received_date")),
                name="case_ur_decision_on_or_before_application",
            ),
            models.CheckConstraint(
                condition=Q(records_complete_date__isnull=True)
                | Q(records_complete_date__gte=F("application_received_date")),
                name="case_records_complete_after_application",
            ),
            models.CheckConstraint(
                condition=Q(decision_due_date__isnull=True) | Q(records_complete_date__isnull=False),
                name="case_due_date_needs_records_complete",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=S.HAS_REVIEWER) | Q(reviewer__isnull=False),
                name="case_reviewer_set_once_assigned",
            ),
            models.CheckConstraint(condition=~Q(remand_of=F("id")), name="case_not_remand_of_itself"),
            models.CheckConstraint(
                condition=Q(withdrawal_requested_on__isnull=True)
                | (~Q(withdrawal_requested_by="") & ~Q(withdrawal_requester="")),
                name="case_withdrawal_says_who_asked",
            ),
            models.CheckConstraint(
                condition=Q(expedited_certified_on__isnull=True) | ~Q(expedited_certification=""),
                name="case_expedited_certification_documented",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "decision_due_date"]),
            # Open cases by status for the dashboard's counts (read without the closed history).
            models.Index(
                fields=["status", "decision_due_date"],
                include=["decision_date"],
                name="case_open_status_idx",
                condition=~Q(status__in=S.CLOSED),
            ),
            # Each reviewer's open load and next due date (ReviewerQuerySet.with_open_load), and their queue.
            models.Index(
                fields=["reviewer", "decision_due_date"],
                name="case_reviewer_load_idx",
                condition=Q(status__in=S.LOAD),
            ),
            # The lists' default order (expedited first, then due date) over open cases only:
            # the dashboard's due lists and the case list's first page read it in index order.
            _list_order_index("decision_due_date", "case_open_due_order_idx", condition=~Q(status__in=S.CLOSED)),
            # The same order over every case (the case list's "all cases", closed history included).
            _list_order_index("decision_due_date", "case_due_order_idx"),
            # The quality-review list in its order: a page of it reads 50 index entries, whatever the backlog.
            _list_order_index("submitted_at", "case_qa_wait_idx", condition=Q(status=S.SUBMITTED)),
            # The admin's filter by application date (a range of the index, not a scan of every case).
            models.Index(fields=["application_received_date"], name="case_received_idx"),
            # The dashboard's list of cases awaiting records, in the order it shows them.
            _list_order_index("records_due_date", "case_awaiting_records_idx", condition=Q(status=S.AWAITING_RECORDS)),
        ]

    def __str__(self):
        return self.case_number

    @property
    def determination_final(self) -> bool:
        """Approved or issued: nothing about the determination changes any more, in any interface."""
        return self.status in S.FINAL

    @property
    def dispute_changeable(self) -> bool:
        """A coordinator may still change the items and diagnoses (the case page links the page that does)."""
        return self.status in S.DISPUTE_CHANGEABLE

    @property
    def open_to_reviewer(self) -> bool:
        """The assigned reviewer accepted the case: its records and review are open to them."""
        return self.status in S.ACCEPTED_BY_REVIEWER

    @property
    def takes_documents(self) -> bool:
        """Open for records; an approved determination is final, so its letter lists exactly what was seen."""
        return self.status not in (*S.CLOSED, *S.FINAL)

    def clean_fields(self, exclude=None):
        # The status is protected: only transitions write it, and field cleaning would reassign it.
        super().clean_fields(exclude={*(exclude or ()), "status"})

    def clean(self):
        errors = {}
        if self.date_of_injury and self.ur_decision_date and self.date_of_injury > self.ur_decision_date:
            errors["date_of_injury"] = "The date of injury must be on or before the UR decision date."
        ur_date, received = self.ur_decision_date, self.application_received_date
        if ur_date and received and ur_date > received:
            errors["ur_decision_date"] = "The UR decision date must be on or before the application received date."
        if errors:
            raise ValidationError(errors)

    # Workflow (DESIGN.md section 4). Each transition only moves the status (a closing one also notes
    # where from, for reopening) and names who may take it (`permission=`, a role of reviews/roles.py).
    # Its service runs it through services.workflow.case_transition, which locks the row, checks the
    # source status and the actor, applies the changes and records the CaseEvent. Nothing else writes
    # `status`.

    @transition(field=status, source=S.RECEIVED, target=S.ELIGIBLE, permission=coordinator)
    def confirm_eligible(self):
        pass

    @transition(field=status, source=S.RECEIVED, target=S.INELIGIBLE, permission=coordinator)
    def confirm_ineligible(self):
        self.closed_from = self.status

    @transition(field=status, source=S.ELIGIBLE, target=S.AWAITING_RECORDS, permission=coordinator)
    def request_records(self):
        pass

    @transition(field=status, source=S.AWAITING_RECORDS, target=S.READY_FOR_ASSIGNMENT, permission=coordinator)
    def complete_records(self):
        pass

    @transition(field=status, source=S.READY_FOR_ASSIGNMENT, target=S.ASSIGNED, permission=coordinator)
    def assign(self):
        pass

    @transition(field=status, source=S.WITH_REVIEWER, target=S.ASSIGNED, permission=coordinator)
    def reassign(self):
        """The coordinator gives the case to another reviewer; the previous one is excluded."""

    @transition(
        field=status, source=[S.ASSIGNED, S.ACCEPTED], target=S.READY_FOR_ASSIGNMENT, permission=assigned_reviewer
    )
    def release(self):
        """The reviewer declines before writing anything (conflict, unavailable) and is excluded; once the
        review has started, the coordinator reassigns instead."""

    @transition(field=status, source=S.ASSIGNED, target=S.ACCEPTED, permission=assigned_reviewer)
    def accept(self):
        pass

    @transition(field=status, source=[S.ACCEPTED, S.RETURNED], target=S.IN_REVIEW, permission=assigned_reviewer)
    def start_review(self):
        pass

    @transition(field=status, source=S.IN_REVIEW, target=S.SUBMITTED, permission=assigned_reviewer)
    def submit(self):
        pass

    @transition(field=status, source=S.SUBMITTED, target=S.RETURNED, permission=coordinator)
    def return_to_reviewer(self):
        pass

    @transition(field=status, source=S.SUBMITTED, target=S.APPROVED, permission=coordinator)
    def approve(self):
        pass

    @transition(field=status, source=S.APPROVED, target=S.ISSUED, permission=system)
    def issue(self):
        """The letter task, when the approved determination's letter is ready."""

    @transition(field=status, source=S.BEFORE_DECISION, target=S.WITHDRAWN, permission=coordinator)
    def withdraw(self):
        """The applicant withdrew the application before the decision."""
        self.closed_from = self.status

    @transition(field=status, source=S.BEFORE_DECISION, target=S.TERMINATED, permission=coordinator)
    def terminate(self):
        """The claims administrator authorised the treatment (every item still in review)."""
        self.closed_from = self.status

    # target=None: the status stays; the step is recorded as a CaseEvent from and to the same status.
    @transition(field=status, source=S.BEFORE_DECISION, target=None, permission=coordinator)
    def terminate_items(self):
        """The claims administrator authorised some of the items; the review goes on with the rest."""

    @transition(field=status, source=S.DISPUTE_CHANGEABLE, target=None, permission=coordinator)
    def change_dispute(self):
        """The coordinator changed, added or removed a disputed item or a diagnosis (services/dispute.py)."""

    @transition(
        field=status,
        source=S.BEFORE_DECISION,
        target=None,
        conditions=[lambda case: case.priority != case.Priority.EXPEDITED],
        permission=coordinator,
    )
    def expedite(self):
        """The treating physician certified an imminent, serious threat: the clocks recompute."""

    @transition(
        field=status,
        source=S.ISSUED,
        target=None,
        conditions=[lambda case: not case.imported_from],
        permission=coordinator,
    )
    def remand(self):
        """The determination is remanded (WCAB): a new case re-reviews it; this one stays issued."""

    @transition(
        field=status,
        source=S.REOPENABLE,
        target=RETURN_VALUE(*S.BEFORE_DECISION),
        conditions=[lambda c: bool(c.closed_from)],
        permission=coordinator,
    )
    def reopen(self):
        """A closed case returns to the step it was closed at (see services.steps.case_reopen)."""
        to, self.closed_from = self.closed_from, ""
        return to


class Diagnosis(models.Model):
    """One of the case's listed diagnoses, in the order the records give them."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="diagnoses")
    position = models.PositiveSmallIntegerField()
    icd10_code = models.CharField("ICD-10 code", max_length=8, validators=[icd10_validator])
    description = models.CharField(max_length=200)

    class Meta:
        ordering = ["case", "position"]
        verbose_name_plural = "diagnoses"
        constraints = [
            models.UniqueConstraint(fields=["case", "position"], name="diagnosis_unique_position"),
            models.CheckConstraint(condition=Q(icd10_code__regex=ICD10_RE), name="diagnosis_icd10_shape"),
        ]

    def __str__(self):
        return f"{self.icd10_code} {self.description}"


class Guideline(models.Model):
    """A source of medical evidence, ranked by the search sequence of 8 CCR 9792.21.1."""

    class Source(models.TextChoices):
        MTUS = "mtus", "MTUS"
        ACOEM = "acoem", "ACOEM"
        ODG = "odg", "ODG"
        OTHER_GUIDELINE = "other", "Other national guideline"
        STUDY = "study", "Peer-reviewed study"

    SEARCH_SEQUENCE = {
        Source.MTUS: 1,
        Source.ACOEM: 2,
        Source.ODG: 2,
        Source.OTHER_GUIDELINE: 3,
        Source.STUDY: 4,
    }

    source = models.CharField(max_length=8, choices=Source.choices)
    title = models.CharField(
        max_length=240, help_text="Title and edition, e.g. MTUS Chronic Pain Medical Treatment Guidelines 2009."
    )
    edition = models.CharField(max_length=40, blank=True)
    citation_name = models.CharField(
        max_length=240,
        help_text='How letters name it, e.g. "MTUS Chronic Pain Treatment Guidelines".',
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["source", "title"]
        constraints = [models.UniqueConstraint(fields=["title", "edition"], name="guideline_unique_title_edition")]

    def __str__(self):
        return f"{self.title} {self.edition}".strip()

    @property
    def search_sequence(self) -> int:
        """1 = MTUS, 2 = ACOEM/ODG, 3 = other national guidelines, 4 = studies."""
        return self.SEARCH_SEQUENCE[self.source]

    @property
    def is_mtus(self) -> bool:
        return self.source == self.Source.MTUS


# The precedent search marks the matched words of a rationale excerpt with these two characters;
# reviews.precedents escapes the text, then turns them into <mark> tags.
MATCH_START, MATCH_END = "\u27e6", "\u27e7"  # ⟦ ⟧: never typed in a rationale
# A search ranks RANKED_AT_MOST of its matches, and its share overturned counts CHARTED_AT_MOST, the most
# recent, when it has more (DisputedItemQuerySet.most_recent). At 1,000,000 cases, ranking all 370,000
# items of one common word ("therapy") took 3.8 s, counting every item of a category 2.8 s, and walking
# the whole library for two common words that never meet 2.9 s.
RANKED_AT_MOST = 200
CHARTED_AT_MOST = 1000
RECENT_SPAN = 100


def _one_word(words: str) -> bool:
    """A drug name, say: what trigram similarity is for."""
    return len(words.split()) == 1


def more_than_ranked(found: int | None) -> bool:
    """Whether a search of which DisputedItemQuerySet.ranked() counted `found` may match more than it ranked."""
    return found == RANKED_AT_MOST


def more_than_charted(counted: int) -> bool:
    """Whether a search of whose matches DisputedItemQuerySet.charted() has `counted` may match more."""
    return counted == CHARTED_AT_MOST


class DisputedItemQuerySet(models.QuerySet):
    def in_review(self):
        """The items still disputed: not terminated by the claims administrator's authorisation."""
        return self.filter(authorized_on__isnull=True)

    def precedents(
        self,
        *,
        words: str = "",
        category=None,
        subcategory=None,
        decision: str = "",
        guideline=None,
        specialty=None,
        decided_from=None,
        decided_to=None,
    ):
        """Decided items of issued determinations (imported ones are issued too) matching words and filters.

        On PostgreSQL an issued item is one with `published_on` (see the field): no join to the cases,
        which halves the cost of a search over 100,000 items. SQLite joins the cases.

        On PostgreSQL `words` is a web-search query (every word, "a phrase", or, -word) on the stored
        search vector: the request and its remaining portion weigh more than the rationale (migration
        0013 keeps the vector current). A request whose words are trigram-similar to `words` also
        matches when `words` is one word (pg_trgm word similarity, reviews.precedents.WORD_SIMILARITY_THRESHOLD),
        so "tramodol" finds Tramadol; a phrase is matched by its words only, as trigrams of several words
        find little more and cost a great deal more over 100,000 items.
        Elsewhere (SQLite) every word must appear in the request, the remaining portion or the rationale.

        `specialty` matches reviewers certified in it or in one of its subspecialties. No ordering:
        ranked() orders, overturned_shares() counts.
        """
        on_postgresql = connections[self.db].vendor == "postgresql"
        if on_postgresql:
            items = self.filter(published_on__isnull=False)
        else:
            items = self.filter(case__status=CaseStatus.ISSUED)
        items = items.exclude(decision="").in_review()
        published_on = self._published_on()
        if words := words.strip():
            if on_postgresql:
                query = SearchQuery(words, search_type="websearch", config="english")
                match = Q(search_vector=query)
                if _one_word(words):
                    match |= TrigramWordSimilar(F("request_text"), Value(words))
                items = items.filter(match)
            else:
                for word in words.split():
                    in_request = Q(request_text__icontains=word) | Q(remaining_part__icontains=word)
                    items = items.filter(in_request | Q(rationale__icontains=word))
        if category is not None:
            items = items.filter(category=category)
        if subcategory is not None:
            items = items.filter(subcategory=subcategory)
        if decision:
            items = items.filter(decision=decision)
        if guideline is not None:
            # EXISTS, not a join: an item citing the guideline twice is still one precedent.
            cited = Citation.objects.filter(item=OuterRef("pk"), role=Citation.Role.REVIEW, guideline=guideline)
            items = items.filter(Exists(cited))
        if specialty is not None:
            certified = BoardCertification.objects.filter(reviewer=OuterRef("case__reviewer")).filter(
                Q(specialty=specialty) | Q(specialty__parent=specialty)
            )
            items = items.filter(Exists(certified))
        if decided_from is not None:
            items = items.filter(**{f"{published_on}__gte": decided_from})
        if decided_to is not None:
            items = items.filter(**{f"{published_on}__lte": decided_to})
        return items

    def _published_on(self) -> str:
        """Where the publication date is read: the item itself on PostgreSQL, its case elsewhere."""
        return "published_on" if connections[self.db].vendor == "postgresql" else "case__decision_date"

    def _newest_first(self) -> list[str]:
        """The order of the most recently decided first (the publication-date index's)."""
        return [f"-{self._published_on()}", "-pk"]

    def ranked(self, *, words: str = "", counted: bool = True):
        """(pk, found) of these items, best match first, then the newest decision: what to slice a page from.

        Narrow on purpose: the database carries only ids and ranks through the sort, and counts the
        ranked matches in the same pass (`found`, COUNT(*) OVER ()).
        Not `counted` (found is None), the newest items come straight from an index, however many.
        Counted, a search with many recent matches ranks and counts its RANKED_AT_MOST most recent
        only (see most_recent(); found is then that number).
        Rank on PostgreSQL: ts_rank of the words (requests found only by a misspelt word's trigram
        similarity rank last, newest first); the similarity itself, computed for every match, would
        double the cost of a drug name's search.
        """
        found = models.Window(models.Count("pk")) if counted else Value(None, output_field=models.IntegerField())
        newest = self._newest_first()
        words = words.strip()
        recent = self.most_recent(RANKED_AT_MOST, words=words) if counted else None
        items = self if recent is None else self.model._default_manager.filter(pk__in=recent)
        items = items.annotate(found=found)
        if words and connections[self.db].vendor == "postgresql":
            query = SearchQuery(words, search_type="websearch", config="english")
            items = items.annotate(rank=SearchRank(F("search_vector"), query)).order_by("-rank", *newest)
        else:
            items = items.order_by(*newest)
        return items.values_list("pk", "found")

    def charted(self, *, words: str = ""):
        """What the share overturned of a search by `words` counts: its CHARTED_AT_MOST most recent
        matches (see most_recent()), or all of them.

        The most recent matches are read here, once: as a subquery, each of the three counts of
        overturned_shares() would search again, three times the cost of the search.
        """
        recent = self.most_recent(CHARTED_AT_MOST, words=words)
        return self if recent is None else self.model._default_manager.filter(pk__in=recent)

    def most_recent(self, count: int, *, words: str = "") -> list[int] | None:
        """The ids of the `count` most recently decided of these items, or None: read them all.

        Filters alone: the planner's statistics tell how many they match, so it walks the publication-date
        index, newest first, while they match many, and starts from their own indexes when they match few
        (then the ids are all of them).
        Words: it misjudges them (a phrase's words come together; a misspelling matches by trigrams), so
        only the library's count × RECENT_SPAN newest decisions are searched (2 queries: the date they run
        from, then the search), and a search without `count` matches there is rare enough to read whole.
        """
        newest = self._newest_first()
        recent = self
        if words := words.strip():
            published_on, span = self._published_on(), count * RECENT_SPAN
            library = self.model._default_manager.filter(**{f"{published_on}__isnull": False}).order_by(*newest)
            if since := list(library.values_list(published_on, flat=True)[span : span + 1]):
                recent = self.filter(**{f"{published_on}__gte": since[0]})
        ids = list(recent.order_by(*newest).values_list("pk", flat=True)[:count])
        return ids if len(ids) == count or not words else None

    def for_precedent_results(self, *, words: str = ""):
        """Rows of result pages (filter them by the ids of ranked()), 4 queries whatever their number.

        Each row has its case with the parties the public copy leaves out and all its
        items (prefetched, for reviews.redaction), the review's citations (prefetched), and `headline`:
        on PostgreSQL the rationale's best passages with the matched words between MATCH_START and
        MATCH_END (ts_headline); elsewhere "" and reviews.precedents cuts the excerpt.
        """
        # The cases in a query of their own: planning one join of eleven tables took longer than
        # running the two queries.
        cases = Case.objects.select_related(
            # What reviews.redaction reads to print the texts as the public copy does.
            "employer",
            "claims_administrator",
            "employee_attorney",
            "requesting_provider__group",
            "redaction",
        )
        items = self.select_related("category", "subcategory").prefetch_related(
            models.Prefetch("case", queryset=cases),
            models.Prefetch(
                "citations",
                queryset=Citation.objects.filter(role=Citation.Role.REVIEW).select_related("guideline"),
                to_attr="review_citations",
            ),
            "case__items",  # the redaction reads every text of the case for its vocabulary
        )
        words = words.strip()
        if not words or connections[self.db].vendor != "postgresql":
            return items.annotate(headline=Value(""))
        query = SearchQuery(words, search_type="websearch", config="english")
        return items.annotate(
            headline=SearchHeadline(
                "rationale",
                query,
                config="english",
                start_sel=MATCH_START,
                stop_sel=MATCH_END,
                max_fragments=2,
                min_words=12,
                max_words=30,
                fragment_delimiter=" … ",
            ),
        )

    def overturned_shares(self, *, limit: int = 12) -> dict[str, list[dict]]:
        """How many of these items were overturned, by category, by guideline the review cited and by the
        reviewer's certified specialty (3 queries), most frequent first: every category (a short catalogue,
        and each item has one, so they add up to the whole), the `limit` most frequent of the others.

        Returns {"category": [{"label", "n", "overturned"}, ...], "guideline": [...], "specialty": [...]}.
        An item citing two guidelines, or decided by a reviewer with two specialties, counts under each.
        """
        items = self.order_by()  # a default or ranking order would join the GROUP BY
        overturned = Q(decision=DisputedItem.Decision.OVERTURNED)
        groups = {
            "category": items.values(label=F("category__name")),
            "guideline": items.filter(citations__role=Citation.Role.REVIEW).values(
                label=F("citations__guideline__citation_name")
            ),
            "specialty": items.filter(case__reviewer__certifications__isnull=False).values(
                label=F("case__reviewer__certifications__specialty__name")
            ),
        }
        shares = {}
        for name, rows in groups.items():
            rows = rows.annotate(
                n=models.Count("pk", distinct=True), overturned=models.Count("pk", distinct=True, filter=overturned)
            ).order_by("-n", "label")
            shares[name] = list(rows if name == "category" else rows[:limit])
        return shares


class DisputedItem(models.Model):
    """One disputed treatment request and, once reviewed, its decision."""

    class Side(models.TextChoices):
        NONE = "", "Not applicable"
        LEFT = "left", "Left"
        RIGHT = "right", "Right"
        BILATERAL = "bilateral", "Bilateral"

    class URAction(models.TextChoices):
        DENIED = "denied", "Denied"
        MODIFIED = "modified", "Modified"
        DELAYED = "delayed", "Delayed"

    class Decision(models.TextChoices):
        UPHELD = "upheld", "Upheld"
        OVERTURNED = "overturned", "Overturned"

    class EligibleScope(models.TextChoices):
        # The two published forms of a modified request's decision sentence (DESIGN.md section 7).
        REMAINING = "remaining", "The remaining portion (the part UR did not authorise)"
        ORIGINAL = "original", "The whole original request"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    request_text = models.TextField(
        max_length=REQUEST_TEXT_MAX, help_text="As written on the request for authorisation."
    )
    category = models.ForeignKey(
        TreatmentCategory, on_delete=models.PROTECT, related_name="items", limit_choices_to={"parent__isnull": True}
    )
    subcategory = models.ForeignKey(
        TreatmentCategory,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sub_items",
        limit_choices_to={"parent__isnull": False},
    )
    body_part = models.CharField(max_length=120, blank=True)
    side = models.CharField(max_length=10, choices=Side.choices, blank=True, default=Side.NONE)
    spinal_level = models.CharField(max_length=40, blank=True, help_text="e.g. L4-5, L5-S1")
    ur_action = models.CharField("UR action", max_length=10, choices=URAction.choices)
    authorized_part = models.TextField(
        blank=True, max_length=REQUEST_TEXT_MAX, help_text="What UR authorised, when it modified the request."
    )
    eligible_scope = models.CharField(
        "IMR-eligible part",
        max_length=10,
        choices=EligibleScope.choices,
        blank=True,
        help_text="For a modified request: which of the two published forms the letter uses.",
    )
    remaining_part = models.TextField(
        "Remaining portion",
        blank=True,
        max_length=REQUEST_TEXT_MAX,
        help_text="The remaining IMR-eligible portion of the original request, which the review decides.",
    )

    decision = models.CharField(max_length=12, choices=Decision.choices, blank=True)
    ca_cited_no_evidence = models.BooleanField("Claims administrator did not cite any medical evidence", default=False)
    review_cited_no_evidence = models.BooleanField("The review cites no medical evidence", default=False)
    internal_note = models.TextField(
        max_length=LONG_TEXT_MAX,
        blank=True,
        help_text="The reviewer's note to quality review; never printed in the letter.",
    )
    rationale = models.TextField("Decision rationale", blank=True, max_length=LONG_TEXT_MAX)
    # Bumped on every save of the panel (decision, guidelines, rationale): stale saves are refused.
    version = models.PositiveIntegerField(default=0, editable=False)
    # A coordinator changed or added the item after the reviewer accepted the case (services/dispute.py):
    # what changed, for the reviewer. The decision, citations and rationale are kept; the reviewer's next
    # save of the panel clears this, and submission waits for it.
    coordinator_change = models.TextField(blank=True, max_length=LONG_TEXT_MAX, editable=False)
    # The precedent search's words: the request and its remaining portion (weight A) and the rationale
    # (weight B), written by a PostgreSQL trigger on every insert or update of those texts, whichever
    # code writes them (services, admin, importer, bulk writes). Migration 0013 adds the trigger and
    # its GIN index on PostgreSQL; on SQLite the column stays empty and the search reads the texts.
    search_vector = SearchVectorField(null=True, editable=False)
    # The decision date of the item's case once the case is issued, else empty: on PostgreSQL the
    # precedent library filters and sorts on it without joining the cases. PostgreSQL triggers
    # (migration 0013) copy it from the case on every write of the item (a stale value an instance
    # carries is never what is stored) and of the case's status or decision date. Empty on SQLite.
    published_on = models.DateField(null=True, editable=False)
    # Termination: the claims administrator authorised this treatment, so it is no longer disputed. A
    # terminated item is out of the review, the submission checks and the letter.
    authorized_on = models.DateField("Authorised by the claims administrator on", null=True, blank=True)
    authorization_reported_by = models.CharField(
        max_length=160, blank=True, help_text="Who reported the authorisation, e.g. the adjuster's name."
    )
    # The step that terminated the item: reopening a terminated case restores the items of its closing step.
    termination_event = models.ForeignKey(
        "CaseEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="terminated_items", editable=False
    )

    objects = DisputedItemQuerySet.as_manager()

    class Meta:
        ordering = ["case", "position"]
        indexes = [
            # The precedent library without words: the newest determinations first.
            models.Index(
                F("published_on").desc(),
                F("id").desc(),
                name="item_published_idx",
                condition=Q(published_on__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["case", "position"], name="item_unique_position"),
            models.CheckConstraint(condition=Q(decision__in=["", "upheld", "overturned"]), name="item_decision_valid"),
            models.CheckConstraint(
                condition=~Q(ur_action="modified") | ~Q(authorized_part=""),
                name="item_modified_states_authorized_part",
            ),
            models.CheckConstraint(
                condition=(Q(ur_action="modified") & ~Q(eligible_scope=""))
                | (~Q(ur_action="modified") & Q(eligible_scope="")),
                name="item_scope_only_when_modified",
            ),
            models.CheckConstraint(
                condition=~Q(eligible_scope="remaining") | ~Q(remaining_part=""),
                name="item_remaining_scope_states_portion",
            ),
            models.CheckConstraint(condition=~Q(request_text=""), name="item_request_text_required"),
            models.CheckConstraint(
                condition=Q(authorized_on__isnull=True, authorization_reported_by="", termination_event__isnull=True)
                | (Q(authorized_on__isnull=False, termination_event__isnull=False) & ~Q(authorization_reported_by="")),
                name="item_termination_complete",
            ),
        ]

    def __str__(self):
        return self.request_text

    @property
    def location(self) -> str:
        """Where on the body: "Lumbar spine · Right · L5-S1", leaving out what is not given."""
        return " · ".join(
            part for part in (self.body_part, self.get_side_display() if self.side else "", self.spinal_level) if part
        )

    @property
    def terminated(self) -> bool:
        return self.authorized_on is not None

    @property
    def decided_request(self) -> str:
        """The request the review decides: the remaining portion of a modified request, else the request."""
        if self.eligible_scope == self.EligibleScope.REMAINING:
            return self.remaining_part
        return self.request_text

    def clean(self):
        errors = {}
        if self.subcategory_id and self.category_id and self.subcategory.parent_id != self.category_id:
            errors["subcategory"] = "Pick a subcategory of the chosen category."
        modified = self.ur_action == self.URAction.MODIFIED
        if modified and not self.authorized_part.strip():
            errors["authorized_part"] = "UR modified this request: say what it authorised."
        elif not modified and self.authorized_part.strip():
            errors["authorized_part"] = "Leave this empty unless UR modified the request."
        if modified and not self.eligible_scope:
            errors["eligible_scope"] = "Say what the review decides: the remaining portion or the original request."
        elif not modified and self.eligible_scope:
            errors["eligible_scope"] = "Only a modified request has a remaining portion."
        if "authorized_part" in errors:
            pass  # the remaining portion is worked out from the authorised part: one error at a time
        elif self.eligible_scope == self.EligibleScope.REMAINING and not self.remaining_part.strip():
            errors["remaining_part"] = "Write the remaining portion of the original request that the review decides."
        elif self.remaining_part.strip() and self.eligible_scope != self.EligibleScope.REMAINING:
            errors["remaining_part"] = "Leave this empty unless the review decides a remaining portion."
        if errors:
            raise ValidationError(errors)


# An item's request and its details: what intake takes and the coordinator may change later (the
# intake form and services/dispute.py); the decision and its reasons are the reviewer's.
ITEM_FIELDS = [
    "request_text",
    "category",
    "subcategory",
    "body_part",
    "side",
    "spinal_level",
    "ur_action",
    "authorized_part",
    "eligible_scope",
    "remaining_part",
]


NUMBER_WORDS = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
]  # fmt: skip
_COUNT = r"(\d+|" + "|".join(NUMBER_WORDS) + r")"
# "2x6 weeks", "2 times a week for 6 weeks": sessions by frequency.
_RATE = rf"\b{_COUNT}\s*(?:x|times a week for|times per week for)\s*{_COUNT}\s+weeks?\b"
_UNIT = r"(sessions?|visits?|treatments?|tablets?|capsules?|patches|units?|weeks?|days?|months?)"


def _count(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS.index(word.lower())


def _requested_count(original: str, unit: str) -> int | None:
    """How many of `unit` the original request asks for: "8 sessions", or a frequency such as "2x6 weeks"."""
    counted = [
        _count(m.group(1))
        for m in re.finditer(rf"\b{_COUNT}\s+{_UNIT}\b", original, flags=re.IGNORECASE)
        if m.group(2).lower().rstrip("s") == unit
    ]
    if counted:
        return counted[-1]
    if unit in ("session", "visit", "treatment") and (m := re.search(_RATE, original, flags=re.IGNORECASE)):
        return _count(m.group(1)) * _count(m.group(2))
    return None


def remaining_part_suggestion(original: str, authorized: str) -> str:
    """The remaining portion of a modified request, when both texts count the same thing.

    "Physical therapy to the low back eight sessions" less "... six sessions" leaves
    "Physical therapy to the low back two sessions": the authorised text with the difference
    in the same style (digits or words). Empty when the counts cannot be read or leave nothing.
    """
    found = list(re.finditer(rf"\b{_COUNT}\s+{_UNIT}\b", authorized, flags=re.IGNORECASE))
    if not found or re.search(_RATE, authorized, flags=re.IGNORECASE):  # two counts: no single one to replace
        return ""
    last = found[-1]
    requested = _requested_count(original, last.group(2).lower().rstrip("s"))
    rest = requested - _count(last.group(1)) if requested is not None else 0
    if rest <= 0:
        return ""
    word = last.group(1)
    count = str(rest) if word.isdigit() or rest >= len(NUMBER_WORDS) else NUMBER_WORDS[rest]
    if word[:1].isupper():
        count = count.capitalize()
    return authorized[: last.start(1)] + count + authorized[last.end(1) :]


def modified_request_parts(
    *, ur_action: str, request_text: str, authorized_part: str, eligible_scope: str, remaining_part: str
) -> tuple[str, str]:
    """(eligible_scope, remaining_part) of an item, completed the way the published letters mostly read.

    A modified request decides its remaining portion unless told otherwise, and the portion is
    worked out from the texts when it was not typed. Anything else is left for the model's rules.
    """
    if ur_action != DisputedItem.URAction.MODIFIED:
        return eligible_scope, remaining_part
    scope = eligible_scope or DisputedItem.EligibleScope.REMAINING
    if scope == DisputedItem.EligibleScope.REMAINING and not remaining_part.strip():
        remaining_part = remaining_part_suggestion(request_text, authorized_part)
    return scope, remaining_part


class Citation(models.Model):
    """A guideline cited for an item, by the claims administrator or by the review."""

    class Role(models.TextChoices):
        CLAIMS_ADMINISTRATOR = "ca", "Claims administrator"
        REVIEW = "review", "Review"

    item = models.ForeignKey(DisputedItem, on_delete=models.CASCADE, related_name="citations")
    role = models.CharField(max_length=8, choices=Role.choices)
    position = models.PositiveSmallIntegerField(default=1)
    guideline = models.ForeignKey(Guideline, on_delete=models.PROTECT, related_name="citations")
    sections = models.CharField(max_length=240, blank=True, help_text="e.g. Physical Medicine")
    pages = models.CharField(max_length=60, blank=True, help_text="e.g. 98, 99")

    class Meta:
        ordering = ["item", "role", "position"]
        constraints = [
            models.UniqueConstraint(fields=["item", "role", "position"], name="citation_unique_position"),
        ]

    def __str__(self):
        parts = [self.guideline.citation_name, self.sections, f"Page(s): {self.pages}" if self.pages else ""]
        return "; ".join(p for p in parts if p)


class CaseDocument(models.Model):
    """A medical record or case paper, stored privately and served only through a checked view."""

    class Kind(models.TextChoices):
        APPLICATION = "application", "Application for IMR"
        UR_LETTER = "ur_letter", "UR letter"
        RFA = "rfa", "Request for authorisation"
        PROGRESS_REPORT = "progress_report", "Progress report"
        SPECIALIST_REPORT = "specialist_report", "Specialist report"
        AME_QME = "ame_qme", "AME/QME report"
        IMAGING = "imaging", "Imaging"
        OPERATIVE_NOTE = "operative_note", "Operative note"
        PRIOR_DETERMINATION = "prior_determination", "Prior determination"
        OTHER = "other", "Other"

    class SubmittedBy(models.TextChoices):
        CLAIMS_ADMINISTRATOR = "ca", "Claims administrator"
        EMPLOYEE = "employee", "Employee or representative"
        PHYSICIAN = "physician", "Physician"
        REVIEW_ORGANIZATION = "iro", "Review organisation"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    author = models.CharField(max_length=160, blank=True, validators=[name_validator])
    service_date = models.DateField("Date of service", null=True, blank=True)
    submitted_by = models.CharField(max_length=10, choices=SubmittedBy.choices)
    received_at = models.DateTimeField()
    file = models.FileField(upload_to="cases/%Y/%m/")
    original_name = models.CharField(max_length=240)
    content_type = models.CharField(max_length=60)
    size = models.PositiveBigIntegerField(default=0)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    first_opened_at = models.DateTimeField(
        null=True, blank=True, help_text="When the assigned reviewer first opened it."
    )

    class Meta:
        ordering = ["case", "service_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(page_count__isnull=True) | Q(page_count__gte=1), name="document_page_count_positive"
            ),
        ]

    def __str__(self):
        when = f" {self.service_date:%m/%d/%Y}" if self.service_date else ""
        return f"{self.get_kind_display()}, {self.author or 'unknown author'}{when}"


class CaseExclusion(models.Model):
    """A reviewer who may no longer review a case: declined it, was found conflicted, or was replaced."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="exclusions")
    reviewer = models.ForeignKey(Reviewer, on_delete=models.CASCADE, related_name="exclusions")
    reason = models.CharField(max_length=240)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "created_at"]
        constraints = [models.UniqueConstraint(fields=["case", "reviewer"], name="exclusion_unique_per_case")]

    def __str__(self):
        return f"{self.reviewer} excluded from {self.case}: {self.reason}"


class CaseEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Case events are append-only.")

    def delete(self):
        raise TypeError("Case events are append-only.")


class CaseEvent(models.Model):
    """Append-only timeline of a case: who moved it from which status to which, and why."""

    # PROTECT: a case with a timeline is never deleted.
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_status = models.CharField(max_length=24, choices=Case.Status.choices, blank=True)
    to_status = models.CharField(max_length=24, choices=Case.Status.choices, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = CaseEventQuerySet.as_manager()

    class Meta:
        ordering = ["case", "created_at", "id"]

    def __str__(self):
        move = f"{self.get_from_status_display() or 'new'} → {self.get_to_status_display()}"
        return f"{self.case}: {move} {self.note}".strip()

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("Case events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Case events are append-only.")

    @classmethod
    def record(cls, case: Case, *, by, note: str = "", from_status: str = "") -> "CaseEvent":
        return cls.objects.create(case=case, actor=by, from_status=from_status, to_status=case.status, note=note)


class LetterQuerySet(models.QuerySet):
    def served(self):
        """The documents served on the parties (the letter and the notices), each leading its rendering."""
        return self.exclude(kind=Letter.Kind.PUBLIC_COPY)

    def rendered_with(self, letter: "Letter"):
        """The rows rendered in one run with `letter`: a letter version with its public copy, a notice alone."""
        return self.filter(case=letter.case_id, version=letter.version, kind__in=letter.rendered_kinds)

    def ready_unserved(self, *, before):
        """Served documents ready since before `before` and not served: no delivery yet, or an e-mail not sent."""
        deliveries = LetterDelivery.objects.filter(letter=models.OuterRef("pk"))
        unsent = deliveries.filter(method=LetterDelivery.Method.EMAIL, served_at__isnull=True)
        return (
            self.served()
            .filter(status=Letter.Status.READY, rendered_at__lt=before)
            .filter(~models.Exists(deliveries) | models.Exists(unsent))
        )

    def needing_attention(self, *, stuck_before, unserved_before):
        """For the dashboard: served documents failed, queued or rendering since before `stuck_before`, or
        ready since before `unserved_before` and not served; oldest first, with their case."""
        deliveries = LetterDelivery.objects.filter(letter=models.OuterRef("pk"))
        unsent = deliveries.filter(method=LetterDelivery.Method.EMAIL, served_at__isnull=True)
        S = Letter.Status
        return (
            self.served()
            .filter(
                Q(status=S.FAILED)
                | Q(status__in=[S.QUEUED, S.RENDERING], status_changed_at__lt=stuck_before)
                | Q(
                    Q(status=S.READY, rendered_at__lt=unserved_before)
                    & (~models.Exists(deliveries) | models.Exists(unsent))
                )
            )
            .select_related("case")
            .order_by("status_changed_at", "pk")
        )


class Letter(models.Model):
    """A rendering of the Final Determination or of a notice to the parties (DESIGN.md sections 4 and 7).

    A ready letter never changes; a correction is a new version. A notice is versioned on its own:
    a case reopened and withdrawn again gets a second withdrawal notice.
    """

    class Kind(models.TextChoices):
        FINAL_DETERMINATION = "final", "Final determination"
        PUBLIC_COPY = "public", "Public copy"
        ASSIGNMENT_NOTICE = "noarfi", "Notice of assignment and request for information"
        INELIGIBILITY = "ineligible", "Ineligibility determination"
        WITHDRAWAL_NOTICE = "withdrawal", "Withdrawal notice"
        TERMINATION_NOTICE = "termination", "Termination notice"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RENDERING = "rendering", "Rendering"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="letters")
    version = models.PositiveSmallIntegerField(default=1)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.FINAL_DETERMINATION)
    layout = models.CharField(max_length=8, default="2016", help_text="Layout version the letter was rendered with.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    html = models.TextField(blank=True)
    text = models.TextField(blank=True)
    pdf = models.FileField(upload_to="letters/", blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    rendered_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(blank=True)
    correction_reason = models.TextField(blank=True)
    # A notice bears the date of the step it reports (the NOARFI: the day it is sent, which starts
    # the records clock), whenever it is rendered; the letter bears the case's decision date.
    dated = models.DateField(null=True, blank=True, help_text="The date a notice bears.")
    created_at = models.DateTimeField(auto_now_add=True)
    # When the status last changed: the sweep re-queues a letter left queued or rendering too long,
    # and Retry accepts such a letter once it is past that deadline.
    status_changed_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = LetterQuerySet.as_manager()

    class Meta:
        ordering = ["case", "-version", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["case", "kind", "version"], name="letter_unique_version"),
            models.CheckConstraint(
                condition=~Q(status="ready") | (~Q(sha256="") & Q(rendered_at__isnull=False)),
                name="letter_ready_has_hash_and_time",
            ),
            models.CheckConstraint(
                condition=Q(version=1) | ~Q(correction_reason=""), name="letter_correction_has_reason"
            ),
        ]

    def __str__(self):
        return f"{self.case} v{self.version} {self.get_kind_display()}"

    @property
    def is_notice(self) -> bool:
        return self.kind not in (self.Kind.FINAL_DETERMINATION, self.Kind.PUBLIC_COPY)

    @property
    def rendered_kinds(self) -> tuple[str, ...]:
        """The kinds rendered in one run with this one (see LetterQuerySet.rendered_with)."""
        return (self.kind,) if self.is_notice else (self.Kind.FINAL_DETERMINATION, self.Kind.PUBLIC_COPY)


class Redaction(models.Model):
    """Quality review's choices for a case's public copy, and their confirmation (reviews.redaction proposes).

    A confirmation holds for the texts and removals it was given (`confirmed_digest`): a change by the
    reviewer or here asks for another before approval. The letter task applies exactly these choices.
    """

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="redaction")
    kept = models.JSONField(default=list, blank=True, help_text="Proposed removals undone: kept in the public copy.")
    added = models.JSONField(default=list, blank=True, help_text="Text removed besides the proposals.")
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_digest = models.CharField(max_length=64, blank=True, help_text="The texts and removals confirmed.")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(confirmed_at__isnull=True, confirmed_by__isnull=True, confirmed_digest="")
                | (Q(confirmed_at__isnull=False, confirmed_by__isnull=False) & ~Q(confirmed_digest="")),
                name="redaction_confirmed_with_who_when_what",
            ),
        ]

    def __str__(self):
        return f"{self.case} public copy"


class LetterDeliveryQuerySet(models.QuerySet):
    def to_mail(self):
        """Postal copies of ready documents not mailed yet, oldest first, with their document and case."""
        return (
            self.filter(method=LetterDelivery.Method.MAIL, served_at__isnull=True, letter__status=Letter.Status.READY)
            .select_related("letter__case")
            .order_by("letter__rendered_at", "pk")
        )


class LetterDelivery(models.Model):
    """One service of a letter on a party: who, how and when."""

    class Method(models.TextChoices):
        EMAIL = "email", "E-mail"
        MAIL = "mail", "Mail"

    letter = models.ForeignKey(Letter, on_delete=models.PROTECT, related_name="deliveries")
    recipient = models.CharField(max_length=200)
    role = models.CharField(max_length=60, help_text="e.g. Employee, Requesting physician, Claims administrator")
    method = models.CharField(max_length=8, choices=Method.choices)
    address = models.TextField(blank=True)
    # E-mailed copies are served when sent; postal ones when the coordinator records the mailing.
    served_at = models.DateTimeField(null=True, blank=True)
    mailed_on = models.DateField(null=True, blank=True, help_text="The date a postal copy was mailed.")

    objects = LetterDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["letter", "id"]
        verbose_name_plural = "letter deliveries"
        constraints = [
            # Two runs of the service (a redelivered message) record each party once.
            models.UniqueConstraint(fields=["letter", "role"], name="letter_delivery_once_per_role"),
            models.CheckConstraint(
                condition=Q(mailed_on__isnull=True) | Q(method="mail", served_at__isnull=False),
                name="letter_delivery_mailed_is_postal_and_served",
            ),
        ]

    def __str__(self):
        return f"{self.recipient} by {self.get_method_display()}"


class CaseNumberSequence(models.Model):
    """Last case number given in a year; locked row by row so concurrent intakes never collide."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_value = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.year}: {self.last_value}"


class DeterminationImport(models.Model):
    """A batch of published determinations uploaded by a coordinator, imported by a Celery task."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    update = models.BooleanField(default=False, help_text="Replace determinations imported before.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    files = models.JSONField(default=list, help_text="Storage names of the uploaded files, in upload order.")
    processed = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    replaced = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # One row per file that was not imported: {"file", "status", "reason"}.
    problems = models.JSONField(default=list)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Import #{self.pk} ({len(self.files)} files, {self.get_status_display().lower()})"

    @property
    def percent(self) -> int:
        return 100 * self.processed // len(self.files) if self.files else 100


class OutboxEntry(models.Model):
    """A task that must run because a transaction committed, written in that same transaction.

    The relay hands it to Celery (its id is the Celery task id) and stamps `sent_at`; the worker
    stamps `done_at` when the task has finished, successfully or with its failure recorded. The
    sweep sends again what stays unsent, or sent and unfinished past a deadline: tasks are safe
    to run twice, so a broker or worker lost at any moment delays work and never loses it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.CharField(max_length=120, help_text="Celery task name, e.g. reviews.tasks.letter_render.")
    args = models.JSONField(default=list, blank=True)
    key = models.CharField(max_length=60, blank=True, help_text='What the task is about, e.g. "letter:12".')
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    sends = models.PositiveSmallIntegerField(default=0, help_text="How many times it was handed to the broker.")
    done_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "outbox entries"
        indexes = [
            # The relay and the sweep read only what is not done: a small part of a growing table.
            models.Index(fields=["created_at"], condition=Q(done_at__isnull=True), name="outbox_pending"),
            models.Index(fields=["key", "task"], name="outbox_key_task"),
        ]

    def __str__(self):
        return f"{self.task.rsplit('.', 1)[-1]} {self.key or self.args}"
