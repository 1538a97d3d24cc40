"""The one place that reads the clock, so tests can freeze it (time-machine) and every part of
the app agrees on what "today" is: the date in US Central time, where deadlines live."""

from __future__ import annotations

from datetime import UTC, date, datetime

from ..domain.deadlines import CENTRAL


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    """Today's date in America/Chicago: an activity 'has ended' once its end date is past there."""
    return now().astimezone(CENTRAL).date()
