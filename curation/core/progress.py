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


class ProgressLines:
    """Progress for logs and pipes: one line every `every` units (and at the end) with the rate and the ETA, e.g.
    `generate: 16/55 rows, 0.45 rows/s, ETA 1m27s`. Terminals get a bar from the caller instead."""

    def __init__(self, stage: str, total: int, unit: str = "rows", every: int | None = None) -> None:
        import time

        self.stage, self.total, self.unit = stage, total, unit
        self.every = every or max(1, min(100, total // 10))
        self.next_line, self.start, self._clock = self.every, time.monotonic(), time.monotonic
        self.printed = -1

    def update(self, done: int, extra: str = "") -> None:
        """Print a line when `done` crossed the next step (or reached the total); `extra` is appended (e.g. loss)."""
        import sys

        if done == self.printed or (done < self.next_line and done != self.total):
            return
        self.printed = done
        elapsed = self._clock() - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else 0.0
        print(f"{self.stage}: {done}/{self.total} {self.unit}, {rate:.2f} {self.unit}/s, "
              f"ETA {int(eta) // 60}m{int(eta) % 60:02d}s{extra}", file=sys.stderr, flush=True)
        while self.next_line <= done:
            self.next_line += self.every
