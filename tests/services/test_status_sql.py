"""The SQL status expression used by list filters agrees with the domain's status rule."""

from datetime import date

import pytest
from sqlalchemy import select

from pars_app.domain.status import status_from_level
from pars_app.extensions import db
from pars_app.models import Activity
from pars_app.services.activities import status_expr
from tests.factories import make_activity, make_provider, utc

TODAY = date(2025, 6, 15)


@pytest.mark.parametrize("complete", [True, False])
@pytest.mark.parametrize("end", [date(2025, 6, 14), TODAY, date(2025, 6, 16)])
@pytest.mark.parametrize("closed", [True, False])
def test_sql_status_matches_domain(ctx, complete, end, closed):
    p = make_provider()
    a = make_activity(
        p,
        complete=complete,
        start_date=date(2025, 6, 1),
        end_date=end,
        closed_at=utc(2025, 7, 1) if closed and complete else None,
    )
    db.session.commit()
    sql = db.session.scalar(select(status_expr(TODAY)).where(Activity.id == a.id))
    py = status_from_level(a.completeness, a.end_date, a.closed_at is not None, TODAY)
    assert sql == py.value


def test_incomplete_activity_is_a_draft_with_problems(ctx):
    p = make_provider()
    a = make_activity(p, complete=False)
    db.session.commit()
    assert a.completeness == "draft"
    assert a.problem_count > 0
