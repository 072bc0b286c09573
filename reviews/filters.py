"""Filters of the coordinator's case list (status, priority, due window, category, reviewer, organisation, search)
and of the precedent library (words, category, decision, guideline, reviewer specialty, decision dates)."""

import datetime as dt

import django_filters
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Field, Layout, Row
from django import forms
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from . import deadlines
from .models import Case, DisputedItem, Guideline, Organization, Reviewer, Specialty, TreatmentCategory, normalize_name

STATUS_CHOICES = [
    ("all", "All cases"),
    ("closed", "Closed"),
    *Case.Status.choices,
]
DUE_CHOICES = [
    ("overdue", "Overdue"),
    ("today", "Due today"),
    ("soon", f"Due within {deadlines.DUE_SOON_BUSINESS_DAYS} business days"),
    ("week", "Due within 7 days"),
    ("none", "No due date"),
]
SORT_CHOICES = [
    ("due", "Due date, earliest first"),
    ("-due", "Due date, latest first"),
]


class FilterBarForm(forms.Form):
    """A compact bar of filters above a list: labels hidden (aria-labels, placeholders and empty choices name
    the fields), sent by GET to `action_url`."""

    action_url = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("aria-label", field.label or name)
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.form_action = reverse(self.action_url)
        self.helper.form_show_labels = False
        self.helper.form_class = "imr-filter-bar mb-3"


class CaseFilterForm(FilterBarForm):
    """The case list's filter bar: one compact row."""

    action_url = "reviews:case_list"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs["placeholder"] = "Case, claim or employee"
        self.fields["organization"].widget.attrs["placeholder"] = "Employer or CA"
        list_url = self.helper.form_action
        self.helper.layout = Layout(
            Row(
                Column(Field("q", css_class="form-control-sm"), css_class="col-12 col-md-6 col-xl-2"),
                Column(Field("organization", css_class="form-control-sm"), css_class="col-12 col-md-6 col-xl-2"),
                *[
                    Column(Field(name, css_class="form-select-sm"), css_class="col-6 col-md-4 col-xl")
                    for name in ("status", "priority", "due", "category", "reviewer")
                ],
                # The order is chosen from the due-date column heading; filtering keeps it.
                Field("sort", type="hidden"),
                Column(
                    HTML('<button type="submit" class="btn btn-sm btn-primary">Filter</button>'),
                    HTML(f'<a class="btn btn-sm btn-link" href="{list_url}">Clear</a>'),
                    css_class="col-auto text-nowrap",
                ),
                css_class="g-2 align-items-start",
            )
        )


class CaseFilter(django_filters.FilterSet):
    """Open cases, expedited first then by due date, unless the query asks otherwise."""

    q = django_filters.CharFilter(method="search", label="Search", max_length=100)
    status = django_filters.ChoiceFilter(choices=STATUS_CHOICES, method="filter_status", empty_label="Open cases")
    priority = django_filters.ChoiceFilter(choices=Case.Priority.choices, empty_label="Any priority")
    due = django_filters.ChoiceFilter(choices=DUE_CHOICES, method="filter_due", label="Due", empty_label="Any due date")
    category = django_filters.ModelChoiceFilter(
        queryset=TreatmentCategory.objects.filter(parent__isnull=True),
        method="filter_category",
        label="Treatment category",
        empty_label="Any treatment",
    )
    reviewer = django_filters.ModelChoiceFilter(
        queryset=Reviewer.objects.select_related("user"), empty_label="Any reviewer"
    )
    # A name, not a <select>: employers run to thousands, and a select of them is slow to render
    # and to use. Matched on the normalised name, so "ACME, Inc." finds "Acme Inc".
    organization = django_filters.CharFilter(
        method="filter_organization", label="Employer or claims administrator", max_length=100
    )
    sort = django_filters.ChoiceFilter(
        choices=SORT_CHOICES, method="sort_by", label="Sort", empty_label="Expedited first, then due"
    )

    class Meta:
        model = Case
        fields = []
        form = CaseFilterForm

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        if not data.get("status"):
            queryset = queryset.open()
        if not data.get("sort"):
            queryset = queryset.with_due_order()
        return queryset

    def search(self, queryset, name, value):
        # Every word must match one of the fields, so "jane cm26" or "doe jane" both find her case.
        for word in value.split():
            queryset = queryset.filter(
                Q(case_number__icontains=word) | Q(claim_number__icontains=word) | Q(employee_name__icontains=word)
            )
        return queryset

    def filter_status(self, queryset, name, value):
        if value == "all":
            return queryset
        if value == "closed":
            return queryset.filter(status__in=Case.Status.CLOSED)
        return queryset.filter(status=value)

    def filter_due(self, queryset, name, value):
        today = timezone.localdate()
        if value == "overdue":
            return queryset.overdue(today)
        if value == "today":
            return queryset.due_between(today, today)
        if value == "soon":
            return queryset.due_between(today, deadlines.due_soon_until(today))
        if value == "week":
            return queryset.due_between(today, today + dt.timedelta(days=7))
        return queryset.filter(decision_due_date__isnull=True)

    def filter_category(self, queryset, name, value):
        # EXISTS rather than a join: a case with two items in the category is listed once, without DISTINCT.
        return queryset.filter(Exists(DisputedItem.objects.filter(case=OuterRef("pk"), category=value)))

    def filter_organization(self, queryset, name, value):
        folded = normalize_name(value)
        if not folded:
            return queryset
        parties = Organization.objects.filter(
            kind__in=[Organization.Kind.EMPLOYER, Organization.Kind.CLAIMS_ADMINISTRATOR],
            normalized_name__contains=folded,
        ).values("pk")
        return queryset.filter(Q(employer__in=parties) | Q(claims_administrator__in=parties))

    def sort_by(self, queryset, name, value):
        due = F("decision_due_date")
        if value == "-due":
            return queryset.order_by(due.desc(nulls_last=True), "case_number")
        return queryset.order_by(due.asc(nulls_last=True), "case_number")


class PrecedentFilterForm(FilterBarForm):
    """The precedent search: the words on a line of their own, the filters in a compact row below."""

    action_url = "reviews:precedent_search"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs["placeholder"] = 'Words of the request or rationale: tramadol, "epidural steroid"'
        search_url = self.helper.form_action
        self.helper.layout = Layout(
            Row(
                Column(Field("q", css_class="form-control-sm"), css_class="col-12 col-lg-6"),
                *[
                    Column(Field(name, css_class="form-select-sm"), css_class="col-6 col-md-4 col-lg-2")
                    for name in ("category", "subcategory", "decision")
                ],
                css_class="g-2 mb-2",
            ),
            Row(
                *[
                    Column(Field(name, css_class="form-select-sm"), css_class="col-6 col-lg")
                    for name in ("guideline", "specialty")
                ],
                Column(
                    HTML('<span class="small text-body-secondary text-nowrap">Decided</span>'),
                    css_class="col-auto pt-1",
                ),
                Column(Field("decided_from", css_class="form-control-sm"), css_class="col-5 col-md-3 col-lg-auto"),
                Column(HTML('<span class="small text-body-secondary">to</span>'), css_class="col-auto pt-1"),
                Column(Field("decided_to", css_class="form-control-sm"), css_class="col-5 col-md-3 col-lg-auto"),
                Column(
                    HTML('<button type="submit" class="btn btn-sm btn-primary">Search</button>'),
                    HTML(f'<a class="btn btn-sm btn-link" href="{search_url}">Clear</a>'),
                    css_class="col-auto text-nowrap",
                ),
                css_class="g-2 align-items-start",
            ),
        )


class PrecedentFilter(django_filters.FilterSet):
    """Decided items of issued determinations: DisputedItemQuerySet.precedents() with the form's values."""

    q = django_filters.CharFilter(label="Words", max_length=200)
    category = django_filters.ModelChoiceFilter(
        queryset=TreatmentCategory.objects.filter(parent__isnull=True), empty_label="Any category"
    )
    subcategory = django_filters.ModelChoiceFilter(
        queryset=TreatmentCategory.objects.filter(parent__isnull=False).select_related("parent"),
        label="Subcategory or drug class",
        empty_label="Any subcategory",
    )
    decision = django_filters.ChoiceFilter(choices=DisputedItem.Decision.choices, empty_label="Upheld or overturned")
    guideline = django_filters.ModelChoiceFilter(
        queryset=Guideline.objects.all(), label="Guideline cited by the review", empty_label="Any guideline cited"
    )
    specialty = django_filters.ModelChoiceFilter(
        queryset=Specialty.objects.select_related("parent"),
        label="Reviewer specialty",
        empty_label="Any reviewer specialty",
    )
    decided_from = django_filters.DateFilter(
        label="Decided from", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    decided_to = django_filters.DateFilter(
        label="Decided to", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    class Meta:
        model = DisputedItem
        fields = []
        form = PrecedentFilterForm

    def filter_queryset(self, queryset):
        # One call rather than a filter per field: the words decide how the rest is matched and ranked.
        # A value the form refused is left out (the page answers 400 and shows why).
        data = self.form.cleaned_data
        return queryset.precedents(
            words=data.get("q") or "",
            category=data.get("category"),
            subcategory=data.get("subcategory"),
            decision=data.get("decision") or "",
            guideline=data.get("guideline"),
            specialty=data.get("specialty"),
            decided_from=data.get("decided_from"),
            decided_to=data.get("decided_to"),
        )

    @property
    def is_browsing(self) -> bool:
        """Nothing asked for: no words, no filter (and nothing refused)."""
        return self.form.is_valid() and not any(v not in (None, "") for v in self.form.cleaned_data.values())

    @property
    def words(self) -> str:
        self.form.is_valid()  # cleans the form (once); a refused field leaves the others' values
        return (self.form.cleaned_data.get("q") or "").strip()
