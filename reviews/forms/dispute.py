"""The coordinator's changes to a case's disputed items and diagnoses (services/dispute.py): each with its reason."""

from django import forms

from .intake import DiagnosisForm, DisputedItemForm

REASON_HELP = "Recorded in the case timeline and shown to the reviewer."


def _reason_field(label: str = "Reason for the change") -> forms.CharField:
    return forms.CharField(
        label=label, max_length=1000, help_text=REASON_HELP, widget=forms.Textarea(attrs={"rows": 2})
    )


class ItemChangeForm(DisputedItemForm):
    """An item's request and details as at intake, without the claims administrator's guideline (the
    reviewer records and corrects that in the workspace)."""

    reason = _reason_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in [n for n in self.fields if n.startswith("ca_")]:
            del self.fields[name]

    def item_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields}


class DiagnosisChangeForm(DiagnosisForm):
    reason = _reason_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper.form_show_labels = True  # one diagnosis, not the intake's rows under column headings


class RemovalForm(forms.Form):
    prefix = "remove"  # on the same page as a change form and its own reason field
    reason = _reason_field("Reason for removing it")
