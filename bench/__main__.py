"""`python -m bench [--postgres URL]`: seed, measure, print the table, write bench/results.json.

With --strict, exits 1 when a built target fails ("not built yet" is not a failure).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .harness import BenchConfig, run

RESULTS = Path(__file__).resolve().parent / "results.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("BENCH_DATABASE_URL") or None,
        help="run on this PostgreSQL database (default: $BENCH_DATABASE_URL, else SQLite); "
        "the bench works in its own schema, pars_bench, dropped before and after",
    )
    defaults = BenchConfig()
    sizes = ("big", "small", "others", "other_size", "close_rows")
    sizes += ("overview_many", "overview_few", "overview_activities", "import_rows")
    for name in (*sizes, "runs", "warmup"):
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=int, default=getattr(defaults, name))
    parser.add_argument("--slow-runs", type=int, default=defaults.slow_runs)
    parser.add_argument(
        "--throughput-seconds",
        type=float,
        default=defaults.throughput_seconds,
        help="seconds of load on each side per round of the gunicorn throughput row",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    cfg = BenchConfig(
        **{k: getattr(args, k) for k in sizes},
        runs=args.runs,
        warmup=args.warmup,
        slow_runs=args.slow_runs,
        throughput_seconds=args.throughput_seconds,
        database_url=args.postgres,
    )
    report = run(cfg, out=args.out, echo=True)
    print(report.table())
    print(f"\nwritten to {args.out}")
    failed = any(r.passed is False for r in report.rows)
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
