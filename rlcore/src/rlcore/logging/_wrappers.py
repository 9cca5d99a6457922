"""Small composable loggers in Acme's style: fan-out (:class:`MultiLogger`) and a key filter."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence

from rlcore.logging._base import LogData, Logger, check_log_data, check_video

__all__ = ["KeyFilter", "MultiLogger"]


class MultiLogger(Logger):
    """Send every write to several loggers (Acme's ``Dispatcher``).

    The data is checked once, before any backend sees it, so a bad write reaches none of them;
    the same holds for :meth:`write_video`. ``close`` closes every logger even if one of them raises, then re-raises the first error.

    Args:
        loggers: the loggers to write to, in order.

    Example:
        >>> from rlcore.logging import InMemoryLogger
        >>> a, b = InMemoryLogger(), InMemoryLogger()
        >>> with MultiLogger([a, b]) as logger:
        ...     logger.write({"loss": 0.5}, step=1)
        >>> a.records == b.records == [(1, {"loss": 0.5})], a.closed, b.closed
        (True, True, True)

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(self, loggers: Iterable[Logger]) -> None:
        self.loggers = list(loggers)
        for i, logger in enumerate(self.loggers):
            if not isinstance(logger, Logger):
                raise TypeError(f"MultiLogger: loggers[{i}] must be an rlcore.logging.Logger, got {logger!r}")

    def write(self, data: LogData, step: int) -> None:
        """Write ``data`` to every logger."""
        values, step = check_log_data(data, step, "MultiLogger.write")
        for logger in self.loggers:
            logger.write(values, step)

    def write_video(self, key: str, path: str | os.PathLike[str], step: int) -> None:
        """Pass the video to every logger (those that cannot show videos ignore it)."""
        key, video, step = check_video(key, path, step, "MultiLogger.write_video")
        for logger in self.loggers:
            logger.write_video(key, video, step)

    def close(self) -> None:
        """Close every logger; re-raise the first error after trying them all."""
        first: BaseException | None = None
        for logger in self.loggers:
            try:
                logger.close()
            except Exception as error:
                first = first or error
        if first is not None:
            raise first


class KeyFilter(Logger):
    """Pass on only the keys that match ``keep`` and do not match ``drop``.

    Patterns are shell-style (``fnmatch``, case-sensitive): ``"eval/*"`` matches every key of the
    ``eval`` namespace, ``"loss"`` only ``loss``. A write left with no key is not passed on, so
    a file backend gets no empty row. A video (:meth:`write_video`) is passed on when its key
    passes the same patterns.

    Args:
        logger: the logger to write to.
        keep: patterns of the keys to keep (``None``: every key).
        drop: patterns of the keys to drop, applied after ``keep``.

    Example:
        >>> from rlcore.logging import InMemoryLogger
        >>> inner = InMemoryLogger()
        >>> logger = KeyFilter(inner, keep=["eval/*", "loss"], drop=["eval/debug_*"])
        >>> logger.write({"eval/mean_return": 3.0, "eval/debug_x": 1.0, "loss": 0.1, "fps": 90}, step=5)
        >>> logger.write({"fps": 95}, step=6)
        >>> inner.records
        [(5, {'eval/mean_return': 3.0, 'loss': 0.1})]

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(self, logger: Logger, keep: Sequence[str] | None = None, drop: Sequence[str] = ()) -> None:
        if not isinstance(logger, Logger):
            raise TypeError(f"KeyFilter: logger must be an rlcore.logging.Logger, got {logger!r}")
        self.logger = logger
        self.keep = None if keep is None else _patterns(keep, "keep")
        self.drop = _patterns(drop, "drop")

    def write(self, data: LogData, step: int) -> None:
        """Write the kept keys of ``data``, if any."""
        values, step = check_log_data(data, step, "KeyFilter.write")
        kept = {key: value for key, value in values.items() if self._passes(key)}
        if kept:
            self.logger.write(kept, step)

    def write_video(self, key: str, path: str | os.PathLike[str], step: int) -> None:
        """Pass the video on if ``key`` is kept."""
        key, video, step = check_video(key, path, step, "KeyFilter.write_video")
        if self._passes(key):
            self.logger.write_video(key, video, step)

    def close(self) -> None:
        """Close the wrapped logger."""
        self.logger.close()

    def _passes(self, key: str) -> bool:
        if self.keep is not None and not any(fnmatch.fnmatchcase(key, p) for p in self.keep):
            return False
        return not any(fnmatch.fnmatchcase(key, p) for p in self.drop)


def _patterns(patterns: object, name: str) -> tuple[str, ...]:
    # A bare string is a sequence of one-character patterns: almost certainly a mistake.
    if isinstance(patterns, str) or not isinstance(patterns, Iterable):
        raise TypeError(f"KeyFilter: {name} must be a list of patterns such as ['eval/*'], got {patterns!r}")
    result = tuple(patterns)
    for pattern in result:
        if not isinstance(pattern, str) or not pattern:
            raise TypeError(f"KeyFilter: {name} patterns must be non-empty strings, got {pattern!r}")
    return result
