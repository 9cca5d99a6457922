"""`rlcore summarize` (and `rlcore plot`): why runs were grouped, and runs that logged nothing.

The table itself (numbers, columns) is tested in test_cli_plot.py and, as a function, in
test_analysis.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rlcore.analysis import format_summary_table, group_runs, load_runs, summary_rows
from rlcore.cli import main
from rlcore.logging import EPISODIC_RETURN_KEY, EVAL_RETURN_KEY, CSVLogger

RUN_SETTINGS = ["checkpoint_every", "vector_mode", "run_dir", "logger", "wandb_project", "progress", "device"]


def write_run(run_dir: Path, final: float | None, **config) -> Path:
    """A run as rlcore 0.2 records it; ``final=None``: it failed before it logged anything."""
    run_dir.mkdir(parents=True)
    record = {
        "env_id": "CartPole-v1",
        "learning_rate": 3e-4,
        "batch_size": 64,
        "seed": 0,
        "progress": True,
        "device": "cpu",
        "algo": "ppo",
        "rlcore_version": "0.2.0",
        "git_commit": "a" * 40,
        "run_settings": RUN_SETTINGS,
        **config,
    }
    (run_dir / "config.json").write_text(json.dumps(record))
    if final is None:
        (run_dir / "progress.csv").write_text("step,time\n")  # what an early crash leaves
        return run_dir
    with CSVLogger(run_dir, clock=lambda: 0.0) as logger:
        logger.write({EPISODIC_RETURN_KEY: final - 1.0}, step=0)
        logger.write({EVAL_RETURN_KEY: final}, step=100)
    return run_dir


def table_lines(out: str) -> tuple[list[str], list[str]]:
    """(the lines between the title and the table, the table's lines)."""
    lines = out.strip().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("configuration "))
    return lines[1:header], lines[header:]


def test_seeds_differing_in_run_settings_are_one_configuration_and_the_ignored_keys_are_named(
    tmp_path, capsys
):
    write_run(tmp_path / "runs" / "s0", 10.0, seed=0)
    write_run(tmp_path / "runs" / "s1", 20.0, seed=1, progress=False)
    write_run(tmp_path / "runs" / "s2", 30.0, seed=2, git_commit="b" * 40 + "+dirty", device="cuda")
    assert main(["summarize", str(tmp_path / "runs")]) == 0
    captured = capsys.readouterr()
    notes, table = table_lines(captured.out)
    assert captured.out.startswith(
        "final eval/mean_return per run (its last logged value); 1 configuration(s);"
    )
    assert notes == [
        "not compared (run settings, record metadata, --ignore) though they differ between seeds of a "
        "configuration: device, git_commit, progress"
    ]
    assert table[1].split()[:3] == ["runs", "3", "20.00"]
    assert captured.err == ""


def test_differing_hyperparameters_are_named_above_the_table(tmp_path, capsys):
    for lr in (1e-3, 3e-4):
        for batch_size in (32, 64):
            for seed in (0, 1):
                name = f"lr{lr}-bs{batch_size}-s{seed}"
                write_run(tmp_path / name, 1.0 + seed, seed=seed, learning_rate=lr, batch_size=batch_size)
    assert main(["summarize", str(tmp_path)]) == 0
    notes, table = table_lines(capsys.readouterr().out)
    assert notes == ["configurations differ in: batch_size, learning_rate"]
    assert [line.split()[0] for line in table[1:]] == [
        "batch_size=32,",
        "batch_size=64,",
        "batch_size=32,",
        "batch_size=64,",
    ]
    assert [line.split(maxsplit=2)[1] for line in table[1:]] == [
        "learning_rate=0.0003",  # runs are found in sorted order: lr0.0003-... first
        "learning_rate=0.0003",
        "learning_rate=0.001",
        "learning_rate=0.001",
    ]
    # --ignore merges them and says so.
    assert main(["summarize", str(tmp_path), "--ignore", "batch_size"]) == 0
    notes, table = table_lines(capsys.readouterr().out)
    assert notes[0] == "configurations differ in: learning_rate"
    assert notes[1].endswith("though they differ between seeds of a configuration: batch_size")
    assert [line.split()[:2] for line in table[1:]] == [
        ["learning_rate=0.0003", "4"],
        ["learning_rate=0.001", "4"],
    ]


def test_grouping_by_parent_says_so(tmp_path, capsys):
    write_run(tmp_path / "a" / "s0", 1.0)
    write_run(tmp_path / "b" / "s0", 2.0)
    assert main(["summarize", str(tmp_path), "--group-by", "parent"]) == 0
    notes, _ = table_lines(capsys.readouterr().out)
    assert notes == [
        "configurations: one per parent directory (--group-by parent, or a run has no config.json)"
    ]


@pytest.mark.parametrize("command", ["summarize", "plot"])
def test_runs_that_logged_nothing_are_skipped_and_named(tmp_path, capsys, monkeypatch, command):
    if command == "plot":
        pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    for seed in (0, 1, 2):
        write_run(tmp_path / "runs" / "x" / f"seed{seed}", 10.0 * (seed + 1), seed=seed)
    write_run(tmp_path / "runs" / "x" / "seed3", None, seed=3)
    argv = [command, "runs"] + (["--out", "curves.png"] if command == "plot" else [])
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err == f"rlcore {command}: skipped 1 run with no logged data: runs/x/seed3\n"
    if command == "summarize":
        _, table = table_lines(captured.out)
        assert table[1].split()[:3] == ["x", "3", "20.00"]
    else:
        assert (tmp_path / "curves.png").stat().st_size > 0


def test_a_run_without_the_key_is_skipped_and_named(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_run(tmp_path / "runs" / "s0", 1.0)
    write_run(tmp_path / "runs" / "s1", 3.0, seed=1)
    crashed = write_run(tmp_path / "runs" / "s2", None, seed=2)
    (crashed / "progress.csv").write_text("step,time,loss\n0,0.0,1.5\n")  # a loss, no return
    assert main(["summarize", "runs"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "rlcore summarize: skipped 1 run that never logged 'eval/mean_return': runs/s2\n"
    assert table_lines(captured.out)[1][1].split()[:3] == ["runs", "2", "2.00"]


@pytest.mark.parametrize("command", ["summarize", "plot"])
def test_only_runs_that_logged_nothing_is_an_error_naming_them(tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    write_run(tmp_path / "runs" / "a" / "seed0", None)
    (tmp_path / "runs" / "a" / "seed1").mkdir()
    (tmp_path / "runs" / "a" / "seed1" / "progress.csv").write_text("")
    assert main([command, "runs"]) == 1
    assert capsys.readouterr().err == (
        f"rlcore {command}: error: no run has logged data: 2 runs with an empty progress.csv (failed before "
        "their first log write): runs/a/seed0, runs/a/seed1\n"
    )


def test_the_printed_table_is_the_shared_table_function(tmp_path, capsys):
    for lr, finals in {0.1: [1.0, 2.0, 4.0], 0.2: [5.0]}.items():
        for seed, final in enumerate(finals):
            write_run(tmp_path / f"lr{lr}-{seed}", final, seed=seed, learning_rate=lr)
    assert (
        main(["summarize", str(tmp_path), "--num-resamples", "300", "--seed", "7", "--precision", "3"]) == 0
    )
    _, table = table_lines(capsys.readouterr().out)
    rows = summary_rows(group_runs(load_runs([tmp_path])), EVAL_RETURN_KEY, num_resamples=300, seed=7)
    assert table == format_summary_table(rows, 3).splitlines()
    # and its mean and std are the float64 ones
    assert table[1].split()[2:4] == [
        f"{np.mean([1.0, 2.0, 4.0]):.3f}",
        f"{np.std([1.0, 2.0, 4.0], ddof=1):.3f}",
    ]
