"""Intake: the new case with its parties, its diagnoses and its disputed items.

The intake page and the CSV importer both validate and save through CaseIntake, so the two
refuse the same things with the same messages.
"""

import re

from crispy_forms.bootstrap import InlineRadios
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Fieldset, Layout
from django import forms
from django.core.exceptions import ValidationError
from django.forms import all_valid
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property

from .. import services
from ..models import (
    CASE_NUMBER_RE,
    ITEM_FIELDS,
    Case,
    Citation,
    Diagnosis,
    DisputedItem,
    Guideline,
    Organization,
    TreatmentCategory,
    icd10_validator,
    modified_request_parts,
    normalize_name,
    npi_validator,
)
from ..services.errors import Refused
from ..services.parties import provider_key, provider_match

DATE_WIDGET = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
# The browser's date picker sends YYYY-MM-DD; California forms and spreadsheets write MM/DD/YYYY.
# Always four digits for the year: "3/4/24" could be 1924.
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%m/%d/%Y"]
DATE_FIELDS = ["employee_birth_date", "date_of_injury", "ur_decision_date", "application_received_date"]

# (form field, Case field, organisation kind, what the page calls a new one) for each organisation of the case.
ORGANIZATION_PARTIES = [
    ("employer_name", "employer", Organization.Kind.EMPLOYER, "employer"),
    (
        "claims_administrator_name",
        "claims_administrator",
        Organization.Kind.CLAIMS_ADMINISTRATOR,
        "claims administrator",
    ),
    ("ur_organization_name", "ur_organization", Organization.Kind.UR_ORGANIZATION, "UR organisation"),
    ("employee_attorney_name", "employee_attorney", Organization.Kind.LAW_FIRM, "law firm"),
]


def _helper(layout: Layout, *, show_labels: bool = True) -> FormHelper:
    # The page has one <form> around the case form and both formsets, so no tag and no token here.
    helper = FormHelper()
    helper.form_tag = False
    helper.disable_csrf = True
    helper.form_show_labels = show_labels
    helper.layout = layout
    return helper


def _col(css_class: str, *fields) -> Div:
    return Div(*fields, css_class=css_class)


class CaseIntakeForm(forms.ModelForm):
    """The case itself and the names of its parties; a party not on file is added when the case is saved."""

    employer_name = forms.CharField(label="Employer", max_length=200)
    claims_administrator_name = forms.CharField(label="Claims administrator", max_length=200)
    ur_organization_name = forms.CharField(label="UR organisation", max_length=200, required=False)
    provider_name = forms.CharField(label="Requesting provider", max_length=160)
    provider_npi = forms.CharField(
        label="NPI", max_length=10, required=False, validators=[npi_validator], help_text="Ten digits, if known."
    )
    employee_attorney_name = forms.CharField(label="Employee's attorney or law firm", max_length=200, required=False)
    confirm_duplicate = forms.BooleanField(
        label="Create it anyway: this is a second dispute of the same claim and date",
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    remand_of = forms.CharField(
        label="Remand of case",
        max_length=12,
        required=False,
        help_text="The earlier case this one re-reviews, e.g. CM25-0001234; its reviewer is excluded.",
    )

    class Meta:
        model = Case
        fields = [
            "priority",
            "employee_name",
            "employee_birth_date",
            "employee_sex",
            "claim_number",
            "adj_number",
            "date_of_injury",
            "ur_decision_date",
            "application_received_date",
            "remand_of",
        ]
        widgets = {
            "priority": forms.RadioSelect,
            "employee_birth_date": DATE_WIDGET,
            "date_of_injury": DATE_WIDGET,
            "ur_decision_date": DATE_WIDGET,
            "application_received_date": DATE_WIDGET,
        }
        labels = {
            "employee_name": "Employee name",
            "employee_birth_date": "Birth date",
            "employee_sex": "Sex",
            "application_received_date": "Application received",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["priority"].choices = Case.Priority.choices  # no blank radio
        for name in DATE_FIELDS:
            self.fields[name].input_formats = DATE_INPUT_FORMATS
            self.fields[name].error_messages["invalid"] = "Enter a date as MM/DD/YYYY or YYYY-MM-DD."
        search = reverse("reviews:organization_search")
        for name, _, kind, label in ORGANIZATION_PARTIES:
            self.fields[name].widget.attrs.update(
                {"autocomplete": "off", "data-autocomplete-url": f"{search}?kind={kind}", "data-party-label": label}
            )
        self.fields["provider_name"].widget.attrs.update(
            {
                "autocomplete": "off",
                "data-autocomplete-url": reverse("reviews:provider_search"),
                "data-party-label": "provider",
                "data-npi-input": "id_provider_npi",
            }
        )
        self.fields["provider_npi"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "off"})
        self.helper = _helper(
            Layout(
                Div(
                    _col(
                        "col-lg-6",
                        Fieldset(
                            "Employee and claim",
                            Div(
                                _col("col-md-8", InlineRadios("priority")),
                                _col("col-md-4", "employee_sex"),
                                css_class="row",
                            ),
                            Div(
                                _col("col-md-8", "employee_name"),
                                _col("col-md-4", "employee_birth_date"),
                                css_class="row",
                            ),
                            Div(_col("col-md-6", "claim_number"), _col("col-md-6", "adj_number"), css_class="row"),
                            Div(
                                _col("col-md-4", "date_of_injury"),
                                _col("col-md-4", "ur_decision_date"),
                                _col("col-md-4", "application_received_date"),
                                css_class="row",
                            ),
                            "remand_of",
                        ),
                    ),
                    _col(
                        "col-lg-6",
                        Fieldset(
                            "Parties",
                            HTML(
                                '<p class="small text-body-secondary mb-2">Type a few letters and pick a name on file;'
                                " a name not on file is added when you save.</p>"
                            ),
                            Div(
                                _col("col-md-6", "employer_name"),
                                _col("col-md-6", "claims_administrator_name"),
                                css_class="row",
                            ),
                            Div(_col("col-md-8", "provider_name"), _col("col-md-4", "provider_npi"), css_class="row"),
                            Div(
                                _col("col-md-6", "ur_organization_name"),
                                _col("col-md-6", "employee_attorney_name"),
                                css_class="row",
                            ),
                        ),
                    ),
                    css_class="row g-4",
                )
            )
        )

    def clean_remand_of(self) -> Case | None:
        number = self.cleaned_data["remand_of"].strip().upper()
        if not number:
            return None
        if not re.fullmatch(CASE_NUMBER_RE, number):
            raise ValidationError("Enter a case number such as CM25-0001234.")
        case = Case.objects.filter(case_number=number).first()
        if case is None:
            raise ValidationError(f"No case has the number {number}.")
        return case

    def _clean_party_name(self, field: str) -> str:
        name = " ".join(self.cleaned_data.get(field, "").split())
        if name and not normalize_name(name):
            raise ValidationError("Enter a name with at least one letter or digit.")
        return name

    def clean_employer_name(self):
        return self._clean_party_name("employer_name")

    def clean_claims_administrator_name(self):
        return self._clean_party_name("claims_administrator_name")

    def clean_ur_organization_name(self):
        return self._clean_party_name("ur_organization_name")

    def clean_employee_attorney_name(self):
        return self._clean_party_name("employee_attorney_name")

    def clean_provider_name(self):
        name = self._clean_party_name("provider_name")
        if name and not provider_key(name):
            raise ValidationError("Enter the physician by name, not only a title or a degree.")
        return name

    def clean(self):
        cleaned = super().clean()
        birth, injury = cleaned.get("employee_birth_date"), cleaned.get("date_of_injury")
        if birth and injury and birth >= injury:
            self.add_error("employee_birth_date", "The birth date must be before the date of injury.")
        received = cleaned.get("application_received_date")
        if received and received > timezone.localdate():
            self.add_error("application_received_date", "The application cannot be received in the future.")
        name, npi = cleaned.get("provider_name"), cleaned.get("provider_npi", "")
        if name and "provider_npi" not in self.errors:
            # Read-only here; the same match runs again in the service, inside the transaction.
            try:
                provider_match(name=name, npi=npi)
            except ValidationError as error:
                for field, messages in error.message_dict.items():
                    self.add_error("provider_npi" if field == "npi" else "provider_name", messages)
        return cleaned

    def case_fields(self) -> dict:
        """The Case fields of services.case_create, without the parties."""
        return {name: self.cleaned_data[name] for name in self._meta.fields}

    def organization_names(self) -> dict[str, tuple[str, str]]:
        """{Case field: (organisation kind, name)} for each organisation named on the form."""
        return {
            case_field: (kind, self.cleaned_data[field])
            for field, case_field, kind, _ in ORGANIZATION_PARTIES
            if self.cleaned_data.get(field)
        }


class ICD10Field(forms.CharField):
    """An ICD-10 code as coders type it: any case, spaces, with or without the dot ("m5126" is M51.26)."""

    def to_python(self, value):
        code = "".join(super().to_python(value).split()).upper()
        if len(code) > 3 and "." not in code:
            code = f"{code[:3]}.{code[3:]}"
        return code


class DiagnosisForm(forms.ModelForm):
    """One diagnosis: an ICD-10 code and its text."""

    icd10_code = ICD10Field(label="ICD-10 code", max_length=8, validators=[icd10_validator])

    class Meta:
        model = Diagnosis
        fields = ["icd10_code", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The column headings above the rows name the fields; screen readers get them here.
        self.fields["icd10_code"].widget.attrs["aria-label"] = "ICD-10 code"
        self.fields["description"].widget.attrs["aria-label"] = "Description"
        self.helper = _helper(
            Layout(Div(_col("col-md-3", "icd10_code"), _col("col-md-9", "description"), css_class="row g-2")),
            show_labels=False,
        )


class DiagnosisFormSet(forms.BaseFormSet):
    """The diagnoses in the order entered; blank rows are ignored, and at least one is required."""

    def clean(self):
        if any(self.errors):
            return
        if not any(form.has_changed() for form in self.forms):
            raise ValidationError("Add at least one diagnosis.", code="no_diagnoses")
        seen = set()
        for form in self.forms:
            code = form.cleaned_data.get("icd10_code")
            if not code:
                continue
            if code in seen:
                form.add_error("icd10_code", f"{code} is already listed above.")
            seen.add(code)

    def rows(self) -> list[dict]:
        """The diagnoses for services.case_create, in the order entered."""
        return [
            {"icd10_code": form.cleaned_data["icd10_code"], "description": form.cleaned_data["description"]}
            for form in self.forms
            if form.has_changed()
        ]


# Citation rows of the claims administrator's guideline per item; the published letters cite up to four.
CA_CITATION_ROWS = 4


class CatalogueChoiceField(forms.ModelChoiceField):
    """A treatment category picked from the catalogue the formset read once: no query per row."""

    catalogue: dict[int, TreatmentCategory] | None = None

    def to_python(self, value):
        if self.catalogue is None or value in self.empty_values:
            return super().to_python(value)
        try:
            return self.catalogue[int(value)]
        except (KeyError, ValueError, TypeError):
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value}
            ) from None


class DisputedItemForm(forms.ModelForm):
    """One disputed treatment request as the request for authorisation words it, and what UR did with it.

    A modified request names the part UR authorised and what the review decides: by default the
    remaining portion, worked out from the two texts when they count the same unit ("8 sessions"
    less "6 sessions"), else typed. The claims administrator's guideline comes from the UR decision.
    """

    ca_cited_no_evidence = forms.BooleanField(
        label="The claims administrator did not cite any medical evidence",
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    class Meta:
        model = DisputedItem
        fields = ITEM_FIELDS
        field_classes = {"category": CatalogueChoiceField, "subcategory": CatalogueChoiceField}
        widgets = {
            "request_text": forms.Textarea(attrs={"rows": 2}),
            "authorized_part": forms.TextInput,
            "remaining_part": forms.TextInput,
        }
        labels = {
            "request_text": "Request",
            "authorized_part": "Authorised part",
            "eligible_scope": "The review decides",
            "remaining_part": "Remaining portion",
        }
        help_texts = {
            "request_text": "As written on the request for authorisation.",
            "authorized_part": "What UR authorised; required when it modified the request.",
            "eligible_scope": "For a modified request; the remaining portion unless the UR letter says otherwise.",
            "remaining_part": "Left empty, it is worked out from the request and the authorised part.",
        }

    def __init__(self, *args, catalogue: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # Choices read once for the whole formset, or a whole file (each form would otherwise query them again).
        catalogue = catalogue or item_catalogue()
        for name in ("category", "subcategory"):
            self.fields[name].choices = catalogue[f"{name}_choices"]
            self.fields[name].catalogue = catalogue[name]
        self.fields["eligible_scope"].choices = [("", "—"), *DisputedItem.EligibleScope.choices]
        self.guidelines = catalogue["guidelines"]
        guideline_choices = [("", "—")] + [(g.pk, g.citation_name) for g in self.guidelines.values()]
        # The citation rows are laid out by the template (_intake_item.html): a grid under column headings.
        for n in range(1, CA_CITATION_ROWS + 1):
            self.fields[f"ca_guideline_{n}"] = forms.ChoiceField(
                label=f"Citation {n}", choices=guideline_choices, required=False
            )
            self.fields[f"ca_sections_{n}"] = forms.CharField(
                label="Section(s)", required=False, max_length=Citation._meta.get_field("sections").max_length
            )
            self.fields[f"ca_pages_{n}"] = forms.CharField(
                label="Page(s)", required=False, max_length=Citation._meta.get_field("pages").max_length
            )
            for name, css in (("guideline", "form-select"), ("sections", "form-control"), ("pages", "form-control")):
                attrs = self.fields[f"ca_{name}_{n}"].widget.attrs
                attrs["aria-label"] = f"Claims administrator's citation {n}, {name}"
                attrs["class"] = f"{css} form-select-sm form-control-sm"
        self.helper = _helper(
            Layout(
                "request_text",
                Div(
                    _col("col-md-3", "category"),
                    _col("col-md-3", "subcategory"),
                    _col("col-md-2", "body_part"),
                    _col("col-md-2", "side"),
                    _col("col-md-2", "spinal_level"),
                    css_class="row g-2",
                ),
                Div(
                    _col("col-md-2", "ur_action"),
                    _col("col-md-4", "authorized_part"),
                    _col("col-md-2", "eligible_scope"),
                    _col("col-md-4", "remaining_part"),
                    css_class="row g-2",
                ),
            )
        )

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        if self.cleaned_data.get("ur_action") == DisputedItem.URAction.MODIFIED and not self.cleaned_data.get(
            "authorized_part"
        ):
            # The remaining portion is worked out from the authorised part: the model says to give that,
            # and its remaining-portion constraint would only repeat it, in a database's words.
            exclude.add("remaining_part")
        return exclude

    def ca_citation_rows(self) -> list[tuple]:
        """(guideline, sections, pages) bound fields per citation row, for the template."""
        return [
            (self[f"ca_guideline_{n}"], self[f"ca_sections_{n}"], self[f"ca_pages_{n}"])
            for n in range(1, CA_CITATION_ROWS + 1)
        ]

    def clean(self):
        cleaned = super().clean()
        # The remaining portion is derived here so that the model's rules, run next, see it.
        cleaned["eligible_scope"], cleaned["remaining_part"] = modified_request_parts(
            ur_action=cleaned.get("ur_action", ""),
            request_text=cleaned.get("request_text", ""),
            authorized_part=cleaned.get("authorized_part", ""),
            eligible_scope=cleaned.get("eligible_scope", ""),
            remaining_part=cleaned.get("remaining_part", ""),
        )
        citations = []
        for n in range(1, CA_CITATION_ROWS + 1):
            guideline_id = cleaned.get(f"ca_guideline_{n}", "")
            sections, pages = cleaned.get(f"ca_sections_{n}", ""), cleaned.get(f"ca_pages_{n}", "")
            if not guideline_id:
                if sections or pages:
                    self.add_error(f"ca_guideline_{n}", "Choose the guideline these sections or pages belong to.")
                continue
            citations.append(
                services.CitationInput(guideline=self.guidelines[int(guideline_id)], sections=sections, pages=pages)
            )
        if citations and cleaned.get("ca_cited_no_evidence"):
            self.add_error("ca_cited_no_evidence", "Untick this, or clear the citations: the UR letter says one.")
        cleaned["ca_citations"] = citations
        # A subcategory of another category is refused by DisputedItem.clean(), which the model
        # form runs next, with its message on the subcategory field.
        return cleaned

    def item_data(self) -> dict:
        """The item for services.case_create: its fields and the claims administrator's guideline."""
        data = {name: self.cleaned_data[name] for name in ITEM_FIELDS}
        data["ca_cited_no_evidence"] = self.cleaned_data["ca_cited_no_evidence"]
        data["ca_citations"] = self.cleaned_data["ca_citations"]
        return data


def item_catalogue() -> dict:
    """What every item form picks from: the treatment categories and the active guidelines (2 queries)."""
    categories = list(TreatmentCategory.objects.order_by("name"))
    top = [c for c in categories if c.parent_id is None]
    grouped = [(c.name, [(sub.pk, sub.name) for sub in categories if sub.parent_id == c.pk]) for c in top]
    return {
        "category": {c.pk: c for c in top},
        "subcategory": {c.pk: c for c in categories if c.parent_id is not None},
        "category_choices": [("", "---------")] + [(c.pk, c.name) for c in top],
        "subcategory_choices": [("", "None")] + [group for group in grouped if group[1]],
        "guidelines": {g.pk: g for g in Guideline.objects.filter(active=True).order_by("source", "citation_name")},
    }


class DisputedItemFormSet(forms.BaseFormSet):
    """The disputed items in the order entered; blank rows are ignored, and at least one is required."""

    def __init__(self, *args, catalogue: dict | None = None, **kwargs):
        self.catalogue = catalogue
        super().__init__(*args, **kwargs)

    @cached_property
    def _catalogue(self) -> dict:
        return self.catalogue or item_catalogue()

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "catalogue": self._catalogue}

    def clean(self):
        if any(self.errors):
            return
        if not any(form.has_changed() for form in self.forms):
            raise ValidationError("Add at least one disputed item.", code="no_items")

    def rows(self) -> list[dict]:
        """The items for services.case_create, in the order entered."""
        return [form.item_data() for form in self.forms if form.has_changed()]


DiagnosisFormSetFactory = forms.formset_factory(DiagnosisForm, formset=DiagnosisFormSet, extra=2, max_num=50)
DisputedItemFormSetFactory = forms.formset_factory(DisputedItemForm, formset=DisputedItemFormSet, extra=1, max_num=50)


class CaseIntake:
    """The intake forms together (the case and its parties, the diagnoses, the items), saved by one service.

    The page binds it to its POST; the CSV importer binds it to each row translated into the same
    fields, so both refuse the same things with the same messages.
    """

    def __init__(self, data=None, *, catalogue: dict | None = None):
        self.form = CaseIntakeForm(data)
        self.diagnoses = DiagnosisFormSetFactory(data, prefix="diagnoses")
        self.items = DisputedItemFormSetFactory(data, prefix="items", catalogue=catalogue)
        self.duplicate: Refused | None = None  # an open case holds this dispute: the page asks to confirm

    def is_valid(self) -> bool:
        return all_valid([self.form, self.diagnoses, self.items])

    def save(self, *, by) -> Case | None:
        """The new case; or None, with every problem on its form, when a form or the intake service refuses.

        Nothing is written unless the case is created.
        """
        if not self.is_valid():
            return None
        form = self.form
        try:
            return services.case_intake(
                by=by,
                organizations=form.organization_names(),
                provider_name=form.cleaned_data["provider_name"],
                provider_npi=form.cleaned_data["provider_npi"],
                diagnoses=self.diagnoses.rows(),
                items=self.items.rows(),
                confirm_duplicate=form.cleaned_data["confirm_duplicate"],
                **form.case_fields(),
            )
        except Refused as refusal:
            if refusal.code == "duplicate_dispute":
                self.duplicate = refusal
            refusal.add_to_form(form)
        except ValidationError as error:
            # A rule the forms checked already, broken by a change made meanwhile (a race): shown in place.
            for field, messages in getattr(error, "message_dict", {None: error.messages}).items():
                form.add_error(field if field in form.fields else None, messages)
        return None
