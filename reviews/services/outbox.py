"""The transactional outbox: work that must follow a commit is written in it, relayed to Celery, and swept.

A service calls `outbox_enqueue` inside its transaction: the intent commits or rolls back with the
change it follows. After the commit one quick attempt hands it to the broker (never more than
IMR_BROKER_SEND_TIMEOUT seconds, so a request does not wait on a dead broker); whatever did not
go, the beat-scheduled sweep (`outbox_sweep`) sends later. The worker stamps an entry done when
its task finishes (`outbox_mark_done`, from a Celery signal); the sweep sends again what stays
unfinished past IMR_OUTBOX_RESEND_AFTER (a message lost with a Redis that kept nothing), gives up
after IMR_OUTBOX_MAX_SENDS, and looks after letters and notices: re-queued when left queued or rendering,
failed when their rendering gave up without being able to say so, served when ready.
"""

import datetime as dt
import functools
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import CharField, Exists, F, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from ..models import Letter, LetterDelivery, OutboxEntry

logger = logging.getLogger(__name__)

RENDER = "reviews.tasks.letter_render"
SERVE = "reviews.tasks.letter_serve"


def outbox_enqueue(*, task: str, args: list, key: str = "", once: bool = False) -> OutboxEntry | None:
    """Write the intent to run `task(*args)` in the caller's transaction and relay it after commit.

    With `once`, nothing is written when an entry for the same task and key exists already (the
    service of a letter): the caller holds the lock of the row the key names. Returns the entry,
    or None when it existed. Raises nothing of its own; a broker error after commit is logged and
    left to the sweep.
    """
    if once and OutboxEntry.objects.filter(task=task, key=key).exists():
        return None
    entry = OutboxEntry.objects.create(task=task, args=list(args), key=key)
    transaction.on_commit(functools.partial(_relay_after_commit, entry.pk))
    return entry


def _relay_after_commit(entry_id) -> None:
    try:
        outbox_relay(ids=[entry_id])
    except Exception:  # the intent is committed: whatever failed here, the sweep sends it later
        logger.exception("Relaying outbox entry %s failed; the sweep will send it.", entry_id)


def _send(connection, *, task: str, args: list, task_id: str) -> None:
    """Hand one task to the broker. No retries and no result subscription: both wait on a dead broker."""
    from imr.celery import app

    app.send_task(task, args=args, task_id=task_id, connection=connection, retry=False, ignore_result=True)


def outbox_relay(*, ids: list | None = None, limit: int = 500) -> int:
    """Send the unsent entries (or those of `ids`) to the broker and stamp them sent; returns how many went.

    Each entry is claimed by a conditional update before it is sent, so two relays never send
    the same one. A broker error stops the relay (the others would fail the same way): the entry
    it was sending is released for the next sweep. Raises nothing for a broker error.
    """
    from imr.celery import app

    pending = OutboxEntry.objects.filter(sent_at__isnull=True, done_at__isnull=True)
    if ids is not None:
        pending = pending.filter(pk__in=ids)
    rows = list(pending.order_by("created_at").values_list("pk", "task", "args")[:limit])
    if not rows:
        return 0
    sent = 0
    current = None
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(
                max_retries=0, interval_start=0, interval_step=0, timeout=settings.IMR_BROKER_SEND_TIMEOUT
            )
            for pk, task, args in rows:
                claimed = OutboxEntry.objects.filter(pk=pk, sent_at__isnull=True, done_at__isnull=True).update(
                    sent_at=timezone.now(), sends=F("sends") + 1
                )
                if not claimed:
                    continue  # another relay sent it first
                current = pk
                _send(connection, task=task, args=args, task_id=str(pk))
                current = None
                sent += 1
    except Exception as e:  # the broker (or the network to it) failed: the sweep tries again
        reason = f"{type(e).__name__}: {e}"[:2000]
        if current is not None:
            OutboxEntry.objects.filter(pk=current).update(sent_at=None)
        OutboxEntry.objects.filter(pk__in=[row[0] for row in rows], sent_at__isnull=True).update(last_error=reason)
        logger.warning("Broker unavailable, %d outbox entries wait for the sweep: %s", len(rows) - sent, reason)
    return sent


def outbox_mark_done(*, entry_id: str, error: str = "") -> bool:
    """The task of an entry finished (or gave up with its failure recorded). False when it was not an entry's."""
    return bool(
        OutboxEntry.objects.filter(pk=entry_id, done_at__isnull=True).update(
            done_at=timezone.now(), last_error=error[:2000]
        )
    )


# A rendering that gives up while the database is down cannot mark its letter failed; it leaves
# this note in the cache (Redis in production) and the sweep writes the failure once it can.
def give_up_note_key(entry_id: str) -> str:
    return f"outbox:gave-up:{entry_id}"


def outbox_note_give_up(*, entry_id: str, reason: str) -> None:
    cache.set(give_up_note_key(entry_id), reason[:2000], timeout=14 * 24 * 3600)


@dataclass
class SweepResult:
    resent: int = 0
    given_up: int = 0
    requeued_letters: list[int] = field(default_factory=list)
    failed_letters: list[int] = field(default_factory=list)
    serve_queued: list[int] = field(default_factory=list)
    relayed: int = 0
    unserved: int = 0


def _letter_id(key: str) -> int | None:
    return int(key.removeprefix("letter:")) if key.startswith("letter:") else None


def _fail_letter(letter_id: int, reason: str) -> None:
    from .letters import letter_mark_failed  # letters imports this module

    letter_mark_failed(letter_id=letter_id, reason=reason)


def outbox_sweep(*, now: dt.datetime | None = None) -> SweepResult:
    """Send again what did not go or did not finish, and leave no letter stuck; safe to run at any moment.

    In order: renderings that gave up with a note become failed letters; entries sent but unfinished
    past the deadline are released to be sent again, or given up after IMR_OUTBOX_MAX_SENDS sends
    (a rendering given up fails its letter); letters left queued or rendering past the deadline
    with nothing pending are queued again (failed after IMR_OUTBOX_MAX_SENDS tries); ready letters
    get their service if they have none; everything unsent is relayed. Raises database errors.
    """
    now = now or timezone.now()
    result = SweepResult()
    unfinished = OutboxEntry.objects.filter(done_at__isnull=True, sent_at__isnull=False)

    # Renderings that gave up while the database was down.
    rendering = list(unfinished.filter(task=RENDER).values_list("pk", "key"))
    notes = cache.get_many([give_up_note_key(str(pk)) for pk, _ in rendering]) if rendering else {}
    for pk, key in rendering:
        if reason := notes.get(give_up_note_key(str(pk))):
            if (letter_id := _letter_id(key)) is not None:
                _fail_letter(letter_id, reason)
                result.failed_letters.append(letter_id)
            outbox_mark_done(entry_id=pk, error=reason)
            cache.delete(give_up_note_key(str(pk)))

    # Sent but never finished: lost with the broker, or the worker died and nothing redelivered it.
    stale = settings.IMR_OUTBOX_RESEND_AFTER
    for pk, task, key, sends, sent_at in unfinished.filter(sent_at__lt=now - dt.timedelta(seconds=stale)).values_list(
        "pk", "task", "key", "sends", "sent_at"
    ):
        if sends >= settings.IMR_OUTBOX_MAX_SENDS:
            reason = f"Gave up: sent {sends} times, never finished."
            if outbox_mark_done(entry_id=pk, error=reason):
                result.given_up += 1
                if task == RENDER and (letter_id := _letter_id(key)) is not None:
                    _fail_letter(letter_id, f"Rendering did not finish after {sends} attempts.")
                    result.failed_letters.append(letter_id)
        elif OutboxEntry.objects.filter(pk=pk, sent_at=sent_at, done_at__isnull=True).update(sent_at=None):
            result.resent += 1

    # Letters left queued or rendering with nothing on the way to them (e.g. queued before the outbox existed).
    result.requeued_letters, failed = _requeue_stuck_letters(now)
    result.failed_letters += failed
    # Serving follows readiness: a ready letter has its service queued.
    result.serve_queued = _queue_missing_service()

    result.relayed = outbox_relay()
    unserved_after = settings.IMR_LETTER_UNSERVED_AFTER
    result.unserved = Letter.objects.ready_unserved(before=now - dt.timedelta(seconds=unserved_after)).count()
    if result.unserved:  # the coordinator's dashboard lists them
        logger.warning("%d ready letters are not served %ss after rendering.", result.unserved, unserved_after)
    return result


def _requeue_stuck_letters(now: dt.datetime) -> tuple[list[int], list[int]]:
    pending_render = OutboxEntry.objects.filter(task=RENDER, done_at__isnull=True, key=_letter_key(OuterRef("pk")))
    stuck = (
        Letter.objects.served()
        .filter(
            status__in=[Letter.Status.QUEUED, Letter.Status.RENDERING],
            status_changed_at__lt=now - dt.timedelta(seconds=settings.IMR_LETTER_STUCK_AFTER),
        )
        .filter(~Exists(pending_render))
    )
    requeued, failed = [], []
    for letter_id in stuck.values_list("pk", flat=True)[:500]:
        with transaction.atomic():
            letter = Letter.objects.select_for_update(skip_locked=True).filter(pk=letter_id).first()
            if letter is None or letter.status not in (Letter.Status.QUEUED, Letter.Status.RENDERING):
                continue  # someone holds it, or it finished meanwhile
            key = f"letter:{letter.pk}"
            tries = OutboxEntry.objects.filter(task=RENDER, key=key, created_at__gte=letter.status_changed_at)
            if tries.filter(done_at__isnull=True).exists():
                continue
            if (count := tries.count()) >= settings.IMR_OUTBOX_MAX_SENDS:
                _fail_letter(letter.pk, f"Rendering did not finish after {count} attempts.")
                failed.append(letter.pk)
            else:
                outbox_enqueue(task=RENDER, args=[letter.pk], key=key)
                requeued.append(letter.pk)
    return requeued, failed


def _queue_missing_service() -> list[int]:
    """Ready letters and notices never served and with no service queued (a redelivered rendering lost it)."""
    has_serve = OutboxEntry.objects.filter(task=SERVE, key=_letter_key(OuterRef("pk")))
    missing = (
        Letter.objects.served()
        .filter(status=Letter.Status.READY)
        .filter(~Exists(has_serve), ~Exists(LetterDelivery.objects.filter(letter=OuterRef("pk"))))
    )
    queued = []
    for letter_id in missing.values_list("pk", flat=True)[:500]:
        with transaction.atomic():
            locked = Letter.objects.select_for_update(skip_locked=True).filter(pk=letter_id).exists()
            if locked and outbox_enqueue(task=SERVE, args=[letter_id], key=f"letter:{letter_id}", once=True):
                queued.append(letter_id)
    return queued


def _letter_key(pk):
    """The key of a letter's entries, "letter:<pk>", as an SQL expression of its primary key."""
    return Concat(Value("letter:"), Cast(pk, output_field=CharField()))
