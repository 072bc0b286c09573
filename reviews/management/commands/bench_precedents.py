"""Time the precedent search over N generated decided items against a bare indexed lookup in the same run."""

import datetime as dt
import random
import secrets
import statistics
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from reviews.models import (
    BoardCertification,
    Case,
    Citation,
    DisputedItem,
    Guideline,
    Organization,
    Provider,
    Reviewer,
    Specialty,
    TreatmentCategory,
    normalize_name,
)
from reviews.permissions import REVIEWERS
from reviews.precedents import ranked_rows

CASE_PREFIX = "CM91-"  # the year 2091: never a real case number, nor bench_pages' 2090
PAGE = 20  # the search page's rows

# (request, category, subcategory): the kinds of request the published determinations decide most.
DRUGS = [
    ("Norco 10/325 mg #{n}", "Pharmaceuticals", "Opioids"),
    ("Oxycodone 10 mg #{n}", "Pharmaceuticals", "Opioids"),
    ("Tramadol ER 150 mg #{n}", "Pharmaceuticals", "Opioids"),
    ("Hydrocodone/APAP 5/325 mg #{n}", "Pharmaceuticals", "Opioids"),
    ("Gabapentin 600 mg #{n}", "Pharmaceuticals", "Anticonvulsants"),
    ("Lyrica 75 mg #{n}", "Pharmaceuticals", "Anticonvulsants"),
    ("Cyclobenzaprine 7.5 mg #{n}", "Pharmaceuticals", "Muscle relaxants"),
    ("Tizanidine 4 mg #{n}", "Pharmaceuticals", "Muscle relaxants"),
    ("Naproxen sodium 550 mg #{n}", "Pharmaceuticals", "NSAIDs"),
    ("Meloxicam 15 mg #{n}", "Pharmaceuticals", "NSAIDs"),
    ("Omeprazole 20 mg #{n}", "Pharmaceuticals", "Proton pump inhibitors"),
    ("Lidoderm 5% patch #{n}", "Pharmaceuticals", "Topical analgesics"),
    ("Duloxetine 60 mg #{n}", "Pharmaceuticals", "Antidepressants"),
    ("Trazodone 50 mg #{n}", "Pharmaceuticals", "Antidepressants"),
    ("Zolpidem 10 mg #{n}", "Pharmaceuticals", "Hypnotics"),
]
TREATMENTS = [
    ("Physical therapy {n} sessions lumbar spine", "Therapies", "Physical therapy"),
    ("Physical therapy 2x{n} weeks cervical spine", "Therapies", "Physical therapy"),
    ("Occupational therapy {n} sessions right wrist", "Therapies", "Occupational therapy"),
    ("Chiropractic manipulation {n} sessions", "Therapies", "Chiropractic"),
    ("Acupuncture {n} sessions", "Therapies", "Acupuncture"),
    ("Lumbar epidural steroid injection L{n}-S1", "Injection", "Epidural steroid injection"),
    ("Cervical facet radiofrequency ablation C{n}", "Injection", "Radiofrequency ablation"),
    ("Right shoulder subacromial corticosteroid injection x{n}", "Injection", "Joint injection"),
    ("MRI of the lumbar spine without contrast x{n}", "Diagnostic Testing", "MRI"),
    ("EMG/NCV of the bilateral upper extremities x{n}", "Diagnostic Testing", "Electrodiagnostic"),
    ("Urine drug screen x{n}", "Diagnostic Testing", "Laboratory"),
    ("Functional restoration program {n} hours", "Programs", "Functional restoration"),
    ("Cognitive behavioural therapy {n} sessions", "Psych Services", "Psychotherapy"),
    ("Right knee arthroscopy with partial meniscectomy x{n}", "Surgery", "Knee"),
    ("L4-5 lumbar fusion, {n} day inpatient stay", "Surgery", "Spine"),
    ("TENS unit rental {n} months", "DMEPOS", "Electrical stimulation"),
    ("Lumbar support brace x{n}", "DMEPOS", "Orthotics"),
    ("Home health aide {n} hours a week", "Home Health", "Home health aide"),
    ("Transportation to medical appointments x{n}", "Transportation", "Non-emergency transportation"),
    ("Follow-up office visit with pain management x{n}", "Evaluation & Management", "Office visit"),
]
RATIONALE_OPENINGS = [
    "The patient is a {age}-year-old {sex} with chronic {region} pain following a cumulative trauma injury.",
    "This {age}-year-old {sex} injured the {region} lifting boxes at work and reports ongoing pain.",
    "The records describe a {age}-year-old {sex} with {region} pain radiating to the extremities.",
]
# Findings any rationale may state, and the ones that belong to a kind of treatment: real rationales
# share phrases within a kind of request far more than across kinds.
RATIONALE_FINDINGS = [
    "The guidelines recommend this treatment when there is documented functional improvement.",
    "Prior treatment included medications, physical therapy and a home exercise program without lasting benefit.",
    "There is no documentation of objective functional improvement.",
    "Red flags such as progressive neurologic deficit are not described.",
    "The most recent progress report is more than three months old.",
    "The patient has returned to modified duty.",
    "Activities of daily living remain limited by pain.",
    "The treating physician did not address the prior utilization review concerns.",
    "The examination shows tenderness and a reduced range of motion.",
    "There is a history of two prior surgeries to the same region.",
    "The body mass index is 34 and smoking cessation was advised.",
    "The qualified medical evaluator recommended continued conservative care.",
]
FINDINGS_BY_CATEGORY = {
    "Pharmaceuticals": [
        "Urine drug screens have been consistent and a signed opioid agreement is on file.",
        "The four domains of opioid monitoring are not documented.",
        "The treating physician documents a decrease in pain scores from 8/10 to 4/10 with this medication.",
        "The neuropathic pain component is documented on examination with decreased sensation.",
        "There is no documentation of gastrointestinal risk factors.",
        "A trial of first-line medication has not been documented.",
        "Weaning is recommended over several weeks.",
    ],
    "Therapies": [
        "The request exceeds the number of sessions the guidelines recommend for this condition.",
        "The number of prior sessions completed and their outcome are not documented.",
        "A transition to a home exercise program is recommended.",
        "The flare-up justifies a short course of additional visits.",
    ],
    "Injection": [
        "Radiculopathy is not corroborated by imaging or electrodiagnostic testing.",
        "A prior injection gave less than 50% relief for less than six weeks.",
        "Medial branch blocks have not been performed.",
    ],
    "Diagnostic Testing": [
        "Imaging shows degenerative disc disease without nerve root compression.",
        "Electrodiagnostic studies were negative for radiculopathy.",
        "There has been no significant change in symptoms since the last study.",
    ],
    "Surgery": [
        "Conservative care has been exhausted and imaging confirms a surgical lesion.",
        "Instability on flexion-extension films is not documented.",
    ],
}
RATIONALE_CLOSINGS = [
    "Therefore, the request is not medically necessary.",
    "Therefore, the request is medically necessary and appropriate.",
    "Medical necessity has not been established.",
    "The request is supported by the guidelines and is medically necessary.",
]
REGIONS = ["low back", "neck", "right shoulder", "left knee", "right wrist", "cervical spine", "lumbar spine"]
SPECIALTIES = [
    "Physical Medicine and Rehabilitation",
    "Orthopaedic Surgery",
    "Anesthesiology",
    "Pain Medicine",
    "Internal Medicine",
    "Psychiatry",
    "Family Medicine",
    "Chiropractic",
]
GUIDELINES = [
    ("mtus", "MTUS Chronic Pain Medical Treatment Guidelines", "2009", "MTUS Chronic Pain Treatment Guidelines"),
    ("mtus", "MTUS ACOEM Practice Guidelines", "2004", "MTUS ACOEM Practice Guidelines"),
    ("odg", "ODG (Official Disability Guidelines)", "", "ODG (Official Disability Guidelines)"),
    ("other", "Agency for Healthcare Research and Quality", "", "Agency for Healthcare Research and Quality"),
]
# What reviewers search for: a drug, a therapy, a procedure in a phrase, a misspelt drug name (trigram
# similarity), words of the rationale, and a drug with filters.
PROBES = [
    ("drug name", "gabapentin", {}),
    ("therapy", "physical therapy", {}),
    ("procedure", "epidural steroid injection", {}),
    ("misspelt drug", "tramodol", {}),
    ("rationale words", "urine drug screen opioid agreement", {}),
    ("drug, overturned, 2 years", "norco", {"decision": "overturned", "decided_from": 730}),
]
BENCH_ITEMS_NOTE = "decided items of issued determinations"


class Command(BaseCommand):
    help = (
        "Generate N decided items of issued determinations in a transaction (rolled back unless --keep), then "
        "time the precedent search (the first page of 20 with the number found, as the search page reads it) "
        "and the overturn statistics, against a bare indexed lookup (a case by its number) in the same run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--items", type=int, default=100_000, help="Decided items to generate (default 100000).")
        parser.add_argument("--runs", type=int, default=50, help="Timed runs per probe (default 50).")
        parser.add_argument("--seed", type=int, default=4610, help="Random seed, for repeatable data.")
        parser.add_argument(
            "--keep",
            action="store_true",
            help="Commit the generated items instead of rolling back; a later run with --keep reuses them.",
        )
        parser.add_argument("--explain", action="store_true", help="Print the PostgreSQL plan of each probe's rows.")

    def handle(self, *args, items: int, runs: int, seed: int, keep: bool, explain: bool, **options):
        if items < 1 or runs < 1:
            raise CommandError("--items and --runs must be at least 1.")
        rng = random.Random(seed)
        # One transaction, rolled back unless --keep: nothing generated stays, even when interrupted.
        with transaction.atomic():
            started = time.perf_counter()
            kept = Case.objects.filter(case_number__startswith=CASE_PREFIX)
            if keep and DisputedItem.objects.filter(case__in=kept).count() >= items:
                numbers, generated_in = list(kept.values_list("case_number", flat=True)), None
            else:
                numbers = self.generate(items, rng)
                generated_in = time.perf_counter() - started
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # planner statistics that include the generated rows
            results, lookup, total = self.measure(numbers, runs, rng, explain)
            if not keep:
                transaction.set_rollback(True)
        self.report(items, runs, generated_in, results, lookup, total, keep)

    # Data.

    def generate(self, n: int, rng: random.Random) -> list[str]:
        """n decided items in issued cases (1 to 3 items a case), each citing one or two guidelines."""
        today = timezone.localdate()
        run = secrets.token_hex(3)  # in the names that must be unique, should the database hold another run
        categories, subcategories = {}, {}
        for _, category, sub in DRUGS + TREATMENTS:
            if category not in categories:
                categories[category] = TreatmentCategory.objects.get_or_create(name=category, parent=None)[0]
            subcategories[sub] = TreatmentCategory.objects.get_or_create(name=sub, parent=categories[category])[0]
        specialties = [Specialty.objects.get_or_create(name=name)[0] for name in SPECIALTIES]
        guidelines = [
            Guideline.objects.get_or_create(
                title=title, edition=edition, defaults={"source": source, "citation_name": cited}
            )[0]
            for source, title, edition, cited in GUIDELINES
        ]
        reviewers = self.reviewers(60, rng, run, specialties)
        employers = self.organizations(Organization.Kind.EMPLOYER, f"Bench {run} Employer", 200)
        administrators = self.organizations(Organization.Kind.CLAIMS_ADMINISTRATOR, f"Bench {run} CA", 30)
        providers = Provider.objects.bulk_create([Provider(name=f"Dr. Bench Provider {i}") for i in range(300)])

        day = dt.timedelta(days=1)
        cases, counts, remaining, number = [], [], n, self.first_free_number()
        while remaining > 0:
            count = min(remaining, rng.choice((1, 1, 1, 2, 2, 3)))
            decided = today - rng.randint(1, 1500) * day
            received = decided - rng.randint(20, 45) * day
            ur_decision = received - rng.randint(3, 25) * day
            cases.append(
                Case(
                    case_number=f"{CASE_PREFIX}{number:07d}",
                    status=Case.Status.ISSUED,  # generated issued, as the importer makes historical cases
                    employee_name=f"Bench Employee {number}",
                    claim_number=f"BENCH-P-{number:07d}",
                    date_of_injury=ur_decision - rng.randint(30, 2000) * day,
                    ur_decision_date=ur_decision,
                    application_received_date=received,
                    records_complete_date=received + 5 * day,
                    decision_due_date=received + 35 * day,
                    date_assigned=received + 5 * day,
                    decision_date=decided,
                    employer=rng.choice(employers),
                    claims_administrator=rng.choice(administrators),
                    requesting_provider=rng.choice(providers),
                    reviewer=rng.choice(reviewers),
                    clinical_case_summary="Generated for the precedent benchmark.",
                )
            )
            counts.append(count)
            remaining -= count
            number += 1
        cases = Case.objects.bulk_create(cases, batch_size=2000)

        items = []
        for case, count in zip(cases, counts, strict=True):
            for position in range(1, count + 1):
                template, category, sub = rng.choice(DRUGS if rng.random() < 0.45 else TREATMENTS)
                items.append(
                    DisputedItem(
                        case=case,
                        position=position,
                        request_text=template.format(n=rng.choice((2, 3, 4, 6, 8, 12, 30, 60, 90, 120))),
                        category=categories[category],
                        subcategory=subcategories[sub],
                        ur_action=DisputedItem.URAction.DENIED,
                        decision=rng.choices(("upheld", "overturned"), (78, 22))[0],
                        rationale=self.rationale(rng, category),
                    )
                )
        items = DisputedItem.objects.bulk_create(items, batch_size=2000)
        citations = []
        for item in items:
            for position, guideline in enumerate(rng.sample(guidelines, rng.choice((1, 1, 2))), start=1):
                citations.append(
                    Citation(item=item, role=Citation.Role.REVIEW, position=position, guideline=guideline, pages="9")
                )
        Citation.objects.bulk_create(citations, batch_size=5000)
        return [c.case_number for c in cases]

    def rationale(self, rng: random.Random, category: str) -> str:
        opening = rng.choice(RATIONALE_OPENINGS).format(
            age=rng.randint(24, 68), sex=rng.choice(("male", "female")), region=rng.choice(REGIONS)
        )
        specific = FINDINGS_BY_CATEGORY.get(category, [])
        findings = rng.sample(specific, min(len(specific), rng.randint(1, 3))) + rng.sample(
            RATIONALE_FINDINGS, rng.randint(1, 3)
        )
        return " ".join([opening, *findings, rng.choice(RATIONALE_CLOSINGS)])

    def reviewers(self, count, rng, run, specialties):
        User = get_user_model()
        users = User.objects.bulk_create(
            [User(username=f"bench-{run}-precedent-reviewer-{i}", last_name=f"Bench{i}") for i in range(count)]
        )
        group = Group.objects.get(name=REVIEWERS)
        User.groups.through.objects.bulk_create([User.groups.through(user=u, group=group) for u in users])
        reviewers = Reviewer.objects.bulk_create(
            [Reviewer(user=u, degree="MD", practice_start_year=2000, weekly_hours=20) for u in users]
        )
        BoardCertification.objects.bulk_create(
            [
                BoardCertification(reviewer=r, specialty=s, board="American Board", certified_on=dt.date(2005, 6, 1))
                for r in reviewers
                for s in rng.sample(specialties, rng.choice((1, 1, 2)))
            ]
        )
        return reviewers

    def organizations(self, kind, label, count):
        orgs = [Organization(kind=kind, name=f"{label} {i:04d}") for i in range(count)]
        for org in orgs:
            org.normalized_name = normalize_name(org.name)  # bulk_create skips save(), which sets it
        return Organization.objects.bulk_create(orgs)

    def first_free_number(self) -> int:
        last = Case.objects.filter(case_number__startswith=CASE_PREFIX).order_by("-case_number").first()
        return int(last.case_number.removeprefix(CASE_PREFIX)) + 1 if last else 1

    # Measurement.

    def found(self, words: str, filters: dict):
        """The probe's precedents; a `decided_from` given in days counts back from today."""
        if "decided_from" in filters:
            filters = {**filters, "decided_from": timezone.localdate() - dt.timedelta(days=filters["decided_from"])}
        return DisputedItem.objects.precedents(words=words, **filters)

    def search(self, words: str, filters: dict) -> int:
        """What the search page reads for its results: the first page with the number found, the citations."""
        _, found = ranked_rows(self.found(words, filters), words=words, start=0, stop=PAGE)
        return found

    def measure(self, numbers: list[str], runs: int, rng: random.Random, explain: bool):
        """Each probe `runs` times, each time beside a lookup of a random case by its number (unique index)."""

        def lookup():
            return Case.objects.filter(case_number=rng.choice(numbers)).values_list("pk", flat=True).first()

        for _, words, filters in PROBES:  # warm up: caches and the first plan of each query
            self.search(words, filters)
            lookup()
        results, lookups, searches = [], [], []
        for label, words, filters in PROBES:
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                found = self.search(words, filters)
                times.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                lookup()
                lookups.append((time.perf_counter() - started) * 1000)
            stats_times = []
            for _ in range(max(1, runs // 5)):
                started = time.perf_counter()
                self.found(words, filters).charted(words=words).overturned_shares()  # as the chart counts
                stats_times.append((time.perf_counter() - started) * 1000)
            searches += times
            results.append((label, words, found, times, stats_times))
            if explain:
                self.explain(words, filters)
        return results, lookups, searches

    def explain(self, words: str, filters: dict):
        if connection.vendor != "postgresql":
            self.stderr.write("--explain needs PostgreSQL; skipped.")
            return
        ranked = self.found(words, filters).ranked(words=words)[:PAGE]
        sql, params = ranked.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        self.stdout.write(f"\n-- {words!r}\n{plan}\n")

    def report(self, items, runs, generated_in, results, lookups, searches, keep):
        def p95(times):
            return statistics.quantiles(times, n=20, method="inclusive")[18] if len(times) > 1 else times[0]

        made = "kept from an earlier run" if generated_in is None else f"generated in {generated_in:.1f} s"
        self.stdout.write(
            f"bench_precedents: {items} {BENCH_ITEMS_NOTE} {made} on {connection.vendor} "
            f"({'kept' if keep else 'rolled back afterwards'}); {runs} timed runs per probe"
        )
        self.stdout.write(
            f"{'probe':<26} {'matches':>8} {'median ms':>10} {'p95 ms':>8} {'stats median ms':>16}  words"
        )
        for label, words, found, times, stats_times in results:
            self.stdout.write(
                f"{label:<26} {found:>8} {statistics.median(times):>10.2f} {p95(times):>8.2f} "
                f"{statistics.median(stats_times):>16.1f}  {words}"
            )
        search_median, lookup_median = statistics.median(searches), statistics.median(lookups)
        self.stdout.write(
            f"{'search, all probes':<26} {'':>8} {search_median:>10.2f} {p95(searches):>8.2f}\n"
            f"{'bare indexed lookup':<26} {'':>8} {lookup_median:>10.3f} {p95(lookups):>8.3f}  "
            "(a case by its number, unique index, same run)\n"
            f"ratio search / lookup (medians): {search_median / lookup_median:.1f}"
        )
