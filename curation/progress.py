"""Progress-bar policy: `datasets` draws its own bars only for work long enough to need one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

LONG_WORK_ROWS = 20_000


@contextmanager
def datasets_progress(enabled: bool) -> Iterator[None]:
    """Turn `datasets` progress bars on or off inside the block, restoring the previous state after."""
    import datasets

    was_enabled = not datasets.are_progress_bars_disabled()
    (datasets.enable_progress_bars if enabled else datasets.disable_progress_bars)()
    try:
        yield
    finally:
        (datasets.enable_progress_bars if was_enabled else datasets.disable_progress_bars)()


def is_long(rows: int) -> bool:
    """Whether a per-row pass over `rows` rows deserves a progress bar."""
    return rows >= LONG_WORK_ROWS
