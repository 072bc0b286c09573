"""Forms of the expert review: the conflict attestation, declining, and the workspace's autosaved panels."""

from crispy_forms.bootstrap import StrictButton
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Layout, Submit
from django import forms
from django.db import models

from ..models import Citation, DisputedItem, Guideline
from ..services import CitationInput

# Generous bounds: a determination's summary runs to a page or two; anything far longer is a paste gone wrong.
MAX_TEXT = 20_000
# Citation rows per role and item; the published letters cite one to four.
MAX_CITATIONS = 12


def _is_id(text: str) -> bool:
    # str.isdigit() accepts "²" and other digits int() refuses.
    return text.isascii() and text.isdigit()


def _normalize_newlines(text: str) -> str:
    # Browsers send a textarea's line breaks as CRLF but show them as LF: store what the reviewer sees.
    return text.replace("\r\n", "\n").replace("\r", "\n")


class AttestForm(forms.Form):
    """Accept an assignment: the conflict attestation is the whole form."""

    attest = forms.BooleanField(
        label=(
            "I have no material professional, familial or financial affiliation with any of the parties listed above."
        ),
        error_messages={"required": "Tick the attestation to accept the case, or decline it below."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_id = "accept-form"
        self.helper.layout = Layout(
            "attest",
            HTML('<input type="hidden" name="action" value="accept">'),
            Submit("submit", "Accept the case", css_class="btn-primary"),
        )


class DeclineForm(forms.Form):
    """Decline an assignment with a reason; the case goes back to the coordinators."""

    class Reason(models.TextChoices):
        CONFLICT = "conflict", "Conflict of interest with a party"
        UNAVAILABLE = "unavailable", "Unavailable to complete the review in time"

    reason = forms.ChoiceField(choices=Reason.choices, widget=forms.RadioSelect, label="Reason")
    detail = forms.CharField(
        required=False,
        # The exclusion records "declined: <reason>: <details>" in 240 characters.
        max_length=180,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Details",
        help_text="For a conflict, name the party and the tie, so the coordinator can record it.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_id = "decline-form"
        self.helper.layout = Layout(
            "reason",
            "detail",
            HTML('<input type="hidden" name="action" value="decline">'),
            # StrictButton: crispy's Submit would add btn-primary under the outline style.
            StrictButton("Decline the case", type="submit", name="submit", css_class="btn-outline-danger"),
        )

    def clean(self):
        data = super().clean()
        reason, detail = data.get("reason"), data.get("detail", "").strip()
        if reason == self.Reason.CONFLICT and not detail:
            self.add_error("detail", "Name the party and the tie.")
        if reason and not self.errors:
            label = self.Reason(reason).label.lower()
            data["reason_text"] = f"{label}: {detail}" if detail else label
        return data


class SummaryForm(forms.Form):
    """One autosave of the clinical case summary, drafted from `version`."""

    version = forms.IntegerField(min_value=0)
    clinical_case_summary = forms.CharField(required=False, strip=False, max_length=MAX_TEXT)

    def clean_clinical_case_summary(self):
        return _normalize_newlines(self.cleaned_data["clinical_case_summary"])


class ItemReviewForm(forms.Form):
    """One autosave of a disputed item's panel, drafted from `version`.

    The citation rows arrive as repeated fields (`ca_guideline`, `ca_sections`, `ca_pages`, and the
    same with `review_`), one value per row in order, and clean to lists of CitationInput in
    `ca_citations` and `review_citations`. An autosave runs while the reviewer is still typing, so
    a row with text but no guideline yet is left out of the save and named in `warnings` rather
    than refusing the whole panel. A side that cited no evidence has its rows left unsaved. The
    workspace template lays the panel out by hand: crispy cannot lay out the repeated rows.
    """

    version = forms.IntegerField(min_value=0)
    decision = forms.ChoiceField(choices=[("", "Not decided"), *DisputedItem.Decision.choices], required=False)
    ca_cited_no_evidence = forms.BooleanField(required=False)
    review_cited_no_evidence = forms.BooleanField(required=False)
    rationale = forms.CharField(required=False, strip=False, max_length=MAX_TEXT)
    internal_note = forms.CharField(required=False, strip=False, max_length=MAX_TEXT)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.warnings: list[str] = []

    def clean_internal_note(self):
        return _normalize_newlines(self.cleaned_data["internal_note"])

    def clean_rationale(self):
        return _normalize_newlines(self.cleaned_data["rationale"])

    def clean(self):
        data = super().clean()
        data["ca_citations"], data["review_citations"] = [], []
        # A side's rows stay on screen when its "cited no evidence" is ticked, unsaved.
        prefixes = [p for p in ("ca", "review") if not data.get(f"{p}_cited_no_evidence")]
        rows = {prefix: self._rows(prefix) for prefix in prefixes}
        wanted = {int(g) for found in rows.values() for g, _, _ in found if _is_id(g)}
        guidelines = Guideline.objects.in_bulk(wanted) if wanted else {}
        for prefix, found in rows.items():
            data[f"{prefix}_citations"] = self._citations(prefix, found, guidelines)
        return data

    def _rows(self, prefix: str) -> list[tuple[str, str, str]]:
        getlist = self.data.getlist if hasattr(self.data, "getlist") else lambda key: self.data.get(key, [])
        columns = [getlist(f"{prefix}_{name}") for name in ("guideline", "sections", "pages")]
        length = max(len(column) for column in columns)
        if length > MAX_CITATIONS:
            self.add_error(None, f"At most {MAX_CITATIONS} citations per guideline list.")
            return []
        padded = [[*column, *[""] * (length - len(column))] for column in columns]
        return [(g.strip(), s.strip(), p.strip()) for g, s, p in zip(*padded, strict=True)]

    def _citations(self, prefix: str, rows, guidelines: dict) -> list[CitationInput]:
        whose = "claims administrator's" if prefix == "ca" else "review's"
        citations = []
        for n, (guideline_id, sections, pages) in enumerate(rows, start=1):
            if not guideline_id:
                if sections or pages:
                    self.warnings.append(f"The {whose} citation {n} is not saved until you choose its guideline.")
                continue
            guideline = guidelines.get(int(guideline_id)) if _is_id(guideline_id) else None
            if guideline is None:
                self.add_error(None, f"The {whose} citation {n} names a guideline that is not in the catalogue.")
                continue
            if len(sections) > Citation._meta.get_field("sections").max_length:
                self.add_error(None, f"The sections of the {whose} citation {n} are too long.")
                continue
            if len(pages) > Citation._meta.get_field("pages").max_length:
                self.add_error(None, f"The pages of the {whose} citation {n} are too long.")
                continue
            citations.append(CitationInput(guideline=guideline, sections=sections, pages=pages))
        return citations
