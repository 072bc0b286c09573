"""Quality review: the comments a coordinator sends back to the reviewer."""

from crispy_forms.bootstrap import FieldWithButtons, StrictButton
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Layout
from django import forms


class ReturnForm(forms.Form):
    comments = forms.CharField(
        label="Comments for the reviewer",
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Shown at the top of the reviewer's workspace. Say what to amend, item by item.",
        error_messages={"required": "Write the comments the reviewer should address."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False  # the template's <form> carries the case's action URL


class ApproveForm(forms.Form):
    """Approval cannot be undone, so it is confirmed with a box the server checks (no script needed)."""

    final = forms.BooleanField(
        label="I have read the letter above: approve it as final. This cannot be undone.",
        error_messages={"required": "Tick the box to confirm: an approved determination cannot be changed."},
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )


class RedactionTextForm(forms.Form):
    """A text to remove from the public copy, or to keep in it: typed, or sent by a highlight's button."""

    text = forms.CharField(
        label="Also remove",
        max_length=200,
        help_text="Removed wherever it is written exactly so, capitals included.",
        error_messages={"required": "Type the text to remove."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            FieldWithButtons("text", StrictButton("Remove", type="submit", css_class="btn-outline-primary btn-sm"))
        )
