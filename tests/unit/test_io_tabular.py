"""The template reader converts a block of rows a column at a time (`io.tabular`); it must give
exactly what converting cell by cell gives, whatever mix of cells calamine or a text file
hands over: text with spaces, blanks, numbers, whole floats, flags, dates, times, short rows."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pars_app.io.fields import activity_columns, imply_delivery, split_names
from pars_app.io.rows import RawRow, clean_cell
from pars_app.io.tabular import activity_header_map, as_text, header_rows

COLUMNS = activity_columns(supporters=3, moc=2)
BY_HEADER = {c.header: c for c in COLUMNS}
REQUIRED = ["Provider Activity ID", "Format", "Start Date", "End Date"]


def _cell_by_cell(number: int, cells: list, header: list[str]) -> RawRow:
    """The reference: each cell converted on its own, as the reader did before blocks."""
    values: dict = {}
    groups: dict[tuple[str, int], dict] = {}
    for index, title in enumerate(header):
        col = BY_HEADER[title]
        raw = cells[index] if index < len(cells) else None
        if col.kind in ("text", "id"):
            value = as_text(clean_cell(raw))
        elif col.kind == "names":
            value = split_names(as_text(clean_cell(raw)))
        else:
            value = clean_cell(raw)
        if col.group:
            group, n, name = col.key.split(".")
            groups.setdefault((group, int(n)), {"raw": [], "item": {}})
            groups[(group, int(n))]["raw"].append(raw)
            groups[(group, int(n))]["item"][name] = value
        else:
            values[col.key] = value
    for group, _ in sorted(groups):
        values[group] = []
    for (group, n), found in sorted(groups.items()):
        if all(r in ("", None) for r in found["raw"]):
            continue
        if any(v is not None and v != [] for v in found["item"].values()):
            values[group].append({"number": n, **found["item"]})
    imply_delivery(values)
    return RawRow(number, values)


TEXT = st.sampled_from(["", " ", "  x  ", "Course", "IL", "A; B", "A\nB", "Yes", "12.5"])
NUMBER = st.one_of(
    st.integers(-5, 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([12.0, 0.0, 1e16, 2.5]),
)
ODD = st.one_of(
    st.sampled_from([True, False, datetime(2025, 3, 1), datetime(2025, 3, 1, 9, 30), time(9, 30)]),
    st.just(timedelta(hours=5)),
)
# Real columns hold one kind of cell, with blanks; some hold anything.
FAMILIES = [
    st.one_of(TEXT, st.text(max_size=8)),
    st.one_of(st.just(""), NUMBER),
    st.one_of(st.none(), st.dates()),
    st.one_of(st.just(""), TEXT, NUMBER, st.dates(), st.sampled_from([True, False])),
    st.one_of(st.none(), TEXT, NUMBER, st.dates(), ODD),
    st.just(""),
]


@settings(max_examples=200, deadline=None)
@given(
    extra=st.lists(st.sampled_from([c.header for c in COLUMNS]), unique=True, max_size=30),
    data=st.data(),
)
def test_block_conversion_is_cell_by_cell_conversion(extra, data):
    header = REQUIRED + [h for h in extra if h not in REQUIRED]
    families = [FAMILIES[data.draw(st.integers(0, len(FAMILIES) - 1))] for _ in header]
    width = st.integers(0, len(header) + 2)  # text lines may be short, or carry scratch cells
    rows = data.draw(
        st.lists(
            width.flatmap(lambda n: st.tuples(*(families[i % len(families)] for i in range(n)))),
            min_size=1,
            max_size=300,
        )
    )
    rows = [list(r) for r in rows]
    headers = activity_header_map(1, header)
    numbered = [(i + 2, cells) for i, cells in enumerate(rows)]
    got = list(header_rows(numbered, headers))
    expected = [_cell_by_cell(n, cells, header) for n, cells in numbered]
    assert [(r.number, _typed(r.values)) for r in got] == [
        (r.number, _typed(r.values)) for r in expected
    ]


def _typed(value: object) -> object:
    """A value with the type of every part spelled out (12 and 12.0 must differ) and keys in
    order."""
    if isinstance(value, dict):
        return [(k, _typed(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)
