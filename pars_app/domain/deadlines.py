"""Reporting deadlines (spec §2), all reckoned in US Central time as ACCME does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pars_app.domain.text import long_date

CENTRAL = ZoneInfo("America/Chicago")
DEADLINE_TIME = time(23, 59)


def _require_aware(*moments: datetime) -> None:
    for moment in moments:
        if moment.tzinfo is None or moment.utcoffset() is None:
            # A naive time would silently mean "server local time"; refuse rather than guess.
            raise ValueError("Deadline arithmetic needs timezone-aware datetimes.")


def deadline_from_local(d: date) -> datetime:
    """A deadline date (e.g. an accreditor's override) as 11:59 p.m. Central that day."""
    return datetime.combine(d, DEADLINE_TIME, tzinfo=CENTRAL)


def default_deadline(year: int) -> datetime:
    """ACCME's rule: March 31 of year+1, 11:59 p.m. Central, weekends moved to Monday."""
    due = date(year + 1, 3, 31)
    # "Next business day": no US federal holiday falls on April 1-2, so Monday it is.
    if due.weekday() >= 5:
        due += timedelta(days=7 - due.weekday())
    return deadline_from_local(due)


def _cutoff(deadline: datetime) -> datetime:
    # "By 11:59 p.m." includes that whole minute: lateness starts at the next minute
    # (midnight for a 23:59 deadline). UTC arithmetic sidesteps any DST wall-clock oddity.
    whole_minute = deadline.astimezone(UTC).replace(second=0, microsecond=0)
    return whole_minute + timedelta(minutes=1)


def is_late(deadline: datetime, now: datetime) -> bool:
    """Whether `now` is past the deadline, counting 11:59 p.m. as on time."""
    _require_aware(deadline, now)
    return now >= _cutoff(deadline)


def central_date(moment: datetime) -> date:
    """The calendar date in Central time at an aware moment."""
    _require_aware(moment)
    return moment.astimezone(CENTRAL).date()


def days_left(deadline: datetime, now: datetime) -> int:
    """Calendar days in Central from today to the deadline's day (0 on the day, <0 after)."""
    _require_aware(deadline, now)
    return (central_date(deadline) - central_date(now)).days


def cycle_opens_at(year: int) -> datetime:
    """When year's agreement and Program Summary open: January 1 of year+1, midnight Central."""
    return datetime(year + 1, 1, 1, tzinfo=CENTRAL)


def default_reporting_year(now: datetime, deadline_for: Callable[[int], datetime]) -> int:
    """The year a user is most likely closing out at `now`."""
    # From January 1 until last year's deadline, coordinators are finishing last year's
    # report: that is what the dashboard should open on. Once that deadline has passed
    # (late or not), their attention is the year in progress. `deadline_for` lets an
    # accreditor's earlier date or an extension decide the switch-over.
    current = central_date(now).year
    previous = current - 1
    return current if is_late(deadline_for(previous), now) else previous


def format_deadline(deadline: datetime) -> str:
    """'Tuesday, March 31, 2026, 11:59 p.m. Central' for pages and the printed checklist."""
    local = deadline.astimezone(CENTRAL)
    hour = local.hour % 12 or 12
    suffix = "a.m." if local.hour < 12 else "p.m."
    day = _WEEKDAYS[local.weekday()]
    return f"{day}, {long_date(local.date())}, {hour}:{local.minute:02d} {suffix} Central"


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
