"""Django admin for the catalogues, reviewers and cases; statuses are read-only, writes go through services."""

from auditlog.mixins import AuditlogHistoryAdminMixin
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import SEARCH_VAR
from django.http import Http404
from django.urls import reverse
from django.utils.html import format_html
from django_fsm import can_proceed

from . import services
from .assignment import problems_for
from .audit import record_access
from .models import (
    Affiliation,
    BoardCertification,
    Case,
    CaseDocument,
    CaseEvent,
    CaseNumberSequence,
    Citation,
    DeterminationImport,
    Diagnosis,
    DisputedItem,
    Guideline,
    Holiday,
    Letter,
    LetterDelivery,
    License,
    Organization,
    OutboxEntry,
    Provider,
    Reviewer,
    Specialty,
    TreatmentCategory,
)
from .pagination import SEARCH_LIMIT, BoundedPaginator
from .permissions import is_coordinator
from .roles import COORDINATOR_PERMISSIONS


class RoleLimitedAdmin:
    """A coordinator may do here only what reviews.roles.COORDINATOR_PERMISSIONS lists, the table the
    Coordinators group's permissions are made from: editing the group by hand grants nothing more.
    Superusers and other staff are left to the other checks and their own permissions."""

    def role_allows(self, request, action: str) -> bool:
        user = request.user
        if user.is_superuser or not is_coordinator(user):
            return True
        return action in COORDINATOR_PERMISSIONS.get(self.model._meta.model_name, ())

    def has_view_permission(self, request, obj=None):
        return self.role_allows(request, "view") and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):  # a ModelAdmin asks with the request, an inline with the parent
        return self.role_allows(request, "add") and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return self.role_allows(request, "change") and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.role_allows(request, "delete") and super().has_delete_permission(request, obj)


class RoleLimitedModelAdmin(RoleLimitedAdmin, admin.ModelAdmin):
    pass


class AuditedAdmin(AuditlogHistoryAdminMixin, RoleLimitedModelAdmin):
    """A model whose every change django-auditlog keeps: its change page links the field-by-field history."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "audited": True})

    def auditlog_history_view(self, request, object_id, extra_context=None):
        # django-auditlog's view renders the history of None (a 500) for an id that does not exist.
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404(f"No {self.model._meta.verbose_name} with the id {object_id!r}.")
        return super().auditlog_history_view(request, object_id, extra_context)


class CaseDataReadsAudited:
    """The change and history pages of a case's records show its data: each view is recorded as a read,
    as the application's own pages record theirs (with the case number, for the case's access history)."""

    @staticmethod
    def case_number_of(obj) -> str:
        if isinstance(obj, Case):
            return obj.case_number
        if isinstance(obj, Citation):
            return obj.item.case.case_number
        if isinstance(obj, LetterDelivery):
            return obj.letter.case.case_number
        return obj.case.case_number

    def record_read(self, request, obj, page: str) -> None:
        details = {} if isinstance(obj, Case) else {"case_number": self.case_number_of(obj)}
        record_access(obj, by=request.user, page=page, **details)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if change and obj is not None:  # the page as first shown, and again with a form's errors
            self.record_read(request, obj, "admin change")
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _recorded_history(self, request, response, page: str):
        obj = getattr(response, "context_data", None) and response.context_data.get("object")
        if obj is not None:
            self.record_read(request, obj, page)
        return response

    def history_view(self, request, object_id, extra_context=None):
        return self._recorded_history(request, super().history_view(request, object_id, extra_context), "admin history")

    def auditlog_history_view(self, request, object_id, extra_context=None):
        response = super().auditlog_history_view(request, object_id, extra_context)
        return self._recorded_history(request, response, "admin change history")


class ReadOnlyAdminMixin:
    """For records written only by the application (events, sequences, deliveries)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class FinalCaseReadOnlyMixin:
    """View-only once the record's case is approved or issued: after approval nothing about the
    determination changes, in any interface (DESIGN.md section 4).

    `case_of` leads from the object Django asks about to its case; for an inline that object is
    the parent (the case, or the item of a citation). `locked_statuses` widens the lock for what
    the reviewer relies on from acceptance.
    """

    locked_statuses = Case.Status.FINAL

    @staticmethod
    def case_of(obj) -> Case:
        return obj if isinstance(obj, Case) else obj.case

    def determination_final(self, obj) -> bool:
        return obj is not None and self.case_of(obj).status in self.locked_statuses

    def has_change_permission(self, request, obj=None):
        return not self.determination_final(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self.determination_final(obj) and super().has_delete_permission(request, obj)


class FinalCaseInlineMixin(FinalCaseReadOnlyMixin):
    """An inline adds no row under a parent whose case is approved or issued."""

    def has_add_permission(self, request, obj=None):
        return not self.determination_final(obj) and super().has_add_permission(request, obj)


class AcceptedCaseLockMixin(FinalCaseReadOnlyMixin):
    """Items, their citations and diagnoses: view-only once the reviewer has accepted the case.

    The reviewer decides on them; changing them under the reviewer is a workflow action with an
    event and a notice, never an admin edit. Superusers included.
    """

    locked_statuses = Case.Status.ACCEPTED_BY_REVIEWER


# The determination is the reviewer's: written in the workspace only, shown read-only here to everyone.
ITEM_DETERMINATION_FIELDS = ["decision", "review_cited_no_evidence", "rationale", "internal_note"]
# Termination is recorded by services.case_terminate with its case event, never by hand.
ITEM_READ_ONLY_FIELDS = [*ITEM_DETERMINATION_FIELDS, "authorized_on", "authorization_reported_by"]


class NotFinalCaseForm(forms.ModelForm):
    """The add page has no object to refuse: refuse to add a record to, or move one into, a case whose
    reviewer has accepted it."""

    @staticmethod
    def case_in(data) -> Case | None:
        return data.get("case")

    def clean(self):
        data = super().clean()
        case = self.case_in(data)
        if case is not None and case.status in Case.Status.ACCEPTED_BY_REVIEWER:
            status = case.get_status_display().lower()
            raise forms.ValidationError(
                f"{case} is {status}: once the reviewer accepts a case, its items and diagnoses change only through"
                " the workflow."
            )
        return data


class CitationForm(NotFinalCaseForm):
    @staticmethod
    def case_in(data) -> Case | None:
        return data["item"].case if data.get("item") else None

    def clean_role(self):
        role = self.cleaned_data["role"]
        if role == Citation.Role.REVIEW:
            raise forms.ValidationError("The review's citations are written by its reviewer, in the workspace.")
        return role


@admin.register(Specialty)
class SpecialtyAdmin(AuditedAdmin):
    list_display = ["name", "parent"]
    list_filter = [("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "parent__name"]
    list_select_related = ["parent"]
    autocomplete_fields = ["parent"]


class LicenseInline(RoleLimitedAdmin, admin.TabularInline):
    model = License
    extra = 0


class BoardCertificationInline(RoleLimitedAdmin, admin.TabularInline):
    model = BoardCertification
    extra = 0
    autocomplete_fields = ["specialty"]


class AffiliationInline(RoleLimitedAdmin, admin.TabularInline):
    model = Affiliation
    extra = 0
    autocomplete_fields = ["organization", "provider"]
    fields = ["kind", "organization", "provider", "employee_name", "employee_birth_date", "note"]


@admin.register(Reviewer)
class ReviewerAdmin(AuditedAdmin):
    list_display = ["__str__", "degree", "practice_start_year", "weekly_hours", "capacity", "active"]
    list_filter = ["active", "degree", "certifications__specialty", "licenses__state"]
    search_fields = ["user__first_name", "user__last_name", "user__username", "user__email", "licenses__number"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    inlines = [LicenseInline, BoardCertificationInline, AffiliationInline]


@admin.register(License)
class LicenseAdmin(AuditedAdmin):
    list_display = ["reviewer", "state", "number", "status", "expires_on"]
    list_filter = ["state", "status"]
    search_fields = ["number", "reviewer__user__last_name"]
    list_select_related = ["reviewer__user"]
    autocomplete_fields = ["reviewer"]


@admin.register(BoardCertification)
class BoardCertificationAdmin(AuditedAdmin):
    list_display = ["reviewer", "specialty", "board", "certified_on", "expires_on"]
    list_filter = ["specialty"]
    search_fields = ["board", "specialty__name", "reviewer__user__last_name"]
    list_select_related = ["reviewer__user", "specialty__parent"]
    autocomplete_fields = ["reviewer", "specialty"]


@admin.register(Organization)
class OrganizationAdmin(AuditedAdmin):
    list_display = ["name", "kind", "email"]
    list_filter = ["kind"]
    search_fields = ["name", "normalized_name"]
    list_select_related = []
    autocomplete_fields = []


@admin.register(Provider)
class ProviderAdmin(AuditedAdmin):
    list_display = ["name", "specialty", "npi", "group"]
    list_filter = [("specialty", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "npi", "group__name"]
    list_select_related = ["specialty__parent", "group"]
    autocomplete_fields = ["specialty", "group"]


@admin.register(Affiliation)
class AffiliationAdmin(AuditedAdmin):
    list_display = ["reviewer", "kind", "organization", "provider", "employee_name", "declared_on"]
    list_filter = ["kind"]
    search_fields = ["reviewer__user__last_name", "organization__name", "provider__name", "employee_name"]
    list_select_related = ["reviewer__user", "organization", "provider"]
    autocomplete_fields = ["reviewer", "organization", "provider"]


@admin.register(TreatmentCategory)
class TreatmentCategoryAdmin(AuditedAdmin):
    list_display = ["name", "parent"]
    list_filter = [("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name"]
    list_select_related = ["parent"]
    autocomplete_fields = ["parent", "accepted_specialties"]


@admin.register(Holiday)
class HolidayAdmin(AuditedAdmin):
    list_display = ["date", "name"]
    list_filter = [("date", admin.DateFieldListFilter)]
    search_fields = ["name"]
    date_hierarchy = "date"
    list_select_related = []
    autocomplete_fields = []


@admin.register(Guideline)
class GuidelineAdmin(AuditedAdmin):
    list_display = ["title", "edition", "source", "citation_name", "active"]
    list_filter = ["source", "active"]
    search_fields = ["title", "citation_name"]
    list_select_related = []
    autocomplete_fields = []


class DiagnosisInline(AcceptedCaseLockMixin, FinalCaseInlineMixin, RoleLimitedAdmin, admin.TabularInline):
    model = Diagnosis
    extra = 0


class DisputedItemInline(AcceptedCaseLockMixin, FinalCaseInlineMixin, RoleLimitedAdmin, admin.StackedInline):
    model = DisputedItem
    extra = 0
    autocomplete_fields = ["category", "subcategory"]
    readonly_fields = ITEM_READ_ONLY_FIELDS
    show_change_link = True


@admin.display(description="File")
def document_link(document: CaseDocument):
    """Through the permission-checked view: files have no public URL."""
    if document.pk is None:
        return "—"
    url = reverse("reviews:document_file", args=[document.case.case_number, document.pk])
    return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, document.original_name)


class CaseDocumentInline(FinalCaseInlineMixin, RoleLimitedAdmin, admin.TabularInline):
    model = CaseDocument
    extra = 0
    fields = ["kind", "author", "service_date", "submitted_by", "received_at", document_link, "page_count"]
    readonly_fields = [document_link, "received_at", "page_count"]

    def has_add_permission(self, request, obj=None):
        return False  # uploads go through the case page, which checks each file's type and size


class CaseEventInline(ReadOnlyAdminMixin, RoleLimitedAdmin, admin.TabularInline):
    model = CaseEvent
    extra = 0
    fields = ["created_at", "actor", "from_status", "to_status", "note"]
    readonly_fields = fields


class CaseAdminForm(forms.ModelForm):
    """Changing the reviewer here runs the rules of assignment, as the assignment page does."""

    reassign_reason = forms.CharField(
        required=False, max_length=200, help_text="Required when the case moves from one reviewer to another."
    )

    class Meta:
        model = Case
        fields = "__all__"  # noqa: DJ007 (the admin's fieldsets choose what is shown)

    def clean(self):
        data = super().clean()
        if "reviewer" not in self.changed_data or self.instance.pk is None:
            return data
        case, reviewer = self.instance, data.get("reviewer")
        original = Case.objects.get(pk=case.pk)
        if reviewer is None:
            raise forms.ValidationError({"reviewer": "To take a case from its reviewer, reassign it to another one."})
        if can_proceed(original.reassign):
            if not data.get("reassign_reason", "").strip():
                self.add_error("reassign_reason", "Give the reason for reassigning.")
        elif not can_proceed(original.assign):
            status = original.get_status_display().lower()
            raise forms.ValidationError({"reviewer": f"A reviewer cannot be assigned to a case that is {status}."})
        if problems := problems_for(original, reviewer):
            self.add_error("reviewer", f"{reviewer} cannot take this case: {'; '.join(problems)}.")
        return data


# The case changelist pages through this many cases at most; a filter or a search finds the rest.
ADMIN_CASE_LIMIT = 10_000


@admin.register(Case)
class CaseAdmin(CaseDataReadsAudited, FinalCaseReadOnlyMixin, AuditedAdmin):
    form = CaseAdminForm
    list_display = [
        "case_number",
        "status",
        "priority",
        "employee_name",
        "claims_administrator",
        "reviewer",
        "decision_due_date",
    ]
    # Every filter's choices come from a catalogue, never from the cases: RelatedOnlyFieldListFilter and
    # date_hierarchy read every case to find the values in use. The date filter's ranges use an index.
    list_filter = [
        "status",
        "priority",
        "items__category",
        "claims_administrator",
        ("application_received_date", admin.DateFieldListFilter),
    ]
    # Searched through the trigram indexes of migration 0014 on PostgreSQL.
    search_fields = ["case_number", "claim_number", "adj_number", "employee_name"]
    list_select_related = ["claims_administrator", "reviewer__user"]
    # Counting a million cases twice per page (the filtered count and the total) would be most of its cost:
    # no total, and a bounded count of the filtered cases (get_paginator).
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per filter choice reads every case
    list_per_page = 50  # rendering is most of the page's cost: 100 rows took twice as long
    autocomplete_fields = [
        "employer",
        "claims_administrator",
        "ur_organization",
        "requesting_provider",
        "employee_attorney",
        "reviewer",
        "remand_of",
    ]
    # Dates and the closing reason are set by the workflow's services, never by hand; the summary
    # is the reviewer's, written in the workspace.
    readonly_fields = [
        "clinical_case_summary",
        "case_number",
        "status",
        "date_assigned",
        "records_due_date",
        "records_complete_date",
        "decision_due_date",
        "decision_date",
        "closed_reason",
        "withdrawal_requested_by",
        "withdrawal_requester",
        "withdrawal_requested_on",
        "expedited_certified_on",
        "expedited_certification",
        "created_at",
        "updated_at",
    ]
    inlines = [DiagnosisInline, DisputedItemInline, CaseDocumentInline, CaseEventInline]
    fieldsets = [
        (None, {"fields": ["case_number", "status", "priority", "remand_of"]}),
        (
            "Employee",
            {
                "fields": [
                    "employee_name",
                    "employee_birth_date",
                    "employee_sex",
                    "claim_number",
                    "adj_number",
                    "date_of_injury",
                ]
            },
        ),
        (
            "Parties",
            {
                "fields": [
                    "employer",
                    "claims_administrator",
                    "ur_organization",
                    "requesting_provider",
                    "employee_attorney",
                ]
            },
        ),
        (
            "Dates",
            {
                "fields": [
                    "ur_decision_date",
                    "application_received_date",
                    "date_assigned",
                    "records_due_date",
                    "records_complete_date",
                    "decision_due_date",
                    "decision_date",
                ]
            },
        ),
        ("Review", {"fields": ["reviewer", "reassign_reason", "clinical_case_summary", "closed_reason"]}),
        (
            "Steps beside the main path",
            {
                "fields": [
                    "withdrawal_requested_by",
                    "withdrawal_requester",
                    "withdrawal_requested_on",
                    "expedited_certified_on",
                    "expedited_certification",
                ],
                "classes": ["collapse"],
            },
        ),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        # The list says "more than" past the limit (templates/admin/reviews/case/pagination.html).
        limit = SEARCH_LIMIT if request.GET.get(SEARCH_VAR) else ADMIN_CASE_LIMIT
        return BoundedPaginator(queryset, per_page, limit=limit, orphans=orphans)

    def save_model(self, request, obj, form, change):
        if not change:
            services.case_register(case=obj, by=request.user)
            return
        if "reviewer" not in form.changed_data:
            super().save_model(request, obj, form, change)
            return
        reviewer = obj.reviewer
        obj.reviewer = Case.objects.get(pk=obj.pk).reviewer  # the service below makes the change
        super().save_model(request, obj, form, change)
        try:
            if obj.reviewer is None:
                services.case_assign_reviewer(case=obj, reviewer=reviewer, by=request.user)
            else:
                reason = form.cleaned_data["reassign_reason"]
                services.case_reassign_reviewer(case=obj, reviewer=reviewer, by=request.user, reason=reason)
        except services.Refused as refused:
            # Checked in the form a moment ago; only a concurrent change gets here.
            self.message_user(request, f"The reviewer was not changed: {refused}", messages.ERROR)


@admin.register(Diagnosis)
class DiagnosisAdmin(CaseDataReadsAudited, AcceptedCaseLockMixin, AuditedAdmin):
    form = NotFinalCaseForm
    list_display = ["case", "position", "icd10_code", "description"]
    list_filter = []
    search_fields = ["case__case_number", "icd10_code", "description"]
    list_select_related = ["case"]
    autocomplete_fields = ["case"]


class CitationInline(ReadOnlyAdminMixin, RoleLimitedAdmin, admin.TabularInline):
    """Shown for reading: the claims administrator's are corrected on their own page, the review's never here."""

    model = Citation
    extra = 0
    fields = readonly_fields = ["role", "position", "guideline", "sections", "pages"]


@admin.register(DisputedItem)
class DisputedItemAdmin(CaseDataReadsAudited, AcceptedCaseLockMixin, AuditedAdmin):
    form = NotFinalCaseForm
    readonly_fields = ITEM_READ_ONLY_FIELDS
    list_display = ["case", "position", "request_text", "category", "ur_action", "decision"]
    list_filter = ["decision", "ur_action", "category"]
    search_fields = ["case__case_number", "request_text"]
    list_select_related = ["case", "category"]
    autocomplete_fields = ["case", "category", "subcategory"]
    inlines = [CitationInline]


@admin.register(Citation)
class CitationAdmin(CaseDataReadsAudited, AcceptedCaseLockMixin, AuditedAdmin):
    form = CitationForm
    list_display = ["item", "role", "guideline", "sections", "pages"]
    list_filter = ["role", "guideline__source"]
    search_fields = ["item__case__case_number", "guideline__title", "sections"]
    list_select_related = ["item", "guideline"]
    autocomplete_fields = ["item", "guideline"]

    @staticmethod
    def case_of(citation) -> Case:
        return citation.item.case

    def determination_final(self, obj) -> bool:
        # The review's citations are the reviewer's: never changed or deleted here.
        return super().determination_final(obj) or (obj is not None and obj.role == Citation.Role.REVIEW)


@admin.register(CaseDocument)
class CaseDocumentAdmin(CaseDataReadsAudited, FinalCaseReadOnlyMixin, AuditedAdmin):
    # The letter lists the documents relied on: none joins or leaves a final case.
    form = NotFinalCaseForm
    list_display = ["case", "kind", "author", "service_date", "submitted_by", "page_count", "first_opened_at"]
    list_filter = ["kind", "submitted_by"]
    search_fields = ["case__case_number", "author", "original_name"]
    list_select_related = ["case"]
    autocomplete_fields = ["case"]
    exclude = ["file"]
    readonly_fields = [document_link, "original_name", "page_count", "first_opened_at", "size", "content_type"]

    def has_add_permission(self, request):
        return False  # uploads go through the case page, which checks each file's type and size


@admin.register(CaseEvent)
class CaseEventAdmin(CaseDataReadsAudited, ReadOnlyAdminMixin, RoleLimitedModelAdmin):
    list_display = ["created_at", "case", "actor", "from_status", "to_status", "note"]
    list_filter = ["to_status"]
    search_fields = ["case__case_number", "note"]
    list_select_related = ["case", "actor"]
    autocomplete_fields = []


class LetterDeliveryInline(ReadOnlyAdminMixin, RoleLimitedAdmin, admin.TabularInline):
    model = LetterDelivery
    extra = 0


@admin.register(Letter)
class LetterAdmin(CaseDataReadsAudited, ReadOnlyAdminMixin, AuditedAdmin):
    """Letters are made, retried and corrected by the application (the case page), never by hand."""

    list_display = ["case", "version", "kind", "dated", "layout", "status", "rendered_at"]
    list_filter = ["status", "kind", "layout"]
    search_fields = ["case__case_number", "sha256"]
    list_select_related = ["case"]
    autocomplete_fields = []
    exclude = ["pdf", "html"]
    readonly_fields = ["pdf_link"]
    inlines = [LetterDeliveryInline]

    @admin.display(description="PDF")
    def pdf_link(self, letter):
        if letter.status != Letter.Status.READY:
            return "—"
        url = reverse("reviews:letter_download", args=[letter.case.case_number, letter.version, letter.kind, "pdf"])
        return format_html('<a href="{}">{}</a>', url, letter.pdf.name.rsplit("/", 1)[-1])


@admin.register(LetterDelivery)
class LetterDeliveryAdmin(CaseDataReadsAudited, ReadOnlyAdminMixin, RoleLimitedModelAdmin):
    list_display = ["letter", "recipient", "role", "method", "served_at", "mailed_on"]
    list_filter = ["method", "letter__kind"]
    search_fields = ["letter__case__case_number", "recipient"]
    list_select_related = ["letter__case"]
    autocomplete_fields = []


@admin.register(CaseNumberSequence)
class CaseNumberSequenceAdmin(ReadOnlyAdminMixin, RoleLimitedModelAdmin):
    list_display = ["year", "last_value"]
    list_filter = []
    search_fields = ["year"]
    list_select_related = []
    autocomplete_fields = []


@admin.register(DeterminationImport)
class DeterminationImportAdmin(ReadOnlyAdminMixin, RoleLimitedModelAdmin):
    list_display = ["id", "created_by", "created_at", "status", "processed", "imported", "skipped", "failed"]
    list_filter = ["status"]
    search_fields = ["created_by__username"]
    list_select_related = ["created_by"]


@admin.register(OutboxEntry)
class OutboxEntryAdmin(ReadOnlyAdminMixin, RoleLimitedModelAdmin):
    """Work queued after a commit (services/outbox.py): read-only, the relay and the sweep act on it."""

    list_display = ["task", "key", "created_at", "sent_at", "sends", "done_at", "last_error"]
    list_filter = ["task", ("done_at", admin.EmptyFieldListFilter)]
    search_fields = ["key"]
    list_select_related = []
    autocomplete_fields = []
