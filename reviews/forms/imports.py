"""Bulk intake: the upload of a CSV file of cases."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms

# A thousand cases take well under a megabyte; the limit keeps a wrong file (a scan, a video) out.
MAX_IMPORT_BYTES = 5 * 1024 * 1024


class CaseImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="One row per case, UTF-8, comma-separated, column names on the first line. At most 5 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", "Import cases"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1024 / 1024:.1f} MB; a CSV of cases is at most "
                f"{MAX_IMPORT_BYTES / 1024 / 1024:g} MB. Split it."
            )
        return upload
