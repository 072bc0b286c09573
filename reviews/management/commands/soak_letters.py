"""Soak test of the letter pipeline: approve N cases while Redis stops and workers die, then count.

    manage.py soak_letters --cases 200

Starts a Redis of its own (AOF on, a free port from 6390), Celery workers and beat on it and on
the configured PostgreSQL database, approves N copies of the demo's example case through the
real service while a chaos loop stops and starts that Redis and SIGKILLs worker processes
(main processes with their pool, or one pool process) at random, then waits until every letter
is issued and served and checks each was rendered and served exactly once. It prints figures and
fails when a check fails. It writes cases into the database: run it on a scratch database.
"""

import contextlib
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from imr.celery import app
from reviews import chaos
from reviews.audit import record_bulk_created
from reviews.letters import letter_queryset
from reviews.models import Case, Citation, Diagnosis, DisputedItem, Letter, LetterDelivery, OutboxEntry
from reviews.services import case_approve, public_copy_confirm, public_copy_of
from reviews.services.cases import case_number_next
from reviews.services.letters import parties

EXAMPLE_CLAIM = "DEMO-2007-0221"


class Command(BaseCommand):
    help = "Approve N cases while Redis stops and workers are killed; check every letter is issued and served once."

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=int, default=200)
        parser.add_argument("--workers", type=int, default=2, help="worker processes (each with --concurrency)")
        parser.add_argument("--concurrency", type=int, default=2)
        parser.add_argument("--chaos-every", type=float, default=4.0, help="mean seconds between two faults")
        parser.add_argument("--approve-every", type=float, default=0.1, help="seconds between two approvals")
        parser.add_argument("--timeout", type=int, default=900, help="seconds to wait for every letter after chaos")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, PDFs, e-mails)")

    def handle(self, *args, cases, workers, concurrency, chaos_every, approve_every, timeout, seed, keep, **options):
        if connection.vendor != "postgresql":
            raise CommandError("soak_letters needs PostgreSQL (DATABASE_URL): worker processes cannot share SQLite.")
        rng = random.Random(seed)
        folder = Path(tempfile.mkdtemp(prefix="imr-soak-"))
        self.redis = chaos.RedisServer(port=chaos.free_port(6390), folder=folder / "redis")
        self.var_dir, self.mail_dir = folder / "var", folder / "mail"
        self.var_dir.mkdir()
        self.redis.start()
        original_broker = chaos.use_broker(app, self.redis.url())
        self.environment = chaos.worker_environment(
            redis_url=self.redis.url(),
            var_dir=self.var_dir,
            mail_dir=self.mail_dir,
            IMR_BROKER_VISIBILITY_TIMEOUT="30",
            IMR_OUTBOX_RESEND_AFTER="60",
            IMR_LETTER_STUCK_AFTER="60",
            IMR_OUTBOX_SWEEP_SECONDS="5",
            IMR_OUTBOX_MAX_SENDS="20",  # chaos is not a reason to give up a letter
            DJANGO_LOG_LEVEL="INFO",
        )
        self.workers: list[chaos.Worker] = []
        self.beat = None
        ok = False
        try:
            ok = self.soak(rng, cases, workers, concurrency, chaos_every, approve_every, timeout)
        finally:
            for worker in self.workers:
                worker.stop()
            if self.beat is not None:
                self.beat.terminate()
                self.beat.wait(30)
            self.redis.stop()
            chaos.use_broker(app, original_broker)
            if keep or not ok:
                self.stdout.write(f"work folder kept: {folder}")
            else:
                shutil.rmtree(folder, ignore_errors=True)
        if not ok:
            raise CommandError("soak failed: see the figures above")

    # Setting up.

    def start_worker(self, concurrency: int) -> chaos.Worker:
        n = len(self.workers) + 1
        worker = chaos.Worker(
            name=f"soak{n}", environment=self.environment, concurrency=concurrency, log=self.var_dir / f"worker{n}.log"
        )
        worker.start()
        self.workers.append(worker)
        return worker

    def start_beat(self):
        self.beat = subprocess.Popen(  # noqa: S603  our own interpreter and arguments
            [sys.executable, "-m", "celery", "-A", "imr", "beat", "-l", "warning",
             "-s", str(self.var_dir / "celerybeat-schedule")],
            cwd=chaos.ROOT, env=self.environment, stdout=open(self.var_dir / "beat.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def submitted_cases(self, count: int) -> list[Case]:
        """`count` copies of the demo's example case, submitted and ready for approval."""
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
        example = Case.objects.get(claim_number=EXAMPLE_CLAIM)
        fields = {
            f.attname: getattr(example, f.attname)
            for f in Case._meta.concrete_fields
            if not f.primary_key and f.name not in ("case_number", "status", "claim_number", "decision_date")
        }
        items = list(example.items.prefetch_related("citations"))
        diagnoses = list(example.diagnoses.all())
        run = timezone.now().strftime("%H%M%S")
        created = []
        with transaction.atomic():
            for n in range(count):
                case = Case(
                    **fields,
                    status=Case.Status.SUBMITTED,  # a soak fixture, written at its stage like the demo data
                    submitted_at=timezone.now(),
                    claim_number=f"SOAK-{run}-{n:04d}",
                    case_number=case_number_next(year=timezone.localdate().year),
                )
                case.save()
                copies = Diagnosis.objects.bulk_create(
                    Diagnosis(case=case, position=d.position, icd10_code=d.icd10_code, description=d.description)
                    for d in diagnoses
                )
                record_bulk_created(copies, by=None)
                for item in items:
                    copy = DisputedItem.objects.get(pk=item.pk)
                    copy.pk = copy.id = None
                    copy.case = case
                    copy.save()
                    citations = Citation.objects.bulk_create(
                        Citation(
                            item=copy, role=c.role, position=c.position, guideline=c.guideline,
                            sections=c.sections, pages=c.pages,
                        )
                        for c in item.citations.all()
                    )  # fmt: skip
                    record_bulk_created(citations, by=None)
                created.append(case)
        return created

    # Breaking things.

    def chaos_loop(self, rng, stop: threading.Event, mean: float, concurrency: int, figures: Counter):
        while not stop.wait(rng.uniform(0.5, 1.5) * mean):
            action = rng.choice(["redis", "worker", "worker", "child"])
            if action == "redis":
                down = rng.uniform(1, 8)
                self.redis.stop()
                figures["Redis stops"] += 1
                figures["Redis seconds down"] += down
                stop.wait(down)
                self.redis.start()
            elif action == "worker":
                alive = [w for w in self.workers if w.alive()]
                if alive:
                    victim = rng.choice(alive)
                    victim.kill()  # main process and pool, SIGKILL: as the OOM killer or a power cut would
                    figures["workers killed (main process and pool)"] += 1
                    self.start_worker(concurrency)  # systemd's Restart=always
            else:
                children = [pid for w in self.workers if w.alive() for pid in w.children()]
                if children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(rng.choice(children), signal.SIGKILL)  # the main process starts another
                        figures["pool processes killed"] += 1

    # The run.

    def soak(self, rng, count, workers, concurrency, chaos_every, approve_every, timeout) -> bool:
        out = self.stdout.write
        cases = self.submitted_cases(count)
        coordinator = get_user_model().objects.get(username="coordinator")
        for _ in range(workers):
            self.start_worker(concurrency)
        self.start_beat()
        out(f"soak_letters: {count} cases, {workers} workers x {concurrency}, a fault every ~{chaos_every:g} s")

        figures: Counter = Counter()
        stop = threading.Event()
        chaos_thread = threading.Thread(
            target=self.chaos_loop, args=(rng, stop, chaos_every, concurrency, figures), daemon=True
        )
        started = time.monotonic()
        chaos_thread.start()
        latencies, unsent_at_approval = [], 0
        for case in cases:
            public_copy = public_copy_of(letter_queryset().get(pk=case.pk))
            public_copy_confirm(case=case, by=coordinator, digest=public_copy.digest)  # quality review's step
            t0 = time.monotonic()
            case_approve(case=case, by=coordinator)
            latencies.append(time.monotonic() - t0)
            letter = Letter.objects.get(case=case, kind=Letter.Kind.FINAL_DETERMINATION)
            unsent_at_approval += OutboxEntry.objects.filter(key=f"letter:{letter.pk}", sent_at__isnull=True).exists()
            time.sleep(approve_every)
        approved_at = time.monotonic()
        stop.set()
        chaos_thread.join()
        if not self.redis.answers():
            self.redis.start()
        if not any(w.alive() for w in self.workers):
            self.start_worker(concurrency)

        ids = [c.pk for c in cases]

        def served_count() -> int:
            ready = Letter.objects.filter(case__in=ids, kind=Letter.Kind.FINAL_DETERMINATION, status="ready")
            unsent = LetterDelivery.objects.filter(letter__in=ready, method="email", served_at__isnull=True)
            return ready.exclude(deliveries__in=unsent).filter(deliveries__isnull=False).distinct().count()

        last = -1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (done := served_count()) < count:
            if done != last:
                out(f"  {done}/{count} issued and served ({time.monotonic() - started:.0f} s)")
                last = done
            time.sleep(3)
        drained_at = time.monotonic()
        return self.report(cases, figures, latencies, unsent_at_approval, started, approved_at, drained_at)

    def report(self, cases, figures, latencies, unsent_at_approval, started, approved_at, drained_at) -> bool:
        out = self.stdout.write
        ids = [c.pk for c in cases]
        letters = Letter.objects.filter(case__in=ids)
        finals = letters.filter(kind=Letter.Kind.FINAL_DETERMINATION)
        issued = Case.objects.filter(pk__in=ids, status=Case.Status.ISSUED).count()
        ready = finals.filter(status="ready").count()
        failed = finals.filter(status="failed").count()
        versions = Counter(finals.values_list("case_id", flat=True))
        pdfs = Counter(p.name.split("-v")[0] for p in (self.var_dir / "media" / "letters").glob("*.pdf"))
        numbers = {c.case_number for c in cases}
        expected_parties = len(parties(cases[0]))
        deliveries = Counter(LetterDelivery.objects.filter(letter__in=finals).values_list("letter_id", flat=True))
        emails = chaos.sent_emails(self.mail_dir)
        letter_emails = {
            key: n
            for key, n in emails.items()
            if "Final Determination" in (key[1] or "") and key[1].split()[-1] in numbers
        }
        expected_emails = LetterDelivery.objects.filter(letter__in=finals, method="email").count()
        duplicates = sum(n - 1 for n in letter_emails.values() if n > 1)
        entries = OutboxEntry.objects.filter(key__in=[f"letter:{pk}" for pk in finals.values_list("pk", flat=True)])
        renders = entries.filter(task="reviews.tasks.letter_render")
        checks = {
            "every case issued": issued == len(cases),
            "every letter ready, none failed": ready == len(cases) and failed == 0,
            "one version per case": set(versions.values()) == {1},
            "two PDFs per case (letter and public copy)": all(pdfs.get(n) == 2 for n in numbers),
            "every party recorded once": all(
                deliveries.get(pk) == expected_parties for pk in finals.values_list("pk", flat=True)
            ),
            "every e-mail sent exactly once": sum(letter_emails.values()) == expected_emails and duplicates == 0,
        }
        p95 = sorted(latencies)[int(0.95 * (len(latencies) - 1))]
        out("")
        out(f"cases approved                          {len(cases)}")
        out(
            f"approval latency                        median {statistics.median(latencies) * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
        )
        out(f"renderings unsent at approval           {unsent_at_approval} (broker down: left to the sweep)")
        for name in ("Redis stops", "workers killed (main process and pool)", "pool processes killed"):
            out(f"{name + ' ':<40}{figures[name]}")
        out(f"Redis down in all                       {figures['Redis seconds down']:.0f} s")
        out(f"approving took                          {approved_at - started:.0f} s")
        out(
            f"all issued and served after             {drained_at - started:.0f} s "
            f"({drained_at - approved_at:.0f} s after the last approval)"
        )
        out(f"letters issued                          {issued}/{len(cases)} (ready {ready}, failed {failed})")
        out(
            f"PDF files                               {sum(pdfs.get(n, 0) for n in numbers)} "
            f"(expected {2 * len(cases)})"
        )
        out(
            f"letter e-mails sent                     {sum(letter_emails.values())} "
            f"(expected {expected_emails}, duplicates {duplicates})"
        )
        out(
            f"render tasks                            {renders.count()} outbox entries, "
            f"{sum(renders.values_list('sends', flat=True))} sends (resent by the sweep or after a failed send: "
            f"{renders.filter(sends__gt=1).count()})"
        )
        out("")
        for name, passed in checks.items():
            out(f"  {'ok  ' if passed else 'FAIL'} {name}")
        return all(checks.values())
