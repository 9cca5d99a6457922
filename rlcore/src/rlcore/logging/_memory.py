"""An in-memory logger: the test fake shipped with the package (as Acme ships its fakes)."""

from __future__ import annotations

import os
from pathlib import Path

from rlcore.logging._base import LogData, Logger, check_log_data, check_video

__all__ = ["InMemoryLogger"]


class InMemoryLogger(Logger):
    """Keep every write as ``(step, values)`` in :attr:`records`; for tests of code that logs.

    Values are checked and converted like every backend does (plain ``int`` / ``float``), so a
    test with this logger fails where a real backend would. Videos are kept as
    ``(step, key, path)`` in :attr:`videos` (the path, not the file's content).

    Example:
        >>> logger = InMemoryLogger()
        >>> logger.write({"loss": 0.5, "updates": 1}, step=64)
        >>> logger.records, logger.latest("loss"), logger.closed
        ([(64, {'loss': 0.5, 'updates': 1})], 0.5, False)

    Change logs:
        * v0.1.0 - Initially added.
        * Unreleased - :attr:`videos`, the calls of :meth:`write_video`.
    """

    def __init__(self) -> None:
        self.records: list[tuple[int, dict[str, float | int]]] = []
        self.videos: list[tuple[int, str, Path]] = []
        self.closed = False

    def write(self, data: LogData, step: int) -> None:
        """Append ``(step, values)`` to :attr:`records`."""
        values, step = check_log_data(data, step, "InMemoryLogger.write")
        if self.closed:
            raise RuntimeError("InMemoryLogger.write: the logger is closed")
        self.records.append((step, values))

    def write_video(self, key: str, path: str | os.PathLike[str], step: int) -> None:
        """Append ``(step, key, path)`` to :attr:`videos`."""
        key, video, step = check_video(key, path, step, "InMemoryLogger.write_video")
        if self.closed:
            raise RuntimeError("InMemoryLogger.write_video: the logger is closed")
        self.videos.append((step, key, video))

    def latest(self, key: str) -> float | int:
        """The last value written under ``key``; ``KeyError`` naming the known keys if none."""
        for _, values in reversed(self.records):
            if key in values:
                return values[key]
        known = sorted({k for _, values in self.records for k in values})
        raise KeyError(f"InMemoryLogger.latest: no value was written under {key!r}; keys written: {known}")

    def close(self) -> None:
        """Mark the logger closed; later writes raise ``RuntimeError``."""
        self.closed = True
