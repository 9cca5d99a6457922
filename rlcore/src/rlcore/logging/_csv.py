"""The run log: ``progress.csv`` in the run directory, written by :class:`CSVLogger`.

This is THE format that ``rlcore plot``, ``rlcore summarize`` and :mod:`rlcore.analysis`
read. One row per ``write`` call; the columns are ``step``, ``time`` (wall-clock seconds since
the run started) and then every key in the order it first appeared. A key absent from a write
leaves its cell empty, read back as NaN (so a logged NaN and an absent key read the same).

Why CSV with a rewritten header rather than JSON lines: a CSV opens in every tool (pandas,
spreadsheets, ``column -s, -t``) without an export step, and a key that first appears late is
rare (agents log the same keys from the first write on), so paying one rewrite of the file
when it happens is cheaper than a second format. The rewrite goes through a temporary file
and ``os.replace``, so a crash during it leaves either the old file or the new one.

Every row is flushed as it is written, so a crashed run loses at most the row being written;
a reader ignores a last line without its newline, and :class:`CSVLogger` with
``append=True`` cuts it off before continuing the file.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rlcore.logging._base import STEP_KEY, TIME_KEY, LogData, Logger, check_log_data

__all__ = ["PROGRESS_FILENAME", "CSVLogger", "read_csv_log"]

#: Name of the run log inside a run directory.
PROGRESS_FILENAME = "progress.csv"


class CSVLogger(Logger):
    """Append one CSV row per ``write`` to ``run_dir/progress.csv``; the always-on backend.

    Args:
        run_dir: the run directory (created if missing).
        filename: name of the file inside ``run_dir``.
        append: ``False`` starts a new file (an existing one is replaced, like Stable-Baselines3's
            ``progress.csv``); ``True`` continues an existing file (a resumed run), keeping its
            columns and continuing its ``time`` column from its last value.
        fsync: also ``os.fsync`` after every row, so that rows survive a power loss and not only a
            crash of the process (slower on network file systems).
        clock: seconds as a float; ``time.monotonic`` unless a test injects one.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> with tempfile.TemporaryDirectory() as run_dir:
        ...     with CSVLogger(run_dir, clock=lambda: 0.0) as logger:
        ...         logger.write({"loss": 0.5}, step=0)
        ...         logger.write({"loss": 0.25, "eval/mean_return": 10}, step=100)
        ...     print(Path(run_dir, "progress.csv").read_text(), end="")
        step,time,loss,eval/mean_return
        0,0.0,0.5,
        100,0.0,0.25,10

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        filename: str = PROGRESS_FILENAME,
        append: bool = False,
        fsync: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(filename, str) or not filename or os.sep in filename or filename in (".", ".."):
            raise ValueError(f"CSVLogger: filename must be a plain file name, got {filename!r}")
        self.path = Path(run_dir) / filename
        if self.path.parent.exists() and not self.path.parent.is_dir():
            raise NotADirectoryError(
                f"CSVLogger: run_dir {str(self.path.parent)!r} exists and is not a directory"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._clock = clock
        self._start = clock()
        self._time_offset = 0.0
        self._columns: list[str] = [STEP_KEY, TIME_KEY]
        if append and self.path.exists() and self.path.stat().st_size > 0:
            self._columns, self._time_offset = _resume(self.path)
            self._open("a")
        else:
            self._open("w")
            self._csv.writerow(self._columns)
            self._flush()
        self._closed = False

    @property
    def columns(self) -> list[str]:
        """The file's columns, ``step`` and ``time`` first."""
        return list(self._columns)

    def write(self, data: LogData, step: int) -> None:
        """Append one row: ``step``, the elapsed time, and ``data`` under its columns."""
        values, step = check_log_data(data, step, "CSVLogger.write")
        if self._closed:
            raise RuntimeError(f"CSVLogger.write: the logger of {str(self.path)!r} is closed")
        new = [key for key in values if key not in self._columns]
        if new:
            self._grow_header(new)
        elapsed = round(self._time_offset + self._clock() - self._start, 6)
        row: dict[str, float | int] = {STEP_KEY: step, TIME_KEY: elapsed, **values}
        self._csv.writerow([row.get(column, "") for column in self._columns])
        self._flush()

    def close(self) -> None:
        """Close the file; further writes raise ``RuntimeError``."""
        if not self._closed:
            self._file.close()
            self._closed = True

    def _open(self, mode: str) -> None:
        self._file = open(self.path, mode, newline="", encoding="utf-8")  # noqa: SIM115 (held until close)
        # "\n" on every platform: readers (and _resume) split records on it.
        self._csv = csv.writer(self._file, lineterminator="\n")

    def _flush(self) -> None:
        self._file.flush()
        if self._fsync:
            os.fsync(self._file.fileno())

    def _grow_header(self, new_columns: list[str]) -> None:
        self._file.close()
        columns = self._columns + new_columns
        padding = [""] * len(new_columns)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with (
            open(self.path, newline="", encoding="utf-8") as src,
            open(tmp, "w", newline="", encoding="utf-8") as dst,
        ):
            reader = csv.reader(src)
            next(reader)
            writer = csv.writer(dst, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(row + padding for row in reader)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, self.path)
        self._columns = columns
        self._open("a")


def _resume(path: Path) -> tuple[list[str], float]:
    """Cut a partial last line off ``path``; return its columns and the last ``time`` value."""
    text = path.read_bytes()
    complete = text[: text.rfind(b"\n") + 1]
    if len(complete) != len(text):
        with open(path, "r+b") as f:
            f.truncate(len(complete))
    lines = complete.decode("utf-8").splitlines()
    if not lines:
        raise ValueError(f"CSVLogger: cannot append to {str(path)!r}: it has no complete header line")
    columns = next(csv.reader([lines[0]]))
    if columns[:2] != [STEP_KEY, TIME_KEY]:
        raise ValueError(
            f"CSVLogger: cannot append to {str(path)!r}: its header starts with {columns[:2]}, "
            f"expected {[STEP_KEY, TIME_KEY]} (is it an rlcore run log?)"
        )
    last_time = 0.0
    if len(lines) > 1:
        last_time = float(next(csv.reader([lines[-1]]))[1])
    return columns, last_time


def read_csv_log(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a run log into one float64 array per column, shape ``(num_rows,)``.

    Empty cells (a key absent from that write) are NaN. A last line without its newline is
    the row a crash interrupted and is ignored.

    Args:
        path: a ``progress.csv`` file (or a run directory holding one).

    Returns:
        ``{column: values}`` in the file's column order, ``step`` and ``time`` first.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if the header is not a run log's, or a complete row has the wrong number of
            cells or a cell that is not a number (the message names the file, line and column).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as run_dir:
        ...     with CSVLogger(run_dir) as logger:
        ...         logger.write({"loss": 1.5}, step=0)
        ...         logger.write({"eval/mean_return": 3}, step=8)
        ...     log = read_csv_log(run_dir)
        >>> log["step"], log["loss"], log["eval/mean_return"]
        (array([0., 8.]), array([1.5, nan]), array([nan,  3.]))
    """
    path = Path(path)
    if path.is_dir():
        path = path / PROGRESS_FILENAME
    if not path.is_file():
        raise FileNotFoundError(f"read_csv_log: no run log at {str(path)!r}")
    text = path.read_text(encoding="utf-8")
    lines = text[: text.rfind("\n") + 1].splitlines()
    if not lines:
        raise ValueError(f"read_csv_log: {str(path)!r} has no complete header line")
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    columns = rows[0]
    if columns[:2] != [STEP_KEY, TIME_KEY] or len(set(columns)) != len(columns):
        raise ValueError(
            f"read_csv_log: {str(path)!r} has header {columns}, expected unique columns starting with "
            f"{[STEP_KEY, TIME_KEY]}"
        )
    values = np.full((len(rows) - 1, len(columns)), np.nan, dtype=np.float64)
    for i, row in enumerate(rows[1:]):
        if len(row) != len(columns):
            raise ValueError(
                f"read_csv_log: {str(path)!r} line {i + 2} has {len(row)} cells, expected {len(columns)}"
            )
        for j, cell in enumerate(row):
            if cell:
                values[i, j] = _number(cell, path, i + 2, columns[j])
    return {column: values[:, j].copy() for j, column in enumerate(columns)}


def _number(cell: str, path: Path, line: int, column: str) -> float:
    try:
        return float(cell)
    except ValueError:
        raise ValueError(
            f"read_csv_log: {str(path)!r} line {line} column {column!r} holds {cell!r}, expected a number"
        ) from None
