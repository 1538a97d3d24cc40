"""Print the security figures (tests/security/figures.py) at the end of a run, and keep them in
pytest's cache (`pars/security-figures`), so the numbers quoted in docs/reliability.md come from
a real run rather than from memory."""

from __future__ import annotations

from tests.security.figures import FIGURES


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not FIGURES:
        return
    terminalreporter.section("security figures")
    for name, n in sorted(FIGURES.items()):
        terminalreporter.write_line(f"{name}: {n:,}")
    cache = getattr(config, "cache", None)  # absent under `-p no:cacheprovider`
    if cache is not None:
        cache.set("pars/security-figures", dict(FIGURES))
