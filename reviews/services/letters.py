"""The Final Determination letter's life: queued on approval, rendered once per version, served on the parties.

Every step that follows a commit goes through the outbox (services/outbox.py): the rendering is
written with the approval, the service with the readiness, and the sweep looks after the rest.
"""

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Max, Q
from django.template.loader import render_to_string
from django.utils import timezone

from .. import letters
from ..models import Case, CaseEvent, Letter, LetterDelivery
from ..permissions import require_coordinator
from .errors import Problem, Refused
from .outbox import RENDER, SERVE, outbox_enqueue
from .workflow import case_transition


@dataclass(frozen=True)
class Party:
    role: str
    name: str
    email: str
    address: str


def _queue_render(letter: Letter) -> None:
    outbox_enqueue(task=RENDER, args=[letter.pk], key=f"letter:{letter.pk}")


def _queue_service(letter: Letter) -> None:
    """Serving follows readiness: one service per ready letter, whichever run made or found it ready.

    The caller holds the letter's row lock, so two runs never both queue it.
    """
    outbox_enqueue(task=SERVE, args=[letter.pk], key=f"letter:{letter.pk}", once=True)


def letter_queue(*, case: Case, by: AbstractBaseUser | None, reason: str = "") -> Letter:
    """Create the next version of the case's letter and its public copy, and queue the rendering.

    Call inside the caller's transaction (approval, or a correction). Returns the served letter.
    """
    last = case.letters.aggregate(v=Max("version"))["v"] or 0
    common = {"case": case, "version": last + 1, "layout": settings.IMR_LETTER_LAYOUT, "correction_reason": reason}
    final = Letter.objects.create(kind=Letter.Kind.FINAL_DETERMINATION, **common)
    Letter.objects.create(kind=Letter.Kind.PUBLIC_COPY, **common)
    _queue_render(final)
    return final


@transaction.atomic
def letter_correct(*, case: Case, by: AbstractBaseUser, reason: str) -> Letter:
    """A ready letter never changes: a correction is a new version, with its reason.

    Raises PermissionDenied for a non-coordinator, and Refused without a reason (code "reason_missing"),
    before the first letter is ready (code "no_letter"), or while a version is still queued or rendering
    (code "letter_pending": a second click, or two coordinators at once; the case lock makes the second
    one see the first's version).
    """
    require_coordinator(by)
    if not reason.strip():
        raise Refused(Problem("Give the reason for the corrected letter.", where="reason"), code="reason_missing")
    case = Case.objects.select_for_update().get(pk=case.pk)
    if not case.letters.filter(status=Letter.Status.READY).exists():
        raise Refused("There is no issued letter to correct yet.", code="no_letter")
    if pending := case.letters.filter(status__in=[Letter.Status.QUEUED, Letter.Status.RENDERING]).first():
        raise Refused(
            Problem(f"Version {pending.version} is still being rendered.", hint="Wait for it before correcting again."),
            code="letter_pending",
        )
    letter = letter_queue(case=case, by=by, reason=reason)
    CaseEvent.record(case, by=by, from_status=case.status, note=f"letter version {letter.version} queued: {reason}")
    return letter


def stuck_since(now: dt.datetime | None = None) -> dt.datetime:
    """A letter queued or rendering since before this is stuck: the sweep re-queues it, Retry may."""
    return (now or timezone.now()) - dt.timedelta(seconds=settings.IMR_LETTER_STUCK_AFTER)


@transaction.atomic
def letter_retry(*, letter: Letter, by: AbstractBaseUser) -> Letter:
    """Queue a failed rendering again, or one left queued or rendering past IMR_LETTER_STUCK_AFTER.

    Raises PermissionDenied for a non-coordinator, and Refused (code "not_retryable") for a letter that
    is ready, or queued or rendering and not yet past the deadline.
    """
    require_coordinator(by)
    retryable = Q(status=Letter.Status.FAILED) | Q(
        status__in=[Letter.Status.QUEUED, Letter.Status.RENDERING], status_changed_at__lt=stuck_since()
    )
    updated = (
        Letter.objects.filter(case=letter.case, version=letter.version)
        .filter(retryable)
        .update(status=Letter.Status.QUEUED, failure_reason="", status_changed_at=timezone.now())
    )
    if not updated:
        raise Refused(
            "Only a failed letter, or one queued or rendering for too long, can be retried.", code="not_retryable"
        )
    final = Letter.objects.get(case=letter.case, version=letter.version, kind=Letter.Kind.FINAL_DETERMINATION)
    _queue_render(final)
    return final


@transaction.atomic
def letter_serve_again(*, letter: Letter, by: AbstractBaseUser) -> Letter:
    """Queue the service of a ready letter again, for the parties not yet served (e.g. after an e-mail outage).

    Raises PermissionDenied for a non-coordinator, and Refused (code "not_servable") unless the letter is a
    ready served letter that is not served on every party yet.
    """
    require_coordinator(by)
    letter = Letter.objects.select_for_update().get(pk=letter.pk)
    if not Letter.objects.ready_unserved(before=timezone.now()).filter(pk=letter.pk).exists():
        raise Refused("Only a ready letter not yet served on every party can be served again.", code="not_servable")
    outbox_enqueue(task=SERVE, args=[letter.pk], key=f"letter:{letter.pk}")
    CaseEvent.record(letter.case, by=by, from_status=letter.case.status, note=f"letter v{letter.version} served again")
    return letter


def pdf_name(letter: Letter) -> str:
    """One name per case, version and kind: a second rendering overwrites, never adds a file."""
    suffix = "-public" if letter.kind == Letter.Kind.PUBLIC_COPY else ""
    return f"letters/{letter.case.case_number}-v{letter.version}{suffix}.pdf"


def letter_render(*, letter_id: int) -> bool:
    """Render a version of a case's letter (served letter and public copy) and issue it.

    Safe to run twice, or again after a crash at any point: a ready letter is left alone, the
    PDFs are written under fixed names, and the letters become ready and the case issued in
    one transaction. Returns False when there was nothing left to do.
    """
    final = Letter.objects.select_related("case").get(pk=letter_id)
    if final.status == Letter.Status.READY:
        with transaction.atomic():  # a redelivered run: the letter is ready, its service must be queued
            _queue_service(Letter.objects.select_for_update().get(pk=final.pk))
        return False
    Letter.objects.filter(case=final.case, version=final.version, status=Letter.Status.QUEUED).update(
        status=Letter.Status.RENDERING, status_changed_at=timezone.now()
    )
    case = letters.letter_queryset().get(pk=final.case_id)
    if problems := letters.credential_problems(case):
        raise Refused(*problems, code="not_renderable")  # the task records it as the failure reason
    # Render outside the transaction: WeasyPrint takes seconds and holds no lock.
    outputs = {}
    for kind, public in ((Letter.Kind.FINAL_DETERMINATION, False), (Letter.Kind.PUBLIC_COPY, True)):
        html = letters.render_letter(case=case, fmt="html", layout=final.layout, public=public)
        text = letters.render_letter(case=case, fmt="text", layout=final.layout, public=public)
        outputs[kind] = (html, text, letters.render_pdf(html))

    with transaction.atomic():
        rows = {
            row.kind: row
            for row in Letter.objects.select_for_update().filter(case=final.case_id, version=final.version)
        }
        if rows[Letter.Kind.FINAL_DETERMINATION].status == Letter.Status.READY:
            _queue_service(rows[Letter.Kind.FINAL_DETERMINATION])
            return False  # another run finished first
        now = timezone.now()
        for kind, (html, text, pdf) in outputs.items():
            row = rows[kind]
            name = pdf_name(row)
            default_storage.delete(name)  # left by a run that died before its commit
            row.pdf.name = default_storage.save(name, ContentFile(pdf))
            row.html, row.text = html, text
            row.sha256 = hashlib.sha256(pdf).hexdigest()
            row.status, row.rendered_at, row.failure_reason = Letter.Status.READY, now, ""
            row.status_changed_at = now
            row.save()
        # The first version issues the approved case; a correction's finds it issued already.
        if Case.objects.filter(pk=final.case_id, status=Case.Status.APPROVED).exists():
            case_transition(final.case, "issue", by=None, note=f"letter v{final.version} ready")
        _queue_service(rows[Letter.Kind.FINAL_DETERMINATION])
    return True


def letter_mark_failed(*, letter_id: int, reason: str) -> None:
    """Record why rendering gave up, for the coordinator to read and retry."""
    final = Letter.objects.get(pk=letter_id)
    Letter.objects.filter(case=final.case_id, version=final.version).exclude(status=Letter.Status.READY).update(
        status=Letter.Status.FAILED, failure_reason=reason[:2000], status_changed_at=timezone.now()
    )


def parties(case: Case) -> list[Party]:
    """Who is served: the employee (or their attorney), the requesting physician, the claims administrator."""
    served = [Party("Employee", case.employee_name, "", "")]
    if case.employee_attorney:
        a = case.employee_attorney
        served.append(Party("Employee's attorney", a.name, a.email, a.address))
    p = case.requesting_provider
    served.append(Party("Requesting physician", p.name, p.email, p.address))
    c = case.claims_administrator
    served.append(Party("Claims administrator", c.name, c.email, c.address))
    return served


def letter_serve(*, letter_id: int) -> int:
    """E-mail the ready letter (PDF attached) to each party with an address; list the others for mail.

    Safe to run twice: a party already served is not served again. Returns e-mails sent.
    """
    letter = Letter.objects.select_related(
        "case__employee_attorney", "case__requesting_provider", "case__claims_administrator"
    ).get(pk=letter_id, status=Letter.Status.READY)
    for party in parties(letter.case):
        method = LetterDelivery.Method.EMAIL if party.email else LetterDelivery.Method.MAIL
        letter.deliveries.get_or_create(
            role=party.role,
            defaults={"recipient": party.name, "method": method, "address": party.email or party.address},
        )
    subject = render_to_string("emails/letter-subject.txt", {"letter": letter}).strip()
    body = render_to_string(
        "emails/letter-body.txt", {"letter": letter, "organization_name": settings.IMR_ORGANIZATION_NAME}
    )
    with letter.pdf.open("rb") as pdf:
        attachment = pdf.read()
    sent = 0
    # Recorded first, marked served once sent: a crash in between may send one e-mail twice, never none.
    for delivery_id in letter.deliveries.filter(method=LetterDelivery.Method.EMAIL, served_at__isnull=True).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            # The row lock, held while sending, keeps a second run (a redelivery) from sending it too.
            delivery = (
                LetterDelivery.objects.select_for_update(skip_locked=True)
                .filter(pk=delivery_id, served_at__isnull=True)
                .first()
            )
            if delivery is None:
                continue  # served meanwhile, or being served by another run
            message = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [delivery.address])
            message.attach(f"{letter.case.case_number}-final-determination.pdf", attachment, "application/pdf")
            message.send()
            delivery.served_at = timezone.now()
            delivery.save(update_fields=["served_at"])
        sent += 1
    return sent
