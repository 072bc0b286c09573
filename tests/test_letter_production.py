"""Production mode (DEBUG off, hashed static names from the manifest) renders the letter development renders."""

import re
import subprocess

import pytest
from django.core.management import call_command

from reviews import letters

MANIFEST_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"


@pytest.fixture
def production_static(settings, tmp_path):
    """DEBUG off and the production static storage, with `collectstatic` run into a folder of this test."""
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": MANIFEST_STORAGE}}
    call_command("collectstatic", "--noinput", verbosity=0)
    return settings.STATIC_ROOT


@pytest.fixture
def example_case(db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return letters.letter_queryset().get(claim_number="DEMO-2007-0221")


def _poppler(tool: str, pdf) -> str:
    return subprocess.run([tool, str(pdf), *(["-"] if tool == "pdftotext" else [])],  # noqa: S603
                          capture_output=True, text=True, check=True).stdout  # fmt: skip


def test_a_letter_rendered_in_production_mode_has_its_stylesheet_page_size_footer_and_fonts(
    production_static, example_case, tmp_path
):
    html = letters.render_letter(case=example_case, fmt="html")
    hashed = re.search(r'href="/static/(letters/letter\.[0-9a-f]{12}\.css)"', html)
    assert hashed, "with DEBUG off the letter links the hashed stylesheet"
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(letters.render_pdf(html))

    info = _poppler("pdfinfo", pdf)
    assert re.search(r"Page size:\s+612 x 792 pts \(letter\)", info), info  # A4 when the stylesheet is lost
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert f"Page 1 of {pages}" in _poppler("pdftotext", pdf)  # the @page footer
    fonts = _poppler("pdffonts", pdf)
    # Without the stylesheet every heading falls back to the default serif: the sans headings are the proof.
    assert "DejaVu-Sans-Bold" in fonts and "DejaVu-Serif" in fonts, fonts


def test_the_fetcher_resolves_only_names_the_manifest_maps_to_a_shipped_file(production_static):
    fetcher = letters._static_only_fetcher()
    name = letters.staticfiles_storage.stored_name("letters/letter.css")
    response = fetcher.fetch(f"https://letter.invalid/static/{name}")
    assert b"@page" in response.read()
    for url in (
        "https://letter.invalid/static/letters/letter.0123456789ab.css",  # a hash the manifest does not hold
        "https://letter.invalid/static/staticfiles.json",  # the manifest itself is no shipped file
        "https://letter.invalid/static/../../etc/passwd",
        "file:///etc/passwd",
    ):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
