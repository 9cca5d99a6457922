"""Reading the records of a run log robustly: its header, its good rows and the torn or malformed ones.

Private to :mod:`rlcore.logging`: :func:`rlcore.logging.read_csv_log` and
:class:`rlcore.logging.CSVLogger` (``append=True``) read ``progress.csv`` through it.

The file is read as bytes and split on ``b"\\n"`` only, the one line terminator
:class:`CSVLogger` writes: so ``"\\r"``, ``"\\x0b"``, ``"\\x85"`` or ``"\\u2028"`` (which
``str.splitlines`` splits on) inside an older file's column name do not split its header, and
one bad line cannot shift the lines after it. Each line is decoded on its own; a data line that
is empty, holds a NUL byte, is not UTF-8 or not CSV, has the wrong number of cells, a cell that
is not a number, or no finite ``step`` or ``time`` is *malformed* (a crash tore it, a power loss
zeroed it, an editor mangled it) and is left out, the first one described for a warning. A
header that is none of those things is the caller's error: without it no row can be read.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["HeaderError", "LogRows", "parse_header", "parse_rows", "replace_file", "split_records"]

_NEWLINE = b"\n"
# The columns every data row must hold a finite number in: the writer always fills them.
_REQUIRED = 2


class HeaderError(ValueError):
    """The header line is not one line of CSV text; the message says why (``"is not valid UTF-8"``)."""


@dataclass
class LogRows:
    """The data lines of a run log sorted into good and malformed ones.

    Attributes:
        good: the indices (into the lines given to :func:`parse_rows`) of the good rows.
        values: their cells as floats, NaN for an empty cell; one list per good row.
        dropped: how many lines were malformed.
        first_bad: why the first malformed line was, e.g. ``"line 157 has 13 cells, expected 16"``.
    """

    good: list[int] = field(default_factory=list)
    values: list[list[float]] = field(default_factory=list)
    dropped: int = 0
    first_bad: str | None = None


def split_records(data: bytes) -> tuple[bytes | None, list[bytes], int]:
    """``(header, data_lines, complete)`` of a run log's bytes.

    ``header`` is the first line (``None`` if no line is complete), ``data_lines`` the complete
    lines after it, each without its ``b"\\n"``, and ``complete`` the number of bytes up to and
    including the last ``b"\\n"``: a last line without one is the row a crash interrupted and is
    in neither.
    """
    complete = data.rfind(_NEWLINE) + 1
    if complete == 0:
        return None, [], 0
    lines = data[: complete - 1].split(_NEWLINE)
    return lines[0], lines[1:], complete


def parse_header(line: bytes) -> list[str]:
    """The column names of a header line; :class:`HeaderError` if it is not one line of CSV text."""
    cells = _cells(line)
    if isinstance(cells, str):
        raise HeaderError(cells)
    return cells


def parse_rows(lines: Iterable[bytes], columns: list[str], first_line: int = 2) -> LogRows:
    """Parse data lines under ``columns``, keeping the good rows and counting the malformed ones.

    Args:
        lines: the data lines, each without its ``b"\\n"``.
        columns: the header's columns, ``step`` and ``time`` first.
        first_line: the line number of the first of ``lines`` in the file (1 is the header).
    """
    rows = LogRows()
    for index, line in enumerate(lines):
        parsed = _row(line, columns)
        if isinstance(parsed, str):
            rows.dropped += 1
            if rows.first_bad is None:
                rows.first_bad = f"line {first_line + index} {parsed}"
        else:
            rows.good.append(index)
            rows.values.append(parsed)
    return rows


def _cells(line: bytes) -> list[str] | str:
    """The cells of one line, or why it is not one line of CSV text."""
    if b"\x00" in line:
        return "holds a NUL byte"
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"is not valid UTF-8 (byte {line[error.start]:#04x} at offset {error.start})"
    if text.endswith("\r"):  # a "\r\n" line end, from an editor or an older writer
        text = text[:-1]
    if not text:
        return "is empty"
    if '"' not in text and "\r" not in text:
        return text.split(",")  # what every row CSVLogger writes is: no csv.reader per line
    try:
        # strict: an unterminated quote (a torn quoted cell) is an error, not a cell
        return next(csv.reader([text], strict=True))
    except csv.Error as error:
        return f"is not valid CSV ({error})"


def _row(line: bytes, columns: list[str]) -> list[float] | str:
    """One data line's cells as floats, or why the line is malformed."""
    cells = _cells(line)
    if isinstance(cells, str):
        return cells
    if len(cells) != len(columns):
        return f"has {len(cells)} cell{'' if len(cells) == 1 else 's'}, expected {len(columns)}"
    values = []
    for column, cell in zip(columns, cells):
        if not cell:
            values.append(math.nan)
            continue
        try:
            values.append(float(cell))
        except ValueError:
            return f"column {column!r} holds {cell!r}, expected a number"
    for j in range(_REQUIRED):
        if not math.isfinite(values[j]):
            return f"column {columns[j]!r} holds {cells[j]!r}, expected a finite number"
    return values


def replace_file(path: Path, chunks: Iterable[bytes]) -> None:
    """Replace ``path`` by ``chunks`` atomically: a temporary file, fsync, then ``os.replace``.

    A crash at any point leaves either the old file or the new one (and perhaps a stale
    ``<name>.tmp``, overwritten by the next replacement).
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as file:
            file.writelines(chunks)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable; best effort (Windows cannot open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
