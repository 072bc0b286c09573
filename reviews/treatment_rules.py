"""Which DWC treatment category a request belongs to, by rules on its words (one table, first match wins).

Used where a request arrives without a category, as in published determinations. The
categories and subcategories are the DWC decision-search taxonomy's, named as the catalogue
names them; a coordinator corrects a wrong guess on the item. A request no rule matches is
filed under Evaluation & management, the taxonomy's general heading, for the coordinator to see.
"""

import re

FALLBACK = ("Evaluation & management", None)

# (category, subcategory or None, pattern on the request text). Order matters: specific before
# general (a drug before "mg", "myofascial release" before surgical "release", equipment for a
# surgery before the surgery).
RULES: list[tuple[str, str | None, str]] = [
    ("Transportation", "Medical transportation", r"transport|\btaxi\b|mileage|ambulance"),
    ("Programs", "Functional restoration program", r"functional restoration|\bFRP\b|work conditioning|pain program"),
    ("Psych services", "Cognitive behavioural therapy", r"cognitive behavio|\bCBT\b"),
    ("Psych services", "Psychotherapy", r"psychotherap|counsel|biofeedback|psych"),
    ("Home health", "Home health aide", r"home health|home care|\baide\b"),
    (
        "DMEPOS",
        "Durable medical equipment",
        r"rental|purchase|\bbrace\b|sling|\bwrap\b|\bcane\b|walker|wheelchair|\bTENS\b|cold compression|cold therapy"
        r"|pillow|cushion|\bDME\b",
    ),
    ("DMEPOS", "Orthotics", r"orthotic|insole"),
    (
        "Pharmaceuticals",
        "Opioids",
        r"norco|hydrocodone|oxycodone|oxycontin|percocet|ultram|tramadol|codeine|morphine|fentanyl|methadone"
        r"|buprenorphine|tapentadol|nucynta|dilaudid|hydromorphone|opioid",
    ),
    (
        "Pharmaceuticals",
        "Muscle relaxants",
        r"flexeril|cyclobenzaprine|norflex|orphenadrine|\bsoma\b|carisoprodol|baclofen|tizanidine|zanaflex"
        r"|methocarbamol|robaxin|skelaxin|muscle relaxant",
    ),
    (
        "Pharmaceuticals",
        "NSAIDs",
        r"naproxen|anaprox|ibuprofen|motrin|celebrex|celecoxib|meloxicam|mobic|diclofenac|voltaren|etodolac"
        r"|nabumetone|relafen|ketoprofen|\bNSAID",
    ),
    (
        "Pharmaceuticals",
        "Proton pump inhibitors",
        r"pepcid|famotidine|omeprazole|prilosec|pantoprazole|protonix|ranitidine|nexium|esomeprazole|lansoprazole",
    ),
    ("Pharmaceuticals", "Anticonvulsants", r"gabapentin|neurontin|lyrica|pregabalin|topiramate"),
    (
        "Pharmaceuticals",
        "Antidepressants",
        r"cymbalta|duloxetine|amitriptyline|elavil|trazodone|nortriptyline|sertraline|zoloft",
    ),
    ("Pharmaceuticals", "Topical analgesics", r"lidoderm|lidocaine patch|terocin|topical|\bcream\b|compound"),
    ("Pharmaceuticals", "Sleep aids", r"ambien|zolpidem|lunesta"),
    ("Injection", "Epidural steroid injection", r"epidural|\bESI\b"),
    ("Injection", "Facet joint injection", r"facet|medial branch"),
    ("Injection", None, r"injection|nerve block|radiofrequency|ablation|trigger point|neurolytic"),
    ("Surgery", "Arthroscopy", r"arthroscop"),
    (
        "Surgery",
        "Spine surgery",
        r"fusion|laminectomy|laminotomy|discectomy|foraminotomy|neuroplasty|(?:lumbar|cervical|spine|spinal) surgery",
    ),
    (
        "Surgery",
        None,
        r"surgery|surgical|repair|decompression|arthroplasty|(?<!myofascial )release|replacement|\bORIF\b"
        r"|excision|ectomy\b|otomy\b",
    ),
    ("Diagnostic testing", "MRI", r"\bMRI\b|magnetic resonance"),
    ("Diagnostic testing", "EMG/NCS", r"\bEMG\b|\bNCV\b|\bNCS\b|nerve conduction|electrodiagnostic"),
    ("Diagnostic testing", "X-ray", r"x-?rays?\b|radiograph"),
    ("Diagnostic testing", "Laboratory", r"\blabs?\b|laboratory|urine|drug screen|blood|\bEKG\b|\bECG\b"),
    ("Diagnostic testing", None, r"\bCT\b|ultrasound|bone scan|sleep study|arthrogram|scan\b"),
    ("Therapies", "Acupuncture", r"acupuncture"),
    ("Therapies", "Chiropractic manipulation", r"chiropract|chirophysio|manipulation"),
    ("Therapies", None, r"myofascial|massage|infrared|\bheat\b|traction|shockwave"),
    ("Rehabilitation", "Occupational therapy", r"occupational therap"),
    ("Rehabilitation", "Physical therapy", r"physical therap|physiotherap|\bPT\b|aquatic therap|work hardening"),
    ("Pharmaceuticals", None, r"\d\s*mg\b|#\s*\d|tablet|capsule|\bpatch"),
    ("Evaluation & management", "Consultation", r"consult|referral|clearance"),
    ("Evaluation & management", "Follow-up visit", r"follow-?up|office visit|re-?examination|\bvisit"),
]
_COMPILED = [(category, sub, re.compile(pattern, re.IGNORECASE)) for category, sub, pattern in RULES]


def classify(request_text: str) -> tuple[str, str | None]:
    """(category, subcategory or None) of a treatment request."""
    for category, subcategory, pattern in _COMPILED:
        if pattern.search(request_text):
            return category, subcategory
    return FALLBACK
