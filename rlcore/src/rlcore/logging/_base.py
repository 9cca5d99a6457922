"""The ``Logger`` interface and the checks every backend applies to what it is given.

The interface is Acme's (``acme/utils/loggers/base.py``): two methods, ``write`` and
``close``, and everything else (files, console, TensorBoard, filters, fan-out) is a small class
that implements them. One deliberate difference: the step is an explicit argument instead of a
key of ``data``, so that every backend files a value under the same x coordinate.

A third method, ``write_video``, has a default that only checks its arguments: the backends that
can show a video (TensorBoard, W&B) override it, the others (CSV, console) ignore videos, so a
logger written for scalars needs nothing more.
"""

from __future__ import annotations

import abc
import numbers
import os
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import SupportsFloat

__all__ = [
    "EPISODIC_RETURN_KEY",
    "EVAL_RETURN_KEY",
    "STEP_KEY",
    "TIME_KEY",
    "LogData",
    "Logger",
]

#: Column of the run log holding the environment step of each row.
STEP_KEY = "step"
#: Column of the run log holding the wall-clock seconds since the run started.
TIME_KEY = "time"
#: The key under which agents log the undiscounted return of each finished training episode.
EPISODIC_RETURN_KEY = "train/episodic_return"
#: The key under which agents log the mean undiscounted return of an evaluation round.
EVAL_RETURN_KEY = "eval/mean_return"

#: What ``Logger.write`` accepts: scalar values by name (Python or NumPy numbers, 0-d arrays
#: or 0-d tensors).
LogData = Mapping[str, SupportsFloat]

_RESERVED = (STEP_KEY, TIME_KEY)

# What str.splitlines splits on: a key holding one of them would split the run log's header.
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
# Categories no key may hold a character of: control characters (C0, DEL, C1), line and paragraph
# separators, lone surrogates (not encodable as UTF-8) and invisible format characters (bidi
# overrides, zero-width spaces, the byte order mark)...
_BAD_CATEGORIES = {
    "Cc": "a control character",
    "Zl": "a line break",
    "Zp": "a line break",
    "Cs": "a lone surrogate",
}
_FORMAT = "Cf"
# ...except the zero-width (non-)joiners, which some scripts (Persian, Indic) and emoji need.
_JOINERS = frozenset("\u200c\u200d")
# Keys already checked, so that a run writing the same keys every step checks each once; cleared
# when it grows past _MAX_CHECKED (a run that logs a new key per episode).
_CHECKED_KEYS: set[str] = set()
_MAX_CHECKED = 65536


class Logger(abc.ABC):
    """A destination for scalar metrics: ``write(data, step)`` then ``close()``.

    Subclasses implement :meth:`write` and, if they hold a resource, :meth:`close`. A logger is
    a context manager that closes itself on exit, and ``close`` may be called more than once.

    Example:
        >>> from rlcore.logging import InMemoryLogger
        >>> with InMemoryLogger() as logger:
        ...     logger.write({"loss": 0.5}, step=10)
        >>> logger.records
        [(10, {'loss': 0.5})]
    """

    @abc.abstractmethod
    def write(self, data: LogData, step: int) -> None:
        """Record the scalars in ``data`` at environment step ``step`` (an int ``>= 0``)."""

    def write_video(self, key: str, path: str | os.PathLike[str], step: int) -> None:
        """Record the video file ``path`` (an MP4, e.g. from Gymnasium's ``RecordVideo``) under ``key``.

        ``step`` is the environment step the video was recorded at. The default checks the
        arguments (``key`` as a key of :meth:`write`, ``step`` an int ``>= 0``, ``path`` an
        existing regular file) and does nothing else: a backend that cannot show videos ignores
        them, one that can overrides this method.

        Raises:
            ValueError: if ``key`` or ``step`` is not what :meth:`write` accepts, or ``path`` is
                not a regular file.
            FileNotFoundError: if ``path`` does not exist.
        """
        check_video(key, path, step, f"{type(self).__name__}.write_video")

    def close(self) -> None:  # noqa: B027 (a no-op default: most wrappers hold no resource)
        """Release files, threads or connections; the default does nothing."""

    def __enter__(self) -> Logger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def check_step(step: object, where: str) -> int:
    """Return ``step`` as an int, or raise naming ``where``, the value and what is expected."""
    # bool is an Integral, but a True step is a bug in the caller, not step 1.
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or int(step) < 0:
        raise ValueError(f"{where}: step must be an int >= 0, got {step!r}")
    return int(step)


def check_key(key: object, where: str) -> str:
    """Return ``key`` if it is a valid key of ``write`` (see :func:`check_log_data`), else raise."""
    if isinstance(key, str) and key in _CHECKED_KEYS:
        return key
    return _check_key(key, where)


def check_video(key: object, path: object, step: object, where: str) -> tuple[str, Path, int]:
    """Validate one ``write_video`` call and return ``(key, path, step)``.

    ``key`` follows the rules of :func:`check_log_data`, ``step`` those of :func:`check_step`, and
    ``path`` (a ``str`` or ``os.PathLike``) must name an existing regular file (a symlink to one
    is fine). The file's content is not read here: the backends that show it decode it.
    """
    key = check_key(key, where)
    step = check_step(step, where)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: path must be a str or os.PathLike naming a video file, got {path!r}")
    video = Path(path)
    if not video.exists():
        raise FileNotFoundError(f"{where}: the video file {str(video)!r} of {key!r} does not exist")
    if not video.is_file():
        raise ValueError(
            f"{where}: the video path {str(video)!r} of {key!r} is not a regular file, expected an MP4 file"
        )
    return key, video, step


def check_log_data(data: object, step: object, where: str) -> tuple[dict[str, float | int], int]:
    """Validate one ``write`` call and return ``(values, step)`` as plain Python numbers.

    Keys must be non-empty strings without line breaks (one run-log record is one line: no
    character ``str.splitlines`` splits on), control characters (C0, DEL, C1), lone surrogates or
    invisible format characters (Unicode category Cf, bar the zero-width joiners U+200C and
    U+200D), and must not be the reserved column names ``"step"`` and ``"time"``; a key seen
    before is not checked again. Values must be real
    scalars: ints stay ints, everything else becomes a float (NaN and inf are kept: a NaN loss
    is worth recording).
    """
    step = check_step(step, where)
    if not isinstance(data, Mapping):
        raise TypeError(f"{where}: data must be a mapping from str to a number, got {type(data).__name__}")
    values: dict[str, float | int] = {}
    for key, value in data.items():
        if key not in _CHECKED_KEYS:
            _check_key(key, where)
        values[key] = _scalar(key, value, where)
    return values, step


def _check_key(key: object, where: str) -> str:
    """Return ``key``, or raise if it cannot be a run-log column, naming it and its first bad character."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"{where}: keys must be non-empty strings without line breaks, got {key!r}")
    # isprintable() is False for every character of categories C and Z but the space: the
    # per-character look-up below runs only for keys holding one of those.
    for index, char in enumerate("" if key.isprintable() else key):
        category = unicodedata.category(char)
        if char in _LINE_BREAKS:
            kind = "a line break"
        elif category in _BAD_CATEGORIES:
            kind = _BAD_CATEGORIES[category]
        elif category == _FORMAT and char not in _JOINERS:
            kind = "an invisible format character"
        else:
            continue
        raise ValueError(
            f"{where}: keys must be non-empty strings without line breaks, got {key!r}: it holds "
            f"{char!r} (U+{ord(char):04X}, {kind}) at index {index}; a key may hold no line break, "
            "control character or invisible format character"
        )
    if key in _RESERVED:
        raise ValueError(
            f"{where}: key {key!r} is reserved for the run log's own column; pass step=... instead"
        )
    if len(_CHECKED_KEYS) >= _MAX_CHECKED:
        _CHECKED_KEYS.clear()
    _CHECKED_KEYS.add(key)
    return key


def _scalar(key: str, value: object, where: str) -> float | int:
    # 0-d NumPy arrays and 0-d torch tensors expose .item(); calling it here keeps torch out of
    # this module's imports.
    if not isinstance(value, numbers.Real) and getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, numbers.Integral):  # bool included: a flag is logged as 0 or 1
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"{where}: value of {key!r} must be a real scalar (int or float), got {value!r}")
