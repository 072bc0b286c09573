"""The Final Determination letter: wording, credentials, guideline lines, public copy, safe PDF."""

import re
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

from reviews import letters

# Copies of shared/examples/, so the suite runs in any checkout.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SECTIONS = ("HOW THE IMR FINAL DETERMINATION WAS MADE", "CLINICAL CASE SUMMARY", "IMR ISSUES, DECISIONS AND RATIONALES")


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _section(text: str, heading: str) -> str:
    """The text from `heading` to the next heading (or the end), whitespace collapsed."""
    start = text.index(heading)
    following = [text.find(h, start + len(heading)) for h in (*SECTIONS, "DOCUMENTS REVIEWED", "APPEAL RIGHTS")]
    end = min([i for i in following if i > start] or [len(text)])
    return _collapse(text[start:end])


@pytest.fixture
def example_case(db, settings):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.IMR_ORGANIZATION_NAME = "MAXIMUS Federal Services"
    settings.IMR_ORGANIZATION_SHORT_NAME = "MAXIMUS"
    return letters.letter_queryset().get(claim_number="DEMO-2007-0221")


def test_the_2014_public_copy_of_the_example_case_reads_as_the_published_determination(example_case):
    published = (FIXTURES / "final-determination-example.txt").read_text()
    ours = letters.render_letter(case=example_case, fmt="text", layout="2014", public=True)
    for heading in SECTIONS:
        assert _section(ours, heading) == _section(published, heading)


def test_the_served_letter_keeps_the_names_the_public_copy_removes(example_case):
    served = letters.render_letter(case=example_case, fmt="text", layout="2014")
    public = letters.render_letter(case=example_case, fmt="text", layout="2014", public=True)
    assert "per Dr. Linda Marsh are" in served
    assert "Marsh" not in public
    assert example_case.employee_name not in public and example_case.claim_number not in public


def test_the_letter_never_names_the_reviewer(example_case):
    user = example_case.reviewer.user
    for fmt in ("text", "html"):
        for layout in letters.LAYOUTS:
            rendered = letters.render_letter(case=example_case, fmt=fmt, layout=layout)
            assert user.last_name not in rendered and user.first_name not in rendered


def test_the_credentials_state_only_what_the_profile_supports(example_case):
    reviewer = example_case.reviewer
    reviewer.practice_start_year = example_case.decision_date.year - 3
    reviewer.weekly_hours = 16
    creds = letters.credentials(example_case)
    assert creds["experience"] == "for 3 years"
    assert creds["hours"] == 16
    text = letters.render_letter(case=example_case, fmt="text", layout="2014")
    assert "more than five years" not in text
    assert "at least 16 hours a week" in text


def test_a_rationale_with_markup_is_escaped_and_fetches_nothing_into_the_pdf(example_case, tmp_path):
    item = example_case.items.get()
    item.rationale = '<img src="file:///etc/passwd"> and <a href="http://127.0.0.1:1/">a link</a>'
    item.save()
    case = letters.letter_queryset().get(pk=example_case.pk)
    html = letters.render_letter(case=case, fmt="html")
    assert "&lt;img src=&quot;file:///etc/passwd&quot;&gt;" in html
    fetched = []
    fetcher = letters._static_only_fetcher()
    original = fetcher.fetch
    fetcher.fetch = lambda url, headers=None: fetched.append(url) or original(url, headers)
    try:
        pdf = letters.render_pdf(html)
    finally:
        del fetcher.fetch
    assert all(url.endswith("/static/letters/letter.css") for url in fetched)
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert 'img src="file:///etc/passwd"' in _collapse(text)
    assert "root:x:0:0" not in text


def test_the_static_only_fetcher_refuses_files_and_remote_urls():
    fetcher = letters._static_only_fetcher()
    for url in ("file:///etc/passwd", "http://127.0.0.1:1/", "https://letter.invalid/static/../../etc/passwd"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)


def test_an_unknown_layout_is_refused(example_case):
    with pytest.raises(ValueError, match="Unknown letter layout"):
        letters.render_letter(case=example_case, layout="1999")
