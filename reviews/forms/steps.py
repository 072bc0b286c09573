"""Forms of the steps beside the main path: withdrawal, termination, expedited conversion, remand, reopening.

They parse; the services (reviews.services.steps) decide, and their refusals come back onto these forms.
"""

from django import forms
from django.utils import timezone

from ..models import Case, DisputedItem, name_validator
from .casework import DateInput


class WithdrawForm(forms.Form):
    requested_by = forms.CharField(
        label="Who asked", max_length=160, validators=[name_validator], help_text="Name as given in the request."
    )
    requester = forms.ChoiceField(label="Relationship to the employee", choices=Case.Requester.choices)
    requested_on = forms.DateField(label="Request dated", widget=DateInput, initial=timezone.localdate)


class TerminateForm(forms.Form):
    items = forms.ModelMultipleChoiceField(
        queryset=DisputedItem.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="Items the claims administrator authorised",
        help_text="Ticking every item still in review terminates the case; otherwise the review goes on with the rest.",
        error_messages={"required": "Tick the items the claims administrator authorised."},
    )
    authorized_on = forms.DateField(label="Authorised on", widget=DateInput, initial=timezone.localdate)
    reported_by = forms.CharField(
        label="Reported by", max_length=160, help_text="Who told us, e.g. the adjuster's name and organisation."
    )

    def __init__(self, *args, case: Case, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["items"].queryset = case.items.in_review()
        self.fields["items"].label_from_instance = lambda item: f"{item.position}. {item.request_text}"


class ExpediteForm(forms.Form):
    certified_on = forms.DateField(label="Certified on", widget=DateInput, initial=timezone.localdate)
    certification = forms.CharField(
        label="Certification",
        max_length=240,
        help_text="The treating physician's certification of an imminent, serious threat to health: "
        "the document on file, or where it is.",
    )


class RemandForm(forms.Form):
    received_on = forms.DateField(label="Remand received on", widget=DateInput, initial=timezone.localdate)
    order = forms.CharField(
        label="Remanded by", max_length=240, help_text="e.g. WCAB order of 11/20/2026, ADJ12345678: new review ordered."
    )


class ReopenForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Recorded on the case's timeline.",
    )
