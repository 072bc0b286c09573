"""Published Final Determinations, as `pdftotext -layout` writes them, read back into their parts.

Pure: text in, a PublishedLetter out. Two layouts: 2016 (the header grid, the credentials lines)
and 2014 (the credentials in prose; the header where the text has one). Each has the clinical
case summary and each disputed item with its decision line, both guideline lines and the
rationale. Built from what the format guarantees rather than from particular files: item names
that wrap, a decision alone on the next line, a rationale running into the next item without a
blank line, modified requests in both published forms, MTUS parts joined with ", and" (2016) or
"; " (2014), non-MTUS sources in their printed words, double-spaced text.
"""

import datetime as dt
import re
from dataclasses import dataclass, field

HOW = "HOW THE IMR FINAL DETERMINATION WAS MADE"
SUMMARY = "CLINICAL CASE SUMMARY"
ISSUES = "IMR ISSUES, DECISIONS AND RATIONALES"
HEADINGS = (HOW, SUMMARY, ISSUES)

CA_LABEL = "Claims Administrator guideline:"
RATIONALE_LABEL = "Decision rationale:"
DECISIONS = ("Upheld", "Overturned")

HEADER_FIELDS = {
    "case_number": r"Case Number:\s+(CM\d{2}-\d{7})",
    "date_assigned": r"Date Assigned:\s+(\S+)",
    "decision_date": r"Decision Date:\s+(\S+)",
    "priority": r"Priority:\s+(\S+)",
    "date_of_injury": r"Date of Injury:\s+(\S+)",
    "ur_denial_date": r"UR Denial Date:\s+(\S+)",
    "application_received": r"Application\s+(?:Received:\s+)?(\d\S+)",
}

REMAINING_FORM = re.compile(
    r"(?P<original>.+?) was the original request\. (?P<authorized>.+?) was authorized by the Claims Administrator\."
    r" The remaining IMR eligible portion of the original request, (?P<remaining>.+?) is:"
)
ORIGINAL_FORM = re.compile(
    r"(?P<original>.+?) was the original request\. The Claims Administrator authorized (?P<authorized>.+?),"
    r" leaving the original request IMR eligible\. The original request, .+? is:"
)
# Later sentences of a modified request's decision line: seen without "was the original request.",
# the decision line goes on above.
MODIFIED_TAILS = (
    "was authorized by the Claims Administrator.",
    "The remaining IMR eligible portion of the original request,",
    "leaving the original request IMR eligible.",
    "The original request,",
)
NO_EVIDENCE = re.compile(r"The (?:Claims Administrator|Expert Reviewer) did not cite any medical evidence")
OUTSIDE_MTUS = re.compile(
    r"The (?:Claims Administrator|Expert Reviewer) (?:based their decision on recommendation\(s\) outside of the MTUS"
    r" Guidelines|did not base their decision on the MTUS)\.\s*"
)
# An MTUS part is its title and edition year, then optionally its sections and pages.
MTUS_PART = re.compile(
    r"(?P<name>.+? (?:19|20)\d\d)(?:, Section\(s\): (?P<sections>.*?))?(?:, Page\(s\): (?P<pages>.*))?"
)


class UnreadableLetter(ValueError):
    """The text is not a published determination of the known layout; says what is missing and where."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message if line is None else f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class PublishedCitation:
    mtus: bool
    text: str  # as printed, without sections and pages: "MTUS Low Back Complaints 2004", "Official ... (ODG)"
    sections: str = ""
    pages: str = ""


@dataclass(frozen=True)
class GuidelineLine:
    no_evidence: bool
    citations: tuple[PublishedCitation, ...] = ()


@dataclass(frozen=True)
class PublishedItem:
    decision_line: str  # "<lead> <Decision>", whitespace collapsed, as printed
    request: str  # the original request
    decision: str  # "upheld" or "overturned"
    ca: GuidelineLine
    review: GuidelineLine
    rationale: str
    authorized_part: str = ""
    eligible_scope: str = ""  # "", "remaining" or "original", as models.DisputedItem.EligibleScope
    remaining_part: str = ""


@dataclass(frozen=True)
class PublishedLetter:
    layout: str  # "2014" or "2016", as reviews.letters.LAYOUTS
    header: dict[str, str]  # HEADER_FIELDS found in the text (a 2014 body may have none)
    organization_name: str
    organization_short_name: str
    states: list[str]
    certifications: list[str]  # specialties, then subspecialties (2014 names them apart)
    subspecialties: list[str]
    more_than_five_years: bool
    weekly_hours: int
    summary: str
    items: list[PublishedItem] = field(default_factory=list)

    def date(self, name: str) -> dt.date:
        return dt.datetime.strptime(self.header[name], "%m/%d/%Y").date()


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def sections(text: str) -> dict[str, str]:
    """{"header": ..., HOW: ..., SUMMARY: ..., ISSUES: ...}: each heading's text up to the next heading."""
    found = {}
    for heading in HEADINGS:
        match = re.search(rf"^[ \t]*{re.escape(heading)}[ \t]*$", text, flags=re.MULTILINE)
        if match is None:
            raise UnreadableLetter(f"no {heading!r} heading")
        found[heading] = match
    order = sorted(found.items(), key=lambda kv: kv[1].start())
    parts = {"header": text[: order[0][1].start()]}
    for n, (heading, match) in enumerate(order):
        end = order[n + 1][1].start() if n + 1 < len(order) else len(text)
        parts[heading] = text[match.end() : end]
        parts[f"{heading} line"] = text[: match.end()].count("\n") + 1  # where its text starts, for errors
    return parts


def _single_spaced(text: str) -> str:
    """Text whose every line is followed by an empty one (some PDFs) with those empty lines dropped.

    Such text marks its real paragraph breaks with a line holding a space, which stays.
    """
    lines = text.split("\n")
    empty = sum(1 for line in lines if line == "")
    if empty < len(lines) * 0.4:
        return text
    return "\n".join(line for line in lines if line != "")


def _credentials(how: str) -> tuple[str, list[str], list[str], list[str]]:
    """(layout, licence states, specialties, subspecialties) from the lines (2016) or the prose (2014)."""
    states = re.search(r"State\(s\) of Licensure:(.*)", how)
    certifications = re.search(r"Certification\(s\)/Specialty:(.*?)(?:\n\s*\n|\Z)", how, flags=re.DOTALL)
    if states and certifications:
        return (
            "2016",
            [s.strip() for s in states.group(1).split(",") if s.strip()],
            [c.strip() for c in collapse(certifications.group(1)).split(",") if c.strip()],
            [],
        )
    prose = re.search(
        r"The expert reviewer (?:is Board Certified in (?P<specialties>.+?))?(?:(?:,| and) has a subspecialty in"
        r" (?P<subspecialties>.+?))?(?:(?:,| and) is licensed to practice in (?P<states>.+?))?\. He/she",
        collapse(how),
    )
    if prose is None or not prose.group("states"):
        raise UnreadableLetter("how the determination was made: no licensure or certification")

    def names(group: str | None) -> list[str]:
        # "A, B and C" as reviews.letters joins them; a lone "X and Y" stays whole, as in
        # "Physical Medicine and Rehabilitation".
        listed = [n.strip() for n in (group or "").split(", ") if n.strip()]
        if len(listed) > 1:
            listed[-1:] = listed[-1].split(" and ", 1)
        return listed

    return "2014", names(prose.group("states")), names(prose.group("specialties")), names(prose.group("subspecialties"))


def parse(text: str) -> PublishedLetter:
    """Read a published determination. Raises UnreadableLetter naming what could not be read."""
    text = _single_spaced(text.replace("\f", "\n").replace("\r\n", "\n"))
    parts = sections(text)
    header = {}
    for name, pattern in HEADER_FIELDS.items():
        if match := re.search(pattern, parts["header"]):
            header[name] = match.group(1)

    how = parts[HOW]
    organization = re.search(r"^\s*(.+?) sent the complete case file", how)
    if organization is None:
        raise UnreadableLetter("how the determination was made: no organisation")
    layout, states, specialties, subspecialties = _credentials(how)
    if layout == "2016" and (missing := [name for name in HEADER_FIELDS if name not in header]):
        raise UnreadableLetter(f"header: no {missing[0].replace('_', ' ')}")
    experience = collapse(how)
    hours = re.search(r"at least (\d+) hours a week", experience)

    summary = parts[SUMMARY].split("including all medical records:", 1)
    if len(summary) != 2:
        raise UnreadableLetter("clinical case summary: no introductory sentence")

    issues = parts[ISSUES]
    short_name = re.search(r"^\s*(?!Claims Administrator)(\S.*?) guideline:", issues, flags=re.MULTILINE)
    if short_name is None:
        raise UnreadableLetter("issues: no review organisation's guideline line")
    return PublishedLetter(
        layout=layout,
        header=header,
        organization_name=collapse(organization.group(1)),
        organization_short_name=short_name.group(1),
        states=states,
        certifications=specialties + subspecialties,
        subspecialties=subspecialties,
        more_than_five_years="for more than five years" in experience,
        weekly_hours=int(hours.group(1)) if hours else 24,
        summary=collapse(summary[1]),
        items=_items(issues, short_name.group(1), layout, first_line=parts[f"{ISSUES} line"]),
    )


def _items(issues: str, short_name: str, layout: str, *, first_line: int) -> list[PublishedItem]:
    lines = issues.split("\n")
    starts = [n for n, line in enumerate(lines) if line.strip().startswith(CA_LABEL)]
    if not starts:
        raise UnreadableLetter("issues: no disputed item", first_line)
    leads = [_lead_start(lines, n, first_line) for n in starts]
    items = []
    for k, (ca_line, lead_line) in enumerate(zip(starts, leads, strict=True)):
        end = leads[k + 1] if k + 1 < len(leads) else len(lines)
        lead = collapse(" ".join(lines[lead_line:ca_line]))
        body = collapse(" ".join(lines[ca_line:end]))
        items.append(_item(lead, body, short_name, layout, position=k + 1, line=first_line + lead_line))
    return items


def _lead_start(lines: list[str], ca_line: int, first_line: int) -> int:
    """The first line of the decision line above the claims administrator's guideline at `ca_line`.

    Walks up from the decision word to a blank line or the end of a sentence (the previous
    rationale). A modified request's sentences may end a line ("... was the original request."),
    so the walk goes on until the decision line holds its whole first sentence.
    """
    n = ca_line - 1
    while n >= 0 and not lines[n].strip():
        n -= 1
    if n < 0 or not re.search(rf"(?:^|:)\s*(?:{'|'.join(DECISIONS)})\s*$", lines[n]):
        raise UnreadableLetter("issues: no decision above the claims administrator's guideline", first_line + ca_line)
    while n > 0:
        above = lines[n - 1].strip()
        if not above or above.endswith(("below:", RATIONALE_LABEL)):
            break
        if above.endswith((".", "?", "!")):
            joined = collapse(" ".join(lines[n:ca_line]))
            if not any(tail in joined for tail in MODIFIED_TAILS) or "was the original request." in joined:
                break
        n -= 1
    return n


def _item(lead: str, body: str, short_name: str, layout: str, *, position: int, line: int) -> PublishedItem:
    match = re.fullmatch(rf"(?P<lead>.+?:)\s*(?P<decision>{'|'.join(DECISIONS)})", lead)
    if match is None:
        raise UnreadableLetter(f"item {position}: no decision in {lead[:80]!r}", line)
    text, decision = match.group("lead"), match.group("decision")
    parts = {"request": text[:-1].strip(), "authorized_part": "", "eligible_scope": "", "remaining_part": ""}
    if remaining := REMAINING_FORM.fullmatch(text):
        parts.update(
            request=remaining.group("original"),
            authorized_part=remaining.group("authorized"),
            eligible_scope="remaining",
            remaining_part=remaining.group("remaining"),
        )
    elif original := ORIGINAL_FORM.fullmatch(text):
        parts.update(
            request=original.group("original"), authorized_part=original.group("authorized"), eligible_scope="original"
        )
    review_label = f"{short_name} guideline:"
    if review_label not in body or RATIONALE_LABEL not in body:
        raise UnreadableLetter(f"item {position}: no {review_label!r} or {RATIONALE_LABEL!r} line", line)
    ca, rest = body.removeprefix(CA_LABEL).split(review_label, 1)
    review, rationale = rest.split(RATIONALE_LABEL, 1)
    return PublishedItem(
        decision_line=f"{text} {decision}",
        decision=decision.lower(),
        ca=guideline_line(ca, layout),
        review=guideline_line(review, layout),
        rationale=rationale.strip(),
        **parts,
    )


def guideline_line(text: str, layout: str = "2016") -> GuidelineLine:
    """One guideline line: "did not cite any medical evidence", or its MTUS and non-MTUS citations.

    In the 2014 layout an MTUS citation's text holds its title and sections together ("MTUS Chronic
    Pain Treatment Guidelines Physical Medicine"): only the catalogue can tell where one ends.
    """
    text = collapse(text)
    if NO_EVIDENCE.match(text):
        return GuidelineLine(no_evidence=True)
    text = OUTSIDE_MTUS.sub("", text, count=1)
    citations = []
    for sentence in re.split(r"\s*Decision based on ", text):
        sentence = sentence.strip().removesuffix(".")
        if not sentence:
            continue
        if sentence.startswith("Non-MTUS Citation "):
            cited = sentence.removeprefix("Non-MTUS Citation ")
            citations.append(_non_mtus_2014(cited) if layout == "2014" else _non_mtus(cited))
        else:
            citations += _mtus_2014(sentence) if layout == "2014" else _mtus(sentence)
    return GuidelineLine(no_evidence=False, citations=tuple(citations))


def _non_mtus_2014(text: str) -> PublishedCitation:
    name, _, sections = text.partition("; ")
    return PublishedCitation(mtus=False, text=name, sections=sections)


def _mtus_2014(sentence: str) -> list[PublishedCitation]:
    citations = []
    for part in sentence.split("; "):
        text, _, pages = part.partition(" Page(s): ")
        citations.append(PublishedCitation(mtus=True, text=text.strip(), pages=pages.strip()))
    return citations


def _non_mtus(text: str) -> PublishedCitation:
    pages = ""
    if match := re.search(r", pg\. ([^,]+)$", text):
        text, pages = text[: match.start()], match.group(1)
    return PublishedCitation(mtus=False, text=text, pages=pages)


def _mtus(sentence: str) -> list[PublishedCitation]:
    """MTUS parts joined with ", and ": "Low Back Complaints 2004, Section(s): Summary, and Chronic Pain ..."."""
    parts: list[str] = []
    for chunk in sentence.split(", and "):
        complete = bool(parts) and MTUS_PART.fullmatch(parts[-1]) is not None
        if complete and re.match(r".+? (?:19|20)\d\d(?:,|$)", chunk):
            parts.append(chunk)
        elif parts:  # a title or section that itself holds ", and" ("Forearm, Wrist, and Hand Complaints")
            parts[-1] += ", and " + chunk
        else:
            parts.append(chunk)
    citations = []
    for part in parts:
        match = MTUS_PART.fullmatch(part)
        name, sections, pages = (
            (match.group("name"), match.group("sections"), match.group("pages")) if match else (part, "", "")
        )
        if not name.startswith("MTUS "):  # the letters name MTUS once, before its first part
            name = f"MTUS {name}"
        citations.append(PublishedCitation(mtus=True, text=name, sections=sections or "", pages=pages or ""))
    return citations


def split_known_name(text: str, names: list[str], separator: str = ", ") -> tuple[str, str]:
    """(guideline's citation text, sections) of a citation printed as name, separator, sections.

    The longest catalogue name that the text is, or starts with before the separator, wins;
    otherwise the text up to the first ", " is taken as a new guideline's name and the rest as its
    sections (all of it, for a space separator). Either way the two rejoined print the text again.
    """
    for name in sorted(names, key=len, reverse=True):
        if text == name:
            return name, ""
        if text.startswith(name + separator):
            return name, text[len(name) + len(separator) :]
    if separator != ", ":
        return text, ""
    name, _, rest = text.partition(", ")
    return name, rest
