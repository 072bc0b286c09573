"""Case documents: storing an upload privately, and recording who opened which record."""

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from pathlib import PurePath

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from ..audit import record_access
from ..documents import check_upload
from ..models import Case, CaseDocument, CaseEvent
from ..permissions import is_coordinator
from .errors import Problem, Refused

logger = logging.getLogger(__name__)


def _original_name(file: UploadedFile) -> str:
    # Browsers send a bare name, but some old ones send a full client path; keep the last part.
    name = PurePath((file.name or "").replace("\\", "/")).name or "document"
    max_length = CaseDocument._meta.get_field("original_name").max_length
    return name[-max_length:]


@transaction.atomic
def document_add(
    *,
    case: Case,
    by: AbstractBaseUser,
    file: UploadedFile,
    kind: str,
    author: str = "",
    service_date: dt.date | None = None,
    submitted_by: str,
) -> CaseDocument:
    """Store one uploaded record on a case, with its sniffed type, size and page count.

    Raises PermissionDenied unless `by` is a coordinator, and Refused (nothing stored) when the file fails
    reviews.documents.check_upload (code "bad_file"), the case takes no more documents (code "closed"),
    or the storage cannot be written (code "storage": an unwritable or full media folder).
    """
    if not is_coordinator(by):
        raise PermissionDenied("Only case coordinators may add documents.")
    try:  # before the lock: reading a large file must not hold the case row
        checked = check_upload(file)
    except ValidationError as error:
        name = _original_name(file)
        raise Refused(*(Problem(f"{name} {m}", where="files") for m in error.messages), code="bad_file") from None
    case = Case.objects.select_for_update().get(pk=case.pk)  # no document slips in while the case closes
    if not case.takes_documents:
        raise Refused(
            f"Case {case.case_number} is {case.get_status_display().lower()}; it takes no documents.", code="closed"
        )
    document = CaseDocument(
        case=case,
        kind=kind,
        author=author.strip(),
        service_date=service_date,
        submitted_by=submitted_by,
        received_at=timezone.now(),
        original_name=_original_name(file),
        content_type=checked.content_type,
        size=checked.size,
        page_count=checked.page_count,
    )
    document.full_clean(exclude=["file"])
    # A random stored name: employee names in file names stay out of the file system.
    try:
        document.file.save(f"{uuid.uuid4().hex}{checked.extension}", file, save=False)
    except OSError as error:  # the media folder unwritable, missing or full: the server's problem, said plainly
        logger.error("Could not store document %s of case %s: %s", document.original_name, case.case_number, error)
        raise Refused(
            Problem(
                f"{document.original_name} could not be stored: the server's document folder cannot be written "
                f"({error.strerror or type(error).__name__}). Nothing was added; tell the administrator."
            ),
            code="storage",
        ) from None
    try:
        document.save()
    except Exception:
        document.file.storage.delete(document.file.name)
        raise
    CaseEvent.objects.create(
        case=case,
        actor=by,
        from_status=case.status,
        to_status=case.status,
        note=f"document added: {document.get_kind_display()}",
    )
    return document


@transaction.atomic
def document_add_many(
    *, case: Case, by: AbstractBaseUser, files: Iterable[UploadedFile], **fields
) -> list[CaseDocument]:
    """Store several uploads with one set of metadata: all of them, or none (files already written are removed).

    Raises what document_add raises.
    """
    documents: list[CaseDocument] = []
    try:
        for file in files:
            documents.append(document_add(case=case, by=by, file=file, **fields))
    except Exception:
        # The rollback undoes the rows; the files already on disk are ours to remove.
        for document in documents:
            document.file.storage.delete(document.file.name)
        raise
    return documents


@transaction.atomic
def document_open(*, document: CaseDocument, by: AbstractBaseUser) -> CaseDocument:
    """Record that `by` opened the document and return it; the caller has checked access.

    The assigned reviewer's first opening sets first_opened_at (once: a conditional update,
    so two tabs opening at once still record one time). Every opening, by anyone, is written
    to the audit log as an access to medical data.
    """
    case = document.case
    by_assigned_reviewer = case.reviewer_id is not None and case.reviewer.user_id == by.pk
    first_opening = False
    if by_assigned_reviewer and document.first_opened_at is None:
        now = timezone.now()
        first_opening = bool(
            CaseDocument.objects.filter(pk=document.pk, first_opened_at=None).update(first_opened_at=now)
        )
        if first_opening:
            document.first_opened_at = now
        else:  # another request of the reviewer's got there first
            document.refresh_from_db(fields=["first_opened_at"])
    record_access(document, by=by, case_number=case.case_number, first_opening_by_reviewer=first_opening)
    return document


def documents_forget_openings(*, case: Case) -> None:
    """A new reviewer has opened nothing yet: clear the openings of the one before (call under the case lock).

    One save per document, not an update(), so the history of each keeps the change.
    """
    for document in case.documents.exclude(first_opened_at=None):
        document.first_opened_at = None
        document.save(update_fields=["first_opened_at"])
