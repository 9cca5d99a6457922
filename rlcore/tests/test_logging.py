"""rlcore.logging: the Logger interface, its backends, wrappers and make_logger."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
import tempfile
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rlcore.logging import (
    EPISODIC_RETURN_KEY,
    EVAL_RETURN_KEY,
    ConsoleLogger,
    CSVLogger,
    InMemoryLogger,
    KeyFilter,
    Logger,
    MultiLogger,
    TensorBoardLogger,
    WandbLogger,
    make_logger,
    read_csv_log,
)


class FakeClock:
    """A clock a test moves by hand."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class TTYStream(io.StringIO):
    def isatty(self) -> bool:
        return True


# ------------------------------------------------------------------ the write contract
def test_values_are_converted_to_plain_python_numbers():
    logger = InMemoryLogger()
    logger.write(
        {
            "f32": np.float32(0.5),
            "i64": np.int64(3),
            "arr0d": np.array(2.5),
            "tensor0d": torch.tensor(1.25),
            "flag": True,
            "int": 7,
        },
        step=np.int64(4),
    )
    step, values = logger.records[0]
    assert step == 4 and type(step) is int
    assert values == {"f32": 0.5, "i64": 3, "arr0d": 2.5, "tensor0d": 1.25, "flag": 1, "int": 7}
    assert [type(v) for v in values.values()] == [float, int, float, float, int, int]


@pytest.mark.parametrize(
    ("data", "step", "error", "match"),
    [
        ({"a": 1.0}, -1, ValueError, r"step must be an int >= 0, got -1"),
        ({"a": 1.0}, 1.5, ValueError, r"step must be an int >= 0, got 1\.5"),
        ({"a": 1.0}, True, ValueError, r"step must be an int >= 0, got True"),
        ([("a", 1.0)], 0, TypeError, r"data must be a mapping from str to a number, got list"),
        ({"": 1.0}, 0, ValueError, r"keys must be non-empty strings without line breaks, got ''"),
        ({3: 1.0}, 0, ValueError, r"keys must be non-empty strings without line breaks, got 3"),
        ({"a\nb": 1.0}, 0, ValueError, r"keys must be .* without line breaks, got 'a\\nb'"),
        ({"step": 1.0}, 0, ValueError, r"key 'step' is reserved .* pass step=\.\.\. instead"),
        ({"time": 1.0}, 0, ValueError, r"key 'time' is reserved"),
        ({"a": "1.0"}, 0, TypeError, r"value of 'a' must be a real scalar \(int or float\), got '1\.0'"),
        ({"a": np.ones(2)}, 0, TypeError, r"value of 'a' must be a real scalar .* got array\(\[1\., 1\.\]\)"),
        ({"a": 1 + 2j}, 0, TypeError, r"value of 'a' must be a real scalar"),
    ],
)
def test_bad_writes_raise_naming_the_logger_the_value_and_the_expectation(data, step, error, match):
    with pytest.raises(error, match=r"InMemoryLogger\.write: " + match):
        InMemoryLogger().write(data, step)


def test_logger_is_a_context_manager_that_closes_even_on_error():
    with pytest.raises(ZeroDivisionError), InMemoryLogger() as logger:
        logger.write({"a": 1}, step=0)
        _ = 1 / 0
    assert logger.closed
    with pytest.raises(RuntimeError, match=r"InMemoryLogger\.write: the logger is closed"):
        logger.write({"a": 1}, step=1)


def test_in_memory_logger_latest_names_the_known_keys():
    logger = InMemoryLogger()
    logger.write({"a": 1, "b": 2.0}, step=0)
    logger.write({"a": 3}, step=1)
    assert logger.latest("a") == 3 and logger.latest("b") == 2.0
    with pytest.raises(KeyError, match=r"no value was written under 'c'; keys written: \['a', 'b'\]"):
        logger.latest("c")


def test_logger_subclass_needs_only_write():
    class Printer(Logger):
        def __init__(self):
            self.lines = []

        def write(self, data, step):
            self.lines.append(f"{step}: {dict(data)}")

    with Printer() as printer:
        printer.write({"a": 1}, 2)
    printer.close()  # the default close is a no-op and may be repeated
    assert printer.lines == ["2: {'a': 1}"]


# ------------------------------------------------------------------ CSV run log
def _reference_table(writes, times):
    """What progress.csv must hold: a naive loop over the writes, NaN for absent keys."""
    columns = ["step", "time"]
    for values, _ in writes:
        columns += [k for k in values if k not in columns]
    table = {c: [] for c in columns}
    for (values, step), t in zip(writes, times):
        row = {"step": step, "time": t, **values}
        for c in columns:
            table[c].append(float(row[c]) if c in row else math.nan)
    return columns, table


KEYS = ["a", "loss/policy", 'say "hi"', "comma,key", "ünïcode"]
VALUES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=True, width=64),
    st.integers(min_value=-(2**63), max_value=2**63),
)
WRITES = st.lists(
    st.tuples(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=4), st.integers(0, 10**12)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=50, deadline=None)
@given(writes=WRITES)
def test_csv_round_trip_matches_a_naive_reference(writes):
    times = [0.25 * i for i in range(len(writes))]
    clock = FakeClock(100.0)
    with tempfile.TemporaryDirectory() as run_dir:
        with CSVLogger(run_dir, clock=clock) as logger:
            for (values, step), t in zip(writes, times):
                clock.now = 100.0 + t
                logger.write(values, step)
        log = read_csv_log(run_dir)
        with open(Path(run_dir, "progress.csv"), newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        leftovers = sorted(p.name for p in Path(run_dir).iterdir())
    columns, expected = _reference_table(writes, times)
    assert list(log) == columns
    for column in columns:
        np.testing.assert_array_equal(log[column], np.array(expected[column], dtype=np.float64))
    # Every row of the file has one cell per column, whatever the key appeared late.
    assert rows[0] == columns and all(len(row) == len(columns) for row in rows)
    assert leftovers == ["progress.csv"]  # no temporary file from a header rewrite


def test_header_grows_when_a_key_appears_late():
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as run_dir:
        with CSVLogger(run_dir, clock=clock) as logger:
            logger.write({"loss": 0.5}, step=0)
            clock.now = 1.5
            logger.write({"loss": 0.25}, step=10)
            logger.write({"eval/mean_return": 7}, step=20)
            assert logger.columns == ["step", "time", "loss", "eval/mean_return"]
            logger.write({"loss": 0.125, "eval/mean_return": 8}, step=30)
        text = Path(run_dir, "progress.csv").read_text()
    assert text == ("step,time,loss,eval/mean_return\n0,0.0,0.5,\n10,1.5,0.25,\n20,1.5,,7\n30,1.5,0.125,8\n")


def test_every_row_is_on_disk_before_the_next_write():
    with tempfile.TemporaryDirectory() as run_dir:
        logger = CSVLogger(run_dir, clock=FakeClock())
        path = Path(run_dir, "progress.csv")
        for step in range(3):
            logger.write({"x": step}, step=step)
            # Read through a separate handle: what another process (or a crash) would see.
            assert path.read_text().splitlines()[-1] == f"{step},0.0,{step}"
        logger.close()


def test_a_killed_process_loses_no_written_row():
    with tempfile.TemporaryDirectory() as run_dir:
        code = textwrap.dedent(
            f"""
            import os
            from rlcore.logging import CSVLogger
            logger = CSVLogger({run_dir!r}, fsync=True)
            for step in range(3):
                logger.write({{"x": step, "late_key" if step == 2 else "x2": 1.0}}, step=step)
            os._exit(1)  # no close, no interpreter shutdown: a crash
            """
        )
        subprocess.run([sys.executable, "-c", code], check=False)
        log = read_csv_log(run_dir)
    np.testing.assert_array_equal(log["x"], [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(log["late_key"], [math.nan, math.nan, 1.0])


def test_partial_last_line_is_ignored_by_the_reader_and_cut_by_append():
    with tempfile.TemporaryDirectory() as run_dir:
        path = Path(run_dir, "progress.csv")
        path.write_text("step,time,x\n0,1.0,5\n10,2.5,6\n20,3.0,")  # a crash while writing step 20
        np.testing.assert_array_equal(read_csv_log(run_dir)["step"], [0.0, 10.0])
        clock = FakeClock(50.0)
        with pytest.warns(UserWarning, match=r"dropped its unfinished last line \(7 bytes without a newline"):
            logger = CSVLogger(run_dir, append=True, clock=clock)
        with logger:
            clock.now = 52.0
            logger.write({"x": 7, "y": 1}, step=20)
        assert path.read_text() == "step,time,x,y\n0,1.0,5,\n10,2.5,6,\n20,4.5,7,1\n"


def test_append_false_replaces_an_existing_log_and_append_on_a_missing_file_starts_one():
    with tempfile.TemporaryDirectory() as run_dir:
        Path(run_dir, "progress.csv").write_text("step,time,old\n0,0.0,1\n")
        with CSVLogger(run_dir, clock=FakeClock()) as logger:
            logger.write({"new": 2}, step=5)
        assert Path(run_dir, "progress.csv").read_text() == "step,time,new\n5,0.0,2\n"
        with CSVLogger(Path(run_dir, "fresh"), append=True, clock=FakeClock()) as logger:
            logger.write({"a": 1}, step=0)
        assert Path(run_dir, "fresh", "progress.csv").read_text() == "step,time,a\n0,0.0,1\n"


def test_csv_logger_errors():
    with tempfile.TemporaryDirectory() as tmp:
        with pytest.raises(
            ValueError, match=r"CSVLogger: filename must be a plain file name, got 'a/b\.csv'"
        ):
            CSVLogger(tmp, filename="a/b.csv")
        Path(tmp, "file").write_text("")
        with pytest.raises(
            NotADirectoryError, match=r"CSVLogger: run_dir '.*file' exists and is not a directory"
        ):
            CSVLogger(Path(tmp, "file"))
        Path(tmp, "other").mkdir()
        Path(tmp, "other", "progress.csv").write_text("a,b\n1,2\n")
        with pytest.raises(
            ValueError,
            match=r"cannot append to .*header starts with \['a', 'b'\], expected \['step', 'time'\]",
        ):
            CSVLogger(Path(tmp, "other"), append=True)
        logger = CSVLogger(Path(tmp, "run"))
        logger.close()
        logger.close()
        with pytest.raises(
            RuntimeError, match=r"CSVLogger\.write: the logger of '.*progress\.csv' is closed"
        ):
            logger.write({"a": 1}, step=0)
        with pytest.raises(ValueError, match=r"CSVLogger\.write: step must be an int >= 0, got -3"):
            CSVLogger(Path(tmp, "run")).write({"a": 1}, step=-3)


@pytest.mark.parametrize(
    ("content", "error", "match"),
    [
        (None, FileNotFoundError, r"read_csv_log: no run log at '.*progress\.csv'"),
        ("", ValueError, r"has no complete header line"),
        (
            "x,y\n1,2\n",
            ValueError,
            r"has header \['x', 'y'\], expected unique columns starting with \['step', 'time'\]",
        ),
        ("step,time,a,a\n", ValueError, r"expected unique columns"),
    ],
)
def test_read_csv_log_errors_name_the_file_line_and_column(content, error, match):
    with tempfile.TemporaryDirectory() as run_dir:
        if content is not None:
            Path(run_dir, "progress.csv").write_text(content)
        with pytest.raises(error, match=match):
            read_csv_log(run_dir)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("step,time,a\n1,2\n", r"ignored 1 malformed row \(first: line 2 has 2 cells, expected 3\)"),
        ("step,time,a\n1,2,3\n1,2,oops\n", r"line 3 column 'a' holds 'oops', expected a number"),
    ],
)
def test_read_csv_log_skips_a_malformed_row_naming_its_line_and_column(content, match):
    with tempfile.TemporaryDirectory() as run_dir:
        Path(run_dir, "progress.csv").write_text(content)
        with pytest.warns(UserWarning, match=match):
            log = read_csv_log(run_dir)
    assert len(log["step"]) == content.count("\n") - 2


# ------------------------------------------------------------------ console
def test_console_line_mode_prints_once_per_interval_and_a_final_line():
    clock, out = FakeClock(), io.StringIO()
    logger = ConsoleLogger(total_steps=10_000, stream=out, interval_s=30.0, clock=clock)
    assert not logger.bar  # StringIO is not a terminal
    for i in range(1, 601):  # 600 writes over 60 s: two lines, not 600
        clock.now = i * 0.1
        logger.write({EPISODIC_RETURN_KEY: float(i)}, step=i * 10)
    logger.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    # Shown at t=0.1 (first write), t=30.1 and t=60.0 (close). Steps/s since the first write:
    # (3010 - 10) / 30 = 100 and (6000 - 10) / 59.9 = 100; ETA 6990 / 100 = 70 s and 4000 / 100 = 40 s.
    assert lines == [
        "10/10,000 steps (0%) | return 1.00 | elapsed 0:00:00",
        "3,010/10,000 steps (30%) | 100 steps/s | return 301.00 | elapsed 0:00:30 | eta 0:01:10",
        "6,000/10,000 steps (60%) | 100 steps/s | return 600.00 | elapsed 0:01:00 | eta 0:00:40",
    ]


def test_console_bar_mode_redraws_in_place_and_ends_the_line_on_close():
    clock, out = FakeClock(), TTYStream()
    logger = ConsoleLogger(total_steps=100, stream=out, refresh_s=1.0, width=10, clock=clock)
    assert logger.bar  # a terminal
    logger.write({EVAL_RETURN_KEY: 3.0}, step=0)
    clock.now = 0.5
    logger.write({}, step=20)  # within refresh_s: not drawn
    clock.now = 2.0
    logger.write({}, step=40)
    clock.now = 2.1
    logger.write({}, step=100)  # finished: drawn at once
    logger.close()
    frames = out.getvalue().split("\r")[1:]
    assert out.getvalue().count("\n") == 1 and out.getvalue().endswith("\n")
    assert frames[0] == "[..........] 0/100 steps (0%) | eval 3.00 | elapsed 0:00:00\x1b[K"
    assert (
        frames[1]
        == "[####......] 40/100 steps (40%) | 20 steps/s | eval 3.00 | elapsed 0:00:02 | eta 0:00:03\x1b[K"
    )
    assert frames[2].startswith(
        "[##########] 100/100 steps (100%) | 48 steps/s | eval 3.00 | elapsed 0:00:02\x1b[K"
    )
    assert len(frames) == 3  # close had nothing new to draw


def test_console_force_bar_on_a_pipe_and_lines_on_a_terminal():
    assert ConsoleLogger(stream=io.StringIO(), bar=True).bar
    assert not ConsoleLogger(stream=TTYStream(), bar=False).bar


def test_console_without_total_steps_and_with_custom_keys(capsys):
    clock = FakeClock()
    logger = ConsoleLogger(show={"loss": "loss"}, clock=clock)
    logger.write({"loss": 0.123, EPISODIC_RETURN_KEY: 1.0}, step=5)
    logger.close()
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout stays clean
    assert captured.err == "5 steps | loss 0.12 | elapsed 0:00:00\n"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"total_steps": 0}, r"ConsoleLogger: total_steps must be None or an int >= 1, got 0"),
        ({"total_steps": 1.5}, r"total_steps must be None or an int >= 1, got 1\.5"),
        ({"interval_s": -1.0}, r"ConsoleLogger: interval_s must be a finite number >= 0, got -1\.0"),
        ({"refresh_s": math.inf}, r"ConsoleLogger: refresh_s must be a finite number >= 0, got inf"),
        ({"width": 0}, r"ConsoleLogger: width must be an int >= 1, got 0"),
    ],
)
def test_console_constructor_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConsoleLogger(stream=io.StringIO(), **kwargs)


# ------------------------------------------------------------------ TensorBoard
def test_tensorboard_scalars_read_back_from_the_event_file():
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    rng = np.random.default_rng(0)
    values = rng.normal(size=(5, 2))
    with tempfile.TemporaryDirectory() as run_dir:
        with TensorBoardLogger(run_dir) as logger:
            for i, (a, b) in enumerate(values):
                logger.write({"train/a": a, "eval/b": b}, step=100 * i)
        accumulator = EventAccumulator(run_dir)
        accumulator.Reload()
        assert sorted(accumulator.Tags()["scalars"]) == ["eval/b", "train/a"]
        for column, tag in enumerate(["train/a", "eval/b"]):
            events = accumulator.Scalars(tag)
            assert [e.step for e in events] == [0, 100, 200, 300, 400]
            # TensorBoard stores scalars as float32.
            np.testing.assert_array_equal([e.value for e in events], values[:, column].astype(np.float32))
        with pytest.raises(RuntimeError, match=r"TensorBoardLogger\.write: the logger of '.*' is closed"):
            logger.write({"a": 1}, step=0)


@pytest.mark.parametrize(
    ("module", "backend", "cls", "match"),
    [
        (
            "torch.utils.tensorboard",
            "tensorboard",
            TensorBoardLogger,
            r"TensorBoardLogger needs TensorBoard.*",
        ),
        ("wandb", "wandb", WandbLogger, r"WandbLogger needs Weights & Biases.*"),
    ],
)
def test_optional_backend_without_its_package_names_the_extra(monkeypatch, module, backend, cls, match):
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail even where it is installed
    extra = rf'pip install "rlcore\[{backend}\]"'
    with tempfile.TemporaryDirectory() as run_dir:
        with pytest.raises(ImportError, match=match + extra):
            cls(run_dir)
        with pytest.raises(ImportError, match=extra):
            make_logger(run_dir, backends=("csv", backend))
        assert list(Path(run_dir).iterdir()) == []  # no run log replaced before the failure


def test_tensorboard_flush_secs_error():
    with pytest.raises(ValueError, match=r"TensorBoardLogger: flush_secs must be a number > 0, got 0"):
        TensorBoardLogger("unused", flush_secs=0)


# ------------------------------------------------------------------ Weights & Biases
def test_wandb_logger_calls_init_log_and_finish(monkeypatch):
    calls = []

    class FakeRun:
        def log(self, data, step):
            calls.append(("log", data, step))

        def finish(self):
            calls.append(("finish",))

    fake = types.ModuleType("wandb")
    fake.init = lambda **kwargs: calls.append(("init", kwargs)) or FakeRun()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp, "ppo_seed3")
        with WandbLogger(run_dir, project="proj", config={"lr": 0.1}, tags=["x"]) as logger:
            logger.write({"loss": np.float32(0.5)}, step=7)
        logger.close()
        assert calls == [
            (
                "init",
                {
                    "id": (run_dir / "wandb-id.txt").read_text(encoding="utf-8").strip(),
                    "project": "proj",
                    "dir": str(run_dir),
                    "config": {"lr": 0.1},
                    "tags": ["x"],
                    "name": "ppo_seed3",
                },
            ),
            ("log", {"loss": 0.5}, 7),
            ("finish",),
        ]


def test_wandb_offline_run_writes_its_files(monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    with tempfile.TemporaryDirectory() as run_dir:
        with WandbLogger(run_dir, project="rlcore-test") as logger:
            logger.write({"a": 1.0}, step=0)
            logger.write({"a": 2.0}, step=1)
        assert any(Path(run_dir, "wandb").glob("offline-run-*"))


# ------------------------------------------------------------------ wrappers
def test_multi_logger_fans_out_and_rejects_bad_data_before_any_backend():
    a, b = InMemoryLogger(), InMemoryLogger()
    logger = MultiLogger([a, b])
    logger.write({"x": np.int32(2)}, step=3)
    with pytest.raises(TypeError, match=r"MultiLogger\.write: value of 'y' must be a real scalar"):
        logger.write({"x": 1, "y": None}, step=4)
    assert a.records == b.records == [(3, {"x": 2})]


def test_multi_logger_closes_every_logger_and_reraises_the_first_error():
    class Broken(InMemoryLogger):
        def close(self):
            super().close()
            raise OSError("disk gone")

    first, broken, last = InMemoryLogger(), Broken(), InMemoryLogger()
    with pytest.raises(OSError, match="disk gone"):
        MultiLogger([first, broken, last]).close()
    assert first.closed and broken.closed and last.closed


def test_multi_logger_type_error():
    with pytest.raises(
        TypeError, match=r"MultiLogger: loggers\[1\] must be an rlcore\.logging\.Logger, got 'csv'"
    ):
        MultiLogger([InMemoryLogger(), "csv"])


@settings(max_examples=50, deadline=None)
@given(
    keys=st.lists(
        st.sampled_from(["eval/ret", "eval/debug_x", "loss", "loss/v", "fps", "train/ret"]), unique=True
    ),
    keep=st.one_of(st.none(), st.lists(st.sampled_from(["eval/*", "loss", "*ret", "fps"]))),
    drop=st.lists(st.sampled_from(["eval/debug_*", "loss/*", "fps"])),
)
def test_key_filter_matches_a_naive_reference(keys, keep, drop):
    def matches(key, pattern):  # "*" is the only wildcard the patterns use
        head, star, tail = pattern.partition("*")
        return (
            key == pattern
            if not star
            else key.startswith(head) and key.endswith(tail) and len(key) >= len(pattern) - 1
        )

    inner = InMemoryLogger()
    KeyFilter(inner, keep=keep, drop=drop).write({k: 1.0 for k in keys}, step=0)
    expected = [
        k
        for k in keys
        if (keep is None or any(matches(k, p) for p in keep)) and not any(matches(k, p) for p in drop)
    ]
    assert inner.records == ([(0, dict.fromkeys(expected, 1.0))] if expected else [])


def test_key_filter_closes_the_inner_logger_and_validates():
    inner = InMemoryLogger()
    with KeyFilter(inner, drop=["x"]):
        pass
    assert inner.closed
    with pytest.raises(
        TypeError, match=r"KeyFilter: keep must be a list of patterns such as \['eval/\*'\], got 'eval/\*'"
    ):
        KeyFilter(inner, keep="eval/*")
    with pytest.raises(TypeError, match=r"KeyFilter: drop patterns must be non-empty strings, got 3"):
        KeyFilter(inner, drop=[3])
    with pytest.raises(TypeError, match=r"KeyFilter: logger must be an rlcore\.logging\.Logger, got None"):
        KeyFilter(None)


# ------------------------------------------------------------------ make_logger
def test_make_logger_writes_the_run_log_config_and_console(capsys):
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp, "runs", "ppo", "seed_1")
        config = {"lr": 3e-4, "seed": 1, "env": {"id": "CartPole-v1"}, "path": Path("/data")}
        with make_logger(run_dir, config=config, total_steps=100) as logger:
            logger.write({EPISODIC_RETURN_KEY: 12.5}, step=50)
        assert json.loads(Path(run_dir, "config.json").read_text()) == {
            "lr": 3e-4,
            "seed": 1,
            "env": {"id": "CartPole-v1"},
            "path": "/data",
        }
        np.testing.assert_array_equal(read_csv_log(run_dir)[EPISODIC_RETURN_KEY], [12.5])
        # csv is always on, even when not listed; a name listed twice counts once.
        with make_logger(Path(tmp, "other"), backends=("tensorboard", "csv", "csv")) as logger:
            logger.write({"a": 1}, step=0)
        names = sorted(p.name.split(".")[0] for p in Path(tmp, "other").iterdir())
        assert names == ["events", "progress"]
    assert "50/100 steps (50%) | return 12.50" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("backends", "kwargs", "error", "match"),
    [
        (
            ("csv", "tqdm"),
            {},
            ValueError,
            r"make_logger: unknown backend 'tqdm', expected one of \('csv', 'console', 'tensorboard', 'wandb'\)",
        ),
        ("csv", {}, TypeError, r"make_logger: backends must be a sequence of names from .* got 'csv'"),
        (
            ("csv",),
            {"wandb_kwargs": {"entity": "me"}},
            ValueError,
            r'wandb_kwargs was given but backends does not include "wandb"',
        ),
    ],
)
def test_make_logger_errors(backends, kwargs, error, match):
    with tempfile.TemporaryDirectory() as run_dir, pytest.raises(error, match=match):
        make_logger(run_dir, backends=backends, **kwargs)


def test_importing_rlcore_logging_loads_no_optional_dependency():
    code = textwrap.dedent(
        """
        import json, sys
        import gymnasium, numpy, torch
        theirs = set(sys.modules)  # torch.hub imports tqdm where it is installed: not ours
        import rlcore.logging, rlcore.analysis
        heavy = ("tensorboard", "torch.utils.tensorboard", "wandb", "matplotlib", "tqdm", "rich", "pandas")
        ours = set(sys.modules) - theirs
        print(json.dumps(sorted(m for m in ours if m.split(".")[0] in heavy or m in heavy)))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
