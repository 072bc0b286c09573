"""Document upload: several files at once, one set of metadata, every file checked from its content."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Layout, Row, Submit
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from ..documents import ACCEPT_ATTRIBUTE, ALLOWED_LABEL, check_upload
from ..models import CaseDocument


class MultipleFileInput(forms.FileInput):
    """A file input that lets the browser pick several files (Django's "Uploading multiple files" pattern)."""

    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Cleans to a list of uploaded files; every file is checked and every bad one named with its reason.

    `check(file)` raises ValidationError with messages that complete a sentence starting with the
    file's name ("is empty."), as reviews.documents.check_upload does.
    """

    def __init__(self, *args, check=None, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        self.check = check
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        items = [item for item in (data if isinstance(data, list | tuple) else [data]) if item]
        if not items:
            super().clean(None, initial)  # raises "required" when the field is
            return []
        files, problems = [], []
        for item in items:
            name = getattr(item, "name", "") or "A file"
            try:
                file = super().clean(item, initial)
            except ValidationError as error:
                problems += [
                    ValidationError("%(name)s: %(message)s", params={"name": name, "message": m})
                    for m in error.messages
                ]
                continue
            try:
                if self.check is not None:
                    self.check(file)
            except ValidationError as error:
                problems += [
                    ValidationError("%(name)s %(message)s", params={"name": name, "message": m}) for m in error.messages
                ]
                continue
            files.append(file)
        if problems:
            raise ValidationError(problems)
        return files


class DocumentUploadForm(forms.Form):
    """Files plus the kind, author, date of service and sender shared by all of them."""

    files = MultipleFileField(
        label="Files",
        widget=MultipleFileInput(attrs={"accept": ACCEPT_ATTRIBUTE}),
        check=check_upload,
        allow_empty_file=True,  # check_upload refuses empty files itself, naming them like every other refusal
    )
    kind = forms.ChoiceField(choices=CaseDocument.Kind.choices)
    author = forms.CharField(
        max_length=CaseDocument._meta.get_field("author").max_length,
        required=False,
        help_text="As the letter will list it, e.g. Dr. Jane Smith, MD.",
    )
    service_date = forms.DateField(
        label="Date of service",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    submitted_by = forms.ChoiceField(label="Submitted by", choices=CaseDocument.SubmittedBy.choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["files"].help_text = (
            f"{ALLOWED_LABEL}, up to {settings.IMR_MAX_UPLOAD_MB} MB each. Choose several files at once; the kind, "
            "sender, author and date apply to all of them. The type is checked from the content, not the name."
        )
        self.helper = FormHelper()
        self.helper.form_id = "document-upload-form"
        self.helper.layout = Layout(
            Row(
                Column(
                    "files",
                    # Filled by static/js/document-upload.js with the chosen files and their sizes.
                    HTML(
                        '<ul id="document-upload-selection" class="list-unstyled small mb-3" aria-live="polite"'
                        ' data-max-bytes="{{ max_upload_bytes }}"></ul>'
                    ),
                    css_class="col-12",
                ),
                Column("kind", css_class="col-xl-3 col-md-6"),
                Column("submitted_by", css_class="col-xl-3 col-md-6"),
                Column("author", css_class="col-xl-3 col-md-6"),
                Column("service_date", css_class="col-xl-3 col-md-6"),
            ),
            Submit("upload", "Upload", css_class="btn-primary"),
        )

    def clean_service_date(self):
        service_date = self.cleaned_data["service_date"]
        if service_date and service_date > timezone.localdate():
            raise ValidationError("The date of service cannot be in the future.")
        return service_date
