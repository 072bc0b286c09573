"""The precedent library's pages, pure: result rows as the public copies print them, words from an item, chart rows."""

import re
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .letters import guideline_line
from .models import MATCH_END, MATCH_START, DisputedItem
from .redaction import redactor_for

EXCERPT_CHARS = 260
# pg_trgm's word similarity above which a request matches the words searched for. Its default, 0.6,
# misses one wrong letter inside a drug name ("tramodol" scores 0.5 against "Tramadol ER 150 mg");
# below 0.5, unrelated names of shared stems come in. Matches by the words themselves rank first.
WORD_SIMILARITY_THRESHOLD = 0.5
NO_EVIDENCE = "The Expert Reviewer did not cite any medical evidence for its decision."
# Words of a request that say how much or where rather than what: left out of the words a
# workspace panel searches with, so "Physical therapy 2x6 weeks right knee" finds physical therapy.
_NOT_THE_TREATMENT = re.compile(r"[0-9#(,;:/]|\b(?:x|times|per|for|with|sessions?|visits?|weeks?)\b", re.IGNORECASE)
_SIDES = {"right", "left", "bilateral"}


@dataclass(frozen=True)
class Precedent:
    """One decided item as a result row: what its public copy prints, and where to read it."""

    item: DisputedItem
    case_number: str
    request: str
    decision: str
    citation: str
    excerpt: SafeString


def set_word_similarity_threshold(sender, connection, **kwargs):
    """On each new PostgreSQL connection (signal connection_created): the threshold of the `%>` operator,
    which the trigram index answers (a comparison with word_similarity() would read every row)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('pg_trgm.word_similarity_threshold', %s, false)", [str(WORD_SIMILARITY_THRESHOLD)]
            )


def item_words(item: DisputedItem, *, most: int = 3) -> str:
    """The words naming an item's treatment, to search its precedents: "Norco 10/325 mg #90" gives "Norco".

    The decided request up to its first count, dose or frequency, sides left out, at most `most` words.
    """
    text = item.decided_request
    if match := _NOT_THE_TREATMENT.search(text):
        text = text[: match.start()]
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]*", text) if w.lower() not in _SIDES]
    return " ".join(words[:most])


def _excerpt(text: str, words: str) -> str:
    """Where no database headline exists (SQLite): the rationale around its first matched word, marked."""
    terms = [re.escape(w) for w in words.split() if w]
    pattern = re.compile("|".join(terms), re.IGNORECASE) if terms else None
    first = pattern.search(text) if pattern else None
    start = 0
    if first and first.start() > EXCERPT_CHARS // 3:
        start = text.rfind(" ", 0, first.start() - EXCERPT_CHARS // 3) + 1
    end = start + EXCERPT_CHARS
    if end < len(text):
        end = text.rfind(" ", start, end) if text.rfind(" ", start, end) > start else end
    window = text[start:end]
    if pattern:
        window = pattern.sub(lambda m: f"{MATCH_START}{m.group(0)}{MATCH_END}", window)
    return ("… " if start else "") + window + (" …" if end < len(text) else "")


def marked(text: str) -> SafeString:
    """Escape `text` (the reviewer typed it), then show its matched words as <mark>."""
    html = escape(text).replace(MATCH_START, "<mark>").replace(MATCH_END, "</mark>")
    # Escaped above: only the two markers become tags.
    return mark_safe(html)  # noqa: S308


def precedent_rows(items, *, words: str) -> list[Precedent]:
    """Rows of ranked_rows(), as the public copies print them.

    Everyone reads the library as published: the parties' names and numbers are left out of the
    request, the citation and the excerpt, whatever the reader's role.
    """
    rows = []
    for item in items:
        scrub = redactor_for(item.case).apply  # the coordinator's confirmed removals, as in the letter
        citations = [] if item.review_cited_no_evidence else item.review_citations
        citation = guideline_line(citations, layout="2016", who="Expert Reviewer", none_text=NO_EVIDENCE)
        excerpt = item.headline or _excerpt(item.rationale, words)
        rows.append(
            Precedent(
                item=item,
                case_number=item.case.case_number,
                request=scrub(item.decided_request),
                decision=item.get_decision_display(),
                citation=scrub(citation),
                excerpt=marked(scrub(excerpt)),
            )
        )
    return rows


def ranked_rows(found, *, words: str, start: int, stop: int, counted: bool = True) -> tuple[list[DisputedItem], int]:
    """Matches `start` to `stop` of `found` (a precedents() queryset) in rank order, and how many match
    (None unless `counted`).

    Two steps (3 queries): the ranked ids with the number found, then the rows of those ids only with
    their case, parties and excerpt, then their citations. Ranking full rows would drag every match's
    texts and joins through the sort.
    """
    ranked = list(found.ranked(words=words, counted=counted)[start:stop])
    if not ranked:
        return [], 0 if counted else None
    rows = DisputedItem.objects.filter(pk__in=[pk for pk, _ in ranked]).for_precedent_results(words=words)
    by_pk = {row.pk: row for row in rows}
    return [by_pk[pk] for pk, _ in ranked], ranked[0][1]


class _Counted(Paginator):
    """A paginator told the number of items: ranked() counted them with the page."""

    def __init__(self, count: int, per_page: int):
        super().__init__([], per_page)
        self.count = count  # Paginator.count is a cached property: this value stands


def precedent_page(found, *, words: str, number, per_page: int) -> Page:
    """The page `number` of `found` (a precedents() queryset), best match first, as Paginator.get_page gives it:
    anything not a number gives page 1, a number past the end (a stale link) the last page."""
    try:
        number = max(1, int(number))
    except (TypeError, ValueError):
        number = 1
    rows, count = ranked_rows(found, words=words, start=(number - 1) * per_page, stop=number * per_page)
    if not rows and number > 1:
        _, count = ranked_rows(found, words=words, start=0, stop=1)  # what ranked() ranks, not every match
        number = max(1, -(-count // per_page))
        rows, count = ranked_rows(found, words=words, start=(number - 1) * per_page, stop=number * per_page)
    return Page(rows, number, _Counted(count, per_page))


@dataclass(frozen=True)
class Share:
    """One bar of the chart: of `n` items, `overturned` were overturned."""

    label: str
    n: int
    overturned: int

    @property
    def percent(self) -> int:
        return round(100 * self.overturned / self.n) if self.n else 0


def chart(shares: dict[str, list[dict]]) -> dict:
    """DisputedItemQuerySet.overturned_shares() as chart rows, and the overall share (from the categories,
    where each item counts once)."""
    groups = {name: [Share(r["label"] or "—", r["n"], r["overturned"]) for r in rows] for name, rows in shares.items()}
    category_rows = shares["category"]
    total = Share("All", sum(r["n"] for r in category_rows), sum(r["overturned"] for r in category_rows))
    return {"groups": groups, "total": total}
