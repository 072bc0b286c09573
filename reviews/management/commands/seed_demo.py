"""Load demo users, catalogues and cases (among them the published example determination); idempotent."""

import base64
import binascii
import datetime as dt
import functools
import os
from pathlib import Path

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from allauth.mfa.utils import decrypt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.html import format_html

from reviews import deadlines
from reviews.models import (
    BoardCertification,
    Case,
    CaseDocument,
    CaseEvent,
    Citation,
    DeterminationImport,
    Diagnosis,
    DisputedItem,
    Guideline,
    License,
    Organization,
    Provider,
    Reviewer,
    Specialty,
    TreatmentCategory,
    normalize_name,
)
from reviews.permissions import COORDINATORS, REVIEWERS
from reviews.roles import ensure_role_groups
from reviews.services import case_number_next, letter_queue
from reviews.services.published_import import determination_batch_run

User = get_user_model()

# Demo logins, printed at the end. Never used outside the embedded default.
ADMIN = ("admin", "imr-demo-admin")
COORDINATOR = ("coordinator", "imr-demo-coordinator")
REVIEWER_PASSWORD = "imr-demo-reviewer"  # noqa: S105 (demo data)

SPECIALTIES = {
    "Physical Medicine and Rehabilitation": ["Interventional Spine", "Pain Medicine"],
    "Orthopaedic Surgery": ["Spine Surgery", "Hand Surgery"],
    "Anesthesiology": ["Pain Medicine (Anesthesiology)"],
    "Psychiatry": [],
    "Psychology": [],
    "Preventive Medicine": ["Occupational Medicine"],
    "Internal Medicine": [],
    "Family Medicine": [],
    "Neurology": [],
    "Neurological Surgery": [],
    "Chiropractic": [],
    "Podiatry": [],
}

PMR, ORTHO, SPINE_SURGERY, PAIN, PSYCHIATRY, PSYCHOLOGY = (
    "Physical Medicine and Rehabilitation",
    "Orthopaedic Surgery",
    "Spine Surgery",
    "Pain Medicine (Anesthesiology)",
    "Psychiatry",
    "Psychology",
)
OCC_MED, INTERNAL, FAMILY, NEURO, NEUROSURGERY, CHIRO, PODIATRY, ANESTHESIA = (
    "Occupational Medicine",
    "Internal Medicine",
    "Family Medicine",
    "Neurology",
    "Neurological Surgery",
    "Chiropractic",
    "Podiatry",
    "Anesthesiology",
)

# DWC treatment taxonomy: category -> (subcategories, specialties accepted to decide it).
TREATMENT_CATEGORIES = {
    "DMEPOS": (["Durable medical equipment", "Orthotics"], [PMR, ORTHO, OCC_MED, FAMILY, INTERNAL, PODIATRY]),
    "Diagnostic testing": (["MRI", "EMG/NCS", "Laboratory"], [PMR, ORTHO, NEURO, OCC_MED, INTERNAL]),
    "Evaluation & management": (["Consultation", "Follow-up visit"], [PMR, OCC_MED, FAMILY, INTERNAL, ORTHO, PAIN]),
    "Home health": (["Home health aide"], [PMR, FAMILY, INTERNAL]),
    "Injection": (["Epidural steroid injection", "Facet joint injection"], [PMR, PAIN, ANESTHESIA, ORTHO]),
    "Pharmaceuticals": (["Opioids", "NSAIDs", "Muscle relaxants"], [PMR, PAIN, OCC_MED, INTERNAL, FAMILY, PSYCHIATRY]),
    "Programs": (["Functional restoration program"], [PMR, PAIN, PSYCHIATRY]),
    "Psych services": (["Cognitive behavioural therapy", "Psychotherapy"], [PSYCHIATRY, PSYCHOLOGY]),
    "Rehabilitation": (["Physical therapy", "Occupational therapy"], [PMR, ORTHO, OCC_MED, CHIRO]),
    "Surgery": (["Spine surgery", "Arthroscopy"], [ORTHO, SPINE_SURGERY, NEUROSURGERY, PODIATRY]),
    "Therapies": (["Acupuncture", "Chiropractic manipulation"], [PMR, CHIRO, OCC_MED, PAIN]),
    "Transportation": (["Medical transportation"], [PMR, OCC_MED, FAMILY, INTERNAL]),
}

# Published determinations (text from pdftotext -layout) that the demo imports as its precedent library.
PUBLISHED_EXAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "published"

# (source, title, edition, how letters name it): every guideline the published examples cite, in their words.
MTUS_PARTS = [
    ("Chronic Pain Medical Treatment", "2016"),
    ("Opioid Treatment", "2016"),
    ("Acupuncture Treatment", "2007"),
    ("Elbow Disorders", "2007"),
    ("Postsurgical Treatment", "2009"),
    ("General Approaches", "2004"),
    ("Low Back Complaints", "2004"),
    ("Neck and Upper Back Complaints", "2004"),
    ("Shoulder Complaints", "2004"),
    ("Knee Complaints", "2004"),
    ("Forearm, Wrist, and Hand Complaints", "2004"),
    ("Ankle and Foot Complaints", "2004"),
    ("Stress Related Conditions", "2004"),
]
ODG_CHAPTERS = [
    "Low Back",
    "Neck and Upper Back",
    "Pain",
    "Shoulder",
    "Knee & Leg",
    "Hip & Pelvis",
    "Forearm, Wrist, & Hand",
]
GUIDELINES = [
    # The 2014 letters name the 2009 Chronic Pain guidelines and ODG the older way.
    ("mtus", "MTUS Chronic Pain Medical Treatment Guidelines", "2009", "MTUS Chronic Pain Treatment Guidelines"),
    ("odg", "Official Disability Guidelines", "2014", "ODG (Official Disability Guidelines)"),
    *[("mtus", f"MTUS {title}", edition, f"MTUS {title} {edition}") for title, edition in MTUS_PARTS],
    ("odg", "Official Disability Guidelines", "", "Official Disability Guidelines (ODG)"),
    *[
        (
            "odg",
            f"Official Disability Guidelines, {chapter} Chapter",
            "",
            f"Official Disability Guidelines (ODG), {chapter} Chapter",
        )
        for chapter in ODG_CHAPTERS
    ],
    ("odg", "ODG Chiropractic guidelines", "", "ODG Chiropractic guidelines"),
    (
        "acoem",
        "ACOEM Occupational Medicine Practice Guidelines",
        "3rd ed.",
        "ACOEM Occupational Medicine Practice Guidelines, 3rd ed.",
    ),
    ("other", "National Guideline Clearinghouse", "", "National Guideline Clearinghouse"),
    ("study", "Peer-reviewed medical literature", "", "Peer-reviewed medical literature"),
]

# username, first, last, degree, practice start, weekly hours, certifications, licence states, licence expiry offset
REVIEWERS_DATA = [
    ("dr.alvarez", "Maria", "Alvarez", "MD", 2001, 24, [PMR, "Interventional Spine"], ["CA"], 400),
    ("dr.whitfield", "James", "Whitfield", "MD", 1998, 20, [ORTHO, SPINE_SURGERY], ["CA", "NV"], 300),
    ("dr.raman", "Priya", "Raman", "MD", 2009, 32, [PSYCHIATRY], ["CA"], 500),
    ("dr.okafor", "Samuel", "Okafor", "MD", 2004, 28, ["Preventive Medicine", OCC_MED], ["TX", "NY", "CA"], 250),
    ("dr.brooks", "Helen", "Brooks", "MD", 1995, 16, [ANESTHESIA, PAIN], ["CA"], -20),  # licence lapsed
]

EXAMPLE_SUMMARY = (
    "The patient is a 57-year-old female with a date of injury of 02/21/2007. The listed diagnoses per "
    "Dr. Linda Marsh are: 1. Lumbar disk displacement. 2. Cervicalgia. 3. Chronic pain syndrome. 4. "
    "Psychogenic pain. 5. Anxiety state NOS. 6. Depressive disorder NEC. According to progress "
    "report 08/06/2014, the patient presents with chronic pain disorder in conjunction with a severe "
    "mood disorder including depression, anxiety, and bulimia. Treater states the patient's condition "
    "has been complicated by a recent motor vehicle accident while she was traveling to her "
    "psychology appointment. Treater notes the patient has bilateral lower extremity weakness and "
    "numbness with tingling. Examination of the low back revealed stiffness and spasm. It was noted "
    "the patient has guarding throughout the spine and trunk. She has a significant flareup with "
    "musculoskeletal pain and is requesting additional occupational therapy 2 times a week for 6 "
    "weeks for the low back, right shoulder, and right wrist. Utilization review denied the request on "
    "08/21/2014."
)
EXAMPLE_RATIONALE = (
    "The treater is requesting additional occupational therapy 2 times a week for "
    "6 weeks as the patient has a flareup in her complaints due to a recent motor vehicle accident. "
    "Utilization modified the certification from the requested 12 sessions to 6 sessions to include "
    "HEP. For physical medicine, the MTUS Guidelines page 98 and 99 recommends for myalgia and "
    "myositis-type symptoms 9 to 10 sessions of over 8 weeks. The medical file provided for review "
    "does not include the number of treatments the patient has received in the past. The treater does "
    "indicate that the patient has had prior physical therapy sessions and is requesting additional "
    "treatment. In this case, the treater does not discuss why the patient would not be able to transition "
    "into a self-directed home exercise program. Furthermore, the treater's request for 12 sessions "
    "exceeds what is recommended by MTUS."
)
EXAMPLE_DIAGNOSES = [
    ("M51.26", "Lumbar disk displacement"),
    ("M54.2", "Cervicalgia"),
    ("G89.4", "Chronic pain syndrome"),
    ("F45.41", "Psychogenic pain"),
    ("F41.1", "Anxiety state NOS"),
    ("F32.A", "Depressive disorder NEC"),
]
EXAMPLE_CLAIM = "DEMO-2007-0221"


def load_test_totp_secret() -> str:
    """IMR_LOAD_TOTP_SECRET, refused unless allauth can decode it (base32) and it has RFC 4226's 128 bits at least."""
    secret = os.environ.get("IMR_LOAD_TOTP_SECRET", "")
    try:
        if len(base64.b32decode(secret.encode("ascii"), casefold=True)) >= 16:
            return secret
    except (binascii.Error, UnicodeEncodeError):
        pass
    raise CommandError(
        "--totp takes the secret from IMR_LOAD_TOTP_SECRET, which must hold 128 bits or more in base32, for example: "
        "python -c 'import pyotp; print(pyotp.random_base32())'"
    )


class Command(BaseCommand):
    help = "Create demo users, catalogues and cases at several stages. A second run changes nothing."

    def add_arguments(self, parser):
        parser.add_argument(
            "--totp",
            nargs="+",
            default=[],
            metavar="USERNAME",
            help="Also give these users a TOTP authenticator with the base32 secret in IMR_LOAD_TOTP_SECRET, in "
            "place of theirs: the load test signs in with its codes where production requires the second factor.",
        )

    def handle(self, *args, **options):
        secret = load_test_totp_secret() if options["totp"] else None
        with transaction.atomic():
            created = self.seed()
            if secret:
                created += self.give_totp(options["totp"], secret)
        self.stdout.write(self.style.SUCCESS(f"Demo data ready ({created} new rows)."))
        if secret:
            self.stdout.write(f"TOTP secret from IMR_LOAD_TOTP_SECRET: {', '.join(options['totp'])}")
        self.stdout.write(
            f"\nOpen {settings.IMR_BASE_URL.rstrip('/')}/ and log in as:\n"
            f"  coordinator  {COORDINATOR[0]:<14} {COORDINATOR[1]}\n"
            f"  reviewer     {REVIEWERS_DATA[0][0]:<14} {REVIEWER_PASSWORD}   (also: "
            + ", ".join(r[0] for r in REVIEWERS_DATA[1:])
            + ")\n"
            f"  admin        {ADMIN[0]:<14} {ADMIN[1]}   (Django admin: /admin/)\n"
        )

    def seed(self) -> int:
        self.created = 0
        ensure_role_groups()
        today = timezone.localdate()
        self.created += deadlines.load_california_holidays([today.year, today.year + 1])
        self.user(*ADMIN, first_name="Ada", last_name="Admin", is_staff=True, is_superuser=True)
        coordinator = self.user(*COORDINATOR, first_name="Casey", last_name="Coordinator", is_staff=True)
        coordinator.groups.add(Group.objects.get(name=COORDINATORS))
        specialties = self.specialties()
        categories = self.treatment_categories(specialties)
        guidelines = self.guidelines()
        reviewers = self.reviewers(specialties, today)
        orgs, providers = self.parties(specialties)
        self.example_case(coordinator, reviewers["dr.alvarez"], orgs, providers, categories, guidelines)
        self.cases_in_flight(coordinator, reviewers, orgs, providers, categories, today)
        self.precedents(coordinator)
        return self.created

    def give_totp(self, usernames, secret) -> int:
        """Give each named user a TOTP authenticator with `secret` in place of theirs; returns how many changed."""
        users = {user.username: user for user in User.objects.filter(username__in=usernames)}
        if missing := sorted(set(usernames) - set(users)):
            raise CommandError(f"No user named {', '.join(missing)}.")
        changed = 0
        for user in users.values():
            current = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
            if current is not None and decrypt(current.data["secret"]) == secret:
                continue  # a second run changes nothing
            if current is not None:
                current.delete()  # one TOTP authenticator a user (allauth's constraint)
            TOTP.activate(user, secret)
            changed += 1
        return changed

    def precedents(self, coordinator):
        """The published examples, imported as the precedent library by a batch run here and now."""
        if DeterminationImport.objects.exists():
            return
        batch = DeterminationImport.objects.create(created_by=coordinator)
        batch.files = [
            default_storage.save(f"imports/{batch.pk}/{path.name}", File(path.open("rb"), name=path.name))
            for path in sorted(PUBLISHED_EXAMPLES.glob("*.txt"))
        ]
        batch.save(update_fields=["files"])
        determination_batch_run(batch_id=batch.pk)
        self.created += len(batch.files)

    def get_or_create(self, model, defaults=None, **lookup):
        obj, created = model.objects.get_or_create(defaults=defaults or {}, **lookup)
        self.created += created
        return obj

    def user(self, username, password, **fields):
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(
                username=username, password=password, email=f"{username}@example.org", **fields
            )
            self.created += 1
        return user

    def specialties(self) -> dict[str, Specialty]:
        found = {}
        for name, subs in SPECIALTIES.items():
            parent = found[name] = self.get_or_create(Specialty, name=name)
            for sub in subs:
                found[sub] = self.get_or_create(Specialty, name=sub, defaults={"parent": parent})
        return found

    def treatment_categories(self, specialties) -> dict[str, TreatmentCategory]:
        found = {}
        for name, (subs, accepted) in TREATMENT_CATEGORIES.items():
            category = found[name] = self.get_or_create(TreatmentCategory, name=name, parent=None)
            if not category.accepted_specialties.exists():
                category.accepted_specialties.set([specialties[s] for s in accepted])
            for sub in subs:
                found[sub] = self.get_or_create(TreatmentCategory, name=sub, parent=category)
        return found

    def guidelines(self) -> dict[str, Guideline]:
        found = {}
        for source, title, edition, citation_name in GUIDELINES:
            found[citation_name] = self.get_or_create(
                Guideline, title=title, edition=edition, defaults={"source": source, "citation_name": citation_name}
            )
        return found

    def reviewers(self, specialties, today) -> dict[str, Reviewer]:
        group = Group.objects.get(name=REVIEWERS)
        found = {}
        for n, (username, first, last, degree, since, hours, certs, states, expiry) in enumerate(REVIEWERS_DATA):
            user = self.user(username, REVIEWER_PASSWORD, first_name=first, last_name=last)
            user.groups.add(group)
            reviewer = found[username] = self.get_or_create(
                Reviewer,
                user=user,
                defaults={"degree": degree, "practice_start_year": since, "weekly_hours": hours, "capacity": 8},
            )
            for cert in certs:
                specialty = specialties[cert]
                board = f"American Board of {(specialty.parent or specialty).name}"
                self.get_or_create(
                    BoardCertification,
                    reviewer=reviewer,
                    specialty=specialty,
                    defaults={"board": board, "certified_on": dt.date(since + 2, 6, 15)},
                )
            for state in states:
                self.get_or_create(
                    License,
                    state=state,
                    number=f"{state[0]}{71000 + 37 * n}",
                    defaults={"reviewer": reviewer, "expires_on": today + dt.timedelta(days=expiry)},
                )
        return found

    def parties(self, specialties):
        orgs = {}
        for key, kind, name, email in [
            ("employer", "employer", "Golden State Grocers, Inc.", ""),
            ("employer2", "employer", "Bay Area Transit Services", ""),
            ("employer3", "employer", "Central Valley Packing Co.", ""),
            ("ca", "claims_administrator", "Pacific Claims Management", "imr@pacificclaims.example.org"),
            ("ca2", "claims_administrator", "State Compensation Insurance Fund", "imr@scif.example.org"),
            ("ur", "ur_organization", "Coastal Utilization Review", ""),
            ("law", "law_firm", "Reyes & Partners, Attorneys at Law", "intake@reyeslaw.example.org"),
            ("group", "provider_group", "Sacramento Spine and Rehab Medical Group", ""),
        ]:
            orgs[key] = self.get_or_create(
                Organization, kind=kind, normalized_name=normalize_name(name), defaults={"name": name, "email": email}
            )
        providers = {}
        for key, name, specialty, npi in [
            ("marsh", "Dr. Linda Marsh", PMR, "1609876543"),
            ("cho", "Dr. Daniel Cho", ORTHO, "1487654321"),
            ("nguyen", "Dr. Anh Nguyen", PSYCHIATRY, "1356789012"),
        ]:
            providers[key] = self.get_or_create(
                Provider,
                npi=npi,
                defaults={"name": name, "specialty": specialties[specialty], "group": orgs["group"]},
            )
        return orgs, providers

    def new_case(self, *, claim_number, status, by, diagnoses, items, documents=(), **fields) -> Case | None:
        """Create a demo case already at `status`; None when it exists (demo data is loaded once)."""
        if Case.objects.filter(claim_number=claim_number).exists():
            return None
        case = Case(
            claim_number=claim_number,
            status=status,  # demo fixture: written at its stage, with an event saying so
            case_number=case_number_next(year=fields["application_received_date"].year),
            **fields,
        )
        case.full_clean()
        case.save()
        for position, (code, text) in enumerate(diagnoses, start=1):
            Diagnosis.objects.create(case=case, position=position, icd10_code=code, description=text)
        for position, item in enumerate(items, start=1):
            citations = item.pop("citations", [])
            row = DisputedItem.objects.create(case=case, position=position, **item)
            for n, (role, guideline, sections, pages) in enumerate(citations, start=1):
                Citation.objects.create(
                    item=row, role=role, position=n, guideline=guideline, sections=sections, pages=pages
                )
        for kind, author, service_date, opened in documents:
            self.document(case, kind, author, service_date, opened)
        CaseEvent.record(case, by=by, note="demo data loaded at this stage")
        self.created += 1
        return case

    def document(self, case, kind, author, service_date, opened):
        pdf = _demo_pdf()
        doc = CaseDocument(
            case=case,
            kind=kind,
            author=author,
            service_date=service_date,
            submitted_by=CaseDocument.SubmittedBy.CLAIMS_ADMINISTRATOR,
            # Records arrive a few days after their date of service, not when the demo is loaded,
            # and the reviewer opens them the day after assignment.
            received_at=_at(service_date + dt.timedelta(days=3)),
            original_name=f"{kind}-{service_date:%Y%m%d}.pdf",
            content_type="application/pdf",
            size=len(pdf),
            page_count=1,
            first_opened_at=_at(case.date_assigned + dt.timedelta(days=1)) if opened else None,
        )
        doc.file.save(doc.original_name, ContentFile(pdf), save=False)
        doc.save()

    def example_case(self, coordinator, reviewer, orgs, providers, categories, guidelines):
        """The case of shared/examples/final-determination-example.txt, approved, its letter queued.

        The worker renders the letter once this transaction commits: the case then reads issued.
        """
        case = self.new_case(
            claim_number=EXAMPLE_CLAIM,
            status=Case.Status.APPROVED,
            by=coordinator,
            priority=Case.Priority.STANDARD,
            employee_name="Jane Demo-Example",
            employee_birth_date=dt.date(1957, 3, 15),
            employee_sex=Case.Sex.FEMALE,
            adj_number="ADJ1234567",
            date_of_injury=dt.date(2007, 2, 21),
            employer=orgs["employer"],
            claims_administrator=orgs["ca"],
            ur_organization=orgs["ur"],
            requesting_provider=providers["marsh"],
            employee_attorney=orgs["law"],
            ur_decision_date=dt.date(2014, 8, 21),
            application_received_date=dt.date(2014, 8, 28),
            date_assigned=dt.date(2014, 9, 10),
            records_due_date=dt.date(2014, 9, 22),
            records_complete_date=dt.date(2014, 9, 9),
            decision_due_date=dt.date(2014, 10, 9),
            decision_date=dt.date(2014, 10, 2),
            reviewer=reviewer,
            clinical_case_summary=EXAMPLE_SUMMARY,
            diagnoses=EXAMPLE_DIAGNOSES,
            items=[
                {
                    "request_text": (
                        "Additional occupational therapy 2x6 weeks (12 sessions) low back, right shoulder, right wrist"
                    ),
                    "category": categories["Rehabilitation"],
                    "subcategory": categories["Occupational therapy"],
                    "body_part": "Low back, right shoulder, right wrist",
                    "ur_action": DisputedItem.URAction.MODIFIED,
                    "authorized_part": "6 sessions of occupational therapy, to include a home exercise program",
                    # As the 2014 letter reads: the whole original request is decided.
                    "eligible_scope": DisputedItem.EligibleScope.ORIGINAL,
                    "decision": DisputedItem.Decision.UPHELD,
                    "rationale": EXAMPLE_RATIONALE,
                    "citations": [
                        (
                            Citation.Role.CLAIMS_ADMINISTRATOR,
                            guidelines["ODG (Official Disability Guidelines)"],
                            "Physical Therapy Guidelines",
                            "",
                        ),
                        (
                            Citation.Role.REVIEW,
                            guidelines["MTUS Chronic Pain Treatment Guidelines"],
                            "Physical Medicine",
                            "98, 99",
                        ),
                    ],
                }
            ],
            documents=[
                ("application", "Employee", dt.date(2014, 8, 25), True),
                ("ur_letter", "Coastal Utilization Review", dt.date(2014, 8, 21), True),
                ("progress_report", "Dr. Linda Marsh", dt.date(2014, 8, 6), True),
            ],
        )
        if case is not None:
            letter_queue(case=case, by=coordinator)

    def cases_in_flight(self, coordinator, reviewers, orgs, providers, categories, today):
        """A handful of current cases, one or two at each stage of the workflow."""
        day = dt.timedelta(days=1)
        S, P = Case.Status, Case.Priority
        lumbar = [
            ("M51.26", "Other intervertebral disc displacement, lumbar region"),
            ("M54.16", "Radiculopathy, lumbar region"),
        ]
        shoulder = [
            ("M75.101", "Unspecified rotator cuff tear of right shoulder"),
            ("M25.511", "Pain in right shoulder"),
        ]
        mood = [("F43.10", "Post-traumatic stress disorder, unspecified"), ("G89.29", "Other chronic pain")]
        esi = {
            "request_text": "Lumbar epidural steroid injection L5-S1",
            "category": categories["Injection"],
            "subcategory": categories["Epidural steroid injection"],
            "body_part": "Lumbar spine",
            "spinal_level": "L5-S1",
            "ur_action": DisputedItem.URAction.DENIED,
        }
        pt = {
            "request_text": "Physical therapy 2x4 weeks right shoulder",
            "category": categories["Rehabilitation"],
            "subcategory": categories["Physical therapy"],
            "body_part": "Shoulder",
            "side": DisputedItem.Side.RIGHT,
            "ur_action": DisputedItem.URAction.DENIED,
        }
        norco = {
            "request_text": "Norco 10/325 mg #90",
            "category": categories["Pharmaceuticals"],
            "subcategory": categories["Opioids"],
            "ur_action": DisputedItem.URAction.MODIFIED,
            "authorized_part": "Norco 10/325 mg #45 for weaning",
            "eligible_scope": DisputedItem.EligibleScope.REMAINING,
            "remaining_part": "Norco 10/325 mg #45",
        }
        cbt = {
            "request_text": "Cognitive behavioural therapy, 6 sessions",
            "category": categories["Psych services"],
            "subcategory": categories["Cognitive behavioural therapy"],
            "ur_action": DisputedItem.URAction.DENIED,
        }
        parties = {
            "employer": orgs["employer2"],
            "claims_administrator": orgs["ca2"],
            "ur_organization": orgs["ur"],
            "requesting_provider": providers["cho"],
        }
        rows = [
            # claim, status, priority, name, days since application, diagnoses, items, reviewer
            ("DEMO-REC-001", S.RECEIVED, P.STANDARD, "Robert Lin", 1, lumbar, [esi], None),
            ("DEMO-REC-002", S.RECEIVED, P.EXPEDITED, "Gloria Santos", 0, shoulder, [pt], None),
            ("DEMO-ELG-001", S.ELIGIBLE, P.STANDARD, "Marcus Webb", 4, mood, [cbt], None),
            ("DEMO-AWR-001", S.AWAITING_RECORDS, P.STANDARD, "Teresa Young", 9, lumbar, [esi, norco], None),
            ("DEMO-RFA-001", S.READY_FOR_ASSIGNMENT, P.STANDARD, "Henry Park", 20, lumbar, [esi], None),
            ("DEMO-RFA-002", S.READY_FOR_ASSIGNMENT, P.EXPEDITED, "Olivia Grant", 3, shoulder, [pt], None),
            ("DEMO-ASG-001", S.ASSIGNED, P.STANDARD, "Victor Ramos", 25, shoulder, [pt], "dr.whitfield"),
            ("DEMO-REV-001", S.IN_REVIEW, P.STANDARD, "Nina Patel", 35, lumbar, [esi, norco], "dr.alvarez"),
            ("DEMO-REV-002", S.IN_REVIEW, P.FORMULARY, "Samuel Ortiz", 14, lumbar, [norco], "dr.okafor"),
            ("DEMO-INE-001", S.INELIGIBLE, P.STANDARD, "Paul Becker", 6, lumbar, [esi], None),
        ]
        for claim, status, priority, name, age, diagnoses, items, reviewer in rows:
            received = today - age * day
            notice_sent = received + 2 * day if status not in (S.RECEIVED, S.ELIGIBLE, S.INELIGIBLE) else None
            has_records = status in Case.Status.WITH_REVIEWER + [S.READY_FOR_ASSIGNMENT]
            records_complete = received + 5 * day if has_records else None
            self.new_case(
                claim_number=claim,
                status=status,
                by=coordinator,
                priority=priority,
                employee_name=name,
                employee_birth_date=dt.date(1970 + age % 20, 1 + age % 12, 10),
                employee_sex=Case.Sex.UNKNOWN,
                date_of_injury=dt.date(2023, 5, 17),
                ur_decision_date=received - 6 * day,
                application_received_date=received,
                records_due_date=deadlines.records_due(notice_sent, priority) if notice_sent else None,
                records_complete_date=records_complete,
                decision_due_date=deadlines.decision_due(records_complete, priority) if records_complete else None,
                date_assigned=received + 6 * day if reviewer else None,
                reviewer=reviewers[reviewer] if reviewer else None,
                closed_reason="Application filed more than 30 days after service of the UR decision."
                if status == S.INELIGIBLE
                else "",
                closed_from=S.RECEIVED if status == S.INELIGIBLE else "",  # where reopening returns it
                diagnoses=diagnoses,
                items=[dict(item) for item in items],
                documents=[("ur_letter", "Coastal Utilization Review", received - 6 * day, False)],
                **parties,
            )


def _at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(10)))


@functools.cache
def _demo_pdf() -> bytes:
    """One page standing in for every scanned record of the demo (rendered once per run)."""
    from weasyprint import HTML  # imported here: only the demo needs it at this point

    html = format_html(
        "<h1 style='font-family: sans-serif'>Demo medical record</h1><p>No real patient data. {}.</p>",
        settings.IMR_ORGANIZATION_NAME,
    )
    return HTML(string=html).write_pdf()
