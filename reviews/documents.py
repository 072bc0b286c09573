"""Checks on an uploaded record: its type from its content, its size, and its page count."""

import dataclasses
import re
import struct
import warnings

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from PIL import Image
from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError

# The types a reviewer's browser opens by itself; the extension is what the stored file gets.
ALLOWED_TYPES = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/tiff": ".tif",
}
ALLOWED_LABEL = "PDF, PNG, JPEG or TIFF"
ACCEPT_ATTRIBUTE = ".pdf,.png,.jpg,.jpeg,.tif,.tiff,application/pdf,image/png,image/jpeg,image/tiff"

# Things people rename to .pdf, named so the refusal says what the file really is.
_EXECUTABLE_MIMES = {
    "application/x-executable": "a Linux program (ELF)",
    "application/x-msdownload": "a Windows program",
    "application/x-mach-binary": "a macOS program",
    "application/x-shockwave-flash": "a Flash file",
}
_HEAD_BYTES = 8192  # what filetype reads; enough for every signature it knows


@dataclasses.dataclass(frozen=True)
class CheckedFile:
    """What the checks learned about an acceptable upload."""

    content_type: str
    extension: str
    size: int
    page_count: int | None


def max_upload_bytes() -> int:
    return settings.IMR_MAX_UPLOAD_MB * 1024 * 1024


def _read_head(file) -> bytes:
    file.seek(0)
    head = file.read(_HEAD_BYTES)
    file.seek(0)
    return head


def describe_content(head: bytes) -> str:
    """Say in words what a refused file's content is, for the error message."""
    if not head:
        return "an empty file"
    if head.startswith(b"#!"):
        return "a script"
    if head.startswith(b"MZ"):
        return "a Windows program"
    kind = filetype.guess(head)
    if kind is None:
        return "content of an unrecognised type"
    return _EXECUTABLE_MIMES.get(kind.mime, f"a {kind.extension.upper()} file ({kind.mime})")


def sniff_content_type(file) -> str | None:
    """The allowed MIME type that the file's first bytes show, or None; the file name plays no part."""
    head = _read_head(file)
    kind = filetype.guess(head)
    if kind is None or kind.mime not in ALLOWED_TYPES:
        return None
    return kind.mime


# A page object as a PDF writes it in plain bytes ("/Type /Page", not "/Pages").
_PAGE_OBJECT_RE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_SCAN_CHUNK = 1024 * 1024


def _plain_pages_over_limit(file) -> bool:
    """Whether the bytes hold more page objects than the limit, counted in one pass that stops there.

    pypdf's opening reads every object of the file before any page can be counted (seconds for
    tens of thousands of pages); most files, and the cheap attack, write their pages in plain
    bytes, so this refuses them first. Pages packed in object streams go to _pdf_pages.
    """
    limit, found, tail = settings.IMR_MAX_DOCUMENT_PAGES, 0, b""
    file.seek(0)
    while chunk := file.read(_SCAN_CHUNK):
        window = tail + chunk
        # The tail is scanned again for a match cut by the boundary; one found whole before is not counted twice.
        found += sum(1 for m in _PAGE_OBJECT_RE.finditer(window) if m.end() > len(tail))
        if found > limit:
            return True
        tail = window[-64:]
    return False


def pdf_page_count(file) -> int:
    """Count the pages of a PDF; ValidationError when it cannot be read as a browser would need to."""
    if _plain_pages_over_limit(file):
        raise _too_many_pages()
    file.seek(0)
    try:
        reader = PdfReader(file)
        if reader.is_encrypted:
            # An empty user password still opens in any viewer; a real one would lock the reviewer out.
            try:
                reader.decrypt("")
                pages = _pdf_pages(reader)
            except FileNotDecryptedError:
                raise ValidationError(
                    "is password-protected; ask the sender for a copy without a password.", code="pdf_encrypted"
                ) from None
        else:
            pages = _pdf_pages(reader)
    except ValidationError:
        raise
    except Exception as exc:  # pypdf raises many types on damaged input; any of them means unreadable
        raise ValidationError(
            "is a damaged PDF that cannot be read (%(reason)s); ask the sender for a new copy.",
            code="pdf_corrupt",
            params={"reason": str(exc) or type(exc).__name__},
        ) from exc
    finally:
        file.seek(0)
    if pages < 1:
        raise ValidationError("is a PDF without any pages.", code="pdf_empty")
    return pages


def _pdf_pages(reader: PdfReader) -> int:
    """The leaves of the page tree, counted up to the limit.

    pypdf's len(reader.pages) builds an object for every page first (a minute for 100,000 pages);
    this walk stops one page past the limit, and refuses a declared /Count over it at once. Each
    node is visited once, so a tree with cycles ends too.
    """
    limit = settings.IMR_MAX_DOCUMENT_PAGES
    root = reader.trailer["/Root"]["/Pages"]
    if isinstance(root.get("/Count"), int) and root["/Count"] > limit:
        raise _too_many_pages()
    count, seen, stack = 0, set(), [iter([root])]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
            continue
        if (key := getattr(node, "idnum", None)) is not None:
            if key in seen:
                continue
            seen.add(key)
            if len(seen) > 2 * limit + 100:  # a tree of empty branches as wide as a bomb
                raise _too_many_pages()
        node = node.get_object()
        if "/Kids" in node:
            stack.append(iter(node["/Kids"]))
            continue
        count += 1
        if count > limit:
            raise _too_many_pages()
    return count


def _too_many_pages() -> ValidationError:
    return ValidationError(
        "has more than %(limit)s pages; split it into several documents.",
        code="too_many_pages",
        params={"limit": settings.IMR_MAX_DOCUMENT_PAGES},
    )


def _frames(image) -> int:
    """Frames counted one by one up to the limit: Pillow's n_frames walks all of them first."""
    count = 1
    while count <= settings.IMR_MAX_DOCUMENT_PAGES:
        try:
            image.seek(count)
        except EOFError:
            return count
        count += 1
    raise _too_many_pages()


def _tiff_frames_over_limit(file) -> bool:
    """Whether a TIFF's chain of image directories (one a frame) is longer than the limit.

    Pillow reads and sets up each frame it seeks to, a second or more for thousands of them; the
    chain is a list of offsets, followed here without decoding anything. A loop ends the walk.
    """
    file.seek(0)
    head = file.read(16)
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None or len(head) < 16:
        return False
    # Classic TIFF (42): 2-byte entry counts, 12-byte entries, 4-byte offsets; BigTIFF (43): 8, 20, 8.
    version = struct.unpack(order + "H", head[2:4])[0]
    if version not in (42, 43):
        return False
    count_format, entry_size, offset_format = ("H", 12, "I") if version == 42 else ("Q", 20, "Q")
    offset = struct.unpack(order + offset_format, head[4:8] if version == 42 else head[8:16])[0]
    seen: set[int] = set()
    while offset and offset not in seen:
        seen.add(offset)
        if len(seen) > settings.IMR_MAX_DOCUMENT_PAGES:
            return True
        file.seek(offset)
        raw = file.read(struct.calcsize(count_format))
        if len(raw) < struct.calcsize(count_format):
            return False  # a damaged file: Pillow says so
        file.seek(offset + len(raw) + struct.unpack(order + count_format, raw)[0] * entry_size)
        raw = file.read(struct.calcsize(offset_format))
        if len(raw) < struct.calcsize(offset_format):
            return False
        offset = struct.unpack(order + offset_format, raw)[0]
    return False


def image_page_count(file) -> int:
    """Check that the image decodes; a multi-page TIFF (a fax) counts its frames as pages."""
    if _tiff_frames_over_limit(file):
        raise _too_many_pages()
    file.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                image.verify()
            file.seek(0)
            with Image.open(file) as image:
                frames = _frames(image)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError("has too many pixels to display safely.", code="image_too_large") from None
    except Exception as exc:  # Pillow, like pypdf, raises many types on damaged input
        raise ValidationError(
            "is a damaged image that cannot be read; ask the sender for a new copy.", code="image_corrupt"
        ) from exc
    finally:
        file.seek(0)
    return frames


def check_upload(file) -> CheckedFile:
    """Accept a PDF, PNG, JPEG or TIFF within the size limit that opens cleanly; else ValidationError.

    The messages complete a sentence that starts with the file's name ("scan.pdf is ..."). The
    result is kept on the file, so the form's check and the service's run the work once.
    """
    if (checked := getattr(file, "imr_checked", None)) is not None:
        return checked
    size = file.size or 0
    if size == 0:
        raise ValidationError("is empty.", code="empty")
    if size > max_upload_bytes():
        raise ValidationError(
            "is %(size)s MB, over the limit of %(limit)s MB a file.",
            code="too_large",
            params={"size": f"{size / (1024 * 1024):.1f}", "limit": settings.IMR_MAX_UPLOAD_MB},
        )
    content_type = sniff_content_type(file)
    if content_type is None:
        raise ValidationError(
            "is %(found)s, not a %(allowed)s file, whatever its name says.",
            code="type",
            params={"found": describe_content(_read_head(file)), "allowed": ALLOWED_LABEL},
        )
    pages = pdf_page_count(file) if content_type == "application/pdf" else image_page_count(file)
    file.imr_checked = CheckedFile(
        content_type=content_type, extension=ALLOWED_TYPES[content_type], size=size, page_count=pages
    )
    return file.imr_checked
