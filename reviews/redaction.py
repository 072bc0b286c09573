"""The public copy's removals, pure: what identifies the parties, found as names and never as ordinary words.

DESIGN.md section 7: names are removed as names (the full name, the surname with or without a title or
first name, initials), in a name's capitalisation, never as lower-case words; claim, ADJ and other
case numbers and the parties' addresses go too. The coordinator sees every removal highlighted, may undo
one or add one, and confirms; the letter task then applies exactly those choices.

Ambiguous words. A surname or first name that is also an ordinary word ("Young", "Hand", "Rose", "May",
"Walker"; an eponym such as "Spurling" or "Hawkins"; any word the case's own text uses in lower case) is
removed only in a name's context: after a title ("Dr. Young"), with the first name or an initial ("Sam
Shoulder", "S. Shoulder"), reversed ("Shoulder, Sam") or with a degree ("Shoulder, MD"). Alone, even
capitalised at the start of a sentence or in a title ("Shoulder Chapter", "May 2016"), it is kept and
shown to the coordinator as a possible mention, one click from removal. A name that is no ordinary word
("Marsh" is one; "Nguyen" is not) is removed wherever it is written with a capital.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field

from django.core.exceptions import ObjectDoesNotExist

REDACTED = ""  # the published public copies simply leave the name out: "The listed diagnoses per  are:"

# States of a span. Removed and added spans are left out of the public copy; the others stay in it.
REMOVED, ADDED, KEPT, POSSIBLE = "removed", "added", "kept", "possible"

_B = r"(?<![\w])"  # starts a word
_E = r"(?![\w])"  # ends a word
_POSSESSIVE = r"(?:['’]s)?"  # "Dr. Young's report": the possessive goes with the name
_TITLE = r"(?:Dr|Mr|Mrs|Ms|Mx|Miss|Prof|Doctor)\.?"
_DEGREE = (
    r"(?:,?\s+(?:M\.D\.|MD|D\.O\.|DO|D\.C\.|DC|Ph\.D\.|PhD|Psy\.D\.|PsyD|DPM|DDS|PA-C|NP|RN|DPT|Jr\.?|Sr\.?|III|II|IV))"
)
_DEGREE_WORDS = {
    "md", "m.d.", "do", "d.o.", "dc", "d.c.", "phd", "ph.d.", "psyd", "psy.d.", "dpm", "dds", "pa-c", "np", "rn",
    "dpt", "jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "facs", "qme", "mph",
}  # fmt: skip
_TITLE_WORDS = {"dr", "dr.", "mr", "mr.", "mrs", "mrs.", "ms", "ms.", "mx", "mx.", "miss", "prof", "prof.", "doctor"}
_PARTICLES = {"de", "del", "della", "der", "den", "di", "da", "du", "van", "von", "la", "le", "st.", "bin", "al"}
_LEGAL_SUFFIXES = {"inc", "inc.", "llc", "l.l.c.", "llp", "corp", "corp.", "corporation", "co", "co.", "company",
                   "ltd", "ltd.", "pc", "p.c."}  # fmt: skip
# Initials that are also abbreviations a letter uses ("8 A.M.", "M.D."): only a possible mention.
_ABBREVIATIONS = {"am", "pm", "md", "do", "dc", "pa", "pt", "ot", "rn", "np", "us", "ok", "er", "bid", "tid", "qid"}

# Names that are also words a letter uses: body parts, clinical eponyms (tests and signs), months and days,
# and the commoner English words that are surnames or first names. Alone, they are kept (see above).
_ORDINARY_WORDS = """
    abbott allen ankle apley april arm armstrong august autumn back baker ball bank banks barber bass bay beach
    bean bear bell berry best bill bird bishop black blood bloom blue bolt bone bond booth bowman boyd branch
    bridge bright brook brooks brown buck bull burn bush butler cane carpenter carter case cash castle chance
    chapel chapman charity chase cherry chief child church clay cliff coat cole cook cooper copper cross crow
    cutter dale dance daniel dawn day dean doctor drake driver duke dunn early earl east easter eve faith fall
    farmer fair fields field finch fish fisher flint ford forest foot fort fortune fox frank free friend frost
    gardner gate gates gene gift glass glen gold good goodman grace grant gray green grey grove guy hall hand
    hardy hart hawk hawkins hay hazel head heart heath heather hill holly home hood hope horn house hunt hunter
    iris iron ivy jade jay jobe joy judge june kemp key king knee knight lake lamb lane lasegue law lee leg legg
    light lily little long lord love low lucky major man mann march mark marsh marshall mason may mercy miles
    mill miller moody moon moore more morning moss neck neer new newman north noble norman ober olive page
    paine pain park parks patience patrick payne peace pearl penny pepper pierce pike pine piper pool poole
    porter pound power price prince quick rain ray read reed rich rivers river robin rock rose ross ruby rush
    sage salmon sand savage sharp shepherd shore short shoulder silver singer skin slaughter small smart snow
    south sparrow speed spring spurling squire stable star steel sterling stone storm strange street strong
    summer summers sunday swan sweet swift tall taylor temple thomas thorn tinel tower trout turner vale
    valley vine violet wade walker wall walls ward warren water waters way weaver webb wells west white will
    winter wise wolf wood woods worth wren wright yergason york young monday tuesday wednesday thursday
    friday saturday january february september october november december phalen finkelstein hoffmann
    babinski lachman mcmurray adson gaenslen waddell romberg faber jamar norco
    ace angel art bud chip colt don jack jean pat rusty sky sue sunny win woody
"""
ORDINARY_WORDS = frozenset(_ORDINARY_WORDS.split())


@dataclass(frozen=True)
class Pattern:
    """A way a party's detail is written, and why it is removed."""

    regex: re.Pattern
    reason: str
    ambiguous: bool = False  # also an ordinary word: kept and shown as a possible mention
    added: bool = False  # typed by the coordinator


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str
    reason: str
    state: str

    @property
    def removed(self) -> bool:
        return self.state in (REMOVED, ADDED)


@dataclass(frozen=True)
class Passage:
    """A piece of the letter that the public copy redacts, with what the redaction finds in it."""

    label: str
    text: str
    spans: list[Span] = field(default_factory=list)

    def segments(self) -> list[tuple[str, Span | None]]:
        """The text cut at the spans, for highlighting: [(text, span or None), ...]."""
        out, at = [], 0
        for span in self.spans:
            if span.start > at:
                out.append((self.text[at : span.start], None))
            out.append((span.text, span))
            at = span.end
        if at < len(self.text):
            out.append((self.text[at:], None))
        return out


# Building the patterns.


def _forms(token: str) -> str:
    """A name token in a name's capitalisation: as written, in capitals, or capitalised; never lower case.

    Capitals only from four letters: "NG" or "LEE" in a letter is an abbreviation sooner than a name.
    """
    forms = {token, token[:1].upper() + token[1:].lower(), *([token.upper()] if len(token) >= 4 else [])}
    forms = sorted((f for f in forms if f[:1].isupper()), key=len, reverse=True)
    return "(?:" + "|".join(re.escape(f) for f in forms) + ")" if forms else re.escape(token)


def _phrase(text: str) -> str:
    """A multi-word name, tokens in a name's capitalisation where they have a capital, any spacing between."""
    tokens = text.split()
    return r"\s+".join(_forms(t) if t[:1].isupper() else re.escape(t) for t in tokens)


def is_ordinary(word: str, vocabulary: frozenset[str] = frozenset()) -> bool:
    """Whether a name is also a word a letter may use, so that alone it cannot be taken for the name."""
    folded = word.lower().strip(".'’")
    return folded in ORDINARY_WORDS or folded in vocabulary or any(p in ORDINARY_WORDS for p in folded.split("-"))


@dataclass(frozen=True)
class PersonName:
    given: tuple[str, ...]  # first name, then middle names
    surname: str


def parse_person(name: str) -> PersonName | None:
    """ "Dr. Linda K. Marsh, MD", "Marsh, Linda", "Mary Ann van der Berg" -> given names and surname."""
    name = " ".join(name.split())
    if "," in name:
        head, tail = (part.strip() for part in name.split(",", 1))
        tail_words = [w for w in re.split(r"[\s,]+", tail) if w]
        if all(w.lower() in _DEGREE_WORDS for w in tail_words):
            name = head
        else:  # "Surname, Given"
            given = [w for w in tail_words if w.lower() not in _DEGREE_WORDS]
            name = " ".join([*given, head])
    words = [w for w in name.split() if re.search(r"[^\W\d_]", w)]  # a token without a letter is no name
    while words and words[0].lower() in _TITLE_WORDS:
        words.pop(0)
    while words and words[-1].lower().rstrip(",") in _DEGREE_WORDS:
        words.pop()
    if not words:
        return None
    start = next((i for i in range(1, len(words)) if words[i].lower() in _PARTICLES), len(words) - 1)
    return PersonName(given=tuple(words[:start]), surname=" ".join(words[start:]))


def person_patterns(name: str, reason: str, vocabulary: frozenset[str]) -> list[Pattern]:
    """Every way a letter writes this person's name, definite ones first."""
    person = parse_person(name)
    if person is None:
        return []
    surname = _phrase(person.surname)
    end = _POSSESSIVE + _E
    patterns = [(rf"{_B}{_TITLE}\s+{surname}{end}", False), (rf"{_B}{surname}{_DEGREE}+{_E}", False)]
    if person.given:
        first, middles = person.given[0], person.given[1:]
        initial = re.escape(first[0].upper())
        middle = "|".join([*(_forms(m) for m in middles), *(re.escape(m[0].upper()) + r"\.?" for m in middles)])
        middle = rf"(?:\s+(?:{middle + '|' if middle else ''}[A-Z]\.))"
        patterns += [
            (rf"{_B}(?:{_TITLE}\s+)?{_forms(first)}{middle}{{0,2}}\s+{surname}{_DEGREE}*{end}", False),
            (rf"{_B}(?:{_TITLE}\s+)?{initial}(?:\.\s*|\s+)(?:[A-Z]\.\s*)?{surname}{end}", False),
            (rf"{_B}{surname},\s+{_forms(first)}{middle}{{0,2}}{end}", False),
        ]
        initials = [first[0], *(m[0] for m in middles), person.surname.split()[-1][0]]
        if all(c.isalpha() for c in initials):
            dotted = r"\.\s?".join(re.escape(c.upper()) for c in initials) + r"\."
            abbreviation = "".join(initials).lower() in _ABBREVIATIONS
            patterns.append((rf"(?<![\w.]){dotted}(?![A-Za-z]\.)", abbreviation))
        if len(first) > 1:
            patterns.append((rf"{_B}{_forms(first)}{end}", is_ordinary(first, vocabulary)))
    parts = {person.surname, *re.split(r"-", person.surname)} if "-" in person.surname else {person.surname}
    for part in sorted(parts, key=len, reverse=True):
        patterns.append((rf"{_B}{_phrase(part)}{end}", is_ordinary(part, vocabulary)))
    return [Pattern(re.compile(regex), reason, ambiguous) for regex, ambiguous in patterns]


def organization_patterns(name: str, reason: str, vocabulary: frozenset[str]) -> list[Pattern]:
    """The organisation's name as written, and without its legal suffix ("Golden State Grocers")."""
    tokens = [t for t in re.split(r"[\s,]+", name.strip()) if t]
    if not tokens:
        return []
    core = list(tokens)
    while core and core[-1].lower() in _LEGAL_SUFFIXES:
        core.pop()
    if core and core[0].lower() == "the":
        core.pop(0)

    def regex(words):
        return _B + r"[\s,]+".join(_forms(t) if t[:1].isupper() else re.escape(t) for t in words) + _POSSESSIVE + _E

    patterns = [Pattern(re.compile(regex(tokens)), reason)]
    if core and core != tokens:
        ambiguous = len(core) == 1 and is_ordinary(core[0], vocabulary)
        patterns.append(Pattern(re.compile(regex(core)), reason, ambiguous))
    return patterns


def identifier_pattern(value: str, reason: str) -> Pattern | None:
    """A claim or ADJ number, with or without its dashes and spaces ("ADJ1234567", "ADJ 1234567")."""
    chunks = re.findall(r"[A-Za-z]+|\d+", value)
    if len("".join(chunks)) < 5:  # shorter strings would remove ordinary numbers of the letter
        return None
    return Pattern(re.compile(_B + r"[\s-]?".join(re.escape(c) for c in chunks) + _E, re.IGNORECASE), reason)


def address_patterns(address: str, reason: str) -> list[Pattern]:
    """The whole address, however it is broken into lines, and its street line alone."""
    parts = [p.strip() for p in re.split(r"[\n,]+", address) if p.strip()]
    if not parts:
        return []

    def regex(text):
        words = [w for w in re.split(r"[\s,]+", text) if w]
        return re.compile(_B + r"[\s,]+".join(re.escape(w) for w in words) + _E, re.IGNORECASE)

    patterns = [Pattern(regex(address), reason)]
    street = next((p for p in parts if re.match(r"(?:\d+\s+\S|P\.?\s*O\.?\s+Box)", p, re.IGNORECASE)), None)
    if street and len(parts) > 1:
        patterns.append(Pattern(regex(street), reason))
    return patterns


def added_pattern(text: str) -> Pattern:
    """Text the coordinator removes: exactly as typed (case and all), as whole words where it starts or ends one."""
    words = text.split()
    body = r"\s+".join(re.escape(w) for w in words)
    start = _B if re.match(r"\w", text.strip()) else ""
    end = _E if re.search(r"\w$", text.strip()) else ""
    return Pattern(re.compile(start + body + end), "added in quality review", added=True)


TITLE_NAME = Pattern(
    re.compile(rf"{_B}{_TITLE}\s+[A-Z][A-Za-z'’-]+(?:\s+[A-Z]\.)?(?:\s+[A-Z][a-z'’-]+)?{_POSSESSIVE}{_E}"),
    "a name after a title",
)


# Finding and applying.


class Redactor:
    """Finds the spans to remove in any text of one case, with the coordinator's choices applied."""

    def __init__(self, patterns: list[Pattern], *, kept=(), added=()):
        self.kept = frozenset(kept)
        self.patterns = [*patterns, *(added_pattern(t) for t in added if t.strip())]

    def spans(self, text: str) -> list[Span]:
        found = []
        for order, pattern in enumerate(self.patterns):
            for m in pattern.regex.finditer(text):
                if m.end() > m.start():
                    found.append((m.start(), m.end(), order, pattern))
        # Longest first, so "Dr. Sam Shoulder" wins over "Shoulder"; at equal length a removal the
        # coordinator added, then a definite one, then the earlier pattern (the party's own reason).
        found.sort(key=lambda f: (f[0] - f[1], not f[3].added, f[3].ambiguous, f[2], f[0]))
        taken: list[Span] = []
        for start, end, _order, pattern in found:
            if any(start < s.end and s.start < end for s in taken):
                continue
            matched = text[start:end]
            if pattern.added:
                state = ADDED
            elif " ".join(matched.split()) in self.kept:
                state = KEPT  # kept spans still claim their text: nothing inside them is removed
            elif pattern.ambiguous:
                state = POSSIBLE
            else:
                state = REMOVED
            taken.append(Span(start, end, matched, pattern.reason, state))
        return sorted(taken, key=lambda s: s.start)

    def apply(self, text: str) -> str:
        return apply(text, self.spans(text))

    def passages(self, texts: list[tuple[str, str]]) -> list[Passage]:
        return [Passage(label, text, self.spans(text)) for label, text in texts]


def apply(text: str, spans: list[Span]) -> str:
    out, at = [], 0
    for span in spans:
        if span.removed:
            out.append(text[at : span.start] + REDACTED)
            at = span.end
    return "".join(out) + text[at:]


def digest(passages: list[Passage]) -> str:
    """A fingerprint of the texts and of what is removed from them: a confirmation holds while it matches."""
    payload = [[p.label, p.text, [[s.start, s.end] for s in p.spans if s.removed]] for p in passages]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


# The case's parties.


def vocabulary_of(*texts: str) -> frozenset[str]:
    """The words the texts write in lower case: a name that is one of them is also an ordinary word here."""
    return frozenset(w for text in texts for w in re.findall(r"(?<![\w])[a-z][a-z'’-]+", text))


def case_patterns(case, *, vocabulary: frozenset[str] = frozenset()) -> list[Pattern]:
    """Every detail of the case's parties that the public copy leaves out."""
    provider = case.requesting_provider
    patterns = [
        *person_patterns(case.employee_name, "employee's name", vocabulary),
        *person_patterns(provider.name, "physician's name", vocabulary),
    ]
    organizations = [(case.employer, "employer"), (case.employee_attorney, "employee's attorney")]
    if provider.group_id:
        organizations.append((provider.group, "provider group"))
    for organization, role in organizations:
        if organization:
            patterns += organization_patterns(organization.name, role, vocabulary)
    for value, reason in ((case.claim_number, "claim number"), (case.adj_number, "ADJ number"), (provider.npi, "NPI")):
        if value and (pattern := identifier_pattern(value, reason)):
            patterns.append(pattern)
    if born := case.employee_birth_date:
        dates = {
            f"{born:%m/%d/%Y}",
            f"{born.month}/{born.day}/{born.year}",
            f"{born:%m-%d-%Y}",
            f"{born:%B} {born.day}, {born.year}",
        }
        alternatives = "|".join(re.escape(d) for d in sorted(dates, key=len, reverse=True))
        patterns.append(Pattern(re.compile(rf"{_B}(?:{alternatives}){_E}"), "date of birth"))
    addressed = [
        (case.employer, "employer's address"),
        (case.claims_administrator, "claims administrator's address"),
        (case.employee_attorney, "attorney's address"),
        (provider, "physician's address"),
        (provider.group if provider.group_id else None, "provider group's address"),
    ]
    for party, reason in addressed:
        if party and party.address.strip():
            patterns += address_patterns(party.address, reason)
    return [*patterns, TITLE_NAME]


def choices_of(case):
    """The coordinator's choices for the case's public copy (a reviews.models.Redaction), or None before any."""
    try:
        return case.redaction
    except ObjectDoesNotExist:
        return None


def redactor_for(case) -> Redactor:
    """The case's redactor with the coordinator's choices, if any (else the proposals as they stand).

    An imported determination was published as a public copy already: nothing more to remove.
    """
    if case.imported_from:
        return Redactor([])
    item_texts = ((i.request_text, i.authorized_part, i.remaining_part, i.rationale) for i in case.items.all())
    texts = [case.clinical_case_summary, *(t for texts in item_texts for t in texts)]
    patterns = case_patterns(case, vocabulary=vocabulary_of(*texts))
    if (choices := choices_of(case)) is None:
        return Redactor(patterns)
    return Redactor(patterns, kept=choices.kept, added=choices.added)
