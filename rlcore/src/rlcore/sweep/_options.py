"""The bounds of a sweep's own options, checked where the command line or a caller gives them.

Each numeric option is a :class:`Bounds`: read from the command line by argparse (the instance
is the option's ``type``, so a bad value is an argparse error naming the option) and checked
again by :func:`rlcore.sweep.run_sweep` and :func:`rlcore.sweep.trial_run_settings` for the
callers that pass numbers. ``nan``, ``inf`` (``1e400`` reads as ``inf``), booleans and values
outside the bounds are refused with the value given and what is expected, e.g. ``argument
--cpus-per-trial: must be a finite number, got 'nan' (the CPUs each trial holds: 0.0001 to
10000, e.g. 1 or 0.5)``. The bounds are those of Ray (it shares a resource in steps of 0.0001)
and of what a researcher may mean; a value beyond them is a typo.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import numbers
import re
from collections.abc import Callable
from typing import Any

__all__ = [
    "CPUS_PER_TRIAL",
    "GPUS_PER_TRIAL",
    "MAX_CONCURRENT",
    "NUM_CPUS",
    "PROGRESS_EVERY",
    "Bounds",
    "cluster_address",
    "metric_key",
    "shown",
    "sweep_name",
]

_INT = re.compile(r"\s*([+-]?)([0-9](?:_?[0-9])*)\s*", re.ASCII)


def shown(text: str, limit: int = 60) -> str:
    """``repr(text)``, its middle cut out when it is longer than ``limit`` characters.

    >>> shown("0,1,2")
    "'0,1,2'"
    >>> shown("9" * 5000)
    "'99999999999999999999...99999' (5000 characters)"
    """
    if len(text) <= limit:
        return repr(text)
    return f"{text[:20] + '...' + text[-5:]!r} ({len(text)} characters)"


@dataclasses.dataclass(frozen=True)
class Bounds:
    """A numeric option of the sweep: its type and the values it takes.

    Calling it reads the option's text (argparse's ``type``); :meth:`check` checks a value a
    caller passes. Both refuse with a message naming the value and what is expected.

    Attributes:
        option: its command-line flag, e.g. ``--cpus-per-trial``.
        kind: ``int`` or ``float``.
        rule: what a value is, in short, e.g. ``"a number > 0"``: the message for a value of
            another type and for one at or below 0 (a float between 0 and ``low`` is told
            ``low``, one above ``high`` is told ``high``).
        low, high: the smallest and the largest value.
        meaning: what the value is, e.g. ``"the CPUs each trial holds"``.
        example: typical values, e.g. ``"1 or 0.5"``.
        zero: whether 0 is a value too, below ``low`` (no GPUs).
    """

    option: str
    kind: type[int] | type[float]
    rule: str
    low: float
    high: float
    meaning: str
    example: str
    zero: bool = False

    @property
    def parameter(self) -> str:
        """The option's name as a Python parameter: ``--cpus-per-trial`` -> ``cpus_per_trial``."""
        return self.option.removeprefix("--").replace("-", "_")

    @property
    def expected(self) -> str:
        """What the option takes, in words: ``(the CPUs each trial holds: 0.0001 to 10000, ...)``."""
        values = f"{'0, or ' if self.zero else ''}{self.low:g} to {self.high:g}"
        return f"({self.meaning}: {values}, e.g. {self.example})"

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` (``"must be a number > 0"``), or None if it fits."""
        wanted = numbers.Integral if self.kind is int else numbers.Real
        if isinstance(value, bool) or not isinstance(value, wanted):
            return f"must be {self.rule}"
        # As a Python number (NumPy's too); an int is finite however large (isfinite would overflow).
        number = int(value) if isinstance(value, numbers.Integral) else float(value)
        if isinstance(number, float) and not math.isfinite(number):
            return "must be a finite number"
        if number < 0 or (number == 0 and not self.zero) or (self.kind is int and number < self.low):
            return f"must be {self.rule}"
        if 0 < number < self.low:
            return f"must be {'0 or ' if self.zero else ''}at least {self.low:g}"
        if number > self.high:
            return f"must be at most {self.high:g}"
        return None

    def check(self, value: Any) -> None:
        """Raise ValueError naming the parameter, ``value`` and what is expected, unless it fits.

        >>> CPUS_PER_TRIAL.check(float("nan"))
        Traceback (most recent call last):
        ...
        ValueError: cpus_per_trial must be a finite number, got nan (the CPUs each trial holds: ...
        """
        problem = self.problem(value)
        if problem is not None:
            try:
                given = repr(value)
            except ValueError:  # an int of more than 4300 digits
                given = f"an int of {value.bit_length()} bits"
            if len(given) > 60:
                given = f"{given[:20]}...{given[-5:]} ({len(given)} characters)"
            raise ValueError(f"{self.parameter} {problem}, got {given} {self.expected}")

    def __call__(self, text: str) -> int | float:
        """``text`` read as the option's value (argparse's ``type``).

        Raises:
            argparse.ArgumentTypeError: naming ``text`` and what is expected (argparse puts the
                option's name in front).
        """
        value = self._read(text)
        problem = f"must be {self.rule}" if value is None else self.problem(value)
        if value is None or problem is not None:
            raise argparse.ArgumentTypeError(f"{problem}, got {shown(text)} {self.expected}")
        return value

    def _read(self, text: str) -> int | float | None:
        """The number ``text`` writes (ASCII only), or None. An int with more digits than
        ``high`` reads as ``high + 1`` (or its negative): ``int()`` refuses more than 4300 digits.
        """
        if not text.isascii():
            return None
        if self.kind is float:
            try:
                return float(text)
            except ValueError:
                return None
        match = _INT.fullmatch(text)
        if match is None:
            return None
        sign, digits = match.group(1), match.group(2).replace("_", "").lstrip("0") or "0"
        if len(digits) > len(str(int(self.high))):
            return int(sign + "1") * (int(self.high) + 1)
        return int(sign + digits)


#: The Ray resources of a trial (Ray shares a resource in steps of 0.0001).
CPUS_PER_TRIAL = Bounds(
    "--cpus-per-trial", float, "a number > 0", 0.0001, 10_000, "the CPUs each trial holds", "1 or 0.5"
)
GPUS_PER_TRIAL = Bounds(
    "--gpus-per-trial",
    float,
    "a number >= 0",
    0.0001,
    10_000,
    "the GPUs each trial holds",
    "1 or 0.25",
    zero=True,
)
#: The CPUs of the Ray started by the sweep, and the most trials it runs at once.
NUM_CPUS = Bounds("--num-cpus", int, "an int >= 1", 1, 100_000, "the CPUs of the Ray started here", "8")
MAX_CONCURRENT = Bounds("--max-concurrent", int, "an int >= 1", 1, 100_000, "the most trials at once", "4")
#: The most seconds between two progress lines (``ray.wait``'s timeout).
PROGRESS_EVERY = Bounds(
    "--progress-every", float, "a number > 0", 0.1, 86_400, "seconds between progress lines", "10 or 60"
)


def _text_type(expected: str, refused: tuple[str, ...] = ()) -> Callable[[str], str]:
    """An argparse ``type`` refusing a blank text (and those of ``refused``) as not ``expected``."""

    def read(text: str) -> str:
        if not text.strip() or text in refused:
            raise argparse.ArgumentTypeError(f"must be {expected}, got {shown(text)}")
        return text

    read.__name__ = expected  # argparse names the type in some of its own messages
    return read


#: ``--name``: a directory in ``--runs-dir`` (``.`` would be ``--runs-dir`` itself, ``..`` above it).
sweep_name = _text_type("a directory name such as lr-batch (not empty, . or ..)", (".", ".."))
#: ``--address``: the Ray cluster to use.
cluster_address = _text_type("auto or HOST:PORT, a running Ray cluster")
#: ``--key``: the metric summarised.
metric_key = _text_type("a logged metric such as eval/mean_return")
