"""Activity formats (spec §4): codes, labels, delivery methods and maximum spans."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from pars_app.domain.text import quoted_or

FORMAT_CODES: tuple[str, ...] = ("C", "RSS", "EM", "JN", "MR", "TIW", "CML", "PI", "ISL", "LFT")

LIVE_DELIVERIES: tuple[str, ...] = ("in_person", "live_stream", "hybrid")
ENDURING_DELIVERIES: tuple[str, ...] = ("internet", "print")

DELIVERY_LABELS: dict[str, str] = {
    "in_person": "In person",
    "live_stream": "Live-streamed",
    "hybrid": "Hybrid",
    "internet": "Internet",
    "print": "Print or other media",
}

# Deliveries where learners gather somewhere, so PARS wants the place (spec §4).
LOCATION_DELIVERIES: tuple[str, ...] = ("in_person", "hybrid")


@dataclass(frozen=True)
class FormatInfo:
    """One PARS activity format."""

    code: str
    label: str
    deliveries: tuple[str, ...]
    max_span_years: int


def _info(code: str, label: str, deliveries: tuple[str, ...] = (), years: int = 1) -> FormatInfo:
    return FormatInfo(code=code, label=label, deliveries=deliveries, max_span_years=years)


FORMATS: dict[str, FormatInfo] = {
    info.code: info
    for info in (
        _info("C", "Course", LIVE_DELIVERIES),
        _info("RSS", "Regularly Scheduled Series", LIVE_DELIVERIES),
        _info("EM", "Enduring Material", ENDURING_DELIVERIES, years=3),
        _info("JN", "Journal-based CME"),
        _info("MR", "Manuscript Review"),
        _info("TIW", "Test Item Writing"),
        _info("CML", "Committee Learning"),
        _info("PI", "Performance Improvement"),
        _info("ISL", "Internet Searching and Learning"),
        _info("LFT", "Learning from Teaching"),
    )
}

# Old PARS templates had separate codes for internet formats; they are now deliveries.
LEGACY_FORMAT_CODES: dict[str, tuple[str, str]] = {
    "IL": ("C", "live_stream"),
    "IEM": ("EM", "internet"),
}

# Singular nouns for sentences such as "An enduring material runs at most 3 years".
FORMAT_NOUNS: dict[str, str] = {
    "C": "A course",
    "RSS": "A regularly scheduled series",
    "EM": "An enduring material",
    "JN": "A journal-based CME activity",
    "MR": "A manuscript review activity",
    "TIW": "A test item writing activity",
    "CML": "A committee learning activity",
    "PI": "A performance improvement activity",
    "ISL": "An internet searching and learning activity",
    "LFT": "A learning from teaching activity",
}

# Old labels seen in legacy files and exports, besides the current ones.
_LEGACY_LABELS: dict[str, tuple[str, str | None]] = {
    "course (live)": ("C", None),
    "live course": ("C", None),
    "internet live course": ("C", "live_stream"),
    "internet enduring material": ("EM", "internet"),
    "journal based cme": ("JN", None),
    "journal cme": ("JN", None),
}


def _key(text: str) -> str:
    # Users type "journal-based cme", "Journal based CME", " rss ": compare a folded form.
    return re.sub(r"[\s_\-]+", " ", text).strip().casefold()


def _build_lookup() -> dict[str, tuple[str, str | None]]:
    lookup: dict[str, tuple[str, str | None]] = {}
    for code, info in FORMATS.items():
        lookup[_key(code)] = (code, None)
        lookup[_key(info.label)] = (code, None)
    for legacy, (code, delivery) in LEGACY_FORMAT_CODES.items():
        lookup[_key(legacy)] = (code, delivery)
    lookup.update({_key(label): target for label, target in _LEGACY_LABELS.items()})
    return lookup


_LOOKUP = _build_lookup()


def normalize_format(code: str) -> tuple[str, str | None]:
    """Map a format code, legacy code or label to (code, implied delivery or None)."""
    if code is None or not str(code).strip():
        raise ValueError("Enter an activity format.")
    found = _LOOKUP.get(_key(str(code)))
    if found is None:
        raise ValueError(
            f'"{str(code).strip()}" is not an activity format. '
            f"Use one of: {', '.join(FORMAT_CODES)}."
        )
    return found


def format_info(code: str) -> FormatInfo:
    """The FormatInfo of a canonical code; ValueError for anything else."""
    try:
        return FORMATS[code]
    except (KeyError, TypeError):
        raise ValueError(f'"{code}" is not an activity format.') from None


def _add_years(start: date, years: int) -> date:
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        # Only Feb 29 lands here. We clamp the anniversary to Feb 28, as Java's plusYears and
        # .NET's AddYears do (PARS is a .NET system), so a Feb 29 start gets the stricter end
        # date: we never accept a span that PARS could refuse, at the cost of one day in a
        # once-in-four-years case.
        return start.replace(year=start.year + years, day=28)


def max_end_date(fmt: str, start: date) -> date:
    """Latest allowed end date: start + the format's max span in years - 1 day."""
    # Spec §4: "12 months means end <= start + 1 year - 1 day"; 3 years likewise for EM.
    return _add_years(start, format_info(fmt).max_span_years) - timedelta(days=1)


def needs_delivery(fmt: str | None) -> bool:
    """Whether the format requires a delivery method at the Active level (C and EM)."""
    # RSS may carry a delivery, but the spec only requires it for C and EM.
    return fmt in ("C", "EM")


def needs_location(fmt: str | None, delivery: str | None) -> bool:
    """Whether venue, city, country (and US state) are required for this format/delivery."""
    if fmt not in ("C", "RSS"):
        return False
    if delivery is None:
        # An RSS is usually grand rounds in a room, and its delivery is optional, so we ask
        # for the place. A course without a delivery gets the missing delivery reported
        # instead: asking for a venue of a possibly live-streamed course would mislead.
        return fmt == "RSS"
    return delivery in LOCATION_DELIVERIES


def delivery_problem(fmt: str, delivery: str) -> str | None:
    """A human message when a given delivery does not fit the format, else None."""
    info = format_info(fmt)
    if delivery in info.deliveries:
        return None
    if not info.deliveries:
        return f"{info.label} has no delivery method: leave it blank."
    allowed = quoted_or([DELIVERY_LABELS[d] for d in info.deliveries])
    return f"Choose a delivery method for {FORMAT_NOUNS[fmt].lower()}: {allowed}."
