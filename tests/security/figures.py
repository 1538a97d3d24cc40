"""Counts the security suites collect while they run (routes x roles walked, hostile inputs
tried), printed at the end of the run and kept for docs/reliability.md."""

from __future__ import annotations

from collections import Counter

FIGURES: Counter[str] = Counter()


def record(name: str, n: int = 1) -> None:
    FIGURES[name] += n
