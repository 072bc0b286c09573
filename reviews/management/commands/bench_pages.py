"""Time every page a coordinator, a reviewer and an admin open over N generated cases, beside a floor view."""

import datetime as dt
import io
import random
import secrets
import statistics
import time
from urllib.parse import quote_plus

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, reset_queries, transaction
from django.http import HttpResponse
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from django.utils import timezone

from reviews import bulk, deadlines
from reviews.management.commands.seed_demo import EXAMPLE_CLAIM
from reviews.models import (
    Case,
    Diagnosis,
    DisputedItem,
    Organization,
    Provider,
    Reviewer,
    TreatmentCategory,
    normalize_name,
)
from reviews.permissions import REVIEWERS

S, P = Case.Status, Case.Priority

# A desk with history: most cases issued, the rest spread over the workflow.
STATUS_WEIGHTS = {
    S.RECEIVED: 3,
    S.ELIGIBLE: 2,
    S.INELIGIBLE: 2,
    S.AWAITING_RECORDS: 5,
    S.READY_FOR_ASSIGNMENT: 4,
    S.ASSIGNED: 3,
    S.ACCEPTED: 2,
    S.IN_REVIEW: 8,
    S.SUBMITTED: 3,
    S.RETURNED: 1,
    S.APPROVED: 1,
    S.ISSUED: 62,
    S.WITHDRAWN: 2,
    S.TERMINATED: 2,
}
PRIORITY_WEIGHTS = {P.STANDARD: 85, P.EXPEDITED: 8, P.FORMULARY: 7}
WITH_RECORDS = {S.READY_FOR_ASSIGNMENT, *S.HAS_REVIEWER}
RECORDS_REQUESTED = WITH_RECORDS | {S.AWAITING_RECORDS}

FIRST_NAMES = "Maria James Linda Robert Patricia Michael Jennifer David Elizabeth Jose Susan Daniel Karen Luis".split()  # noqa: SIM905
LAST_NAMES = (  # noqa: SIM905
    "Garcia Smith Johnson Martinez Brown Lopez Davis Hernandez Miller Gonzalez Wilson Nguyen Anderson Kim Ramirez "
    "Thomas Taylor Moore Perez Jackson Sanchez Lee Clark Rivera Lewis Walker Torres Young Allen Flores"
).split()
DIAGNOSES = [
    ("M51.26", "Other intervertebral disc displacement, lumbar region"),
    ("M54.16", "Radiculopathy, lumbar region"),
    ("M75.101", "Unspecified rotator cuff tear of right shoulder"),
    ("M25.511", "Pain in right shoulder"),
    ("G89.29", "Other chronic pain"),
    ("F43.10", "Post-traumatic stress disorder, unspecified"),
    ("M54.2", "Cervicalgia"),
    ("S83.241A", "Other tear of medial meniscus, right knee"),
]
REQUESTS = [
    "Physical therapy 2x6 weeks lumbar spine",
    "Lumbar epidural steroid injection L5-S1",
    "Norco 10/325 mg #90",
    "MRI of the right shoulder without contrast",
    "Cognitive behavioural therapy, 6 sessions",
    "Acupuncture 6 sessions",
    "Functional restoration program, 80 hours",
    "Right knee arthroscopy with partial meniscectomy",
]
CATEGORY_NAMES = [
    "DMEPOS",
    "Diagnostic testing",
    "Injection",
    "Pharmaceuticals",
    "Programs",
    "Psych services",
    "Rehabilitation",
    "Surgery",
    "Therapies",
]
CASE_PREFIX = "CM90-"  # the year 2090: never a real case number, so the generated ones cannot collide
RATIONALES = [
    "The guidelines recommend this treatment when functional improvement is documented; it is not. "
    "Therefore, the request is not medically necessary.",
    "Conservative care has been exhausted and the examination supports the request. "
    "The request is medically necessary and appropriate.",
    "The request exceeds the number of sessions the guidelines recommend for this condition. "
    "Medical necessity has not been established.",
]
CHUNK = 10_000  # cases generated and written at a time: memory stays flat at any size
# A desk's open work is bounded by its intake rate and the weeks a case is in flight (about six weeks
# of California's 150,000 to 185,000 a year), not by its history: past this many open cases the
# generator draws closed ones only, so a million cases is mostly issued history, as it would be.
OPEN_CASES = 20_000


@login_required
def floor(request):
    """The floor: what any signed-in page costs before it does anything (session and user: 2 queries)."""
    return HttpResponse("floor\n", content_type="text/plain")


# The URLconf of the timed requests: the site, plus the floor view.
urlpatterns = [path("bench/floor/", floor), path("", include("imr.urls"))]


class Command(BaseCommand):
    help = (
        "Generate N realistic cases (committed and reused by later runs with --keep, else rolled back), then "
        "request every page a coordinator, a reviewer and an admin open with the test client, interleaved "
        "with a floor view, and print queries, bytes, median, p95 and the ratio of each median to the floor's."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=int, default=10_000, help="How many cases to generate (default 10000).")
        parser.add_argument("--runs", type=int, default=30, help="Timed requests per page (default 30).")
        parser.add_argument("--seed", type=int, default=4610, help="Random seed, for repeatable data.")
        parser.add_argument(
            "--keep",
            action="store_true",
            help="Commit the generated cases; a later run with --keep generates only what is missing up to --cases.",
        )
        parser.add_argument(
            "--open-cases",
            type=int,
            default=OPEN_CASES,
            help=f"At most this many generated cases are open (default {OPEN_CASES}); the rest are closed history.",
        )
        parser.add_argument("--only", action="append", default=[], help="Time only pages whose label contains this.")
        parser.add_argument(
            "--check",
            type=float,
            metavar="RATIO",
            help="Exit non-zero when any page's median is more than RATIO times the floor's.",
        )
        parser.add_argument(
            "--explain", action="store_true", help="Also print the PostgreSQL plan (EXPLAIN ANALYZE) of each query."
        )

    def handle(self, *args, cases, runs, seed, keep, open_cases, only, check, explain, **options):
        if cases < 1 or runs < 1:
            raise CommandError("--cases and --runs must be at least 1.")
        rng = random.Random(seed)
        # DEBUG off, as in production (no query log in memory); the test client's host is allowed
        # whatever the settings say; the floor view is added to the site's URLs. The personas are signed
        # in by force_login, without the second factor production requires: it is not asked for (the
        # check costs no query once a session has passed it, reviews.accounts.MfaRequiredMiddleware).
        hosts = [*settings.ALLOWED_HOSTS, "testserver"]
        with override_settings(
            DEBUG=False, ALLOWED_HOSTS=hosts, ROOT_URLCONF=__name__, IMR_MFA_ENROLMENT_OPTIONAL=True
        ):
            if keep:  # committed chunk by chunk: an interrupted run keeps what it wrote, the next one tops up
                have = Case.objects.filter(case_number__startswith=CASE_PREFIX).count()
                generated, rate = self.generate(max(0, cases - have), rng, open_cases)
                call_command("seed_demo", stdout=io.StringIO())
                results = self.measure(runs, rng, only, explain)
                total = have + generated
            else:  # one transaction, rolled back: nothing generated stays, even when the run is interrupted
                with transaction.atomic():
                    generated, rate = self.generate(cases, rng, open_cases)
                    call_command("seed_demo", stdout=io.StringIO())
                    results = self.measure(runs, rng, only, explain)
                    transaction.set_rollback(True)
                total = generated
        self.report(total, generated, rate, runs, keep, results)
        if check is not None:
            over = [r for r in results if r["ratio"] > check]
            if over:
                raise CommandError(
                    f"over {check:g}x the floor: " + ", ".join(f"{r['label']} ({r['ratio']:.1f}x)" for r in over)
                )
            self.stdout.write(f"check: every page within {check:g}x the floor")

    # Data.

    def generate(self, n: int, rng: random.Random, open_cases: int) -> tuple[int, float]:
        """Write n cases with their items and diagnoses; returns (n, cases per second)."""
        if n == 0:
            return 0, 0.0
        started = time.perf_counter()
        today = timezone.localdate()
        holidays = deadlines.holidays_between(today - dt.timedelta(days=800), today + dt.timedelta(days=60))
        with transaction.atomic():
            categories = [
                TreatmentCategory.objects.get_or_create(name=name, parent=None)[0].pk for name in CATEGORY_NAMES
            ]
            # A token of this run in the names that must be unique, should the database hold an earlier run's.
            run = secrets.token_hex(3)
            employers = self.organizations(Organization.Kind.EMPLOYER, f"Bench {run} Employer", max(5, n // 40))
            administrators = self.organizations(
                Organization.Kind.CLAIMS_ADMINISTRATOR, f"Bench {run} Claims Administrator", min(40, max(3, n // 250))
            )
            providers = Provider.objects.bulk_create(
                [Provider(name=f"Dr. Bench Provider {i}") for i in range(min(5000, max(5, n // 50)))]
            )
            reviewers = self.reviewers(min(60, max(5, n // 150)), rng, run)
        parties = ([o.pk for o in employers], [o.pk for o in administrators], [p.pk for p in providers])
        open_left = open_cases - Case.objects.filter(case_number__startswith=CASE_PREFIX).open().count()
        statuses, status_weights = zip(*STATUS_WEIGHTS.items(), strict=True)
        closed = [(s, w) for s, w in STATUS_WEIGHTS.items() if s in S.CLOSED]
        closed_statuses, closed_weights = zip(*closed, strict=True)
        priorities, priority_weights = zip(*PRIORITY_WEIGHTS.items(), strict=True)
        start = self.first_free_number()
        for first in range(0, n, CHUNK):
            rows = []
            for i in range(first, min(n, first + CHUNK)):
                status = rng.choices(statuses, status_weights)[0]
                if i == 0:
                    status = S.SUBMITTED  # the quality-review page needs one, whatever the draw
                if status not in S.CLOSED:
                    if open_left <= 0:
                        status = rng.choices(closed_statuses, closed_weights)[0]
                    open_left -= 1
                priority = rng.choices(priorities, priority_weights)[0]
                rows.append(self.case(start + i, status, priority, today, holidays, rng, parties, reviewers))
            # Each chunk is its own transaction: a case is never written without its items.
            with transaction.atomic():
                ids = self.insert(Case, rows)
                items, diagnoses = [], []
                for case_id, case in zip(ids, rows, strict=True):
                    decided = case["status"] == S.ISSUED
                    for position in range(1, rng.choice((1, 1, 1, 2, 2, 3)) + 1):
                        items.append(
                            {
                                "case_id": case_id,
                                "position": position,
                                "request_text": rng.choice(REQUESTS),
                                "category_id": rng.choice(categories),
                                "ur_action": DisputedItem.URAction.DENIED.value,
                                "decision": rng.choice(("upheld", "upheld", "upheld", "overturned")) if decided else "",
                                "rationale": rng.choice(RATIONALES) if decided else "",
                            }
                        )
                    for position, (code, text) in enumerate(rng.sample(DIAGNOSES, rng.choice((1, 2, 2, 3))), 1):
                        diagnoses.append(
                            {"case_id": case_id, "position": position, "icd10_code": code, "description": text}
                        )
                self.insert(DisputedItem, items)
                self.insert(Diagnosis, diagnoses)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # planner statistics that include the generated rows
        return n, n / (time.perf_counter() - started)

    def insert(self, model, rows: list[dict]) -> list[int]:
        """Write `rows` (attribute name -> value, the rest defaulted) and return their ids.

        PostgreSQL: the values go to COPY as they are (reviews.bulk), without building an instance
        per row. Elsewhere bulk_create. Like bulk_create, no save() and no signals: generated data
        has no history to audit.
        """
        if connection.vendor != "postgresql":
            return [obj.pk for obj in model.objects.bulk_create([model(**row) for row in rows], batch_size=2000)]
        now = timezone.now()
        fields = model._meta.concrete_fields  # the primary key first
        defaults = [
            now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
            for f in fields
        ]
        ids = bulk.next_ids(model, len(rows))
        bulk.copy_rows(
            model,
            fields,
            (
                [pk, *(row.get(f.attname, d) for f, d in zip(fields[1:], defaults[1:], strict=True))]
                for pk, row in zip(ids, rows, strict=True)
            ),
        )
        return ids

    def organizations(self, kind, label, count):
        orgs = [Organization(kind=kind, name=f"{label} {i:04d}") for i in range(count)]
        for org in orgs:
            org.normalized_name = normalize_name(org.name)  # bulk_create skips save(), which sets it
        return Organization.objects.bulk_create(orgs)

    def reviewers(self, count, rng, run) -> list[int]:
        User = get_user_model()
        users = User.objects.bulk_create(
            [
                User(username=f"bench-{run}-reviewer-{i}", first_name=rng.choice(FIRST_NAMES), last_name=f"Bench{i}")
                for i in range(count)
            ]
        )
        group = Group.objects.get(name=REVIEWERS)
        User.groups.through.objects.bulk_create([User.groups.through(user=u, group=group) for u in users])
        reviewers = Reviewer.objects.bulk_create(
            [
                Reviewer(
                    user=u,
                    degree="MD",
                    practice_start_year=2000 + i % 20,
                    weekly_hours=20,
                    capacity=rng.choice((6, 8, 10, 12)),
                    active=i % 12 != 0,
                )
                for i, u in enumerate(users)
            ]
        )
        return [r.pk for r in reviewers]

    def first_free_number(self) -> int:
        last = Case.objects.filter(case_number__startswith=CASE_PREFIX).order_by("-case_number").first()
        return int(last.case_number.removeprefix(CASE_PREFIX)) + 1 if last else 1

    def case(self, number, status, priority, today, holidays, rng, parties, reviewers) -> dict:
        employers, administrators, providers = parties
        day = dt.timedelta(days=1)
        # Closed cases spread over two years of history; open ones arrived in the last six weeks.
        received = today - rng.randint(*((30, 730) if status in S.CLOSED else (0, 45))) * day
        ur_decision = received - rng.randint(3, 25) * day
        fields = {}
        if status in RECORDS_REQUESTED:
            fields["records_due_date"] = deadlines.records_due(received + 2 * day, priority, holidays=holidays)
        if status in WITH_RECORDS:
            complete = min(received + rng.randint(3, 16) * day, today)
            fields["records_complete_date"] = complete
            fields["decision_due_date"] = deadlines.decision_due(complete, priority, holidays=holidays)
        if status in S.HAS_REVIEWER:
            fields["reviewer_id"] = rng.choice(reviewers)
            fields["date_assigned"] = fields["records_complete_date"]
        if status in S.FINAL:
            fields["decision_date"] = min(fields["decision_due_date"] - rng.randint(-1, 5) * day, today)
        if status == S.SUBMITTED or status in S.FINAL:  # submitted at some hour since the records were complete
            submitted = fields.get("decision_date", today) - rng.randint(0, 3) * day
            hour = dt.time(rng.randint(7, 19), rng.randint(0, 59))
            fields["submitted_at"] = dt.datetime.combine(max(submitted, fields["records_complete_date"]), hour, dt.UTC)
        if status == S.INELIGIBLE:
            fields["closed_reason"] = "Application filed more than 30 days after service of the UR decision."
        return {
            "case_number": f"{CASE_PREFIX}{number:07d}",
            "status": status.value,  # generated at its stage, like the demo data; no workflow is run
            "priority": priority.value,
            "employee_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            "claim_number": f"BENCH-{number:07d}",
            "date_of_injury": ur_decision - rng.randint(30, 2000) * day,
            "ur_decision_date": ur_decision,
            "application_received_date": received,
            "employer_id": rng.choice(employers),
            "claims_administrator_id": rng.choice(administrators),
            "requesting_provider_id": rng.choice(providers),
            **fields,
        }

    # Measurement.

    def pages(self, rng: random.Random) -> list[tuple[str, str, str]]:
        """(label, who, url) of every page timed; the demo data (seed_demo) gives the personas and a case
        at each stage, the generated cases the lists' bulk and a case waiting for quality review."""

        def demo(claim):
            return Case.objects.get(claim_number=claim)

        bench = Case.objects.filter(case_number__startswith=CASE_PREFIX)
        today = timezone.localdate()
        # What the filtered and searched pages ask for: the claims administrator, a category and the
        # employee's surname of an undecided case due this week, so that no page comes out empty (an
        # empty page skips its query and would not measure it).
        sample = (
            bench.undecided().filter(decision_due_date__range=(today, today + dt.timedelta(days=7))).first()
            or bench.select_related("claims_administrator").first()
        )
        category = sample.items.values_list("category_id", flat=True).first()
        organization = quote_plus(sample.claims_administrator.name)
        surname = sample.employee_name.split()[-1].lower()
        in_review, example = demo("DEMO-REV-001"), demo(EXAMPLE_CLAIM)
        submitted = bench.filter(status=S.SUBMITTED).order_by("case_number").first() or in_review
        return [
            ("dashboard", "coordinator", "/"),
            ("case list", "coordinator", "/cases/"),
            (
                "case list, filtered",
                "coordinator",
                f"/cases/?due=week&category={category}&organization={organization}",
            ),
            ("case list, search", "coordinator", f"/cases/?q={surname}"),
            ("case list, all, search", "coordinator", f"/cases/?status=all&q={surname}"),
            ("case list, page 500", "coordinator", "/cases/?status=all&page=500"),
            ("case page", "coordinator", f"/cases/{in_review}/"),
            ("eligibility", "coordinator", f"/cases/{demo('DEMO-REC-001')}/eligibility/"),
            ("assign", "coordinator", f"/cases/{demo('DEMO-RFA-001')}/assign/"),
            ("QA list", "coordinator", "/cases/qa/"),
            ("QA page", "coordinator", f"/cases/{submitted}/qa/"),
            ("letters page", "coordinator", f"/cases/{example}/letters/"),
            ("reviewer queue", "reviewer", "/queue/"),
            ("workspace", "reviewer", f"/cases/{in_review}/review/"),
            ("preview", "reviewer", f"/cases/{in_review}/review/preview/"),
            ("precedent search", "reviewer", "/precedents/?q=physical+therapy"),
            ("precedent chart", "reviewer", "/precedents/chart/?q=physical+therapy"),
            ("precedent search, one word", "reviewer", "/precedents/?q=norco"),
            ("precedent panel", "reviewer", f"/cases/{in_review}/review/precedents/?item=1"),
            ("precedent search, category", "reviewer", f"/precedents/?category={category}"),
            ("precedent chart, category", "reviewer", f"/precedents/chart/?category={category}"),
            ("admin case list", "admin", "/admin/reviews/case/"),
            ("admin case list, search", "admin", f"/admin/reviews/case/?q={surname}"),
            ("admin case page", "admin", f"/admin/reviews/case/{in_review.pk}/change/"),
        ]

    def clients(self) -> dict[str, Client]:
        User = get_user_model()
        clients = {}
        for who, username in (("coordinator", "coordinator"), ("reviewer", "dr.alvarez"), ("admin", "admin")):
            clients[who] = Client()
            clients[who].force_login(User.objects.get(username=username))
        return clients

    def measure(self, runs: int, rng: random.Random, only: list[str], explain: bool) -> list[dict]:
        """Each round requests every page once, each right after the floor, so that both see the same load."""
        pages = [p for p in self.pages(rng) if not only or any(o in p[0] for o in only)]
        if not pages:
            raise CommandError(f"No page's label contains {' or '.join(map(repr, only))}.")
        clients = self.clients()
        results = []
        for label, who, url in pages:
            client = clients[who]
            client.get("/bench/floor/", secure=True)
            client.get(url, secure=True)  # warms the caches up: the queries counted are a warm request's
            reset_queries()
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url, secure=True)
            captured = queries.captured_queries  # read now: the next request clears the query log
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code} to the {who}.")
            if explain:
                self.explain(label, captured)
            results.append(
                {
                    "label": label,
                    "who": who,
                    "url": url,
                    "queries": len(captured),
                    "bytes": len(response.content),
                    "times": [],
                    "floor": [],
                }
            )
        for _ in range(runs):
            for result in results:
                client = clients[result["who"]]
                started = time.perf_counter()
                client.get("/bench/floor/", secure=True)
                result["floor"].append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                client.get(result["url"], secure=True)
                result["times"].append((time.perf_counter() - started) * 1000)
        floor_median = statistics.median(t for r in results for t in r["floor"])
        for result in results:
            result["ratio"] = statistics.median(result["times"]) / floor_median
        self.floor_median = floor_median
        return results

    def explain(self, label, captured):
        if connection.vendor != "postgresql":
            self.stderr.write("--explain needs PostgreSQL; skipped.")
            return
        for query in captured:
            if not query["sql"].startswith("SELECT"):
                continue
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + query["sql"])
                plan = "\n".join(row[0] for row in cursor.fetchall())
            self.stdout.write(f"\n-- {label}: {query['sql'][:200]}...\n{plan}\n")

    def report(self, total, generated, rate, runs, keep, results):
        def p95(times):
            return statistics.quantiles(times, n=20, method="inclusive")[18] if len(times) > 1 else times[0]

        fate = "kept" if keep else "rolled back afterwards"
        made = f"{generated} generated at {rate:,.0f} cases/s" if generated else "none generated"
        self.stdout.write(
            f"bench_pages: {total} cases ({made}; {fate}) on {connection.vendor}; {runs} timed runs per page, "
            f"each beside the floor, DEBUG off; floor median {self.floor_median:.2f} ms"
        )
        self.stdout.write(f"{'page':<24} {'queries':>7} {'KB':>6} {'median ms':>10} {'p95 ms':>8} {'x floor':>8}  url")
        for r in results:
            self.stdout.write(
                f"{r['label']:<24} {r['queries']:>7} {r['bytes'] / 1024:>6.1f} {statistics.median(r['times']):>10.1f} "
                f"{p95(r['times']):>8.1f} {r['ratio']:>8.1f}  {r['url']}"
            )
