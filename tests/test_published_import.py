"""Importing published determinations: every example and the seed's letter, round trip, refusals, re-import."""

import difflib
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from reviews import letters, published, treatment_rules
from reviews.models import Case, Citation, Reviewer
from reviews.services import published_import
from reviews.services.published_import import determination_import
from tests.test_published_letters import LETTERS, section


def _import(*paths, update=False) -> tuple[str, str, int]:
    out, err = StringIO(), StringIO()
    args = [str(p) for p in paths] + (["--update"] if update else [])
    try:
        call_command("import_determinations", *args, "--as", "alice", stdout=out, stderr=err)
        status = 0
    except CommandError as error:
        err.write(str(error))
        status = 1
    return out.getvalue(), err.getvalue(), status


def _round_trip_ratios(case: Case, source: str, layout: str) -> dict[str, float]:
    ours = letters.render_letter(case=letters.letter_queryset().get(pk=case.pk), fmt="text", layout=layout, public=True)
    return {
        heading: difflib.SequenceMatcher(None, section(ours, heading), section(source, heading), autojunk=False).ratio()
        for heading in published.HEADINGS
    }


@pytest.mark.parametrize("path", LETTERS, ids=[p.stem for p in LETTERS])
def test_a_published_letter_becomes_an_issued_case_that_renders_back_to_its_source(path, coordinator):
    source = path.read_text()
    letter = published.parse(source)
    out, err, status = _import(path)
    assert status == 0, err
    case = Case.objects.get(case_number=letter.header["case_number"])
    assert case.status == Case.Status.ISSUED and case.imported_from == path.name
    assert (case.date_assigned, case.decision_date, case.date_of_injury) == (
        letter.date("date_assigned"),
        letter.date("decision_date"),
        letter.date("date_of_injury"),
    )
    assert (case.ur_decision_date, case.application_received_date) == (
        letter.date("ur_denial_date"),
        letter.date("application_received"),
    )
    assert case.get_priority_display() == letter.header["priority"]
    items = list(case.items.prefetch_related("citations__guideline"))
    assert [(i.request_text, i.decision, i.remaining_part) for i in items] == [
        (i.request, i.decision, i.remaining_part) for i in letter.items
    ]
    for item, parsed in zip(items, letter.items, strict=True):
        review = [c for c in item.citations.all() if c.role == Citation.Role.REVIEW]
        assert (
            len(review) == len(parsed.review.citations) and item.review_cited_no_evidence == parsed.review.no_evidence
        )
        assert [c.pages for c in review] == [c.pages for c in parsed.review.citations]
        assert item.ca_cited_no_evidence == parsed.ca.no_evidence
    ratios = _round_trip_ratios(case, source, "2016")
    assert all(r >= 0.99 for r in ratios.values()), ratios


def test_the_demo_example_rendered_in_the_2014_layout_imports_and_renders_back(coordinator, tmp_path):
    call_command("seed_demo", stdout=StringIO())
    demo = letters.letter_queryset().get(claim_number="DEMO-2007-0221")
    source = letters.render_letter(case=demo, fmt="text", layout="2014", public=True)
    Case.objects.filter(pk=demo.pk).update(case_number="CM14-0999999")  # room for the import's number
    path = tmp_path / "demo-2014.txt"
    path.write_text(source)
    _, err, status = _import(path)
    assert status == 0, err
    case = Case.objects.get(case_number=demo.case_number)
    assert case.imported_from == "demo-2014.txt"
    assert [(c.guideline.citation_name, c.sections, c.pages) for c in case.items.get().citations.all()] == [
        ("ODG (Official Disability Guidelines)", "Physical Therapy Guidelines", ""),
        ("MTUS Chronic Pain Treatment Guidelines", "Physical Medicine", "98, 99"),
    ]
    assert list(
        case.reviewer.certifications.order_by("pk").values_list("specialty__name", "specialty__parent__name")
    ) == [
        ("Physical Medicine and Rehabilitation", None),
        ("Interventional Spine", "Physical Medicine and Rehabilitation"),
    ]
    ratios = _round_trip_ratios(case, source, "2014")
    assert all(r >= 0.99 for r in ratios.values()), ratios


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no 'HOW THE IMR FINAL DETERMINATION WAS MADE' heading"),
        ("CASE", "no 'HOW THE IMR FINAL DETERMINATION WAS MADE' heading"),
    ],
)
def test_an_unreadable_file_is_refused_with_its_reason_and_leaves_nothing(coordinator, tmp_path, text, reason):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    out, err, status = _import(path)
    assert status == 1 and f"bad.txt: {reason}" in err and "1 failed" in err
    assert not Case.objects.exists()


def test_a_truncated_letter_is_refused_with_the_line_and_the_others_go_on(coordinator, tmp_path):
    whole = LETTERS[0].read_text()
    cut = whole[: whole.index("Decision rationale:")]  # stops inside the only item
    (tmp_path / "a-truncated.txt").write_text(cut)
    (tmp_path / "b-whole.txt").write_text(whole)
    out, err, status = _import(tmp_path)
    assert status == 1
    assert "a-truncated.txt: line " in err and "no 'MAXIMUS guideline:' or 'Decision rationale:' line" in err
    assert "1 imported, 0 replaced, 0 skipped, 1 failed" in err
    assert list(Case.objects.values_list("imported_from", flat=True)) == ["b-whole.txt"]


def test_a_letter_whose_item_lacks_its_decision_leaves_no_case_no_reviewer_and_no_guideline(coordinator, tmp_path):
    text = LETTERS[0].read_text().replace(": Upheld", ":")
    (tmp_path / "x.txt").write_text(text)
    reviewers = Reviewer.objects.count()
    _, err, status = _import(tmp_path / "x.txt")
    assert status == 1 and "no decision above the claims administrator's guideline" in err
    assert not Case.objects.exists() and Reviewer.objects.count() == reviewers


def test_importing_again_skips_and_update_replaces_without_a_second_case(coordinator):
    path = next(p for p in LETTERS if p.stem == "CM16-0230651")
    _import(path)
    case = Case.objects.get(case_number="CM16-0230651")
    case.items.filter(position=1).update(rationale="changed")
    out, _, status = _import(path)
    assert status == 0 and "skipped" in out and "0 imported, 0 replaced, 1 skipped" in out
    assert case.items.get(position=1).rationale == "changed"
    out, _, status = _import(path, update=True)
    assert status == 0 and "1 replaced" in out
    assert Case.objects.filter(case_number="CM16-0230651").count() == 1
    assert case.items.count() == 10 and case.items.get(position=1).rationale.startswith("The California MTUS")


def test_a_letter_the_database_refuses_fails_alone_and_the_rest_of_its_chunk_is_imported(coordinator, tmp_path):
    """Letters are written a chunk at a time; a chunk with a bad letter is redone one by one."""
    for path in LETTERS[:3]:
        (tmp_path / path.name).write_text(path.read_text())
    bad = LETTERS[3].read_text().replace("California", "Atlantis", 1)  # the first is the state of licensure
    assert "Atlantis" in bad
    (tmp_path / "unknown-state.txt").write_text(bad)
    out, err, status = _import(tmp_path)
    assert status == 1 and "unknown-state.txt: unknown state of licensure 'Atlantis'" in err
    assert "3 imported, 0 replaced, 0 skipped, 1 failed" in err
    assert sorted(Case.objects.values_list("imported_from", flat=True)) == sorted(p.name for p in LETTERS[:3])


def test_a_case_number_twice_in_one_import_is_imported_once_and_then_skipped(coordinator, tmp_path):
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(LETTERS[0].read_text())
    out, err, status = _import(tmp_path)
    assert status == 0 and "1 imported, 0 replaced, 1 skipped, 0 failed" in out
    assert list(Case.objects.values_list("imported_from", flat=True)) == ["a.txt"]


def test_an_import_never_replaces_a_case_of_our_own(coordinator):
    call_command("seed_demo", stdout=StringIO())
    ours = Case.objects.get(claim_number="DEMO-2007-0221")
    text = (
        LETTERS[0].read_text().replace(published.parse(LETTERS[0].read_text()).header["case_number"], ours.case_number)
    )
    outcome = determination_import(text=text, source="clash.txt", by=coordinator, update=True)
    assert outcome.status == "failed" and "never replaced by an import" in outcome.reason
    assert Case.objects.get(pk=ours.pk).imported_from == ""


def test_the_same_credentials_share_one_inactive_published_reviewer(coordinator):
    same = [p for p in LETTERS if p.stem in ("CM16-0230651", "CM17-0004738")]  # both PM&R and pain, one says CA only
    _import(*same)
    reviewers = {c.reviewer for c in Case.objects.all()}
    assert all(not r.active and not r.user.is_active and not r.user.has_usable_password() for r in reviewers)
    assert len(reviewers) == 2  # California and Washington vs California alone


def test_render_letter_works_on_an_imported_case_with_the_source_organisation(coordinator, tmp_path, settings):
    settings.IMR_ORGANIZATION_NAME = "Our Review Organization"
    path = LETTERS[0]
    _import(path)
    out = tmp_path / "out.txt"
    number = published.parse(path.read_text()).header["case_number"]
    call_command("render_letter", number, "--layout", "2016", "--public", "-o", str(out), stderr=StringIO())
    assert out.read_text().count("MAXIMUS Federal Services sent the complete case file") == 1


# The treatment category rules, on every item of the examples.
EXPECTED_CATEGORIES = {
    "Facet joint injections L4-5, L5-S1": ("Injection", "Facet joint injection"),
    "EMG/NCV of the lower extremities": ("Diagnostic testing", "EMG/NCS"),
    "Electro acupuncture to the low back two times a week times six weeks": ("Therapies", "Acupuncture"),
    "Myofascial release to the low back two times a week times six weeks": ("Therapies", None),
    "Ultram 50mg #30": ("Pharmaceuticals", "Opioids"),
    "Flexeril 10mg #60": ("Pharmaceuticals", "Muscle relaxants"),
    "Pepcid 20mg": ("Pharmaceuticals", "Proton pump inhibitors"),
    "X-ray of the pelvis": ("Diagnostic testing", "X-ray"),
    "Right shoulder arthroscopy RCR (rotator cuff repair) and decompression": ("Surgery", "Arthroscopy"),
    "Medical Clearance": ("Evaluation & management", "Consultation"),
    "Associated surgical service: Shoulder wrap for purchase": ("DMEPOS", "Durable medical equipment"),
    "Neuroplasty, lumbar spine": ("Surgery", "Spine surgery"),
    "Right L5-S1 epidural steroid injection": ("Injection", "Epidural steroid injection"),
    "Chirophysio therapy two times a week for four weeks for the right elbow and right knee": (
        "Therapies",
        "Chiropractic manipulation",
    ),
    "Physical therapy evaluation, cervical and thoracic spine": ("Rehabilitation", "Physical therapy"),
}


def test_every_item_of_the_examples_gets_a_category_and_the_known_ones_the_right_one():
    requests = [item.request for path in LETTERS for item in published.parse(path.read_text()).items]
    example = Path(__file__).resolve().parent / "fixtures" / "final-determination-example.txt"
    requests += [item.request for item in published.parse(example.read_text()).items]
    found = {request: treatment_rules.classify(request) for request in requests}
    assert [request for request, rule in found.items() if rule == treatment_rules.FALLBACK] == []
    for request, expected in EXPECTED_CATEGORIES.items():
        assert found[request] == expected, request


# The coordinator's upload page and the Celery task behind it.


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _upload(name: str, text: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, text.encode(), content_type="text/plain")


def test_a_coordinator_uploads_letters_and_the_task_imports_them_showing_its_progress(
    client, coordinator, queued, media_root, django_capture_on_commit_callbacks
):
    from reviews import tasks
    from reviews.models import DeterminationImport

    client.force_login(coordinator)
    files = [_upload(p.name, p.read_text()) for p in LETTERS[:2]] + [_upload("broken.txt", "not a letter")]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reviews:determination_import"), {"files": files})
    batch = DeterminationImport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "reviews:determination_batch", args=[batch.pk]
    )
    assert queued == [("determinations_import", (batch.pk,))]
    page = client.get(response["Location"]).content.decode()
    assert "0 of 3 files read" in page and 'hx-trigger="every 2s"' in page

    tasks.determinations_import(batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.imported, batch.failed) == ("done", 3, 2, 1)
    assert batch.problems == [
        {"source": "broken.txt", "status": "failed", "reason": "no 'HOW THE IMR FINAL DETERMINATION WAS MADE' heading"}
    ]
    assert Case.objects.filter(imported_from__in=[p.name for p in LETTERS[:2]]).count() == 2

    tasks.determinations_import(batch.pk)  # delivered twice: nothing counted or imported again
    batch.refresh_from_db()
    assert (batch.processed, batch.imported, batch.failed) == (3, 2, 1) and Case.objects.count() == 2

    partial = client.get(reverse("reviews:determination_batch", args=[batch.pk]), headers={"HX-Request": "true"})
    html = partial.content.decode()
    assert "<html" not in html and "hx-trigger" not in html and "broken.txt" in html


def test_a_batch_whose_worker_died_midway_resumes_at_the_first_file_not_counted_counting_each_once(
    coordinator, media_root, monkeypatch
):
    from reviews import tasks
    from reviews.services.published_import import determination_batch_create

    monkeypatch.setattr(published_import, "CHUNK", 2)
    files = [_upload(p.name, p.read_text()) for p in LETTERS[:3]]
    batch = determination_batch_create(files=files, update=False, by=coordinator)
    real_read, reads = published_import._stored_letter, []

    def dies_on_the_third_file(name):
        reads.append(name)
        if len(reads) == 3:
            raise SystemExit("worker killed")
        return real_read(name)

    monkeypatch.setattr(published_import, "_stored_letter", dies_on_the_third_file)
    with pytest.raises(SystemExit):
        tasks.determinations_import(batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.imported) == ("running", 2, 2)  # the first chunk
    monkeypatch.setattr(published_import, "_stored_letter", real_read)
    tasks.determinations_import(batch.pk)  # the redelivered task
    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.imported, batch.skipped) == ("done", 3, 3, 0)
    assert Case.objects.count() == 3


def test_a_file_that_is_not_a_letter_is_refused_in_place_and_nothing_is_queued(client, coordinator, queued, media_root):
    from reviews.models import DeterminationImport

    client.force_login(coordinator)
    response = client.post(reverse("reviews:determination_import"), {"files": [_upload("notes.docx", "x")]})
    assert response.status_code == 400
    assert "notes.docx is not a .txt or .pdf file." in response.content.decode()
    assert not DeterminationImport.objects.exists() and queued == []


@pytest.mark.parametrize("name", ["determination_import", "determination_batch"])
def test_only_coordinators_import_determinations(client, reviewer, coordinator, name):
    from reviews.models import DeterminationImport

    batch = DeterminationImport.objects.create(created_by=coordinator)
    url = reverse(f"reviews:{name}", args=[batch.pk] if name == "determination_batch" else [])
    assert client.get(url).status_code == 302  # anonymous: to the login page
    client.force_login(reviewer.user)
    assert client.get(url).status_code == 403
    client.force_login(coordinator)
    assert client.get(url).status_code == 200
    assert client.delete(url).status_code == 405


def test_items_and_citations_written_in_bulk_keep_their_history_with_the_importer_as_actor(coordinator):
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    from reviews.models import DisputedItem

    path = next(p for p in LETTERS if p.stem == "CM16-0230651")
    _import(path)
    case = Case.objects.get(case_number="CM16-0230651")
    assert list(case.events.values_list("actor", "to_status", "note")) == [
        (coordinator.pk, Case.Status.ISSUED, "imported from CM16-0230651.txt")
    ]
    for model, rows in (
        (Case, [case]),
        (DisputedItem, case.items.all()),
        (Citation, Citation.objects.filter(item__case=case)),
    ):
        entries = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(model))
        assert sorted(entries.values_list("object_id", flat=True)) == sorted(r.pk for r in rows)
        assert {e.actor for e in entries} == {coordinator} and all(e.action == LogEntry.Action.CREATE for e in entries)
    item = case.items.get(position=10)
    entry = LogEntry.objects.get(content_type=ContentType.objects.get_for_model(DisputedItem), object_id=item.pk)
    assert entry.changes["remaining_part"] == ["None", "Physical therapy to the low back two sessions"]


def test_a_long_batch_is_imported_in_runs_each_queued_by_the_one_before(coordinator, media_root, monkeypatch):
    """No run outlasts the broker's visibility timeout: past its time budget a run queues the next one."""
    from reviews.models import DeterminationImport, OutboxEntry
    from reviews.services.published_import import determination_batch_create, determination_batch_run

    monkeypatch.setattr(published_import, "CHUNK", 2)
    files = [_upload(p.name, p.read_text()) for p in LETTERS[:3]]
    batch = determination_batch_create(files=files, update=False, by=coordinator)
    assert OutboxEntry.objects.filter(task="reviews.tasks.determinations_import", args=[batch.pk]).count() == 1

    assert determination_batch_run(batch_id=batch.pk, seconds=0) is False  # one chunk, then the budget is spent
    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.imported) == (DeterminationImport.Status.RUNNING, 2, 2)
    assert OutboxEntry.objects.filter(task="reviews.tasks.determinations_import").count() == 2

    assert determination_batch_run(batch_id=batch.pk) is True
    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.imported) == (DeterminationImport.Status.DONE, 3, 3)


def test_bench_import_prints_letters_per_second_and_leaves_nothing_behind(coordinator):
    cases = Case.objects.count()
    out = StringIO()
    call_command("bench_import", "--letters", "15", "--as", "alice", stdout=out)
    assert re.search(r"^15 letters \([0-9.]+ items each\) imported in [0-9.]+ s: [0-9]+ letters/s", out.getvalue())
    assert Case.objects.count() == cases  # rolled back


def test_a_published_letter_as_a_pdf_is_read_through_pdftotext_and_imported(coordinator, tmp_path):
    from django.utils.html import escape

    path = LETTERS[0]
    pdf = letters.render_pdf(f"<pre style='font: 8pt monospace'>{escape(path.read_text())}</pre>")
    (tmp_path / "letter.pdf").write_bytes(pdf)
    out, err, status = _import(tmp_path / "letter.pdf")
    assert status == 0, err
    case = Case.objects.get(imported_from="letter.pdf")
    assert case.case_number == published.parse(path.read_text()).header["case_number"]
    assert case.items.count() == len(published.parse(path.read_text()).items)
