"""Time the coordinator's dashboard and case list over N generated cases; the cases are rolled back afterwards."""

import datetime as dt
import random
import secrets
import statistics
import time
from urllib.parse import quote_plus

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, reset_queries, transaction
from django.db.models import F, Q
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviews import deadlines
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
from reviews.permissions import COORDINATORS, REVIEWERS

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
# The index this command recommends for Case.Meta.indexes (see --index): it hands open cases
# over in the default order of the case list and the dashboard's due lists (expedited first,
# then due date, then case number), so the first page is read from the index instead of
# sorting every open case.
DUE_ORDER_INDEX = models.Index(
    models.Case(models.When(priority="expedited", then=models.Value(0)), default=models.Value(1)),
    F("decision_due_date"),
    F("case_number"),
    name="case_open_due_order_idx",
    condition=~Q(status__in=S.CLOSED),
)
CASE_PREFIX = "CM90-"  # the year 2090: never a real case number, so the generated ones cannot collide


class Command(BaseCommand):
    help = (
        "Generate N realistic cases inside a transaction, request the dashboard and the case list as a "
        "coordinator with the test client, print each page's query count and median / p95 server time, "
        "then roll everything back."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=int, default=10_000, help="How many cases to generate (default 10000).")
        parser.add_argument("--runs", type=int, default=30, help="Timed requests per page (default 30).")
        parser.add_argument("--seed", type=int, default=4610, help="Random seed, for repeatable data.")
        parser.add_argument(
            "--index",
            action="store_true",
            help=f"Also create {DUE_ORDER_INDEX.name} (the recommended index) inside the throwaway transaction.",
        )
        parser.add_argument(
            "--explain",
            action="store_true",
            help="Also print the PostgreSQL plan (EXPLAIN ANALYZE) of each case query.",
        )

    def handle(self, *args, cases: int, runs: int, seed: int, index: bool, explain: bool, **options):
        if cases < 1 or runs < 1:
            raise CommandError("--cases and --runs must be at least 1.")
        rng = random.Random(seed)
        # Everything happens in one transaction that is rolled back: nothing generated is kept,
        # even when the run is interrupted. DEBUG is off, as in production (no query log in
        # memory); the test client's host is allowed whatever the settings say.
        hosts = [*settings.ALLOWED_HOSTS, "testserver"]
        with override_settings(DEBUG=False, ALLOWED_HOSTS=hosts), transaction.atomic():
            started = time.perf_counter()
            coordinator, probes = self.generate(cases, rng)
            generated_in = time.perf_counter() - started
            if index:
                self.create_index()
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # planner statistics that include the generated rows
            results = self.measure(coordinator, probes, runs, explain)
            transaction.set_rollback(True)
        self.report(cases, runs, generated_in, results, index)

    def create_index(self):
        """Add DUE_ORDER_INDEX for this run only (it goes with the rollback), unless the schema has it."""
        with connection.cursor() as cursor:
            if DUE_ORDER_INDEX.name in connection.introspection.get_constraints(cursor, Case._meta.db_table):
                return
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no index while FK checks are pending
            # The SQL only: SQLite's schema editor refuses to start inside a transaction.
            cursor.execute(str(DUE_ORDER_INDEX.create_sql(Case, connection.schema_editor())))

    # Data.

    def generate(self, n: int, rng: random.Random):
        today = timezone.localdate()
        holidays = deadlines.holidays_between(today - dt.timedelta(days=800), today + dt.timedelta(days=60))
        User = get_user_model()
        coordinator, _ = User.objects.get_or_create(
            username="bench-coordinator", defaults={"first_name": "Bench", "last_name": "Coordinator"}
        )
        coordinator.groups.add(Group.objects.get(name=COORDINATORS))

        categories = [TreatmentCategory.objects.get_or_create(name=name, parent=None)[0] for name in CATEGORY_NAMES]
        # A token of this run in the names that must be unique, should the database hold an earlier run's.
        run = secrets.token_hex(3)
        employers = self.organizations(Organization.Kind.EMPLOYER, f"Bench {run} Employer", max(5, n // 40))
        administrators = self.organizations(
            Organization.Kind.CLAIMS_ADMINISTRATOR, f"Bench {run} Claims Administrator", min(40, max(3, n // 250))
        )
        providers = Provider.objects.bulk_create(
            [Provider(name=f"Dr. Bench Provider {i}") for i in range(max(5, n // 50))]
        )
        reviewers = self.reviewers(min(60, max(5, n // 150)), rng, run)

        rows = []
        statuses, status_weights = zip(*STATUS_WEIGHTS.items(), strict=True)
        priorities, priority_weights = zip(*PRIORITY_WEIGHTS.items(), strict=True)
        start = self.first_free_number()
        for i in range(n):
            status = rng.choices(statuses, status_weights)[0]
            priority = rng.choices(priorities, priority_weights)[0]
            rows.append(
                self.case(
                    start + i, status, priority, today, holidays, rng, employers, administrators, providers, reviewers
                )
            )
        created = Case.objects.bulk_create(rows, batch_size=1000)

        items, diagnoses = [], []
        for case in created:
            for position in range(1, rng.choice((1, 1, 1, 2, 2, 3)) + 1):
                items.append(
                    DisputedItem(
                        case=case,
                        position=position,
                        request_text=rng.choice(REQUESTS),
                        category=rng.choice(categories),
                        ur_action=DisputedItem.URAction.DENIED,
                    )
                )
            for position, (code, text) in enumerate(rng.sample(DIAGNOSES, rng.choice((1, 2, 2, 3))), start=1):
                diagnoses.append(Diagnosis(case=case, position=position, icd10_code=code, description=text))
        DisputedItem.objects.bulk_create(items, batch_size=2000)
        Diagnosis.objects.bulk_create(diagnoses, batch_size=2000)

        # What the filtered and searched pages ask for: the claims administrator, a category and the
        # employee's surname of an undecided case due this week, so that neither page comes out
        # empty (an empty page skips its query and would not measure it).
        week = (today, today + 7 * dt.timedelta(days=1))
        sample = next(
            (
                c
                for c in created
                if c.status not in S.CLOSED
                and c.decision_date is None
                and week[0] <= (c.decision_due_date or dt.date.min) <= week[1]
            ),
            created[0],
        )
        probes = {
            "organization": sample.claims_administrator.name,
            "category": next(item.category_id for item in items if item.case is sample),
            "q": sample.employee_name.split()[-1].lower(),
        }
        return coordinator, probes

    def organizations(self, kind, label, count):
        orgs = [Organization(kind=kind, name=f"{label} {i:04d}") for i in range(count)]
        for org in orgs:
            org.normalized_name = normalize_name(org.name)  # bulk_create skips save(), which sets it
        return Organization.objects.bulk_create(orgs)

    def reviewers(self, count, rng, run):
        User = get_user_model()
        users = User.objects.bulk_create(
            [
                User(username=f"bench-{run}-reviewer-{i}", first_name=rng.choice(FIRST_NAMES), last_name=f"Bench{i}")
                for i in range(count)
            ]
        )
        group = Group.objects.get(name=REVIEWERS)
        User.groups.through.objects.bulk_create([User.groups.through(user=u, group=group) for u in users])
        return Reviewer.objects.bulk_create(
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

    def first_free_number(self) -> int:
        last = Case.objects.filter(case_number__startswith=CASE_PREFIX).order_by("-case_number").first()
        return int(last.case_number.removeprefix(CASE_PREFIX)) + 1 if last else 1

    def case(self, number, status, priority, today, holidays, rng, employers, administrators, providers, reviewers):
        day = dt.timedelta(days=1)
        received = today - rng.randint(30, 730) * day if status in S.CLOSED else today - rng.randint(0, 45) * day
        ur_decision = received - rng.randint(3, 25) * day
        fields = {}
        if status in RECORDS_REQUESTED:
            fields["records_due_date"] = deadlines.records_due(received + 2 * day, priority, holidays=holidays)
        if status in WITH_RECORDS:
            complete = min(received + rng.randint(3, 16) * day, today)
            fields["records_complete_date"] = complete
            fields["decision_due_date"] = deadlines.decision_due(complete, priority, holidays=holidays)
        if status in S.HAS_REVIEWER:
            fields["reviewer"] = rng.choice(reviewers)
            fields["date_assigned"] = fields["records_complete_date"]
        if status in S.FINAL:
            fields["decision_date"] = min(fields["decision_due_date"] - rng.randint(-1, 5) * day, today)
        if status == S.INELIGIBLE:
            fields["closed_reason"] = "Application filed more than 30 days after service of the UR decision."
        return Case(
            case_number=f"{CASE_PREFIX}{number:07d}",
            status=status,  # generated at its stage, like the demo data; no workflow is run
            priority=priority,
            employee_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            claim_number=f"BENCH-{number:07d}",
            date_of_injury=ur_decision - rng.randint(30, 2000) * day,
            ur_decision_date=ur_decision,
            application_received_date=received,
            employer=rng.choice(employers),
            claims_administrator=rng.choice(administrators),
            requesting_provider=rng.choice(providers),
            **fields,
        )

    # Measurement.

    def measure(self, coordinator, probes, runs: int, explain: bool):
        pages = [
            ("dashboard", "/"),
            ("case list", "/cases/"),
            (
                "case list, filtered",
                f"/cases/?due=week&category={probes['category']}&organization={quote_plus(probes['organization'])}",
            ),
            ("case list, search", f"/cases/?q={probes['q']}"),
        ]
        client = Client()
        client.force_login(coordinator)
        results = []
        for label, url in pages:
            reset_queries()
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url, secure=True)  # the first request also warms the caches up
            # Read the captured queries now: the next request clears the connection's query log.
            captured = queries.captured_queries
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code}.")
            if explain:
                self.explain(label, captured)
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                client.get(url, secure=True)
                times.append((time.perf_counter() - started) * 1000)
            results.append((label, url, len(captured), times))
        return results

    def explain(self, label, captured):
        if connection.vendor != "postgresql":
            self.stderr.write("--explain needs PostgreSQL; skipped.")
            return
        for query in captured:
            if "reviews_case" not in query["sql"]:
                continue
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + query["sql"])
                plan = "\n".join(row[0] for row in cursor.fetchall())
            self.stdout.write(f"\n-- {label}: {query['sql'][:160]}...\n{plan}\n")

    def report(self, cases, runs, generated_in, results, index):
        self.stdout.write(
            f"bench_pages: {cases} cases generated in {generated_in:.1f} s on {connection.vendor} "
            f"(rolled back afterwards); {runs} timed runs per page as a coordinator, DEBUG off"
            + (f", with {DUE_ORDER_INDEX.name}" if index else "")
        )
        self.stdout.write(f"{'page':<22} {'queries':>7} {'median ms':>10} {'p95 ms':>8}  url")
        for label, url, query_count, times in results:
            median = statistics.median(times)
            p95 = statistics.quantiles(times, n=20, method="inclusive")[18] if len(times) > 1 else times[0]
            self.stdout.write(f"{label:<22} {query_count:>7} {median:>10.1f} {p95:>8.1f}  {url}")
