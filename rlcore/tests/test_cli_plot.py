"""`rlcore plot` and `rlcore summarize`, run through rlcore.cli.main on synthetic run directories."""

from __future__ import annotations

import json
import math
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rlcore.analysis import bootstrap_ci
from rlcore.cli import main
from rlcore.logging import EPISODIC_RETURN_KEY, EVAL_RETURN_KEY, CSVLogger, make_logger

# Final evaluation returns per configuration; the curves rise linearly to them.
FINALS = {0.1: [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], 0.5: [10.0, 20.0, 30.0, 1000.0]}


class FakeClock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def make_runs(root: Path, with_eval: bool = True) -> Path:
    for lr, finals in FINALS.items():
        for seed, final in enumerate(finals):
            run_dir = root / f"lr{lr}" / f"seed{seed}"
            clock = FakeClock()
            with CSVLogger(run_dir, clock=clock) as logger:
                for step in range(0, 1001, 250):
                    clock.now = step / 100  # wall-clock seconds, for --x time
                    logger.write({EPISODIC_RETURN_KEY: final * step / 1000 - 1.0}, step=step)
                    if with_eval and step % 500 == 0:
                        logger.write({EVAL_RETURN_KEY: final * step / 1000}, step=step)
            (run_dir / "config.json").write_text(json.dumps({"lr": lr, "seed": seed}))
    return root


def parse_table(out: str) -> dict[str, list[str]]:
    """The table's rows: ``{configuration: cells}``. Between the title line and the table's
    header there may be lines explaining the grouping."""
    lines = out.strip().splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["configuration", "seeds", "mean"])
    assert all(not line.startswith("configuration ") for line in lines[1:header])
    rows = {}
    for line in lines[header + 1 :]:
        label, rest = line.split(maxsplit=1)
        rows[label] = rest.replace("[", "").replace("]", "").replace(",", "").split()
    return rows


def test_summarize_prints_seeds_mean_std_ci_and_iqm(tmp_path, capsys):
    make_runs(tmp_path)
    assert main(["summarize", str(tmp_path), "--precision", "3"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(
        "final eval/mean_return per run (its last logged value); 2 configuration(s)"
    )
    rows = parse_table(out)
    assert list(rows) == ["lr=0.1", "lr=0.5"]
    # By hand: [1..8] has mean 4.5, sample std sqrt(42/7) = sqrt(6), IQM (3+4+5+6)/4 = 4.5;
    # [10, 20, 30, 1000] has mean 265, IQM (20+30)/2 = 25.
    by_hand = {"lr=0.1": (8, 4.5, math.sqrt(6.0), 4.5), "lr=0.5": (4, 265.0, None, 25.0)}
    for label, (seeds, mean, std, iqm) in by_hand.items():
        finals = FINALS[float(label.split("=")[1])]
        if std is None:
            std = math.sqrt(sum((v - mean) ** 2 for v in finals) / (len(finals) - 1))
        ci = bootstrap_ci(np.array(finals), "mean", num_resamples=10_000, seed=0)
        iqm_ci = bootstrap_ci(np.array(finals), "iqm", num_resamples=10_000, seed=0)
        expected = [seeds, mean, std, *ci, iqm, *iqm_ci]
        got = rows[label]
        assert int(got[0]) == seeds
        np.testing.assert_allclose([float(v) for v in got[1:]], expected[1:], atol=0.0005 + 1e-12)
        assert float(got[3]) <= mean <= float(got[4])


def test_summarize_falls_back_to_the_training_return_and_takes_an_explicit_key(tmp_path, capsys):
    make_runs(tmp_path, with_eval=False)
    assert main(["summarize", str(tmp_path / "lr0.1"), "--group-by", "parent"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("final train/episodic_return per run")
    # One configuration, named by its parent; final episodic returns are final - 1.
    assert parse_table(out)["lr0.1"][:2] == ["8", "3.50"]
    assert main(["summarize", str(tmp_path), "--key", "train/episodic_return", "--ignore", "lr"]) == 0
    rows = parse_table(capsys.readouterr().out)
    assert rows[tmp_path.name][0] == "12"  # lr ignored: one configuration of twelve runs


def test_summarize_single_seed_shows_no_std(tmp_path, capsys):
    with make_logger(tmp_path / "only" / "s0", ("csv",)) as logger:
        logger.write({EVAL_RETURN_KEY: 2.0}, step=10)
    assert main(["summarize", str(tmp_path)]) == 0
    assert parse_table(capsys.readouterr().out)["only"] == [
        "1",
        "2.00",
        "n/a",
        "2.00",
        "2.00",
        "2.00",
        "2.00",
        "2.00",
    ]


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["summarize", "{tmp}/nowhere"], "rlcore summarize: error: find_runs: '.*nowhere' does not exist"),
        (
            ["summarize", "{tmp}", "--key", "loss"],
            r"rlcore summarize: error: no run logged 'loss': .*lr0\.1/seed0, .*; keys they logged: "
            r"\['eval/mean_return', 'train/episodic_return'\]$",
        ),
        (
            ["summarize", "{tmp}", "--precision", "-1"],
            "rlcore summarize: error: --precision must be >= 0, got -1",
        ),
        (["plot", "{tmp}", "--y", "loss"], "rlcore plot: error: no run logged 'loss': .*lr0\\.5/seed3;"),
        (
            ["plot", "{tmp}", "--out", "{tmp}/curves.svg"],
            r"rlcore plot: error: --out must name a \.png file, got '.*curves\.svg'",
        ),
    ],
)
def test_user_errors_print_one_line_and_exit_1(tmp_path, capsys, argv, match):
    make_runs(tmp_path)
    assert main([arg.format(tmp=tmp_path) for arg in argv]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert re.match(match, err), err


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_writes_a_png_and_prints_its_path(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    make_runs(tmp_path / "runs")
    out = tmp_path / "figs" / "curves.png"
    assert main(["plot", str(tmp_path / "runs"), "--out", str(out), "--title", "test"]) == 0
    assert capsys.readouterr().out.strip() == str(out.resolve())
    assert png_size(out) == (700, 450)  # 7 x 4.5 inches at 100 dpi
    assert out.stat().st_size > 10_000  # two curves, bands, legend: not a blank image
    time_png = tmp_path / "time.png"
    argv = ["plot", str(tmp_path / "runs"), "--x", "time", "--y", EPISODIC_RETURN_KEY, "--out", str(time_png)]
    assert main([*argv, "--spread", "std"]) == 0
    assert png_size(time_png) == (700, 450)


def test_plot_without_matplotlib_names_the_extra(tmp_path, capsys, monkeypatch):
    make_runs(tmp_path)
    for module in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, module, None)
    assert main(["plot", str(tmp_path), "--out", str(tmp_path / "x.png")]) == 1
    assert 'pip install "rlcore[plot]"' in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_console_script_runs_summarize(tmp_path):
    make_runs(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "rlcore.cli", "summarize", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert parse_table(result.stdout)["lr=0.1"][:2] == ["8", "4.50"]
