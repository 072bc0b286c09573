"""Forms of the coordinator's case page: eligibility, records, assignment."""

from django import forms
from django.utils import timezone

from ..models import Reviewer, TreatmentCategory
from .intake import CatalogueChoiceField, item_catalogue


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs={"class": "form-control form-control-sm", **(attrs or {})}, format="%Y-%m-%d")


class EligibilityForm(forms.Form):
    application_signed = forms.BooleanField(
        required=False, label="Application signed by the employee or representative"
    )
    ur_served_on = forms.DateField(
        widget=DateInput, label="UR decision served on", help_text="The 30 days to apply run from this date."
    )
    ur_letter_attached = forms.BooleanField(required=False, label="UR decision letter attached")
    no_earlier_imr = forms.BooleanField(required=False, label="No earlier IMR on the same treatment for the same claim")
    eligible = forms.TypedChoiceField(
        choices=[("yes", "Eligible"), ("no", "Ineligible: close the case")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        label="Decision",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Required when the case is ineligible, or when you confirm it eligible against the checklist.",
    )

    def clean(self):
        data = super().clean()
        if "eligible" in data and not data["eligible"] and not data.get("reason", "").strip():
            self.add_error("reason", "Give the reason the application is ineligible; it is sent to the parties.")
        return data


class RecordsRequestForm(forms.Form):
    sent_on = forms.DateField(widget=DateInput, initial=timezone.localdate, label="Notice sent on")
    electronic = forms.BooleanField(
        required=False,
        initial=True,
        label="Sent electronically (records due in 12 days instead of 15)",
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )


class RecordsCompleteForm(forms.Form):
    complete_on = forms.DateField(widget=DateInput, initial=timezone.localdate, label="Records complete on")

    def __init__(self, *args, case=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.case = case

    def clean_complete_on(self):
        day = self.cleaned_data["complete_on"]
        if day > timezone.localdate():
            raise forms.ValidationError("Records cannot be complete on a future date.")
        if self.case and day < self.case.application_received_date:
            raise forms.ValidationError("Records cannot be complete before the application was received.")
        return day


class AssignForm(forms.Form):
    reviewer = forms.ModelChoiceField(queryset=Reviewer.objects.filter(active=True), widget=forms.HiddenInput)


class ReassignForm(AssignForm):
    reason = forms.CharField(max_length=200, help_text="Why the case leaves its reviewer (recorded on the case).")


class ItemCategoryForm(forms.Form):
    """A disputed item's treatment category, corrected on the assign page (services.item_category_correct)."""

    category = CatalogueChoiceField(queryset=TreatmentCategory.objects.filter(parent__isnull=True), label="Category")
    subcategory = CatalogueChoiceField(
        queryset=TreatmentCategory.objects.filter(parent__isnull=False), required=False, label="Subcategory"
    )

    def __init__(self, *args, catalogue: dict, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("category", "subcategory"):
            self.fields[name].choices = catalogue[f"{name}_choices"]
            self.fields[name].catalogue = catalogue[name]
            self.fields[name].widget.attrs["class"] = "form-select form-select-sm w-auto"

    @classmethod
    def for_items(cls, case) -> list[tuple]:
        """(item, its form with the item's category) for each item of `case`, the catalogue read once."""
        catalogue, rows = item_catalogue(), []
        for item in case.items.select_related("category", "subcategory__parent"):
            initial = {"category": item.category_id, "subcategory": item.subcategory_id}
            form = cls(catalogue=catalogue, initial=initial, auto_id=f"id_item{item.position}_%s")
            for field in form.fields.values():
                field.widget.attrs["aria-label"] = f"{field.label} of item {item.position}"
            rows.append((item, form))
        return rows
