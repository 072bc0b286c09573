"""Pages of long lists whose cost does not grow with the table: a bounded count and a bounded depth."""

from django.core.paginator import Paginator
from django.utils.functional import cached_property

# The limit of a search's list. No index keeps the cases in order by a word found anywhere in a name, so
# a search's count reads cases until it has found the limit: for a surname shared by 3 % of the cases
# (as the commonest in California are), about 8,000 cases for 250 against 30,000 for 1,000, at any size.
SEARCH_LIMIT = 250


class BoundedPaginator(Paginator):
    """Counts at most `limit` rows and offers pages up to them.

    An exact COUNT(*) and an OFFSET both read every row they pass: at a million cases, a count of "all
    cases" or a jump to page 20,000 reads the whole table. These lists are worked from the top (due
    date, longest waiting): past `limit` rows the page says "more than" and asks for a narrower
    filter or a search, which the indexes answer. The count reads `limit + 1` rows at most
    (SELECT COUNT(*) FROM (... LIMIT limit + 1)), so the deepest page's OFFSET is under `limit` too.
    """

    def __init__(self, object_list, per_page, *, limit: int, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.limit = limit

    @cached_property
    def count(self) -> int:
        # Unordered and without the rows' annotations: any limit + 1 matching ids will do, read by
        # whichever index the filter uses.
        return self.object_list.order_by().values("pk")[: self.limit + 1].count()

    @property
    def more(self) -> bool:
        """Whether the list goes on past `limit` rows (only the first `limit` are paged)."""
        return self.count > self.limit

    def page(self, number):
        """The page's rows, never past the limit (Paginator.page would let the last page reach `limit + 1`)."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        return self._get_page(self.object_list[bottom : min(bottom + self.per_page, self.limit)], number, self)

    @cached_property
    def num_pages(self) -> int:
        return -(-min(self.count, self.limit) // self.per_page) or (1 if self.allow_empty_first_page else 0)
