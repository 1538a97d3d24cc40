"""Page arithmetic shared by every paginated list (the "x to y of N" line, Previous/Next)."""

from __future__ import annotations

from math import ceil


class Paged:
    """Mixin for a page result with `total`, `page` and `per_page` attributes."""

    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))

    @property
    def first(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.per_page)


def clamp_page(page: int, total: int, per_page: int) -> int:
    """The asked-for page, kept within 1..last page (a stale link past the end shows the last)."""
    return min(max(page, 1), max(1, ceil(total / per_page)))
