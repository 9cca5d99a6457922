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
``append=True`` cuts it off before continuing the file. A complete line that is not a row of the
file (torn by a power loss, mangled by an editor: wrong number of cells, a cell that is not a
number, an empty line, a NUL byte, invalid UTF-8) is skipped by the readers and dropped by
``append=True``, with one warning per file; only a bad header is an error.
"""

from __future__ import annotations

import csv
import os
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from rlcore.logging._base import STEP_KEY, TIME_KEY, LogData, Logger, check_log_data
from rlcore.logging._csv_rows import HeaderError, parse_header, parse_rows, replace_file, split_records

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
            columns and continuing its ``time`` column from its last good row. Its malformed rows
            (torn by a crash, see :func:`read_csv_log`) are dropped first, with one
            ``UserWarning`` naming the file, how many and the first; a bad header is an error.
        fsync: also ``os.fsync`` after every row, so that rows survive a power loss and not only a
            crash of the process (slower on network file systems).
        clock: seconds as a float; ``time.monotonic`` unless a test injects one.
        keep: with ``append=True``, which of the existing rows to keep: ``keep(row)`` is called
            with each good row as ``{column: value}`` (floats, NaN for an empty cell) and the rows
            it returns ``False`` for are dropped, e.g. ``lambda row: row["step"] <= 4096`` for a
            run resumed from its checkpoint at step 4096. The file is rewritten (a temporary
            file, fsync, ``os.replace``) only when a row is dropped, in one pass with the
            malformed rows, and ``time`` continues from the last row kept. Without ``append``,
            or on a new file, there is no row to filter and it is not called.

    Raises:
        ValueError: if ``filename`` is not a plain file name, or with ``append=True`` if the
            existing file's header is missing or not a run log's (the message names the file).
        NotADirectoryError: if ``run_dir`` exists and is not a directory.
        TypeError: if ``keep`` is neither ``None`` nor callable.

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
        keep: Callable[[Mapping[str, float]], bool] | None = None,
    ) -> None:
        if keep is not None and not callable(keep):
            raise TypeError(f"CSVLogger: keep must be None or a callable taking a row, got {keep!r}")
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
            self._columns, self._time_offset = _resume(self.path, keep)
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


def _resume(path: Path, keep: Callable[[Mapping[str, float]], bool] | None) -> tuple[list[str], float]:
    """Make ``path`` ready to append to: return its columns and the ``time`` of its last row kept.

    A partial last line (a crash while it was written) is cut off and malformed rows dropped,
    each said with a warning; the rows ``keep`` rejects are dropped too, all in one atomic rewrite.
    """
    data = path.read_bytes()
    header, lines, complete = split_records(data)
    where = f"CSVLogger: cannot append to {str(path)!r}"
    if header is None:
        raise ValueError(f"{where}: it has no complete header line")
    try:
        columns = parse_header(header)
    except HeaderError as error:
        raise ValueError(f"{where}: its header line {error}") from None
    if columns[:2] != [STEP_KEY, TIME_KEY]:
        raise ValueError(
            f"{where}: its header starts with {columns[:2]}, expected {[STEP_KEY, TIME_KEY]} "
            "(is it an rlcore run log?)"
        )
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        raise ValueError(f"{where}: its header repeats the column(s) {repeated}")
    rows = parse_rows(lines, columns)
    kept = [
        (index, values)
        for index, values in zip(rows.good, rows.values, strict=True)
        if keep is None or keep(dict(zip(columns, values, strict=True)))
    ]
    torn = len(data) - complete
    unfinished = f"its unfinished last line ({torn} bytes without a newline: the row a crash interrupted)"
    if rows.dropped:
        warnings.warn(
            f"CSVLogger: {str(path)!r}: dropped {_rows(rows.dropped)} before appending "
            f"(first: {rows.first_bad})" + (f", and {unfinished}" if torn else ""),
            stacklevel=3,
        )
    elif torn:
        warnings.warn(f"CSVLogger: {str(path)!r}: dropped {unfinished} before appending", stacklevel=3)
    if len(kept) < len(lines):
        replace_file(path, [header, b"\n", *(part for index, _ in kept for part in (lines[index], b"\n"))])
    elif complete != len(data):
        with open(path, "r+b") as f:
            f.truncate(complete)
    return columns, kept[-1][1][1] if kept else 0.0


def read_csv_log(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a run log into one float64 array per column, shape ``(num_rows,)``.

    Empty cells (a key absent from that write) are NaN. A last line without its newline is
    the row a crash interrupted and is ignored. Any other line that is not a row of the file (an
    empty line, a NUL byte, invalid UTF-8, the wrong number of cells, a cell that is not a
    number, no finite ``step`` or ``time``: a row torn by a crash or a power loss) is skipped,
    with one ``UserWarning`` per call naming the file, how many rows were skipped and the first,
    e.g. ``"ignored 1 malformed row (first: line 157 has 13 cells, expected 16)"``. Records are
    split on ``"\\n"`` only, the writer's line terminator.

    Args:
        path: a ``progress.csv`` file (or a run directory holding one).

    Returns:
        ``{column: values}`` in the file's column order, ``step`` and ``time`` first.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if the header line is missing, is not UTF-8 CSV text, or is not a run log's
            (the message names the file).

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
    header, lines, _ = split_records(path.read_bytes())
    if header is None:
        raise ValueError(f"read_csv_log: {str(path)!r} has no complete header line")
    try:
        columns = parse_header(header)
    except HeaderError as error:
        raise ValueError(f"read_csv_log: {str(path)!r} has a header line that {error}") from None
    if columns[:2] != [STEP_KEY, TIME_KEY] or len(set(columns)) != len(columns):
        raise ValueError(
            f"read_csv_log: {str(path)!r} has header {columns}, expected unique columns starting with "
            f"{[STEP_KEY, TIME_KEY]}"
        )
    rows = parse_rows(lines, columns)
    if rows.dropped:
        warnings.warn(
            f"read_csv_log: {str(path)!r}: ignored {_rows(rows.dropped)} (first: {rows.first_bad})",
            stacklevel=2,
        )
    values = np.array(rows.values, dtype=np.float64).reshape(len(rows.values), len(columns))
    return {column: values[:, j].copy() for j, column in enumerate(columns)}


def _rows(count: int) -> str:
    return f"{count} malformed row" + ("" if count == 1 else "s")
