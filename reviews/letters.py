"""The Final Determination letter, pure: a case in, HTML, text or PDF out (DESIGN.md section 7).

Two layouts, as published: "2014" states the credentials in prose; "2016" lists them in the
"State(s) of Licensure" / "Certification(s)/Specialty" lines. Both open with the header grid.
Each letter records the layout it was rendered with, so an old letter re-renders as issued.
The reviewer is never named.
"""

import contextlib
import functools
import mimetypes
import re
import textwrap
from dataclasses import dataclass, fields, replace
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.exceptions import SuspiciousFileOperation
from django.template.loader import render_to_string
from django.utils import timezone

from . import redaction
from .models import US_STATES, Case, Citation, DisputedItem

LAYOUTS = ("2014", "2016")


@dataclass(frozen=True)
class ItemLines:
    lead: str  # the decision line up to the decision word: "<request>:", or a modified request's sentences
    decision: str
    ca_guideline: str
    review_guideline: str
    rationale: str


# Credentials.


def _join(words: list[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def credentials(case: Case) -> dict:
    """What the reviewer's profile supports saying about them, and nothing more (never a name)."""
    reviewer = case.reviewer
    on = case.decision_date or timezone.localdate()
    certifications = sorted(  # in the order they were entered, as the letters list them
        (c for c in reviewer.certifications.all() if c.expires_on is None or c.expires_on >= on), key=lambda c: c.pk
    )
    specialties = [c.specialty.name for c in certifications if not c.specialty.parent_id]
    subspecialties = [c.specialty.name for c in certifications if c.specialty.parent_id]
    for c in certifications:  # a subspecialist is also certified in the parent specialty
        parent = c.specialty.parent
        if parent and parent.name not in specialties:
            specialties.append(parent.name)
    licences = sorted(  # in the order they were entered, as the letters list them
        (lic for lic in reviewer.licenses.all() if lic.status == lic.Status.ACTIVE and lic.expires_on >= on),
        key=lambda lic: lic.pk,
    )
    years = on.year - reviewer.practice_start_year
    experience = "for more than five years" if years > 5 else f"for {years} year{'s' if years != 1 else ''}"
    hours = min(reviewer.weekly_hours, 24)  # 24 is the statement letters make; fewer is stated as it is
    return {
        "specialties": specialties,
        "subspecialties": subspecialties,
        "certifications": specialties + subspecialties,
        "states": [US_STATES.get(lic.state, lic.state) for lic in licences],
        "experience": experience,
        "hours": hours,
    }


def credential_problems(case: Case) -> list[str]:
    """What the letter would have to state about the reviewer and cannot: no active licence, no certification.

    Checked at approval (refused) and again at rendering (the letter fails with the reason): a
    licence can lapse in between, and a letter never prints an empty credential line.
    """
    if case.reviewer is None:
        return ["The case has no reviewer."]
    creds = credentials(case)
    on = case.decision_date or timezone.localdate()
    problems = []
    if not creds["states"]:
        problems.append(f"The reviewer holds no active, unexpired licence on {on:%m/%d/%Y}.")
    if not creds["certifications"]:
        problems.append(f"The reviewer holds no current board certification on {on:%m/%d/%Y}.")
    return problems


def credentials_prose(creds: dict) -> str:
    """The 2014 sentence: "The expert reviewer is Board Certified in X, has a subspecialty in Y and is licensed ..."."""
    parts = []
    if creds["specialties"]:
        parts.append(f"is Board Certified in {_join(creds['specialties'])}")
    if creds["subspecialties"]:
        parts.append(f"has a subspecialty in {_join(creds['subspecialties'])}")
    if creds["states"]:
        parts.append(f"is licensed to practice in {_join(creds['states'])}")
    return f"The expert reviewer {_join(parts)}. " if parts else ""


# Guideline lines.


def _without_mtus_prefix(name: str) -> str:
    return name[5:] if name.startswith("MTUS ") else name


def _mtus_parts(citations: list[Citation], layout: str) -> str:
    parts = []
    for n, c in enumerate(citations):
        name = c.guideline.citation_name if n == 0 else _without_mtus_prefix(c.guideline.citation_name)
        if layout == "2014":
            text = " ".join(filter(None, [name, c.sections, f"Page(s): {c.pages}" if c.pages else ""]))
        else:
            text = (
                name
                + (f", Section(s): {c.sections}" if c.sections else "")
                + (f", Page(s): {c.pages}" if c.pages else "")
            )
        parts.append(text)
    return ", and ".join(parts) if layout == "2016" else "; ".join(parts)


def _non_mtus(c: Citation, layout: str) -> str:
    if layout == "2014":
        return f"Non-MTUS Citation {c.guideline.citation_name}" + (f"; {c.sections}" if c.sections else "")
    tail = (f", {c.sections}" if c.sections else "") + (f", pg. {c.pages}" if c.pages else "")
    return f"Non-MTUS Citation {c.guideline.citation_name}{tail}."


def guideline_line(citations: list[Citation], *, layout: str, who: str, none_text: str) -> str:
    """One guideline line in the examples' wording: MTUS citations, then non-MTUS ones, or none."""
    if not citations:
        return none_text
    mtus = [c for c in citations if c.guideline.is_mtus]
    others = [c for c in citations if not c.guideline.is_mtus]
    sentences = []
    if mtus:
        sentences.append(f"Decision based on {_mtus_parts(mtus, layout)}.")
    elif layout == "2014":
        sentences.append(f"The {who} did not base their decision on the MTUS.")
    else:
        sentences.append(f"The {who} based their decision on recommendation(s) outside of the MTUS Guidelines.")
    sentences += [f"Decision based on {_non_mtus(c, layout)}" for c in others]
    return " ".join(sentences)


def decision_lead(item: DisputedItem, layout: str) -> str:
    """The item's decision line before the decision word, in the published wording.

    In the 2016 layout a modified request says what was asked and what UR authorised, then names
    the part decided; the 2014 letters name only the request decided.
    """
    if item.ur_action != DisputedItem.URAction.MODIFIED or layout == "2014":
        return f"{item.decided_request}:"
    original, authorized = item.request_text.rstrip(". "), item.authorized_part.rstrip(". ")
    if item.eligible_scope == DisputedItem.EligibleScope.REMAINING:
        return (
            f"{original} was the original request. {authorized} was authorized by the Claims Administrator."
            f" The remaining IMR eligible portion of the original request, {item.remaining_part.rstrip('. ')} is:"
        )
    return (
        f"{original} was the original request. The Claims Administrator authorized {authorized},"
        f" leaving the original request IMR eligible. The original request, {original} is:"
    )


def item_lines(item: DisputedItem, layout: str) -> ItemLines:
    citations = sorted(item.citations.all(), key=lambda c: (c.role, c.position))
    ca = [c for c in citations if c.role == Citation.Role.CLAIMS_ADMINISTRATOR]
    review = [c for c in citations if c.role == Citation.Role.REVIEW]
    ca_line = guideline_line(
        [] if item.ca_cited_no_evidence else ca,
        layout=layout,
        who="Claims Administrator",
        none_text="The Claims Administrator did not cite any medical evidence for its decision.",
    )
    review_line = guideline_line(
        [] if item.review_cited_no_evidence else review,
        layout=layout,
        who="Expert Reviewer",
        none_text="The Expert Reviewer did not cite any medical evidence for its decision.",
    )
    return ItemLines(
        lead=decision_lead(item, layout),
        decision=item.get_decision_display(),
        ca_guideline=ca_line,
        review_guideline=review_line,
        rationale=item.rationale,
    )


def decided_items(case: Case) -> list[DisputedItem]:
    """The items the determination decides: those the claims administrator authorised (terminated) are not."""
    return [item for item in case.items.all() if not item.terminated]


# Public copy.

# How the coordinator's preview names an item's lines (reviews.redaction finds the removals in each).
ITEM_LINE_LABELS = {
    "lead": "request",
    "ca_guideline": "Claims Administrator guideline",
    "review_guideline": "review guideline",
    "rationale": "decision rationale",
}


def _public_item_lines(lines: ItemLines) -> dict[str, str]:
    """Every text line of an item the public copy redacts: all but the decision word."""
    texts = {f.name: getattr(lines, f.name) for f in fields(lines) if f.name != "decision"}
    return {name: text for name, text in texts.items() if isinstance(text, str)}


def public_passages(case: Case, layout: str) -> list[tuple[str, str]]:
    """The letter's texts that can name a party, labelled, in letter order: what the coordinator checks."""
    passages = [(f"Document {n}, author", d.author) for n, d in enumerate(case.documents.all(), start=1) if d.author]
    passages.append(("Clinical case summary", case.clinical_case_summary))
    for item in decided_items(case):
        for name, text in _public_item_lines(item_lines(item, layout)).items():
            passages.append((f"Item {item.position}, {ITEM_LINE_LABELS.get(name, name.replace('_', ' '))}", text))
    return passages


# Rendering.


def letter_context(*, case: Case, layout: str, public: bool = False) -> dict:
    """Everything the letter templates need; the reviewer appears only through their credentials."""
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown letter layout {layout!r}; choose one of {', '.join(LAYOUTS)}.")
    scrub = redaction.redactor_for(case).apply if public else (lambda text: text)
    creds = credentials(case)
    items = []
    for item in decided_items(case):
        lines = item_lines(item, layout)
        items.append(replace(lines, **{name: scrub(text) for name, text in _public_item_lines(lines).items()}))
    documents = [
        # An author named only by a removed name is left out, with the comma before it.
        {
            "kind": d.get_kind_display(),
            "author": scrub(d.author).strip(" ,;") if public else d.author,
            "date": d.service_date,
        }
        for d in case.documents.all()
    ]
    return {
        "case": case,
        "layout": layout,
        "public": public,
        "organization_name": case.issuing_organization or settings.IMR_ORGANIZATION_NAME,
        "organization_short_name": case.issuing_organization_short or settings.IMR_ORGANIZATION_SHORT_NAME,
        "credentials": creds,
        "credentials_prose": credentials_prose(creds),
        "documents": documents,
        "summary": scrub(case.clinical_case_summary),
        "items": items,
    }


def letter_queryset():
    """The case with everything the letter reads, in a fixed number of queries."""
    return Case.objects.select_related(
        "reviewer", "employer", "claims_administrator", "employee_attorney", "requesting_provider__group", "redaction"
    ).prefetch_related(
        "reviewer__certifications__specialty__parent",
        "reviewer__licenses",
        "items__citations__guideline",
        "documents",
    )


def render_letter(*, case: Case, fmt: str = "html", layout: str | None = None, public: bool = False) -> str:
    """The letter as HTML (for the browser and the PDF) or plain text."""
    if fmt not in ("html", "text"):
        raise ValueError("fmt is 'html' or 'text'; use render_pdf for a PDF.")
    context = letter_context(case=case, layout=layout or settings.IMR_LETTER_LAYOUT, public=public)
    if fmt == "html":
        return render_to_string("letters/final.html", context)
    return _tidy_text(render_to_string("letters/final.txt", context))


def _tidy_text(text: str) -> str:
    """Wrap paragraphs at 95 columns and keep at most one blank line between them."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    wrapped = [
        "\n".join(
            textwrap.fill(line, 95, break_on_hyphens=False) if len(line) > 95 else line for line in p.splitlines()
        )
        for p in paragraphs
    ]
    return "\n\n".join(wrapped) + "\n"


# The letter's HTML links its stylesheet by its ordinary static URL; WeasyPrint resolves it
# against this made-up origin, which the fetcher below maps back to the static files.
_PDF_ORIGIN = "https://letter.invalid"


def _unhashed(name: str) -> str:
    """The static file a name stands for: `letters/letter.<hash>.css` is `letters/letter.css`.

    With DEBUG off `{% static %}` gives the names of the manifest storage (ManifestStaticFilesStorage,
    whitenoise's CompressedManifestStaticFilesStorage); the finders only know the shipped names. The
    manifest maps one to the other, so only a file the application ships can ever be named.
    """
    hashed_files = getattr(staticfiles_storage, "hashed_files", None) or {}
    originals = {hashed: original for original, hashed in hashed_files.items()}
    return originals.get(name, name)


@functools.cache
def _static_only_fetcher():
    """WeasyPrint's URL fetcher: the application's own static files, nothing else.

    A user's text is escaped by the templates; this is the second wall, so no file:// path,
    no http(s) URL and nothing the application did not ship can reach the PDF.
    """
    from weasyprint.urls import URLFetcher, URLFetcherResponse  # on use: WeasyPrint loads Pango

    static_prefix = f"{_PDF_ORIGIN}/{settings.STATIC_URL.strip('/')}/"

    class StaticOnlyFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            path = None
            if url.startswith(static_prefix):
                with contextlib.suppress(SuspiciousFileOperation):  # "../" out of the static folders
                    path = finders.find(_unhashed(url.removeprefix(static_prefix)))
            if not path:
                raise ValueError(f"Blocked fetch of {url!r}: letters may only use the application's static files.")
            content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
            return URLFetcherResponse(url, Path(path).read_bytes(), {"Content-Type": content_type})

    return StaticOnlyFetcher(allowed_protocols=["https"])


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html, url_fetcher=_static_only_fetcher(), base_url=f"{_PDF_ORIGIN}/").write_pdf()
