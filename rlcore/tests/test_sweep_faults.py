"""Adversarial cases for the sweep's options: every bad value refused at once, and named.

Each test reproduces an input from the review of issue #14 ("runs that survive faults"): a
seed range typed with extra digits (``--seeds 0-99999`` for ``0-9``) that took quadratic time
to parse, seeds NumPy cannot seed with, and numbers (``nan``, ``inf``, ``1e400``, ``-1``, ``0``)
that reached ``int()``, Ray or the progress loop instead of a message naming the option, the
value and what is expected. The refusals come before any trial runs.
"""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlcore import sweep
from rlcore.runs import Registry
from rlcore.testing import tiny_agent

TINY = ["--total-timesteps", "128", "--eval-every", "64", "--checkpoint-every", "64"]
EXPECTED_SEEDS = "expected seeds >= 0 as whole numbers: 0-4, 0,3,7 or 0-2,10"
WHITESPACE = " \t\n\r\f\v"  # what the sweep strips around a seed (ASCII only)


@pytest.fixture
def registry() -> Registry:
    return Registry(tiny_agent())


# ---------------------------------------------------------------------------------- --seeds
def reference_seeds(text: str) -> list[int] | None:
    """The seeds of ``text`` read the slow, obvious way; None where the sweep must refuse it."""
    seeds: list[int] = []
    for part in text.split(","):
        ends = [end.strip(WHITESPACE) for end in part.split("-")]
        if len(ends) > 2 or not all(end and all(char in "0123456789" for char in end) for end in ends):
            return None
        first, last = int(ends[0]), int(ends[-1])
        if last < first or last > 2**32 - 1 or len(seeds) + last - first + 1 > 10_000:
            return None
        seeds.extend(range(first, last + 1))
    return seeds if len(set(seeds)) == len(seeds) else None


def test_a_typo_in_a_seed_range_is_refused_before_it_is_expanded(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--seeds 0-99999`` (for 0-9) took minutes, 0-30000 21 s; now the count is checked first."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as error:
            sweep.parse_seeds("0-99999")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(error.value) == "--seeds '0-99999' asks for 100000 seeds; a sweep takes at most 10000"
    assert peak < 256 * 1024  # 100000 seeds would take some 3.6 MB: the range was never expanded
    argv = ["tiny", "--in-process", "--runs-dir", str(tmp_path), "--seeds", "0-99999", *TINY]
    assert sweep.sweep_main(registry, argv, prog="sweep") == 2
    assert capsys.readouterr().err == f"sweep: error: {error.value}\n"
    assert list(tmp_path.iterdir()) == []


def test_the_bounds_take_the_largest_sweep_and_seed_and_refuse_one_more() -> None:
    assert len(sweep.parse_seeds("0-9999")) == 10_000
    assert sweep.parse_seeds("4294967293-4294967295, 0007") == [4294967293, 4294967294, 4294967295, 7]
    with pytest.raises(ValueError, match=r"^--seeds: seed 4294967296 in '4294967295-4294967296' is above"):
        sweep.parse_seeds("4294967295-4294967296")
    with pytest.raises(ValueError, match=r"^--seeds '0-10000' asks for 10001 seeds; a sweep takes at most"):
        sweep.parse_seeds("0-10000")
    with pytest.raises(ValueError, match=r"^--seeds '0-9999,0-9999' asks for 20000 seeds"):
        sweep.parse_seeds("0-9999,0-9999")


def test_a_range_of_a_trillion_seeds_is_refused_without_materialising_it() -> None:
    """10**12 seeds: a MemoryError (or the machine's memory) before; an answer at once now."""
    with pytest.raises(
        ValueError, match=r"^--seeds: seed 999999999999 in '0-999999999999' is above 4294967295"
    ):
        sweep.parse_seeds("0-999999999999")


def test_the_largest_sweep_is_parsed_in_linear_time() -> None:
    """10000 seeds as a range, a shuffled list and their duplicates: each a single pass.

    The old duplicate check counted every seed in the whole list (10**8 steps, 1.5 to 5 s
    here); the parse takes milliseconds, so the wall-clock bound is a secondary check.
    """
    listed = list(range(4_294_957_296, 4_294_967_296))  # the largest seeds, none of them cached ints
    random.Random(0).shuffle(listed)
    start = time.perf_counter()
    assert sweep.parse_seeds("0-9999") == list(range(10_000))
    assert sweep.parse_seeds(",".join(map(str, listed))) == listed
    with pytest.raises(ValueError) as error:
        sweep.parse_seeds("0-4999,0-4999")
    assert time.perf_counter() - start < 2.0
    assert str(error.value) == (
        "--seeds: '0-4999,0-4999' lists seed(s) [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ...] (5000 in all) more than once"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", f"--seeds: no seeds in ''; {EXPECTED_SEEDS}"),
        ("  ", f"--seeds: no seeds in '  '; {EXPECTED_SEEDS}"),
        (
            "0,,3",
            f"--seeds: '0,,3' has an empty item (two commas in a row, or one at an end); {EXPECTED_SEEDS}",
        ),
        (
            "0-2,",
            f"--seeds: '0-2,' has an empty item (two commas in a row, or one at an end); {EXPECTED_SEEDS}",
        ),
        ("1.5", f"--seeds: cannot read '1.5' in '1.5'; {EXPECTED_SEEDS}"),
        ("1e3", f"--seeds: cannot read '1e3' in '1e3'; {EXPECTED_SEEDS}"),
        ("0-2.5", f"--seeds: cannot read '0-2.5' in '0-2.5'; {EXPECTED_SEEDS}"),
        ("\u0663", f"--seeds: cannot read '\u0663' in '\u0663'; {EXPECTED_SEEDS}"),  # an Arabic-Indic 3
        ("\u00a01", f"--seeds: cannot read '\\xa01' in '\\xa01'; {EXPECTED_SEEDS}"),  # a no-break space
        (
            "4294967296",
            "--seeds: seed 4294967296 in '4294967296' is above 4294967295 (2**32 - 1), "
            "the largest seed NumPy's seeding takes",
        ),
        ("0-4294967296", "--seeds: seed 4294967296 in '0-4294967296' is above 4294967295"),
        (
            "9" * 5000,
            "--seeds: seed 99999999999999999999...99999 (5000 digits) in "
            "'99999999999999999999...99999' (5000 characters) is above 4294967295",
        ),
    ],
)
def test_bad_seeds_are_named(text: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        sweep.parse_seeds(text)
    assert str(error.value).startswith(message)
    assert len(str(error.value)) < 300  # a long value is shortened, not echoed whole


@st.composite
def seed_specs(draw: st.DrawFn) -> str:
    """Valid-looking specs: single seeds and ranges, with spaces, often overlapping."""
    spaces = st.sampled_from(["", " ", "\t", "  "])
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        first = draw(st.integers(0, 40))
        width = draw(st.one_of(st.none(), st.integers(-2, 12)))
        part = str(first) if width is None else f"{first}{draw(spaces)}-{draw(spaces)}{first + width}"
        parts.append(f"{draw(spaces)}{part}{draw(spaces)}")
    return ",".join(parts)


@settings(max_examples=300, deadline=None)
@given(seed_specs())
def test_seed_specs_read_as_a_naive_parser_reads_them(text: str) -> None:
    expected = reference_seeds(text)
    if expected is None:
        with pytest.raises(ValueError, match=r"^--seeds"):
            sweep.parse_seeds(text)
    else:
        assert sweep.parse_seeds(text) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789-, \t.e+\u0663\u00a0", max_size=24))
def test_any_text_is_read_as_the_naive_parser_reads_it_or_refused_with_a_message(text: str) -> None:
    expected = reference_seeds(text)
    if expected is None:
        with pytest.raises(ValueError, match=r"^--seeds"):
            sweep.parse_seeds(text)
    else:
        assert sweep.parse_seeds(text) == expected


# ---------------------------------------------------------------------------------- the command line
def cpus(example: str = "1 or 0.5") -> str:
    return f"(the CPUs each trial holds: 0.0001 to 10000, e.g. {example})"


GPUS = "(the GPUs each trial holds: 0, or 0.0001 to 10000, e.g. 1 or 0.25)"
NUM_CPUS = "(the CPUs of the Ray started here: 1 to 100000, e.g. 8)"
MAX_CONCURRENT = "(the most trials at once: 1 to 100000, e.g. 4)"
LONG_NINES = "'99999999999999999999...99999' (5000 characters)"
EVERY = "(seconds between progress lines: 0.1 to 86400, e.g. 10 or 60)"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--cpus-per-trial", "nan", f"must be a finite number, got 'nan' {cpus()}"),
        ("--cpus-per-trial", "inf", f"must be a finite number, got 'inf' {cpus()}"),
        ("--cpus-per-trial", "-inf", f"must be a finite number, got '-inf' {cpus()}"),
        ("--cpus-per-trial", "1e400", f"must be a finite number, got '1e400' {cpus()}"),
        ("--cpus-per-trial", "-1", f"must be a number > 0, got '-1' {cpus()}"),
        ("--cpus-per-trial", "0", f"must be a number > 0, got '0' {cpus()}"),
        ("--cpus-per-trial", "1e-05", f"must be at least 0.0001, got '1e-05' {cpus()}"),
        ("--cpus-per-trial", "1e300", f"must be at most 10000, got '1e300' {cpus()}"),
        ("--cpus-per-trial", "True", f"must be a number > 0, got 'True' {cpus()}"),
        ("--cpus-per-trial", "two", f"must be a number > 0, got 'two' {cpus()}"),
        ("--cpus-per-trial", "", f"must be a number > 0, got '' {cpus()}"),
        ("--cpus-per-trial", "\u0663", f"must be a number > 0, got '\u0663' {cpus()}"),
        ("--gpus-per-trial", "nan", f"must be a finite number, got 'nan' {GPUS}"),
        ("--gpus-per-trial", "inf", f"must be a finite number, got 'inf' {GPUS}"),
        ("--gpus-per-trial", "1e400", f"must be a finite number, got '1e400' {GPUS}"),
        ("--gpus-per-trial", "-1", f"must be a number >= 0, got '-1' {GPUS}"),
        ("--gpus-per-trial", "1e-05", f"must be 0 or at least 0.0001, got '1e-05' {GPUS}"),
        ("--gpus-per-trial", "False", f"must be a number >= 0, got 'False' {GPUS}"),
        ("--num-cpus", "0", f"must be an int >= 1, got '0' {NUM_CPUS}"),
        ("--num-cpus", "-1", f"must be an int >= 1, got '-1' {NUM_CPUS}"),
        ("--num-cpus", "1.5", f"must be an int >= 1, got '1.5' {NUM_CPUS}"),
        ("--num-cpus", "nan", f"must be an int >= 1, got 'nan' {NUM_CPUS}"),
        ("--num-cpus", "1e400", f"must be an int >= 1, got '1e400' {NUM_CPUS}"),
        ("--num-cpus", "1000000", f"must be at most 100000, got '1000000' {NUM_CPUS}"),
        ("--num-cpus", "9" * 5000, f"must be at most 100000, got {LONG_NINES} {NUM_CPUS}"),
        ("--max-concurrent", "9" * 5000, f"must be at most 100000, got {LONG_NINES} {MAX_CONCURRENT}"),
        ("--cpus-per-trial", "9" * 5000, f"must be a finite number, got {LONG_NINES} {cpus()}"),
        ("--max-concurrent", "0", f"must be an int >= 1, got '0' {MAX_CONCURRENT}"),
        ("--max-concurrent", "-1", f"must be an int >= 1, got '-1' {MAX_CONCURRENT}"),
        ("--max-concurrent", "1.5", f"must be an int >= 1, got '1.5' {MAX_CONCURRENT}"),
        ("--max-concurrent", "True", f"must be an int >= 1, got 'True' {MAX_CONCURRENT}"),
        ("--max-concurrent", "inf", f"must be an int >= 1, got 'inf' {MAX_CONCURRENT}"),
        ("--progress-every", "0", f"must be a number > 0, got '0' {EVERY}"),
        ("--progress-every", "-1", f"must be a number > 0, got '-1' {EVERY}"),
        ("--progress-every", "nan", f"must be a finite number, got 'nan' {EVERY}"),
        ("--progress-every", "inf", f"must be a finite number, got 'inf' {EVERY}"),
        ("--progress-every", "1e400", f"must be a finite number, got '1e400' {EVERY}"),
        ("--progress-every", "0.001", f"must be at least 0.1, got '0.001' {EVERY}"),
        ("--progress-every", "1e9", f"must be at most 86400, got '1e9' {EVERY}"),
        ("--progress-every", "soon", f"must be a number > 0, got 'soon' {EVERY}"),
        ("--name", "", "must be a directory name such as lr-batch (not empty, . or ..), got ''"),
        ("--name", " ", "must be a directory name such as lr-batch (not empty, . or ..), got ' '"),
        ("--name", ".", "must be a directory name such as lr-batch (not empty, . or ..), got '.'"),
        ("--name", "..", "must be a directory name such as lr-batch (not empty, . or ..), got '..'"),
        ("--address", "", "must be auto or HOST:PORT, a running Ray cluster, got ''"),
        ("--key", "", "must be a logged metric such as eval/mean_return, got ''"),
    ],
)
def test_bad_values_of_the_sweeps_options_are_named_before_any_trial_runs(
    registry: Registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    value: str,
    message: str,
) -> None:
    runs = tmp_path / "runs" / "here"
    argv = ["tiny", "--in-process", "--runs-dir", str(runs), "--name", "n", "--seeds", "0", *TINY]
    assert sweep.sweep_main(registry, [*argv, f"{option}={value}"], prog="sweep") == 2
    error = capsys.readouterr().err
    assert f"sweep: error: argument {option}: {message}\n" in error
    assert list(tmp_path.iterdir()) == []  # no trial ran, here or above the runs directory


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cpus_per_trial": math.nan}, f"cpus_per_trial must be a finite number, got nan {cpus()}"),
        ({"cpus_per_trial": math.inf}, f"cpus_per_trial must be a finite number, got inf {cpus()}"),
        ({"cpus_per_trial": True}, f"cpus_per_trial must be a number > 0, got True {cpus()}"),
        ({"cpus_per_trial": "1"}, f"cpus_per_trial must be a number > 0, got '1' {cpus()}"),
        ({"gpus_per_trial": math.nan}, f"gpus_per_trial must be a finite number, got nan {GPUS}"),
        ({"gpus_per_trial": math.inf}, f"gpus_per_trial must be a finite number, got inf {GPUS}"),
        ({"num_cpus": 1.5}, f"num_cpus must be an int >= 1, got 1.5 {NUM_CPUS}"),
        ({"max_concurrent": True}, f"max_concurrent must be an int >= 1, got True {MAX_CONCURRENT}"),
        ({"progress_every": 0}, f"progress_every must be a number > 0, got 0 {EVERY}"),
        ({"progress_every": math.nan}, f"progress_every must be a finite number, got nan {EVERY}"),
    ],
)
def test_run_sweep_refuses_bad_numbers_before_any_trial_runs(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    config = tiny_agent().config_for_env("CartPole-v1", total_timesteps=128, progress=False)
    trials = sweep.make_trials({}, [0], tmp_path / "s", lambda overrides: config)
    with pytest.raises(ValueError) as error:
        sweep.run_sweep(trials, tmp_path / "s", train=tiny_agent().train, in_process=True, **options)
    assert str(error.value) == message
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"cpus_per_trial": math.nan}, f"cpus_per_trial must be a finite number, got nan {cpus()}"),
        ({"cpus_per_trial": math.inf}, f"cpus_per_trial must be a finite number, got inf {cpus()}"),
        ({"cpus_per_trial": 1e300}, f"cpus_per_trial must be at most 10000, got 1e+300 {cpus()}"),
        ({"gpus_per_trial": math.nan}, f"gpus_per_trial must be a finite number, got nan {GPUS}"),
    ],
)
def test_trial_run_settings_refuse_numbers_int_cannot_read(resources: dict[str, float], message: str) -> None:
    """``int(cpus_per_trial)`` said "cannot convert float NaN to integer" (OverflowError for inf)."""
    given = {"cpus_per_trial": 1.0, "gpus_per_trial": 0.0, **resources}
    with pytest.raises(ValueError) as error:
        sweep.trial_run_settings(tiny_agent().config_type, set(), **given)
    assert str(error.value) == message


# ---------------------------------------------------------------------------------------------
# A trial whose run directory another process writes (issue 14: one writer per run directory)
_HOLDER = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from rlcore.runs._lock import RunDirLock\n"
    "lock = RunDirLock(Path(sys.argv[1]))\n"
    "lock.acquire()\n"
    "print('holding', flush=True)\n"
    "time.sleep(600)\n"
)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_a_trial_another_process_writes_fails_without_a_file_written_into_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trial = tmp_path / "locked" / "base" / "seed=0"
    trial.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(trial)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        command = ["tiny", "--runs-dir", str(tmp_path), "--name", "locked", "--seeds", "0"]
        command += ["--total-timesteps", "64", "--eval-every", "0", "--checkpoint-every", "0"]
        assert sweep.sweep_main(Registry(tiny_agent()), command) == 1
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    output = capsys.readouterr().out
    assert f"RunLockedError: Run: {str(trial)!r} is being written by process {holder.pid}" in output
    assert sorted(path.name for path in trial.iterdir()) == ["run.lock"]  # no error.txt, no log
