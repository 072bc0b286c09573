"""Case documents: uploading several files, type and size checks from the content, and who may open them."""

import io

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from PIL import Image
from pypdf import PdfWriter

from reviews import services
from reviews.models import Case, CaseDocument, CaseEvent
from reviews.services.errors import Refused
from tests.factories import CaseFactory, confirm_public_copy

UPLOAD_DETAILS = {
    "kind": CaseDocument.Kind.PROGRESS_REPORT,
    "author": "Dr. Jane Smith, MD",
    "service_date": "2026-09-15",
    "submitted_by": CaseDocument.SubmittedBy.CLAIMS_ADMINISTRATOR,
}


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media_root) -> list:
    return sorted(p for p in media_root.rglob("*") if p.is_file()) if media_root.exists() else []


def pdf_bytes(pages: int = 1, password: str | None = None) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    if password:
        writer.encrypt(password)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def image_bytes(image_format: str, frames: int = 1) -> bytes:
    images = [Image.new("L", (16, 16), color=40 * n) for n in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format=image_format, save_all=frames > 1, append_images=images[1:])
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    # The browser's claimed content type is deliberately generic: the server must not trust it.
    return SimpleUploadedFile(name, content, content_type=content_type)


def upload_url(case: Case) -> str:
    return f"/cases/{case.case_number}/documents/upload/"


def file_url(document: CaseDocument) -> str:
    return f"/cases/{document.case.case_number}/documents/{document.pk}/"


def post_files(client, case, *files, **details):
    return client.post(upload_url(case), {"files": list(files), **UPLOAD_DETAILS, **details})


def walk_to_accepted(case: Case, reviewer) -> Case:
    """Move a received case through the fsm transitions to accepted by `reviewer` (status is protected)."""
    case.confirm_eligible()
    case.request_records()
    case.complete_records()
    case.reviewer = reviewer
    case.assign()
    case.accept()
    case.save()
    return case


def walk_to_assigned(case: Case, reviewer) -> Case:
    case.confirm_eligible()
    case.request_records()
    case.complete_records()
    case.reviewer = reviewer
    case.assign()
    case.save()
    return case


@pytest.fixture
def case(db):
    return CaseFactory()


@pytest.fixture
def document(case, coordinator):
    return services.document_add(
        case=case,
        by=coordinator,
        file=upload("progress report.pdf", pdf_bytes(3)),
        kind=CaseDocument.Kind.PROGRESS_REPORT,
        author="Dr. Jane Smith, MD",
        service_date=None,
        submitted_by=CaseDocument.SubmittedBy.CLAIMS_ADMINISTRATOR,
    )


# Uploading


def test_a_coordinator_uploads_several_files_at_once_with_one_set_of_details(client, coordinator, case, private_media):
    client.force_login(coordinator)
    response = post_files(
        client,
        case,
        upload("PR-2 report.pdf", pdf_bytes(3)),
        upload("knee photo.png", image_bytes("PNG")),
        upload("x-ray.jpg", image_bytes("JPEG")),
    )

    assert response.status_code == 302
    assert response["Location"] == upload_url(case)
    documents = list(case.documents.order_by("id"))
    assert [(d.original_name, d.content_type, d.page_count) for d in documents] == [
        ("PR-2 report.pdf", "application/pdf", 3),
        ("knee photo.png", "image/png", 1),
        ("x-ray.jpg", "image/jpeg", 1),
    ]
    for document in documents:
        assert document.kind == CaseDocument.Kind.PROGRESS_REPORT
        assert document.author == "Dr. Jane Smith, MD"
        assert str(document.service_date) == "2026-09-15"
        assert document.submitted_by == CaseDocument.SubmittedBy.CLAIMS_ADMINISTRATOR
        assert document.received_at is not None
        assert document.first_opened_at is None
        assert document.size == (private_media / document.file.name).stat().st_size
        # Stored under a random name: the employee's name in a file name never reaches the disk.
        assert document.original_name not in document.file.name
    assert len(stored_files(private_media)) == 3
    events = list(CaseEvent.objects.filter(case=case).values_list("actor", "from_status", "to_status", "note"))
    assert events == [(coordinator.pk, "received", "received", "document added: Progress report")] * 3
    follow = client.get(response["Location"])
    assert "3 documents added to" in follow.content.decode()


@pytest.mark.parametrize(
    ("name", "content", "content_type", "pages"),
    [
        ("record.pdf", pdf_bytes(3), "application/pdf", 3),
        ("scan.png", image_bytes("PNG"), "image/png", 1),
        ("scan.jpeg", image_bytes("JPEG"), "image/jpeg", 1),
        ("scan.tif", image_bytes("TIFF"), "image/tiff", 1),
        ("fax.tiff", image_bytes("TIFF", frames=2), "image/tiff", 2),
    ],
)
def test_each_allowed_type_is_accepted_with_its_page_count(
    client, coordinator, case, name, content, content_type, pages
):
    client.force_login(coordinator)
    response = post_files(client, case, upload(name, content))
    assert response.status_code == 302
    document = case.documents.get()
    assert (document.content_type, document.page_count) == (content_type, pages)


def test_the_type_comes_from_the_content_not_the_name(client, coordinator, case):
    client.force_login(coordinator)
    response = post_files(client, case, upload("scan.pdf", image_bytes("PNG"), "application/pdf"))
    assert response.status_code == 302
    document = case.documents.get()
    assert document.content_type == "image/png"
    assert document.file.name.endswith(".png")


@pytest.mark.parametrize(
    ("content", "described_as"),
    [
        (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200, "a Linux program (ELF)"),
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "a Windows program"),
        (b"#!/bin/sh\nrm -rf ~\n", "a script"),
    ],
)
def test_a_renamed_executable_is_refused_and_nothing_of_the_upload_is_saved(
    client, coordinator, case, private_media, content, described_as
):
    client.force_login(coordinator)
    response = post_files(
        client, case, upload("good.pdf", pdf_bytes(1)), upload("lab results.pdf", content, "application/pdf")
    )

    assert response.status_code == 400
    errors = response.context["form"].errors["files"]
    assert errors == [f"lab results.pdf is {described_as}, not a PDF, PNG, JPEG or TIFF file, whatever its name says."]
    assert "Nothing was saved" in response.content.decode()
    assert not CaseDocument.objects.exists()
    assert not CaseEvent.objects.filter(case=case).exists()
    assert stored_files(private_media) == []


def test_every_bad_file_of_an_upload_is_named_with_its_reason(client, coordinator, case):
    client.force_login(coordinator)
    response = post_files(
        client,
        case,
        upload("notes.pdf", b"plain text pretending to be a PDF"),
        upload("fine.png", image_bytes("PNG")),
        upload("blank.pdf", b""),
    )
    assert response.status_code == 400
    errors = response.context["form"].errors["files"]
    assert errors == [
        "notes.pdf is content of an unrecognised type, not a PDF, PNG, JPEG or TIFF file, whatever its name says.",
        "blank.pdf is empty.",
    ]
    assert not CaseDocument.objects.exists()


def test_a_file_over_the_size_limit_is_refused(client, coordinator, case, settings, private_media):
    settings.IMR_MAX_UPLOAD_MB = 1
    client.force_login(coordinator)
    oversized = b"%PDF-1.4\n" + b"0" * (1024 * 1024 + 100 * 1024)
    response = post_files(client, case, upload("big scan.pdf", oversized), upload("small.pdf", pdf_bytes(1)))
    assert response.status_code == 400
    assert response.context["form"].errors["files"] == ["big scan.pdf is 1.1 MB, over the limit of 1 MB a file."]
    assert not CaseDocument.objects.exists()
    assert stored_files(private_media) == []


def test_a_file_just_within_the_size_limit_is_accepted(client, coordinator, case, settings):
    settings.IMR_MAX_UPLOAD_MB = 1
    client.force_login(coordinator)
    content = pdf_bytes(1)
    padded = content + b"\n" * (1024 * 1024 - len(content))  # trailing whitespace after %%EOF is valid PDF
    response = post_files(client, case, upload("exactly one megabyte.pdf", padded))
    assert response.status_code == 302
    assert case.documents.get().size == 1024 * 1024


@pytest.mark.parametrize("content", [b"%PDF-1.4\ngarbage, no objects, no trailer", pdf_bytes(2)[:300]])
def test_a_corrupt_pdf_is_refused_with_a_clear_message(client, coordinator, case, content):
    client.force_login(coordinator)
    response = post_files(client, case, upload("damaged.pdf", content))
    assert response.status_code == 400
    [error] = response.context["form"].errors["files"]
    assert error.startswith("damaged.pdf is a damaged PDF that cannot be read (")
    assert error.endswith("); ask the sender for a new copy.")
    assert not CaseDocument.objects.exists()


def test_a_password_protected_pdf_is_refused(client, coordinator, case):
    client.force_login(coordinator)
    response = post_files(client, case, upload("locked.pdf", pdf_bytes(1, password="s3cret")))
    assert response.status_code == 400
    assert response.context["form"].errors["files"] == [
        "locked.pdf is password-protected; ask the sender for a copy without a password."
    ]


def test_a_corrupt_image_is_refused(client, coordinator, case):
    client.force_login(coordinator)
    truncated = image_bytes("PNG")[:40]
    response = post_files(client, case, upload("scan.png", truncated))
    assert response.status_code == 400
    assert response.context["form"].errors["files"] == [
        "scan.png is a damaged image that cannot be read; ask the sender for a new copy."
    ]


def test_an_upload_needs_files_a_kind_and_a_sender(client, coordinator, case):
    client.force_login(coordinator)
    response = client.post(upload_url(case), {"author": "Dr. Smith"})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"files", "kind", "submitted_by"}
    assert not CaseDocument.objects.exists()


def test_a_date_of_service_in_the_future_is_refused(client, coordinator, case):
    client.force_login(coordinator)
    response = post_files(client, case, upload("r.pdf", pdf_bytes(1)), service_date="2099-01-01")
    assert response.status_code == 400
    assert response.context["form"].errors["service_date"] == ["The date of service cannot be in the future."]
    assert not CaseDocument.objects.exists()


def test_a_closed_case_takes_no_documents(client, coordinator, case, private_media):
    case.withdraw()
    case.save()
    client.force_login(coordinator)
    page = client.get(upload_url(case))
    assert page.status_code == 200
    assert "takes no more documents" in page.content.decode()
    assert 'type="file"' not in page.content.decode()

    response = post_files(client, case, upload("r.pdf", pdf_bytes(1)))
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        f"Case {case.case_number} is withdrawn; it takes no documents."
    ]
    assert not CaseDocument.objects.exists()
    assert stored_files(private_media) == []


def test_an_approved_case_takes_no_documents_its_letter_lists_what_the_reviewer_saw(coordinator, submitted_case):
    confirm_public_copy(submitted_case, by=coordinator)
    case = services.case_approve(case=submitted_case, by=coordinator)
    with pytest.raises(Refused, match="is approved; it takes no documents"):
        services.document_add(
            case=case,
            by=coordinator,
            file=upload("late.pdf", pdf_bytes(1)),
            kind="other",
            author="",
            service_date=None,
            submitted_by="ca",
        )


def test_the_upload_page_shows_the_form_and_the_documents_on_file(client, coordinator, case, document):
    client.force_login(coordinator)
    response = client.get(upload_url(case))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="file"' in html and "multiple" in html and 'enctype="multipart/form-data"' in html
    assert "progress report.pdf" in html
    assert "Dr. Jane Smith, MD" in html
    assert f'href="{file_url(document)}"' in html


def test_reviewers_may_not_upload(client, reviewer, case):
    client.force_login(reviewer.user)
    assert client.get(upload_url(case)).status_code == 403
    assert post_files(client, case, upload("r.pdf", pdf_bytes(1))).status_code == 403
    assert not CaseDocument.objects.exists()


def test_uploading_to_an_unknown_case_is_not_found(client, coordinator, db):
    client.force_login(coordinator)
    assert client.get("/cases/CM26-9999999/documents/upload/").status_code == 404


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_the_upload_page_answers_only_get_and_post(client, coordinator, case, method):
    client.force_login(coordinator)
    assert getattr(client, method)(upload_url(case)).status_code == 405


def test_the_service_refuses_a_reviewer(reviewer, case):
    with pytest.raises(PermissionDenied):
        services.document_add(
            case=case,
            by=reviewer.user,
            file=upload("r.pdf", pdf_bytes(1)),
            kind=CaseDocument.Kind.OTHER,
            submitted_by=CaseDocument.SubmittedBy.EMPLOYEE,
        )
    assert not CaseDocument.objects.exists()


# Opening


def test_a_coordinator_opens_a_document_inline_with_private_headers(client, coordinator, document):
    client.force_login(coordinator)
    response = client.get(file_url(document))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == pdf_bytes(3)
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="progress report.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store, private"
    document.refresh_from_db()
    assert document.first_opened_at is None  # only the assigned reviewer's opening counts


def test_a_file_name_outside_ascii_is_sent_encoded(client, coordinator, case):
    document = services.document_add(
        case=case,
        by=coordinator,
        file=upload("Resonancia de rodilla – García.png", image_bytes("PNG")),
        kind=CaseDocument.Kind.IMAGING,
        submitted_by=CaseDocument.SubmittedBy.PHYSICIAN,
    )
    client.force_login(coordinator)
    response = client.get(file_url(document))
    assert response["Content-Disposition"] == (
        "inline; filename*=utf-8''Resonancia%20de%20rodilla%20%E2%80%93%20Garc%C3%ADa.png"
    )
    assert response["Content-Type"] == "image/png"


def test_the_assigned_reviewer_opens_an_accepted_case_s_document_and_the_first_opening_is_kept(
    client, reviewer, document
):
    walk_to_accepted(document.case, reviewer)
    client.force_login(reviewer.user)

    response = client.get(file_url(document))
    assert response.status_code == 200
    document.refresh_from_db()
    first = document.first_opened_at
    assert first is not None

    assert client.get(file_url(document)).status_code == 200
    document.refresh_from_db()
    assert document.first_opened_at == first


@pytest.mark.parametrize("later_step", ["start_review", "submit", "return_to_reviewer", "approve"])
def test_the_assigned_reviewer_keeps_access_after_acceptance(client, reviewer, document, later_step):
    case = walk_to_accepted(document.case, reviewer)
    for step in {
        "start_review": ["start_review"],
        "submit": ["start_review", "submit"],
        "return_to_reviewer": ["start_review", "submit", "return_to_reviewer"],
        "approve": ["start_review", "submit", "approve"],
    }[later_step]:
        getattr(case, step)()
    case.save()
    client.force_login(reviewer.user)
    assert client.get(file_url(document)).status_code == 200


def test_the_assigned_reviewer_cannot_open_documents_before_accepting(client, reviewer, document):
    walk_to_assigned(document.case, reviewer)
    client.force_login(reviewer.user)
    assert client.get(file_url(document)).status_code == 404
    document.refresh_from_db()
    assert document.first_opened_at is None
    assert not LogEntry.objects.filter(
        action=LogEntry.Action.ACCESS, content_type=ContentType.objects.get_for_model(CaseDocument)
    ).exists()


def test_another_reviewer_cannot_open_the_document(client, reviewer, other_reviewer, document):
    walk_to_accepted(document.case, reviewer)
    client.force_login(other_reviewer.user)
    assert client.get(file_url(document)).status_code == 404
    document.refresh_from_db()
    assert document.first_opened_at is None


def test_a_document_is_not_found_under_another_case_s_number(client, coordinator, document):
    other = CaseFactory()
    client.force_login(coordinator)
    response = client.get(f"/cases/{other.case_number}/documents/{document.pk}/")
    assert response.status_code == 404


@pytest.mark.parametrize("method", ["post", "put", "delete", "head"])
def test_a_document_answers_only_get(client, coordinator, document, method):
    client.force_login(coordinator)
    assert getattr(client, method)(file_url(document)).status_code == 405


def test_a_missing_file_is_not_found_rather_than_an_error(client, coordinator, document, private_media):
    (private_media / document.file.name).unlink()
    client.force_login(coordinator)
    assert client.get(file_url(document)).status_code == 404


def test_every_opening_is_written_to_the_audit_log_as_an_access(client, coordinator, reviewer, document):
    walk_to_accepted(document.case, reviewer)
    client.force_login(reviewer.user)
    client.get(file_url(document))
    client.get(file_url(document))
    client.force_login(coordinator)
    client.get(file_url(document))

    entries = LogEntry.objects.filter(
        action=LogEntry.Action.ACCESS,
        content_type=ContentType.objects.get_for_model(CaseDocument),
        object_pk=str(document.pk),
    ).order_by("timestamp", "id")
    assert [(e.actor_id, e.additional_data) for e in entries] == [
        (reviewer.user.pk, {"case_number": document.case.case_number, "first_opening_by_reviewer": True}),
        (reviewer.user.pk, {"case_number": document.case.case_number, "first_opening_by_reviewer": False}),
        (coordinator.pk, {"case_number": document.case.case_number, "first_opening_by_reviewer": False}),
    ]


def test_a_second_opening_racing_the_first_keeps_the_first_time(reviewer, document):
    case = walk_to_accepted(document.case, reviewer)
    # Two tabs loaded the document before either recorded its opening.
    tab_one = CaseDocument.objects.select_related("case__reviewer").get(pk=document.pk)
    tab_two = CaseDocument.objects.select_related("case__reviewer").get(pk=document.pk)
    first = services.document_open(document=tab_one, by=reviewer.user).first_opened_at
    second = services.document_open(document=tab_two, by=reviewer.user).first_opened_at
    assert first == second == CaseDocument.objects.get(pk=document.pk).first_opened_at
    assert case.status == Case.Status.ACCEPTED


def test_opening_a_document_takes_a_fixed_number_of_queries(client, coordinator, document, django_assert_num_queries):
    client.force_login(coordinator)
    # session, user, the user's groups, the document with its case and reviewer (one join),
    # then the service's savepoint, the audit log insert and the release; the content type is cached.
    client.get(file_url(document))
    with django_assert_num_queries(7):
        response = client.get(file_url(document))
    assert response.status_code == 200


def test_uploaded_files_have_no_public_url(client, coordinator, document):
    client.force_login(coordinator)
    assert client.get(f"/media/{document.file.name}").status_code == 404
    assert client.get(f"/{document.file.name}").status_code == 404


def test_the_list_shows_whether_the_reviewer_opened_each_document(client, coordinator, reviewer, document):
    walk_to_accepted(document.case, reviewer)
    unopened = services.document_add(
        case=document.case,
        by=coordinator,
        file=upload("later.png", image_bytes("PNG")),
        kind=CaseDocument.Kind.OTHER,
        submitted_by=CaseDocument.SubmittedBy.EMPLOYEE,
    )
    client.force_login(reviewer.user)
    client.get(file_url(document))
    client.force_login(coordinator)
    html = client.get(upload_url(document.case)).content.decode()
    rows = html.split("<tr>")[2:]  # after the header row
    assert "Yes" in rows[0] and "progress report.pdf" in rows[0]
    assert "No" in rows[1] and unopened.original_name in rows[1]


def test_the_list_links_documents_for_the_reviewer_only_once_the_case_is_accepted(reviewer, document):
    case = walk_to_assigned(document.case, reviewer)
    context = {"case": case, "documents": case.documents.all(), "is_coordinator": False}
    html = render_to_string("reviews/includes/_documents.html", context)
    assert file_url(document) not in html
    assert "After acceptance" in html

    case.accept()
    case.save()
    html = render_to_string("reviews/includes/_documents.html", context)
    assert f'href="{file_url(document)}"' in html


def test_the_service_itself_refuses_a_bad_file_naming_it(coordinator, case, private_media):
    with pytest.raises(Refused) as refused:
        services.document_add(
            case=case,
            by=coordinator,
            file=upload("setup.pdf", b"MZ\x90\x00" + b"\x00" * 100),
            kind=CaseDocument.Kind.OTHER,
            submitted_by=CaseDocument.SubmittedBy.EMPLOYEE,
        )
    assert [str(p) for p in refused.value.problems] == [
        "setup.pdf is a Windows program, not a PDF, PNG, JPEG or TIFF file, whatever its name says."
    ]
    assert not CaseDocument.objects.exists()
    assert stored_files(private_media) == []


def test_an_upload_to_a_document_folder_that_cannot_be_written_says_so_and_stores_nothing(
    client, coordinator, case, settings, tmp_path, caplog
):
    # A file where the folder should be: unwritable even for root, unlike a chmod.
    (tmp_path / "not-a-folder").write_text("")
    settings.MEDIA_ROOT = tmp_path / "not-a-folder" / "media"
    client.force_login(coordinator)

    response = post_files(client, case, upload("PR-2 report.pdf", pdf_bytes(1)))

    assert response.status_code == 400
    page = response.content.decode()
    assert "PR-2 report.pdf could not be stored: the server&#x27;s document folder cannot be written" in page
    assert "Nothing was added; tell the administrator." in page
    assert case.documents.count() == 0
    assert not CaseEvent.objects.filter(case=case).exists()
    assert "Could not store document PR-2 report.pdf" in caplog.text
