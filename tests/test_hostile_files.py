"""Hostile files, refused within 2 seconds each (the contract of issue 11): a TIFF of 80,000 frames, PDFs of
100,000 pages, a CSV header of 100,000 columns. Pages and frames are counted once, up to the limit, before
the case row is locked."""

import io
import struct
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import QuerySet

from reviews import documents
from reviews.models import Case, CaseDocument
from tests.factories import CaseFactory

# A generous bound, for a slow CI machine: the work these files used to cost took minutes.
SECONDS = 2.0


def tiff_with_frames(n: int) -> bytes:
    """A little-endian TIFF of `n` one-pixel bilevel frames, written directly (Pillow takes a minute for 80,000).

    Each frame is an image file directory of eight tags; all of them point at the same byte of pixels.
    """
    pixel_at, first_ifd_at = 8, 10
    entries = [
        (256, 3, 1, 1),  # ImageWidth
        (257, 3, 1, 1),  # ImageLength
        (258, 3, 1, 1),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # PhotometricInterpretation: black is zero
        (273, 4, 1, pixel_at),  # StripOffsets
        (278, 3, 1, 1),  # RowsPerStrip
        (279, 4, 1, 1),  # StripByteCounts
    ]
    size = 2 + 12 * len(entries) + 4
    out = io.BytesIO()
    out.write(b"II*\x00" + struct.pack("<I", first_ifd_at) + b"\x00\x00")  # header, the pixel byte, padding
    for k in range(n):
        out.write(struct.pack("<H", len(entries)))
        for tag, kind, count, value in entries:
            out.write(
                struct.pack("<HHII", tag, kind, count, value)
                if kind == 4
                else struct.pack("<HHIHH", tag, kind, count, value, 0)
            )
        following = first_ifd_at + (k + 1) * size if k + 1 < n else 0
        out.write(struct.pack("<I", following))
    return out.getvalue()


def pdf_with_pages(n: int, *, declared: int | None = None, typed: bool = True) -> bytes:
    """A PDF of `n` empty pages in one flat page tree whose /Count says `declared` (default: the truth).

    `typed=False` leaves out each page's /Type: readers take a leaf of the tree for a page all the same.
    """
    out, offsets = io.BytesIO(), []

    def obj(number: int, body: bytes) -> None:
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    out.write(b"%PDF-1.4\n")
    obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = b" ".join(b"%d 0 R" % (k + 3) for k in range(n))
    obj(2, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (n if declared is None else declared, kids))
    page = (b"<< /Type /Page " if typed else b"<< ") + b"/Parent 2 0 R /MediaBox [0 0 612 792] >>"
    for k in range(n):
        obj(k + 3, page)
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (n + 3))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (n + 3, xref))
    return out.getvalue()


@pytest.fixture
def upload(client, coordinator, settings, tmp_path):
    """POST files to a received case's upload page as its coordinator; returns (response, seconds taken)."""
    settings.MEDIA_ROOT = tmp_path
    settings.IMR_MAX_DOCUMENT_PAGES = 3000
    case = CaseFactory()
    client.force_login(coordinator)
    client.get(f"/cases/{case.case_number}/documents/upload/")  # the page's templates compiled: the time is the file's

    def post(name: str, content: bytes):
        data = {"files": [SimpleUploadedFile(name, content)], "kind": "progress_report", "submitted_by": "ca"}
        started = time.perf_counter()
        response = client.post(f"/cases/{case.case_number}/documents/upload/", data)
        return response, time.perf_counter() - started

    return post


@pytest.fixture
def work_order(monkeypatch):
    """The order of page counts and case locks during a request: ["count", "lock"] means counted first."""
    events = []
    for name in ("pdf_page_count", "image_page_count"):
        real = getattr(documents, name)
        monkeypatch.setattr(documents, name, lambda file, real=real: events.append("count") or real(file))
    real_lock = QuerySet.select_for_update
    monkeypatch.setattr(
        QuerySet,
        "select_for_update",
        lambda self, *a, **kw: (events.append("lock") if self.model is Case else None) or real_lock(self, *a, **kw),
    )
    return events


def test_a_tiff_of_eighty_thousand_frames_is_refused_within_two_seconds_having_read_only_up_to_the_limit(
    upload, work_order, monkeypatch
):
    from PIL import TiffImagePlugin

    content = tiff_with_frames(80_000)
    seeks = []
    real_seek = TiffImagePlugin.TiffImageFile.seek
    monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "seek", lambda self, n: seeks.append(n) or real_seek(self, n))

    response, seconds = upload("fax.tif", content)

    assert response.status_code == 400 and seconds < SECONDS
    assert "fax.tif has more than 3000 pages; split it into several documents." in response.content.decode()
    assert all(n <= 3001 for n in seeks)  # never past the limit
    assert work_order == ["count"] and not CaseDocument.objects.exists()  # counted once, no lock taken


@pytest.mark.parametrize("declared", [None, 1], ids=["count-as-written", "count-that-lies"])
def test_a_pdf_of_a_hundred_thousand_pages_is_refused_within_two_seconds(upload, work_order, declared):
    response, seconds = upload("records.pdf", pdf_with_pages(100_000, declared=declared))

    assert response.status_code == 400 and seconds < SECONDS
    assert "records.pdf has more than 3000 pages; split it into several documents." in response.content.decode()
    assert work_order == ["count"] and not CaseDocument.objects.exists()


def test_a_pdf_whose_pages_hide_their_type_is_counted_only_up_to_the_limit(settings):
    # Pages without /Type escape the scan of the bytes; the walk of the page tree still stops at the limit.
    settings.IMR_MAX_DOCUMENT_PAGES = 100
    started = time.perf_counter()
    with pytest.raises(documents.ValidationError, match="more than 100 pages"):
        documents.pdf_page_count(io.BytesIO(pdf_with_pages(5_000, declared=1, typed=False)))
    assert time.perf_counter() - started < SECONDS


def test_a_pdf_at_the_limit_is_counted_exactly(settings):
    settings.IMR_MAX_DOCUMENT_PAGES = 100
    assert documents.pdf_page_count(io.BytesIO(pdf_with_pages(100, typed=False))) == 100
    assert documents.pdf_page_count(io.BytesIO(pdf_with_pages(100))) == 100


def test_a_multi_page_fax_is_counted_once_before_the_case_is_locked(upload, work_order):
    response, _ = upload("fax.tif", tiff_with_frames(5))

    assert response.status_code == 302
    assert CaseDocument.objects.get().page_count == 5
    assert work_order == ["count", "lock"]


def import_csv(client, coordinator, header: str):
    """POST a CSV of one header line to the import page as the coordinator; returns (page text, seconds taken)."""
    client.force_login(coordinator)
    client.get("/cases/import/")  # the page's templates compiled: the time measured is the file's
    upload = SimpleUploadedFile("wide.csv", header.encode(), content_type="text/csv")
    started = time.perf_counter()
    response = client.post("/cases/import/", {"file": upload})
    return response.content.decode(), time.perf_counter() - started


def test_a_csv_header_of_a_hundred_thousand_columns_is_refused_within_two_seconds_with_a_short_reason(
    client, coordinator
):
    page, seconds = import_csv(client, coordinator, ",".join(f"col{n}" for n in range(100_000)) + "\n")

    assert seconds < SECONDS
    assert "The file has 100000 columns; a case takes at most 2000." in page
    assert not Case.objects.exists()


def test_a_header_of_two_thousand_unknown_columns_is_checked_within_two_seconds(client, coordinator):
    # At the limit every column is looked at: linear in the columns, where a list.count() per column was quadratic.
    page, seconds = import_csv(client, coordinator, ",".join(f"extra{n}" for n in range(2000)) + "\n")

    assert seconds < SECONDS
    assert "extra19 and 1980 more (compare with the sample file)" in page
    assert not Case.objects.exists()
