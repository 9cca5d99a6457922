"""rlcore.logging against the faults of issue 14: torn and malformed rows in ``progress.csv``, and log
keys that would make it unreadable. Each test reproduces an input that the adversarial review found;
each raised (``IndexError``, ``ValueError``) or misread the file before the fix.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import tempfile
import unicodedata
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rlcore.logging._base as base
from rlcore.analysis import select_runs
from rlcore.cli import main
from rlcore.logging import (
    EPISODIC_RETURN_KEY,
    EVAL_RETURN_KEY,
    ConsoleLogger,
    CSVLogger,
    InMemoryLogger,
    KeyFilter,
    Logger,
    MultiLogger,
    make_logger,
    read_csv_log,
)


class FakeClock:
    """A clock a test moves by hand."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


HEADER = b"step,time,a,b"
GOOD = [b"0,0.5,1.0,2.0", b"10,1.0,3.0,", b"20,1.5,,4.0", b"30,2.0,5.0,6.0"]


def write_log(run_dir: Path, lines: list[bytes], tail: bytes = b"") -> Path:
    """``run_dir/progress.csv``: the header, then ``lines``, each ended by ``b"\\n"``, then ``tail``."""
    path = run_dir / "progress.csv"
    path.write_bytes(b"".join(line + b"\n" for line in [HEADER, *lines]) + tail)
    return path


def parse_good(lines: list[bytes]) -> dict[str, np.ndarray]:
    """What a reader must return for good lines: their cells as floats, NaN when empty."""
    columns = HEADER.decode().split(",")
    rows = [[float(cell) if cell else math.nan for cell in line.decode().split(",")] for line in lines]
    values = np.array(rows, dtype=np.float64).reshape(len(rows), len(columns))
    return {column: values[:, j] for j, column in enumerate(columns)}


def assert_log_equal(log: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert list(log) == list(expected)
    for column in expected:
        np.testing.assert_array_equal(log[column], expected[column], err_msg=column)


def read_quietly(run_dir: Path) -> dict[str, np.ndarray]:
    """``read_csv_log`` with every warning an error: the file must be clean."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return read_csv_log(run_dir)


# One case per input the review found: (the data lines, the first bad line, why it is bad).
# Line 1 is the header, so the first data line is line 2.
MALFORMED = {
    "torn last row of many cells": ([*GOOD[:3], b"30,2.0,5.0"], 5, "has 3 cells, expected 4"),
    "torn row of one cell": ([*GOOD[:2], b"2"], 4, "has 1 cell, expected 4"),
    "wrong cell count in the middle": (
        [GOOD[0], b"5,0.7,1.0,2.0,9.0", *GOOD[1:]],
        3,
        "has 5 cells, expected 4",
    ),
    "a cell that is not a number": ([GOOD[0], b"5,0.7,1.O,2.0", *GOOD[1:]], 3, "column 'a' holds '1.O'"),
    "an empty line in the middle": ([GOOD[0], b"", *GOOD[1:]], 3, "is empty"),
    "an empty line at the end": ([*GOOD, b""], 6, "is empty"),
    "a NUL byte in a row": ([GOOD[0], b"10,1.0,3\x00.0,", *GOOD[2:]], 3, "holds a NUL byte"),
    "a row zeroed by a power loss": ([*GOOD[:2], b"\x00" * 13, *GOOD[2:]], 4, "holds a NUL byte"),
    "invalid UTF-8": ([GOOD[0], b"10,1.0,\xff\xfe,", *GOOD[2:]], 3, r"is not valid UTF-8 \(byte 0xff"),
    "a carriage return inside a row": ([GOOD[0], b"10,1.0\r,3.0,", *GOOD[2:]], 3, "is not valid CSV"),
    "a torn quoted cell": ([GOOD[0], b'10,1.0,"3.0,', *GOOD[2:]], 3, "is not valid CSV"),
    "a row without a step": ([GOOD[0], b",,1.0,2.0", *GOOD[1:]], 3, "column 'step' holds ''"),
    "a row with a NaN time": ([GOOD[0], b"5,nan,1.0,2.0", *GOOD[1:]], 3, "column 'time' holds 'nan'"),
    "two bad rows, the first named": ([GOOD[0], b"7", GOOD[1], b"x,y,z,w", *GOOD[2:]], 3, "has 1 cell"),
}


def _good(lines: list[bytes]) -> list[bytes]:
    return [line for line in lines if line in GOOD]


def _rows(count: int) -> str:
    return f"{count} malformed row" + ("" if count == 1 else "s")


@pytest.mark.parametrize(("lines", "line", "why"), MALFORMED.values(), ids=MALFORMED.keys())
def test_read_csv_log_skips_malformed_rows_with_one_warning_naming_the_file_count_and_first(
    tmp_path, lines, line, why
):
    path = write_log(tmp_path, lines)
    dropped = len(lines) - len(_good(lines))
    with pytest.warns(UserWarning) as record:
        log = read_csv_log(tmp_path)
    assert len(record) == 1, [str(w.message) for w in record]
    assert re.match(
        rf"read_csv_log: {re.escape(repr(str(path)))}: ignored {_rows(dropped)} \(first: line {line} {why}",
        str(record[0].message),
    ), str(record[0].message)
    assert_log_equal(log, parse_good(_good(lines)))


@pytest.mark.parametrize(("lines", "line", "why"), MALFORMED.values(), ids=MALFORMED.keys())
def test_append_drops_malformed_rows_and_continues_time_from_the_last_good_row(tmp_path, lines, line, why):
    path = write_log(tmp_path, lines, tail=b"40,2.5,")  # and a crash mid-row at the end
    dropped = len(lines) - len(_good(lines))
    clock = FakeClock(100.0)
    with pytest.warns(UserWarning) as record:
        logger = CSVLogger(tmp_path, append=True, clock=clock)
    assert len(record) == 1, [str(w.message) for w in record]
    assert re.match(
        rf"CSVLogger: {re.escape(repr(str(path)))}: dropped {_rows(dropped)} before appending "
        rf"\(first: line {line} {why}",
        str(record[0].message),
    ), str(record[0].message)
    clock.now = 101.25
    with logger:
        logger.write({"b": 7.0, "c": 8}, step=50)  # a new column: the header grows too
    good = _good(lines)
    last_time = float(good[-1].split(b",")[1])
    new_row = f"50,{last_time + 1.25},,7.0,8\n".encode()
    assert path.read_bytes() == b"step,time,a,b,c\n" + b"".join(line + b",\n" for line in good) + new_row
    log = read_quietly(tmp_path)
    np.testing.assert_array_equal(log["step"], [*parse_good(good)["step"], 50.0])


def test_a_resumed_logger_on_a_torn_log_writes_a_readable_file(tmp_path):
    with CSVLogger(tmp_path, clock=FakeClock(3.0)) as logger:
        for step in range(3):
            logger.write({"loss": step / 2}, step=step)
    with (tmp_path / "progress.csv").open("ab") as file:
        file.write(b"3\n")  # torn to one cell: IndexError on resume before the fix
    for attempt in range(2):  # resumed twice: the second finds a clean file and says nothing
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            with CSVLogger(tmp_path, append=True, clock=FakeClock()) as logger:
                logger.write({"loss": 9.0}, step=3 + attempt)
        assert len(record) == (1 if attempt == 0 else 0)
    log = read_quietly(tmp_path)
    np.testing.assert_array_equal(log["step"], [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(log["loss"], [0.0, 0.5, 1.0, 9.0, 9.0])


def test_a_clean_log_is_neither_warned_about_nor_rewritten_on_append(tmp_path, monkeypatch):
    path = write_log(tmp_path, GOOD)
    before = path.stat()
    replaced = []
    monkeypatch.setattr(os, "replace", lambda *args: replaced.append(args))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CSVLogger(tmp_path, append=True, keep=lambda row: True).close()
        assert_log_equal(read_csv_log(tmp_path), parse_good(GOOD))
    assert replaced == [] and path.stat().st_ino == before.st_ino
    assert path.read_bytes() == b"".join(line + b"\n" for line in [HEADER, *GOOD])
    # A partial last line alone is cut off in place, without a rewrite, and said.
    path.write_bytes(path.read_bytes() + b"40,3.")
    with pytest.warns(UserWarning, match=r"dropped its unfinished last line \(5 bytes without a newline"):
        CSVLogger(tmp_path, append=True).close()
    assert replaced == [] and path.read_bytes().endswith(GOOD[-1] + b"\n")


# ------------------------------------------------------------------ a bad header is still an error
@pytest.mark.parametrize(
    ("content", "reader", "appender"),
    [
        (
            b"step,time,\xff\n0,0.0,1\n",
            r"has a header line that is not valid UTF-8",
            "its header line is not valid UTF-8",
        ),
        (
            b"step,time,a\x00\n0,0.0,1\n",
            "has a header line that holds a NUL byte",
            "its header line holds a NUL byte",
        ),
        (b"\n0,0.0\n", "has a header line that is empty", "its header line is empty"),
        (
            b'step,time,"a\n0,0.0,1\n',
            "has a header line that is not valid CSV",
            "its header line is not valid CSV",
        ),
        (
            b"step,time,a,a\n0,0.0,1,2\n",
            r"has header \['step', 'time', 'a', 'a'\], expected unique columns",
            r"its header repeats the column\(s\) \['a'\]",
        ),
    ],
    ids=["invalid UTF-8", "NUL byte", "empty", "torn quote", "repeated column"],
)
def test_a_bad_header_is_a_value_error_naming_the_file(tmp_path, content, reader, appender):
    path = tmp_path / "progress.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"read_csv_log: {re.escape(repr(str(path)))} {reader}"):
        read_csv_log(tmp_path)
    with pytest.raises(
        ValueError, match=rf"CSVLogger: cannot append to {re.escape(repr(str(path)))}: {appender}"
    ):
        CSVLogger(tmp_path, append=True)
    assert path.read_bytes() == content  # left as it was


@pytest.mark.parametrize("char", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"])
def test_an_old_log_with_a_line_separator_in_a_key_reads_and_appends(tmp_path, char):
    # rlcore 0.2 accepted such keys; str.splitlines split the header on them.
    key = f"a{char}b"
    path = tmp_path / "progress.csv"
    path.write_bytes(f"step,time,{key},c\n0,0.5,1,2\n10,1.0,3,\n".encode())
    log = read_quietly(tmp_path)
    assert list(log) == ["step", "time", key, "c"]
    np.testing.assert_array_equal(log[key], [1.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with CSVLogger(tmp_path, append=True, clock=FakeClock()) as logger:
            logger.write({"c": 5.0}, step=20)
    np.testing.assert_array_equal(read_quietly(tmp_path)["c"], [2.0, math.nan, 5.0])


# ------------------------------------------------------------------ keep: the rows a resumed run keeps
def test_keep_drops_rows_with_the_malformed_ones_in_one_atomic_rewrite(tmp_path, monkeypatch):
    lines = [GOOD[0], b"5", GOOD[1], GOOD[2], GOOD[3]]  # a torn row, and rows after the checkpoint
    path = write_log(tmp_path, lines, tail=b"40,2.")
    seen: list[dict[str, float]] = []

    def keep(row):
        seen.append(dict(row))
        return row["step"] <= 10

    real_replace, replaced = os.replace, []

    def spy(src, dst):
        replaced.append((Path(src), Path(dst), Path(src).read_bytes()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    clock = FakeClock(50.0)
    with pytest.warns(
        UserWarning, match=r"dropped 1 malformed row before appending \(first: line 3 has 1 cell"
    ):
        logger = CSVLogger(tmp_path, append=True, keep=keep, clock=clock)
    kept = HEADER + b"\n" + GOOD[0] + b"\n" + GOOD[1] + b"\n"
    # One os.replace, of a temporary file that already held the result; none left behind.
    assert replaced == [(tmp_path / "progress.csv.tmp", path, kept)]
    assert path.read_bytes() == kept and not (tmp_path / "progress.csv.tmp").exists()
    # keep saw every good row, as floats with NaN for an empty cell; not the torn one.
    assert [row["step"] for row in seen] == [0.0, 10.0, 20.0, 30.0]
    assert list(seen[1]) == ["step", "time", "a", "b"] and math.isnan(seen[1]["b"])
    clock.now = 52.0
    with logger:
        logger.write({"a": 11.0}, step=20)
    assert path.read_bytes() == kept + b"20,3.0,11.0,\n"  # time continues from 1.0, step 10's


def test_a_crash_during_the_rewrite_leaves_the_old_log(tmp_path, monkeypatch):
    path = write_log(tmp_path, [GOOD[0], b"5", GOOD[1]])
    before = path.read_bytes()

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.warns(UserWarning, match="dropped 1 malformed row"), pytest.raises(OSError, match="No space"):
        CSVLogger(tmp_path, append=True, keep=lambda row: row["step"] < 5)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["progress.csv"]


def test_keep_everything_dropped_restarts_time_and_keep_is_checked(tmp_path):
    write_log(tmp_path, GOOD)
    with CSVLogger(tmp_path, append=True, keep=lambda row: False, clock=FakeClock(4.0)) as logger:
        logger.write({"a": 1.0}, step=0)
    assert (tmp_path / "progress.csv").read_bytes() == HEADER + b"\n0,0.0,1.0,\n"
    with pytest.raises(TypeError, match=r"CSVLogger: keep must be None or a callable taking a row, got 3"):
        CSVLogger(tmp_path, append=True, keep=3)  # type: ignore[arg-type]


def test_make_logger_forwards_keep_rows_to_the_run_log(tmp_path):
    write_log(tmp_path, GOOD)
    with make_logger(tmp_path, ("csv",), append=True, keep_rows=lambda row: row["step"] < 20) as logger:
        logger.write({"b": 9.0}, step=20)
    log = read_quietly(tmp_path)
    np.testing.assert_array_equal(log["step"], [0.0, 10.0, 20.0])
    np.testing.assert_array_equal(log["b"], [2.0, math.nan, 9.0])


# ------------------------------------------------------------------ readers above read_csv_log
def test_rlcore_summarize_reads_a_run_whose_log_has_a_torn_row(tmp_path, capsys):
    run_dir = tmp_path / "runs" / "seed0"
    with CSVLogger(run_dir, clock=lambda: 0.0) as logger:
        logger.write({EPISODIC_RETURN_KEY: 4.0}, step=0)
        logger.write({EVAL_RETURN_KEY: 5.0}, step=100)
    with (run_dir / "progress.csv").open("ab") as file:
        file.write(b"150,0.0,\n200,0.0,,7.0\n")  # a torn row, then the resumed run's row
    with pytest.warns(
        UserWarning, match=r"ignored 1 malformed row \(first: line 4 has 3 cells, expected 4\)"
    ):
        assert main(["summarize", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("final eval/mean_return per run (its last logged value); 1 configuration(s)")
    assert "7.00" in out.splitlines()[-1]


def test_a_run_whose_every_row_is_malformed_logged_no_data(tmp_path):
    for name in ("a", "b"):
        (tmp_path / "runs" / name).mkdir(parents=True)
    write_log(tmp_path / "runs" / "a", [GOOD[0]])
    write_log(tmp_path / "runs" / "b", [b"\x00\x00", b"1"])
    with pytest.warns(UserWarning, match="ignored 2 malformed rows"):
        selection = select_runs([tmp_path / "runs"], "a")
    assert [run.path.name for run in selection.runs] == ["a"]
    assert [path.name for path in selection.no_data] == ["b"]


# ------------------------------------------------------------------ hypothesis: garbage among good rows
def naive_read(data: bytes) -> tuple[list[str], list[list[float]], int]:
    """A reference reader: (columns, good rows, number of malformed complete lines).

    Whole-file split on b"\\n"; each line decoded, then csv.reader on its own (after one
    trailing "\\r"); good iff it is one CSV record of numbers with a finite step and time.
    """
    *complete, _partial = data.split(b"\n")
    columns = complete[0].decode().split(",")
    rows, bad = [], 0
    for line in complete[1:]:
        try:
            text = line.decode("utf-8")
            if "\x00" in text:
                raise ValueError("NUL")
            [cells] = list(csv.reader([text.removesuffix("\r")], strict=True))
            if len(cells) != len(columns):
                raise ValueError("cells")
            row = [float(cell) if cell else math.nan for cell in cells]
            if not (math.isfinite(row[0]) and math.isfinite(row[1])):
                raise ValueError("step")
        except (ValueError, csv.Error):
            bad += 1
            continue
        rows.append(row)
    return columns, rows, bad


CELL = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**20), 10**20))
ROW = st.fixed_dictionaries({}, optional={"a": CELL, "b": CELL}).map(
    lambda r: {k: v for k, v in r.items() if v is not None}
)
GARBAGE = st.one_of(
    st.binary(max_size=24).filter(lambda b: b"\n" not in b),
    st.text(st.sampled_from('0123456789.,-+einfa _"\r\x00\x0b\x85\u2028\ufeff'), max_size=24).map(str.encode),
    st.lists(st.sampled_from(["", "1", "2.5", "nan", "x", "1e3"]), max_size=7).map(
        lambda c: ",".join(c).encode()
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(ROW, max_size=8),
    garbage=st.lists(st.tuples(st.integers(0, 8), GARBAGE), max_size=5),
    tail=st.binary(max_size=10).filter(lambda b: b"\n" not in b),
)
def test_readers_return_exactly_the_good_rows_among_random_garbage(rows, garbage, tail):
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        with CSVLogger(run_dir, clock=FakeClock(1.5)) as logger:
            logger.write({"a": 0.0, "b": 0.0}, step=0)  # both columns, in this order
            for step, row in enumerate(rows, start=1):
                logger.write(row, step=step)
        path = run_dir / "progress.csv"
        header, *written = path.read_bytes().split(b"\n")[:-1]
        lines = list(written)
        for position, line in sorted(garbage, reverse=True):
            lines.insert(min(position, len(lines)), line)
        data = b"\n".join([header, *lines]) + b"\n" + tail
        path.write_bytes(data)
        columns, expected, bad = naive_read(data)
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            log = read_csv_log(run_dir)
        assert len(record) == (1 if bad else 0)
        if bad:
            assert f"ignored {_rows(bad)} (first: line " in str(record[0].message)
        values = np.array(expected, dtype=np.float64).reshape(len(expected), len(columns))
        assert list(log) == columns
        for j, column in enumerate(columns):
            np.testing.assert_array_equal(log[column], values[:, j])
        # Every row the writer wrote survives the garbage around it (it may also keep a garbage
        # line that happens to be a good row).
        assert len(expected) >= len(written)
        # And append keeps exactly the good lines, byte for byte, then reads back clean.
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            CSVLogger(run_dir, append=True).close()
        assert len(record) == (1 if bad or tail else 0)
        good_lines = [
            line for line in data.split(b"\n")[1:-1] if naive_read(header + b"\n" + line + b"\n")[1]
        ]
        assert path.read_bytes() == b"".join(line + b"\n" for line in [header, *good_lines])
        for column, values_read in read_quietly(run_dir).items():
            np.testing.assert_array_equal(values_read, log[column])


# ------------------------------------------------------------------ keys
BAD_KEY_CHARS = [
    "\x0b", "\x85", "\u2028", "\x1c", "\n", "\r", "\x00", "\x0c", "\x1d", "\x1e", "\u2029",
    "\t", "\x1b", "\x7f", "\x9f", "\ufeff", "\u202e", "\u200b", "\ud800",
]  # fmt: skip


BACKENDS: dict[str, Callable[[Path], Logger]] = {
    "InMemoryLogger": lambda run_dir: InMemoryLogger(),
    "CSVLogger": lambda run_dir: CSVLogger(run_dir / "csv"),
    "ConsoleLogger": lambda run_dir: ConsoleLogger(stream=io.StringIO()),
    "MultiLogger": lambda run_dir: MultiLogger([InMemoryLogger()]),
    "KeyFilter": lambda run_dir: KeyFilter(InMemoryLogger(), keep=["*"]),
}


@pytest.mark.parametrize("char", BAD_KEY_CHARS, ids=[f"U+{ord(c):04X}" for c in BAD_KEY_CHARS])
@pytest.mark.parametrize("backend", list(BACKENDS))
def test_every_backend_refuses_a_key_with_a_line_break_or_control_character(tmp_path, char, backend):
    key = f"loss{char}x"
    logger = BACKENDS[backend](tmp_path)
    with pytest.raises(ValueError) as error:
        logger.write({"ok": 1.0, key: 1.0}, step=0)
    assert str(error.value).startswith(
        f"{backend}.write: keys must be non-empty strings without line breaks, got {key!r}: it holds "
        f"{char!r} (U+{ord(char):04X}, "
    ), str(error.value)
    assert "at index 4" in str(error.value)
    logger.close()
    if backend == "CSVLogger":
        assert (tmp_path / "csv" / "progress.csv").read_text() == "step,time\n"  # nothing written


def test_every_character_splitlines_splits_on_and_every_control_character_is_refused():
    refused = [
        chr(code)
        for code in range(0x110000)
        if len(f"a{chr(code)}b".splitlines()) > 1 or unicodedata.category(chr(code)) in ("Cc", "Zl", "Zp")
    ]
    assert len(refused) == 65 + 2  # C0 (32), DEL, C1 (32); U+2028, U+2029
    for char in refused:
        with pytest.raises(ValueError, match=rf"\(U\+{ord(char):04X}, "):
            base.check_log_data({f"k{char}": 1.0}, 0, "w")


@pytest.mark.parametrize(
    "key",
    ["loss/π", "a b", "a,b", 'say "hi"', "می\u200cخواهم", "👨\u200d👩\u200d👧", "x\u00a0y", "ключ"],
    ids=["pi", "space", "comma", "quote", "ZWNJ", "ZWJ emoji", "NBSP", "cyrillic"],
)
def test_a_printable_key_round_trips_through_the_run_log(tmp_path, key):
    with CSVLogger(tmp_path, clock=FakeClock()) as logger:
        logger.write({key: 2.5}, step=3)
    log = read_quietly(tmp_path)
    assert list(log) == ["step", "time", key] and log[key].tolist() == [2.5]


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_categories=()), min_size=1, max_size=6))
def test_a_key_is_refused_or_round_trips_exactly(key):
    try:
        base.check_log_data({key: 1.0}, 0, "w")
    except ValueError as error:
        assert key in ("step", "time") or "U+" in str(error)
        return
    assert not any(len(f"a{c}b".splitlines()) > 1 or unicodedata.category(c) in ("Cc", "Cs") for c in key)
    with tempfile.TemporaryDirectory() as run_dir:
        with CSVLogger(run_dir, clock=FakeClock()) as logger:
            logger.write({key: 1.0}, step=0)
            logger.write({key: 2.0, key + "_2": 3.0}, step=1)  # and once more through a header rewrite
        log = read_quietly(Path(run_dir))
    assert list(log) == ["step", "time", key, key + "_2"] and log[key].tolist() == [1.0, 2.0]


def test_a_key_is_checked_once_and_the_checked_keys_are_bounded(monkeypatch):
    calls: list[object] = []
    check = base._check_key
    monkeypatch.setattr(base, "_check_key", lambda key, where: (calls.append(key), check(key, where))[1])
    monkeypatch.setattr(base, "_CHECKED_KEYS", set())
    monkeypatch.setattr(base, "_MAX_CHECKED", 4)
    key = f"fresh-{uuid.uuid4()}"
    for step in range(100):
        base.check_log_data({key: 1.0}, step, "w")
    assert calls == [key]
    for i in range(10):
        base.check_log_data({f"k{i}": 1.0}, 0, "w")
    assert len(base._CHECKED_KEYS) <= 4
    with pytest.raises(ValueError, match=r"key 'step' is reserved"):  # never cached
        base.check_log_data({"step": 1.0}, 0, "w")
    with pytest.raises(ValueError, match=r"key 'step' is reserved"):
        base.check_log_data({"step": 1.0}, 0, "w")
