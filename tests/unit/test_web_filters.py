"""Template filters that are plain functions of their value."""

from __future__ import annotations

import pytest

from pars_app.web.filters import file_size


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (1, "1 KB"),
        (1024, "1 KB"),
        (1025, "2 KB"),
        (1_048_575, "1.0 MB"),
        (1_468_006, "1.4 MB"),
        (25 * 1_048_576, "25.0 MB"),
    ],
)
def test_file_sizes_read_as_kb_then_mb(size, shown):
    assert file_size(size) == shown
