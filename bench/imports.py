"""Batch-file measurements (issue 7): the export of a year of the big provider's activities.

Each is a ratio against a baseline measured in the same run on the same machine.
"""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from python_calamine import CalamineWorkbook

from pars_app.services import exports
from pars_app.services.activity_list import ActivityFilter

from .harness import Bench, Row, counting_queries, measurement, paired_medians, ratio_row

EXPORT_TARGET = 1.5  # the app's .xlsx export ÷ a plain openpyxl write-only of the same cells


def _cells(data: bytes) -> list[list[object]]:
    """The exported sheet's values as a reader sees them (header row included)."""
    with CalamineWorkbook.from_filelike(BytesIO(data)) as book:
        rows = book.get_sheet_by_name("Activities").to_python()
    # calamine gives "" for a blank cell; the export writes nothing there, nor does the baseline.
    return [[None if v == "" else v for v in row] for row in rows]


def _plain_write(rows: list[list[object]]) -> bytes:
    """The baseline: the same values appended to a write-only workbook, nothing else."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Activities")
    for row in rows:
        ws.append(row)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


@measurement
def export_xlsx(b: Bench) -> list[Row]:
    """Exporting the year being closed out of the big provider (a quarter of it: 12,500 of the
    default 50,000 activities), what a January export for PARS looks like: query, records and
    the template's layout (dropdowns, instructions, lists), all ÷ openpyxl write-only
    appending the same cell values to a bare workbook."""
    f = ActivityFilter(year=b.today.year - 1)
    pid = b.seeded.big.id
    with b.app.app_context():
        done = exports.export_activities(pid, f, "xlsx", b.today)
        cells = _cells(done.data)
        with counting_queries(b.app) as seen:
            exports.export_activities(pid, f, "xlsx", b.today)
        t_export, t_plain = paired_medians(
            lambda: exports.export_activities(pid, f, "xlsx", b.today),
            lambda: _plain_write(cells),
            b.cfg.slow_runs,
            1,
        )
    size = f"{done.count:,} activities"
    row = ratio_row(
        "export of activities to .xlsx",
        size,
        "openpyxl write-only:",
        EXPORT_TARGET,
        t_export,
        t_plain,
    )
    cols = len(cells[0]) if cells else 0
    row.note = (
        f"year {f.year} of {b.seeded.big.code}; {done.count:,} rows by {cols} columns, "
        f"{len(done.data) / 1e6:.1f} MB; {len(seen)} SQL queries"
    )
    return [row]
