"""Bulk uploads: a CSV file of cases, and published determinations for the precedent library."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms

from .documents import MultipleFileField, MultipleFileInput

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


# A published determination's text is tens of kilobytes, its PDF a few hundred.
MAX_LETTER_BYTES = 5 * 1024 * 1024
MAX_LETTERS = 5000


def _check_letter(upload) -> None:
    """Completes "<name> ..." for each refused file."""
    if not upload.name.lower().endswith((".txt", ".pdf")):
        raise forms.ValidationError("is not a .txt or .pdf file.")
    if upload.size > MAX_LETTER_BYTES:
        raise forms.ValidationError(f"is {upload.size / 1024 / 1024:.1f} MB; a letter is at most 5 MB.")


class DeterminationImportForm(forms.Form):
    files = MultipleFileField(
        label="Published determinations",
        check=_check_letter,
        help_text="Text files as pdftotext -layout writes them, or the PDFs. Several at once.",
        widget=MultipleFileInput(attrs={"accept": ".txt,.pdf,text/plain,application/pdf"}),
    )
    update = forms.BooleanField(required=False, label="Replace determinations imported before")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", "Import"))

    def clean_files(self):
        files = self.cleaned_data["files"]
        if len(files) > MAX_LETTERS:
            raise forms.ValidationError(f"{len(files)} files; at most {MAX_LETTERS} at once.")
        return files
