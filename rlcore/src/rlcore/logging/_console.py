"""Console progress: a one-line progress bar on a terminal, a status line every N seconds elsewhere."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO

from rlcore.logging._base import EPISODIC_RETURN_KEY, EVAL_RETURN_KEY, LogData, Logger, check_log_data

__all__ = ["ConsoleLogger"]

# Carriage return to redraw the line in place, then "erase to end of line" (ANSI EL) so that a
# shorter line leaves no tail of the previous one.
_REDRAW = "\r"
_ERASE_TAIL = "\x1b[K"


class ConsoleLogger(Logger):
    """Show steps, steps/s and the latest returns on the console, without flooding CI logs.

    Two modes:

    * bar (``bar=True``, or ``None`` and the stream is a terminal): one line redrawn in place
      with ``\\r`` at most every ``refresh_s`` seconds, ``[####......] 40% 4,000/10,000 steps |
      1,234 steps/s | return 12.30 | elapsed 0:00:03 | eta 0:00:05``.
    * lines (``bar=False``, or ``None`` and the stream is not a terminal, e.g. a CI log or a
      file): the same status as a full line at the first write and then at most every
      ``interval_s`` seconds.

    In both, ``close()`` prints the final status. Steps/s is the average since the first write
    (``(step - first_step) / (now - first_time)``).

    Args:
        total_steps: the run's step budget, for the bar, the percentage and the ETA (``None``:
            unknown).
        stream: where to print (default ``sys.stderr``, like tqdm, so that stdout stays clean).
        bar: force the bar (``True``) or plain lines (``False``); ``None`` picks by ``isatty()``.
        interval_s: seconds between lines in line mode.
        refresh_s: minimum seconds between redraws in bar mode.
        show: ``{key: label}`` of values to show, latest value each; default the training
            episodic return as ``return`` and the evaluation return as ``eval``.
        width: characters of the bar.
        clock: seconds as a float; ``time.monotonic`` unless a test injects one.

    Example:
        >>> import io
        >>> now = [0.0]
        >>> out = io.StringIO()
        >>> logger = ConsoleLogger(total_steps=1000, stream=out, clock=lambda: now[0])
        >>> logger.write({"train/episodic_return": 9.5}, step=100)
        >>> now[0] = 2.0
        >>> logger.write({"train/episodic_return": 12.0}, step=500)
        >>> logger.close()
        >>> print(out.getvalue(), end="")
        100/1,000 steps (10%) | return 9.50 | elapsed 0:00:00
        500/1,000 steps (50%) | 200 steps/s | return 12.00 | elapsed 0:00:02 | eta 0:00:02

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(
        self,
        total_steps: int | None = None,
        *,
        stream: TextIO | None = None,
        bar: bool | None = None,
        interval_s: float = 30.0,
        refresh_s: float = 0.1,
        show: Mapping[str, str] | None = None,
        width: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if total_steps is not None and (
            isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1
        ):
            raise ValueError(f"ConsoleLogger: total_steps must be None or an int >= 1, got {total_steps!r}")
        for name, value, lowest in (("interval_s", interval_s, 0.0), ("refresh_s", refresh_s, 0.0)):
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < lowest:
                raise ValueError(f"ConsoleLogger: {name} must be a finite number >= 0, got {value!r}")
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"ConsoleLogger: width must be an int >= 1, got {width!r}")
        self.total_steps = total_steps
        self._stream: TextIO = stream if stream is not None else sys.stderr
        self.bar = _isatty(self._stream) if bar is None else bool(bar)
        self._interval = float(interval_s)
        self._refresh = float(refresh_s)
        self._show = (
            dict(show) if show is not None else {EPISODIC_RETURN_KEY: "return", EVAL_RETURN_KEY: "eval"}
        )
        self._width = width
        self._clock = clock
        self._latest: dict[str, float | int] = {}
        self._first: tuple[int, float] | None = None
        self._step = 0
        self._now = 0.0
        self._shown_at: float | None = None
        self._pending = False
        self._closed = False

    def write(self, data: LogData, step: int) -> None:
        """Record the latest values and redraw (bar) or print (lines) if it is time to."""
        values, step = check_log_data(data, step, "ConsoleLogger.write")
        if self._closed:
            raise RuntimeError("ConsoleLogger.write: the logger is closed")
        now = self._clock()
        if self._first is None:
            self._first = (step, now)
        self._step, self._now = step, now
        self._latest.update({key: values[key] for key in self._show if key in values})
        self._pending = True
        wait = self._refresh if self.bar else self._interval
        finished = self.total_steps is not None and step >= self.total_steps
        if self._shown_at is None or now - self._shown_at >= wait or (self.bar and finished):
            self._show_status()

    def close(self) -> None:
        """Print the final status (and end the bar's line)."""
        if self._closed:
            return
        self._closed = True
        if self._pending:
            self._show_status()
        if self.bar and self._shown_at is not None:
            self._stream.write("\n")
            self._stream.flush()

    def status(self) -> str:
        """The status line for the latest write (without the bar)."""
        parts = []
        if self.total_steps is not None:
            fraction = min(self._step / self.total_steps, 1.0)
            parts.append(f"{self._step:,}/{self.total_steps:,} steps ({fraction:.0%})")
        else:
            parts.append(f"{self._step:,} steps")
        rate = self._rate()
        if rate is not None:
            parts.append(f"{rate:,.0f} steps/s")
        parts.extend(
            f"{label} {self._latest[key]:.2f}" for key, label in self._show.items() if key in self._latest
        )
        elapsed = 0.0 if self._first is None else self._now - self._first[1]
        parts.append(f"elapsed {_duration(elapsed)}")
        if rate is not None and self.total_steps is not None and self._step < self.total_steps:
            parts.append(f"eta {_duration((self.total_steps - self._step) / rate)}")
        return " | ".join(parts)

    def _rate(self) -> float | None:
        if self._first is None:
            return None
        steps, seconds = self._step - self._first[0], self._now - self._first[1]
        return steps / seconds if steps > 0 and seconds > 0 else None

    def _show_status(self) -> None:
        line = self.status()
        if self.bar:
            if self.total_steps is not None:
                filled = int(self._width * min(self._step / self.total_steps, 1.0))
                line = f"[{'#' * filled}{'.' * (self._width - filled)}] {line}"
            self._stream.write(f"{_REDRAW}{line}{_ERASE_TAIL}")
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
        self._shown_at = self._now
        self._pending = False


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or file-like stream without isatty
        return False


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
