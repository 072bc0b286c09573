"""Published determinations imported as issued historical cases (DESIGN.md section 8).

Each letter is read with reviews.published and written in one transaction: a letter that cannot
be read or saved leaves nothing behind. The published letters name no reviewer and no party, so
the case's parties are one shared "not published" placeholder each, and its reviewer is an
inactive profile holding exactly the credentials the letter states (one profile per distinct set
of credentials), which is what the letter renders again.
"""

import datetime as dt
import hashlib
import itertools
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import bulk, published, treatment_rules
from ..audit import record_bulk_created
from ..models import (
    US_STATES,
    BoardCertification,
    Case,
    CaseEvent,
    Citation,
    DeterminationImport,
    DisputedItem,
    Guideline,
    License,
    Organization,
    Provider,
    Reviewer,
    Specialty,
    TreatmentCategory,
)
from ..permissions import require_coordinator
from .outbox import outbox_enqueue

NOT_PUBLISHED = "Not published"
STATE_CODES = {name.casefold(): code for code, name in US_STATES.items()}
# Letters written in one transaction by run_many: big enough that the per-letter round trips vanish,
# small enough that a chunk the database refuses is cheap to redo one by one.
CHUNK = 100
FAR_FUTURE = dt.date(9999, 12, 31)  # a published credential is stated as held on the decision date


@dataclass(frozen=True)
class ImportOutcome:
    source: str
    status: str  # "imported", "replaced", "skipped" or "failed"
    case_number: str = ""
    reason: str = ""
    line: int | None = None


class _Refused(Exception):
    pass


def determination_import(*, text: str, source: str, by: AbstractBaseUser, update: bool = False) -> ImportOutcome:
    """Import one published determination; see DeterminationImporter.run."""
    return DeterminationImporter(by=by, update=update).run(text=text, source=source)


class DeterminationImporter:
    """Imports letters one by one, each in its own transaction, remembering across them what they share.

    The parties' placeholders, treatment categories, guidelines and reviewer profiles are read once
    per run rather than once per letter; a letter that fails forgets them, since its transaction
    took back whatever it had added.
    """

    def __init__(self, *, by: AbstractBaseUser, update: bool = False):
        require_coordinator(by)  # raises PermissionDenied
        self.by, self.update = by, update
        self._forget()

    def _forget(self) -> None:
        self.placeholders: dict[str, Organization | Provider] = {}
        self.categories: dict[tuple[str, str | None], tuple[TreatmentCategory, TreatmentCategory | None]] = {}
        self.reviewers: dict[str, Reviewer] = {}
        self.guidelines: dict[str, Guideline] | None = None

    def run(self, *, text: str, source: str) -> ImportOutcome:
        """Import one letter as an issued case; never raises for a bad letter.

        An imported case number already on file is skipped, or replaced with `update` (only an
        imported case is ever replaced).
        """
        try:
            letter = published.parse(text)
        except published.UnreadableLetter as error:
            return ImportOutcome(source, "failed", reason=str(error), line=error.line)
        number = letter.header.get("case_number")
        if not number:
            return ImportOutcome(source, "failed", reason="no case number in the letter")
        try:
            with transaction.atomic():
                existing = Case.objects.select_for_update().filter(case_number=number).first()
                if existing and not existing.imported_from:
                    raise _Refused(f"{number} is a case of this organisation, never replaced by an import")
                if existing and not self.update:
                    return ImportOutcome(source, "skipped", number, "already imported (use --update to replace it)")
                self._write(letter, source=source, existing=existing)
        except (_Refused, ValidationError, IntegrityError) as error:
            self._forget()
            reason = "; ".join(getattr(error, "messages", [str(error)]))
            return ImportOutcome(source, "failed", number, reason)
        return ImportOutcome(source, "replaced" if existing else "imported", number)

    def run_many(self, letters: Iterable[tuple[str, Callable[[], str]]]) -> Iterator[ImportOutcome]:
        """Import (source, read) pairs, yielding each letter's outcome in order; never raises for a bad letter.

        `read` gives the letter's text, or raises OSError (reported as the letter's failure).

        New letters are written CHUNK at a time in one transaction, a handful of inserts for the whole
        chunk instead of a dozen per letter. Anything else (a case number on file or repeated in the
        chunk, a letter that cannot be read) goes through run() one by one, and so does every letter of
        a chunk the database refuses: what is reported for each letter, and what is kept of it, is
        exactly what run() alone would give.
        """
        letters = iter(letters)
        while chunk := list(itertools.islice(letters, CHUNK)):
            yield from self._run_chunk(chunk)

    def _run_chunk(self, chunk: list[tuple[str, Callable[[], str]]]) -> list[ImportOutcome]:
        texts: list[str | OSError] = []
        for _source, read in chunk:
            try:
                texts.append(read())
            except OSError as error:
                texts.append(error)
        readable = {}  # case number -> (index in chunk, letter), first of each number only
        for index, text in enumerate(texts):
            try:
                letter = published.parse(text) if isinstance(text, str) else None
            except published.UnreadableLetter:
                letter = None  # run() reports it
            if letter and (number := letter.header.get("case_number")):
                readable.setdefault(number, (index, letter))
        try:
            with transaction.atomic():
                on_file = set(Case.objects.filter(case_number__in=readable).values_list("case_number", flat=True))
                fresh = {index: letter for number, (index, letter) in readable.items() if number not in on_file}
                self._write_new(fresh, chunk)
        except (_Refused, ValidationError, IntegrityError):
            self._forget()
            fresh = {}
        outcomes = []
        for index, ((source, _read), text) in enumerate(zip(chunk, texts, strict=True)):
            if index in fresh:
                outcomes.append(ImportOutcome(source, "imported", fresh[index].header["case_number"]))
            elif isinstance(text, OSError):
                outcomes.append(ImportOutcome(source, "failed", reason=f"cannot read: {text}"))
            else:
                outcomes.append(self.run(text=text, source=source))
        return outcomes

    def _write_new(self, letters: dict[int, published.PublishedLetter], chunk: list[tuple[str, object]]) -> None:
        """Write new letters' cases, items, citations, events and history in a few bulk inserts."""
        cases = [self._case(letter, source=chunk[index][0], existing=None) for index, letter in letters.items()]
        bulk.insert(cases)
        rows = [self._rows(case, letter) for case, letter in zip(cases, letters.values(), strict=True)]
        items = [item for case_items, _ in rows for item in case_items]
        bulk.insert(items)
        citations = [citation for _, make_citations in rows for citation in make_citations()]
        bulk.insert(citations)
        record_bulk_created([*cases, *items, *citations], by=self.by)
        bulk.insert(
            [
                CaseEvent(case=case, actor=self.by, to_status=case.status, note=f"imported from {case.imported_from}")
                for case in cases
            ]
        )

    def _write(self, letter: published.PublishedLetter, *, source: str, existing: Case | None) -> Case:
        case = self._case(letter, source=source, existing=existing)
        if existing is not None:
            case.items.all().delete()
        case.save()
        items, make_citations = self._rows(case, letter)
        # In bulk, with their history written alongside: a letter's rows in three inserts, not thirty.
        bulk.insert(items)
        citations = make_citations()
        bulk.insert(citations)
        record_bulk_created([*items, *citations], by=self.by)
        CaseEvent.record(case, by=self.by, note=f"{'re-imported' if existing else 'imported'} from {source}")
        return case

    def _case(self, letter: published.PublishedLetter, *, source: str, existing: Case | None) -> Case:
        """The letter's case, validated and not saved: `existing` updated, or a new one."""
        header = letter.header
        fields = {
            "priority": header.get("priority", "Standard").lower(),
            "date_of_injury": letter.date("date_of_injury"),
            "ur_decision_date": letter.date("ur_denial_date"),
            "application_received_date": letter.date("application_received"),
            "date_assigned": letter.date("date_assigned"),
            "decision_date": letter.date("decision_date"),
            "reviewer": self._reviewer(letter),
            "clinical_case_summary": letter.summary,
            "imported_from": source,
            "issuing_organization": letter.organization_name,
            "issuing_organization_short": letter.organization_short_name,
        }
        if existing is None:
            case = Case(
                case_number=header["case_number"],
                status=Case.Status.ISSUED,  # a historical determination, issued by its organisation
                employee_name=NOT_PUBLISHED,
                claim_number=NOT_PUBLISHED,
                employer=self._placeholder(Organization.Kind.EMPLOYER),
                claims_administrator=self._placeholder(Organization.Kind.CLAIMS_ADMINISTRATOR),
                requesting_provider=self._placeholder("provider"),
                **fields,
            )
        else:
            case = existing
            for name, value in fields.items():
                setattr(case, name, value)
        # The database checks the constraints at insert (IntegrityError, caught by run): checking each
        # in Python first costs a query per constraint, most of an import's time. The parties and the
        # reviewer are rows this importer just read or wrote, and the number was looked up above.
        case.full_clean(
            exclude=["case_number", "employer", "claims_administrator", "requesting_provider", "reviewer"],
            validate_constraints=False,
        )
        return case

    def _rows(self, case: Case, letter: published.PublishedLetter):
        """The case's validated, unsaved items, and a function giving their citations once the items are saved."""
        items = []
        for position, entry in enumerate(letter.items, start=1):
            category, subcategory = self._category(entry.request)
            item = DisputedItem(
                case=case,
                position=position,
                request_text=entry.request,
                category=category,
                subcategory=subcategory,
                ur_action=DisputedItem.URAction.MODIFIED if entry.authorized_part else DisputedItem.URAction.DENIED,
                authorized_part=entry.authorized_part,
                eligible_scope=entry.eligible_scope,
                remaining_part=entry.remaining_part,
                decision=entry.decision,
                ca_cited_no_evidence=entry.ca.no_evidence,
                review_cited_no_evidence=entry.review.no_evidence,
                rationale=entry.rationale,
            )
            item.full_clean(exclude=["case", "category", "subcategory"], validate_constraints=False)
            items.append(item)

        def citations() -> list[Citation]:
            return [
                Citation(item=item, role=role, position=n, guideline=guideline, sections=sections, pages=cited.pages)
                for item, entry in zip(items, letter.items, strict=True)
                for role, line in (
                    (Citation.Role.CLAIMS_ADMINISTRATOR, entry.ca),
                    (Citation.Role.REVIEW, entry.review),
                )
                for n, cited in enumerate(line.citations, start=1)
                for guideline, sections in [self._guideline(cited, letter.layout)]
            ]

        return items, citations

    def _placeholder(self, kind: str) -> Organization | Provider:
        if kind not in self.placeholders:
            if kind == "provider":
                found = Provider.objects.get_or_create(name=NOT_PUBLISHED, npi="")[0]
            else:
                found = Organization.objects.get_or_create(kind=kind, name=NOT_PUBLISHED)[0]
            self.placeholders[kind] = found
        return self.placeholders[kind]

    def _category(self, request: str) -> tuple[TreatmentCategory, TreatmentCategory | None]:
        rule = treatment_rules.classify(request)
        if rule not in self.categories:
            name, sub = rule
            category = TreatmentCategory.objects.filter(parent=None, name__iexact=name).first()
            category = category or TreatmentCategory.objects.create(name=name)
            subcategory = None
            if sub is not None:
                subcategory = category.subcategories.filter(name__iexact=sub).first()
                subcategory = subcategory or TreatmentCategory.objects.create(name=sub, parent=category)
            self.categories[rule] = (category, subcategory)
        return self.categories[rule]

    def _reviewer(self, letter: published.PublishedLetter) -> Reviewer:
        """The inactive profile holding exactly the credentials the letter states."""
        codes = []
        for state in letter.states:
            if (code := STATE_CODES.get(state.casefold())) is None:
                raise _Refused(f"unknown state of licensure {state!r}")
            codes.append(code)
        profile = (
            codes,
            letter.certifications,
            letter.subspecialties,
            letter.more_than_five_years,
            letter.weekly_hours,
        )
        key = hashlib.sha256(repr(profile).encode()).hexdigest()[:12]
        if key not in self.reviewers:
            username = f"published-{key}"
            found = Reviewer.objects.filter(user__username=username).first()
            self.reviewers[key] = found or self._new_reviewer(letter, codes, key, username)
        return self.reviewers[key]

    def _new_reviewer(self, letter: published.PublishedLetter, codes: list[str], key: str, username: str) -> Reviewer:
        user = get_user_model().objects.create(
            username=username, first_name="Published", last_name="reviewer", is_active=False
        )
        user.set_unusable_password()
        user.save(update_fields=["password"])
        years = 30 if letter.more_than_five_years else 5  # the letters say "more than five years", or less
        reviewer = Reviewer.objects.create(
            user=user,
            degree=Reviewer.Degree.MD,
            practice_start_year=letter.date("decision_date").year - years,
            weekly_hours=letter.weekly_hours,
            capacity=0,
            active=False,
        )
        for n, code in enumerate(codes, start=1):
            License.objects.create(reviewer=reviewer, state=code, number=f"PUBLISHED-{key}-{n}", expires_on=FAR_FUTURE)
        parent = None
        for name in letter.certifications:
            is_sub = name in letter.subspecialties
            specialty = Specialty.objects.filter(name__iexact=name).first() or Specialty.objects.create(
                name=name, parent=parent if is_sub else None
            )
            if not is_sub:
                parent = parent or specialty
            BoardCertification.objects.create(
                reviewer=reviewer, specialty=specialty, board="As published", certified_on=dt.date(1990, 1, 1)
            )
        return reviewer

    def _guideline(self, cited: published.PublishedCitation, layout: str) -> tuple[Guideline, str]:
        """(guideline, sections) of a printed citation; a guideline not in the catalogue is added."""
        if self.guidelines is None:
            self.guidelines = {g.citation_name: g for g in Guideline.objects.all()}

        def names() -> list[str]:
            return [n for n, g in self.guidelines.items() if g.is_mtus == cited.mtus]

        if cited.mtus and layout == "2016":
            name, sections = cited.text, cited.sections
        elif cited.mtus:  # 2014: "MTUS Chronic Pain Treatment Guidelines Physical Medicine"
            name, sections = published.split_known_name(cited.text, names(), separator=" ")
        elif layout == "2014":
            name, sections = cited.text, cited.sections
        else:
            name, sections = published.split_known_name(cited.text, names())
        if name not in self.guidelines:
            source = Guideline.Source.MTUS if cited.mtus else _source_of(name)
            self.guidelines[name] = Guideline.objects.create(
                source=source, title=name, edition="as published", citation_name=name
            )
        return self.guidelines[name], sections


def _source_of(name: str) -> str:
    if "ODG" in name or "Official Disability" in name:
        return Guideline.Source.ODG
    if "ACOEM" in name:
        return Guideline.Source.ACOEM
    return Guideline.Source.OTHER_GUIDELINE


def _stored_letter(name: str) -> str:
    with default_storage.open(name, "rb") as stored:
        return letter_text(name, stored.read())


def letter_text(name: str, data: bytes) -> str:
    """A letter's text: a .txt as it is, a .pdf through `pdftotext -layout` (poppler-utils).

    Raises OSError when a PDF cannot be read.
    """
    if not name.lower().endswith(".pdf"):
        return data.decode("utf-8", errors="replace")
    if shutil.which("pdftotext") is None:
        raise OSError("reading a PDF needs pdftotext (Debian: apt-get install poppler-utils)")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "letter.pdf"
        path.write_bytes(data)
        done = subprocess.run(  # noqa: S603 - a fixed program on a file of our own
            ["pdftotext", "-layout", str(path), "-"],  # noqa: S607 - found on PATH above
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if done.returncode != 0:
        raise OSError(done.stderr.strip() or f"pdftotext exited with {done.returncode}")
    return done.stdout


@transaction.atomic
def determination_batch_create(*, files: Iterable, update: bool, by: AbstractBaseUser) -> DeterminationImport:
    """Store uploaded letters and queue their import (a Celery task, after commit).

    Raises PermissionDenied unless `by` is a coordinator.
    """
    require_coordinator(by)
    batch = DeterminationImport.objects.create(created_by=by, update=update)
    batch.files = [default_storage.save(f"imports/{batch.pk}/{upload.name}", upload) for upload in files]
    batch.save(update_fields=["files"])
    _queue_run(batch.pk)
    return batch


IMPORT = "reviews.tasks.determinations_import"


def _queue_run(batch_id: int) -> None:
    outbox_enqueue(task=IMPORT, args=[batch_id], key=f"import:{batch_id}")


def determination_batch_run(*, batch_id: int, seconds: float | None = None) -> bool:
    """Import a batch's files from where it stopped; safe to run twice (each file is counted once).

    The files are imported CHUNK at a time (DeterminationImporter.run_many) and counted in the same
    transaction, so a worker that dies mid-batch resumes at the first file not counted, and an import
    already done is not done again. With `seconds`, stops after the chunk that passes that budget and
    queues the next run of the batch (through the outbox), so no run outlasts the broker's visibility
    timeout. Returns True when the batch is done.
    """
    started = time.monotonic()
    batch = DeterminationImport.objects.get(pk=batch_id)
    importer = DeterminationImporter(by=batch.created_by, update=batch.update)
    DeterminationImport.objects.filter(pk=batch_id, status=DeterminationImport.Status.QUEUED).update(
        status=DeterminationImport.Status.RUNNING
    )
    read_here = 0
    while True:
        if seconds is not None and read_here and time.monotonic() - started > seconds:
            with transaction.atomic():
                _queue_run(batch_id)  # the rest in a run of its own
            return False
        with transaction.atomic():
            locked = DeterminationImport.objects.select_for_update().get(pk=batch_id)
            names = batch.files[locked.processed : locked.processed + CHUNK]  # past what earlier runs counted
            if not names:
                break
            for outcome in importer.run_many((Path(name).name, partial(_stored_letter, name)) for name in names):
                setattr(locked, outcome.status, getattr(locked, outcome.status) + 1)
                if outcome.status in ("failed", "skipped"):
                    locked.problems.append(
                        {k: v for k, v in asdict(outcome).items() if k in ("source", "status", "reason")}
                    )
            locked.processed += len(names)
            locked.save()
        read_here += len(names)
    DeterminationImport.objects.filter(pk=batch_id).exclude(status=DeterminationImport.Status.DONE).update(
        status=DeterminationImport.Status.DONE, finished_at=timezone.now()
    )
    return True
