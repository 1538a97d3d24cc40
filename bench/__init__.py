"""Benchmarks (DESIGN.md §7, issue 7): `make bench` or `python -m bench`."""

from .harness import MEASUREMENTS, BenchConfig, Report, Row, measurement, run

__all__ = ["MEASUREMENTS", "BenchConfig", "Report", "Row", "measurement", "run"]
