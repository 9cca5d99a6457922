"""Reading runs: run directories into :class:`Run` objects, their curves and final values.

Private: :mod:`rlcore.analysis` re-exports its public names. A *run* is a directory holding the
run log ``progress.csv`` written by :class:`rlcore.logging.CSVLogger` and, optionally,
``config.json`` (written by :func:`rlcore.logging.make_logger`, read through
:mod:`rlcore._rundir`). :func:`find_runs` finds them, :func:`load_run` reads one,
:func:`select_runs` loads those that logged a metric and names those it skips, and
:func:`default_return_key` picks the return that every run logged.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rlcore._rundir import read_record
from rlcore.logging import (
    CONFIG_FILENAME,
    EPISODIC_RETURN_KEY,
    EVAL_RETURN_KEY,
    PROGRESS_FILENAME,
    STEP_KEY,
    TIME_KEY,
    read_csv_log,
)

__all__ = [
    "DEFAULT_RETURN_KEYS",
    "Run",
    "RunSelection",
    "default_return_key",
    "final_values",
    "find_runs",
    "load_run",
    "load_runs",
    "select_runs",
]

#: The keys ``rlcore summarize`` and ``rlcore plot`` use when none is given, first found first:
#: the evaluation return, else the training episodic return.
DEFAULT_RETURN_KEYS = (EVAL_RETURN_KEY, EPISODIC_RETURN_KEY)


@dataclass(frozen=True, eq=False)
class Run:
    """One run: its directory, its run log as columns, and its configuration.

    Attributes:
        path: the run directory.
        log: ``{column: values}``, float64 arrays of shape ``(num_rows,)``, NaN where a write
            did not include the key (see :func:`rlcore.logging.read_csv_log`).
        config: the parsed ``config.json``, or ``None`` if the run has none.
    """

    path: Path
    log: Mapping[str, np.ndarray]
    config: Mapping[str, Any] | None = field(default=None)

    @property
    def seed(self) -> Any:
        """``config["seed"]``, or ``None``."""
        return None if self.config is None else self.config.get("seed")

    def keys(self) -> list[str]:
        """The logged metrics (columns other than ``step`` and ``time`` with at least one value)."""
        return [k for k, v in self.log.items() if k not in (STEP_KEY, TIME_KEY) and not np.isnan(v).all()]

    def has(self, key: str) -> bool:
        """Whether ``key`` was logged at least once."""
        return key in self.log and not np.isnan(self.log[key]).all()

    def curve(self, key: str, x: Literal["step", "time"] = "step") -> tuple[np.ndarray, np.ndarray]:
        """The rows that logged ``key``: ``(x_values, values)``, two float64 arrays of shape ``(n,)``.

        Args:
            key: the metric.
            x: ``"step"`` (environment steps) or ``"time"`` (seconds since the run started).

        Raises:
            KeyError: if the run never logged ``key`` (the message lists the keys it has).
            ValueError: if ``x`` is neither ``"step"`` nor ``"time"``.
        """
        if x not in (STEP_KEY, TIME_KEY):
            raise ValueError(f"Run.curve: x must be 'step' or 'time', got {x!r}")
        if not self.has(key):
            raise KeyError(f"run {str(self.path)!r} never logged {key!r}; its keys are {self.keys()}")
        values = self.log[key]
        kept = ~np.isnan(values) & ~np.isnan(self.log[x])
        return self.log[x][kept], values[kept]

    def final(self, key: str) -> float:
        """The last value logged under ``key`` (in file order, i.e. the latest write)."""
        return float(self.curve(key)[1][-1])


def find_runs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The run directories at or below ``paths``: each directory holding a ``progress.csv``.

    A path that is itself a run directory is taken as it is; any other directory is searched
    recursively. The result is sorted within each path, and a run found twice is listed once.

    Raises:
        FileNotFoundError: if a path does not exist or holds no run.
    """
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(f"find_runs: {str(path)!r} does not exist")
        if (path / PROGRESS_FILENAME).is_file():
            runs = [path]
        else:
            runs = sorted(log.parent for log in path.rglob(PROGRESS_FILENAME))
        if not runs:
            raise FileNotFoundError(
                f"find_runs: no run under {str(path)!r} (a run is a directory holding {PROGRESS_FILENAME})"
            )
        found.update((run.resolve(), None) for run in runs)
    return list(found)


def load_run(path: str | os.PathLike[str]) -> Run:
    """Read one run directory: its ``progress.csv`` and, if present, its ``config.json``.

    Raises:
        FileNotFoundError: if the directory has no ``progress.csv``.
        ValueError: if ``config.json`` is not a JSON object, or the run log's header is malformed
            (its malformed rows are skipped with a warning: :func:`rlcore.logging.read_csv_log`).
    """
    path = Path(path)
    log = read_csv_log(path / PROGRESS_FILENAME)
    config = None
    if (path / CONFIG_FILENAME).is_file():
        try:
            config = read_record(path)
        except ValueError as error:
            raise ValueError(f"load_run: {error}") from None
    return Run(path=path, log=log, config=config)


def load_runs(paths: Iterable[str | os.PathLike[str]]) -> list[Run]:
    """:func:`load_run` of every run :func:`find_runs` finds at or below ``paths``.

    Every run is kept, even one that logged nothing; :func:`select_runs` skips and reports those.
    """
    return [load_run(path) for path in find_runs(paths)]


@dataclass(frozen=True, eq=False)
class RunSelection:
    """The runs :func:`select_runs` kept for one metric, and the runs it skipped.

    Attributes:
        runs: the runs that logged ``key``, in :func:`find_runs` order.
        key: the metric: the one asked for, or the default return key.
        no_data: the run directories skipped because they logged nothing (a ``progress.csv``
            with no complete line, only a header, or rows without a metric): runs that failed
            before their first log write.
        missing_key: the run directories skipped because they logged other metrics but never
            ``key``.
    """

    runs: list[Run]
    key: str
    no_data: list[Path] = field(default_factory=list)
    missing_key: list[Path] = field(default_factory=list)

    @property
    def skipped(self) -> list[Path]:
        """Every skipped run directory: ``no_data`` then ``missing_key``."""
        return [*self.no_data, *self.missing_key]

    def skip_report(self) -> list[str]:
        """One line per reason a run was skipped, naming the runs, e.g.
        ``"skipped 1 run with no logged data: runs/x/seed3"``; empty when nothing was skipped."""
        lines = []
        if self.no_data:
            lines.append(f"skipped {_runs_count(self.no_data)} with no logged data: {_names(self.no_data)}")
        if self.missing_key:
            lines.append(
                f"skipped {_runs_count(self.missing_key)} that never logged {self.key!r}: "
                f"{_names(self.missing_key)}"
            )
        return lines


def select_runs(paths: Iterable[str | os.PathLike[str]], key: str | None = None) -> RunSelection:
    """The runs at or below ``paths`` that logged ``key``, skipping (and listing) the others.

    This is the loader of ``rlcore summarize``, ``rlcore plot`` and sweep summaries. A run that
    failed before it logged anything (its ``progress.csv`` holds no complete line, only a header,
    or rows without a metric) is skipped into ``no_data``; a run that logged other metrics but
    never ``key`` is skipped into ``missing_key``. Only when no run is left is it an error.

    Without ``key`` the metric is the one of :data:`DEFAULT_RETURN_KEYS` that the most runs
    logged, the evaluation return on a tie: when every run logged both, the evaluation return,
    and when one run never evaluated, the training return of all of them (as
    :func:`default_return_key`), so a table never mixes the two.

    Args:
        paths: run directories or directories searched for them (:func:`find_runs`).
        key: the metric, or ``None`` for the default return key.

    Returns:
        A :class:`RunSelection`.

    Raises:
        FileNotFoundError: if a path does not exist or holds no run.
        ValueError: if no run logged anything, no run logged a default return key, or a run log's
            header or a ``config.json`` is malformed.
        KeyError: if no run logged ``key``; the message names the runs and the keys they logged.
    """
    loaded: list[Run] = []
    no_data: list[Path] = []
    for path in find_runs(paths):
        if not _has_complete_line(path / PROGRESS_FILENAME):
            no_data.append(path)
            continue
        run = load_run(path)
        if run.keys():
            loaded.append(run)
        else:
            no_data.append(path)
    if not loaded:
        raise ValueError(
            f"no run has logged data: {_runs_count(no_data)} with an empty {PROGRESS_FILENAME} "
            f"(failed before their first log write): {_names(no_data)}"
        )
    if key is None:
        counts = [sum(run.has(k) for run in loaded) for k in DEFAULT_RETURN_KEYS]
        if max(counts) == 0:
            raise ValueError(
                f"no run logged a return key: expected one of {list(DEFAULT_RETURN_KEYS)}; keys the runs "
                f"logged: {_logged_keys(loaded)} (choose one explicitly)"
            )
        key = DEFAULT_RETURN_KEYS[counts.index(max(counts))]
    kept = [run for run in loaded if run.has(key)]
    missing = [run.path for run in loaded if not run.has(key)]
    if not kept:
        also = f"; skipped {_runs_count(no_data)} with no logged data: {_names(no_data)}" if no_data else ""
        raise KeyError(
            f"no run logged {key!r}: {_names(missing)}; keys they logged: {_logged_keys(loaded)}{also}"
        )
    return RunSelection(runs=kept, key=key, no_data=no_data, missing_key=missing)


def _has_complete_line(path: Path) -> bool:
    with path.open("rb") as file:
        return file.readline().endswith(b"\n")


def _logged_keys(runs: Sequence[Run]) -> list[str]:
    return sorted(set().union(*(run.keys() for run in runs)))


_MAX_NAMES = 20


def _names(paths: Sequence[Path]) -> str:
    """Paths relative to the working directory when under it, at most ``_MAX_NAMES`` of them."""
    here = Path.cwd().resolve()
    shown = []
    for path in paths[:_MAX_NAMES]:
        resolved = path.resolve()
        shown.append(resolved.relative_to(here).as_posix() if resolved.is_relative_to(here) else str(path))
    more = f" and {len(paths) - _MAX_NAMES} more" if len(paths) > _MAX_NAMES else ""
    return ", ".join(shown) + more


def _runs_count(items: Sized) -> str:
    return f"{len(items)} run" + ("" if len(items) == 1 else "s")


def final_values(runs: Sequence[Run], key: str) -> np.ndarray:
    """The last value each run logged under ``key``: float64 array of shape ``(N,)``.

    Raises:
        KeyError: if a run never logged ``key`` (the message names the run and its keys).
    """
    return np.array([run.final(key) for run in runs], dtype=np.float64)


def default_return_key(runs: Sequence[Run]) -> str:
    """The first of :data:`DEFAULT_RETURN_KEYS` that every run logged.

    That is the evaluation return (``eval/mean_return``) when every run evaluated, else the
    training episodic return (``train/episodic_return``). One key for all runs, so that a table
    or a plot never compares an evaluation return with a training return.

    Raises:
        ValueError: if no such key was logged by every run (the message lists the keys they share).
    """
    for key in DEFAULT_RETURN_KEYS:
        if runs and all(run.has(key) for run in runs):
            return key
    shared = sorted(set.intersection(*(set(run.keys()) for run in runs))) if runs else []
    raise ValueError(
        f"no return key logged by every run: expected one of {list(DEFAULT_RETURN_KEYS)}; keys every run has: "
        f"{shared} (choose one explicitly)"
    )
