"""rlcore.analysis: loading runs, grouping seeds, aligning curves, IQM and bootstrap CIs."""

from __future__ import annotations

import json
import math
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rlcore.analysis import (
    DEFAULT_RUN_SETTINGS,
    RUN_METADATA_KEYS,
    Run,
    aggregate,
    align_curves,
    bootstrap_ci,
    default_return_key,
    final_values,
    find_runs,
    format_summary_table,
    group_runs,
    group_runs_explained,
    interquartile_mean,
    load_run,
    load_runs,
    plot_learning_curves,
    select_runs,
    summary_rows,
)
from rlcore.logging import CSVLogger

FINITE = st.floats(-1e6, 1e6, allow_nan=False)


def write_run(run_dir: Path, rows: list[dict], config: dict | None = None) -> Path:
    """A synthetic run log written by hand (not by CSVLogger), so reading is tested on its own."""
    run_dir.mkdir(parents=True, exist_ok=True)
    columns = ["step", "time", *sorted({k for row in rows for k in row} - {"step", "time"})]
    lines = [",".join(columns)]
    for i, row in enumerate(rows):
        row = {"time": float(i), **row}
        lines.append(",".join("" if row.get(c) is None else repr(row[c]) for c in columns))
    (run_dir / "progress.csv").write_text("\n".join(lines) + "\n")
    if config is not None:
        (run_dir / "config.json").write_text(json.dumps(config))
    return run_dir


# ------------------------------------------------------------------ IQM
def naive_iqm(values: list[float]) -> float:
    ordered = sorted(values)
    cut = len(ordered) // 4  # scipy.stats.trim_mean(x, 0.25) cuts int(0.25 * n) at each end
    middle = ordered[cut : len(ordered) - cut]
    return sum(middle) / len(middle)


def test_iqm_by_hand():
    # [1..8]: drop 1, 2 and 7, 8; (3 + 4 + 5 + 6) / 4 = 4.5
    assert float(interquartile_mean(np.arange(1.0, 9.0))) == 4.5
    # five values: drop one at each end (int(1.25) = 1); (2 + 3 + 100) / 3 = 35
    assert float(interquartile_mean(np.array([1000.0, 2.0, 3.0, -50.0, 100.0]))) == 35.0
    # fewer than four values: nothing dropped
    assert float(interquartile_mean(np.array([1.0, 2.0, 6.0]))) == 3.0
    # an outlier moves the mean, not the IQM
    assert float(interquartile_mean(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 1e9]))) == 4.5


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 4)), elements=FINITE))
def test_iqm_matches_a_naive_loop_along_either_axis(x):
    for axis in (0, 1):
        expected = [naive_iqm(list(column)) for column in np.moveaxis(x, axis, -1).reshape(-1, x.shape[axis])]
        np.testing.assert_allclose(interquartile_mean(x, axis=axis), expected, rtol=1e-12, atol=1e-9)


def test_iqm_propagates_nan_and_rejects_empty_input():
    result = interquartile_mean(np.array([[1.0, np.nan], [2.0, 5.0], [3.0, 6.0], [4.0, 7.0]]), axis=0)
    assert result[0] == 2.5 and math.isnan(result[1])
    with pytest.raises(
        ValueError, match=r"interquartile_mean: expected at least one value along axis 0, got shape \(0,\)"
    ):
        interquartile_mean(np.array([]))


# ------------------------------------------------------------------ bootstrap
def naive_percentile(values: list[float], q: float) -> float:
    """numpy's default ('linear') percentile, by hand."""
    ordered = sorted(values)
    position = q / 100 * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def naive_bootstrap(x: np.ndarray, statistic, num_resamples: int, seed: int, confidence: float = 0.95):
    indices = np.random.default_rng(seed).integers(0, len(x), size=(num_resamples, len(x)))
    stats = [statistic([float(x[i]) for i in row]) for row in indices]
    tail = 100 * (1 - confidence) / 2
    return naive_percentile(stats, tail), naive_percentile(stats, 100 - tail)


@settings(max_examples=50, deadline=None)
@given(
    x=hnp.arrays(np.float64, st.integers(1, 9), elements=FINITE),
    seed=st.integers(0, 2**32 - 1),
    confidence=st.sampled_from([0.5, 0.9, 0.95]),
)
def test_bootstrap_ci_matches_a_naive_loop(x, seed, confidence):
    for name, statistic in (("mean", lambda v: sum(v) / len(v)), ("iqm", naive_iqm)):
        low, high = bootstrap_ci(x, name, confidence=confidence, num_resamples=200, seed=seed)
        ref_low, ref_high = naive_bootstrap(x, statistic, 200, seed, confidence)
        assert low == pytest.approx(ref_low, rel=1e-9, abs=1e-6)
        assert high == pytest.approx(ref_high, rel=1e-9, abs=1e-6)
        assert x.min() - 1e-6 <= low <= high <= x.max() + 1e-6


def test_bootstrap_ci_of_curves_resamples_runs_not_points():
    rng = np.random.default_rng(1)
    curves = rng.normal(size=(6, 5))
    bounds = bootstrap_ci(curves, "mean", num_resamples=300, seed=3)
    assert bounds.shape == (2, 5)
    for point in range(5):  # the same run indices for every point
        expected = naive_bootstrap(curves[:, point], lambda v: sum(v) / len(v), 300, 3)
        np.testing.assert_allclose(bounds[:, point], expected, rtol=1e-12)


def test_bootstrap_ci_is_seeded_and_degenerate_cases_are_exact():
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0])
    np.testing.assert_array_equal(bootstrap_ci(x, seed=7), bootstrap_ci(x, seed=7))
    assert not np.array_equal(bootstrap_ci(x, seed=7), bootstrap_ci(x, seed=8))
    np.testing.assert_array_equal(bootstrap_ci(x, seed=np.random.default_rng(7)), bootstrap_ci(x, seed=7))
    np.testing.assert_array_equal(bootstrap_ci(np.full(5, 2.5)), [2.5, 2.5])
    np.testing.assert_array_equal(bootstrap_ci(np.array([4.0])), [4.0, 4.0])
    # a custom statistic: the median of each resample
    low, high = bootstrap_ci(x, lambda s, axis: np.median(s, axis=axis), num_resamples=100, seed=0)
    assert (low, high) == pytest.approx(naive_bootstrap(x, lambda v: float(np.median(v)), 100, 0))


def test_bootstrap_ci_shrinks_with_more_runs():
    rng = np.random.default_rng(0)
    few, many = rng.normal(size=5), rng.normal(size=500)
    assert np.ptp(bootstrap_ci(many)) < np.ptp(bootstrap_ci(few))


@pytest.mark.parametrize(
    ("x", "kwargs", "error", "match"),
    [
        (
            np.array([]),
            {},
            ValueError,
            r"bootstrap_ci: expected an array of shape \(N, \.\.\.\) with N >= 1 runs, got shape \(0,\)",
        ),
        (np.float64(1.0), {}, ValueError, r"with N >= 1 runs, got shape \(\)"),
        (
            np.ones(3),
            {"confidence": 1.0},
            ValueError,
            r"bootstrap_ci: confidence must be in \(0, 1\), got 1\.0",
        ),
        (
            np.ones(3),
            {"num_resamples": 0},
            ValueError,
            r"bootstrap_ci: num_resamples must be an int >= 1, got 0",
        ),
        (
            np.ones(3),
            {"statistic": "median"},
            ValueError,
            r"statistic must be 'mean', 'iqm' or a callable, got 'median'",
        ),
        (np.ones(3), {"statistic": 3}, TypeError, r"statistic must be 'mean', 'iqm' or a callable, got 3"),
        (
            np.ones(3),
            {"seed": 1.5},
            TypeError,
            r"seed must be an int or a numpy\.random\.Generator, got 1\.5",
        ),
    ],
)
def test_bootstrap_ci_errors(x, kwargs, error, match):
    with pytest.raises(error, match=match):
        bootstrap_ci(x, **kwargs)


# ------------------------------------------------------------------ aggregate
@settings(max_examples=50, deadline=None)
@given(x=hnp.arrays(np.float64, st.integers(2, 10), elements=FINITE))
def test_aggregate_matches_float64_loops(x):
    result = aggregate(x, num_resamples=100, seed=5)
    values = [float(v) for v in x]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    assert result.num_runs == len(values)
    assert result.mean == pytest.approx(mean, rel=1e-12, abs=1e-9)
    assert result.std == pytest.approx(std, rel=1e-9, abs=1e-9)
    assert result.iqm == pytest.approx(naive_iqm(values), rel=1e-12, abs=1e-9)
    # Both intervals come from one set of resamples, drawn once from the seed.
    np.testing.assert_allclose(
        result.mean_ci, naive_bootstrap(x, lambda v: sum(v) / len(v), 100, 5), atol=1e-6
    )
    np.testing.assert_allclose(result.iqm_ci, naive_bootstrap(x, naive_iqm, 100, 5), atol=1e-6)
    assert result.confidence == 0.95


def test_aggregate_of_one_run_and_of_curves():
    single = aggregate(np.array([7.0]))
    assert (single.num_runs, single.mean, single.iqm) == (1, 7.0, 7.0) and math.isnan(single.std)
    curves = aggregate(np.arange(12.0).reshape(4, 3), num_resamples=50)
    np.testing.assert_array_equal(curves.mean, [4.5, 5.5, 6.5])
    np.testing.assert_array_equal(curves.iqm, [4.5, 5.5, 6.5])  # middle two of (0, 3, 6, 9) + column
    assert curves.mean_ci.shape == curves.iqm_ci.shape == (2, 3)
    with pytest.raises(ValueError, match=r"aggregate: confidence must be in \(0, 1\), got 0"):
        aggregate(np.ones(3), confidence=0)


# ------------------------------------------------------------------ align_curves
def naive_interp(x: list[float], y: list[float], t: float) -> float:
    if t < x[0] or t > x[-1]:
        return math.nan
    for i in range(len(x) - 1):
        if x[i] <= t <= x[i + 1]:
            return y[i] + (y[i + 1] - y[i]) * (t - x[i]) / (x[i + 1] - x[i]) if x[i + 1] > x[i] else y[i]
    return y[-1]


@settings(max_examples=50, deadline=None)
@given(
    curves=st.lists(
        st.lists(st.tuples(st.integers(0, 1000), FINITE), min_size=1, max_size=8, unique_by=lambda p: p[0]),
        min_size=1,
        max_size=4,
    ),
    grid=st.lists(st.floats(-10, 1010, allow_nan=False), min_size=1, max_size=6),
)
def test_align_curves_on_an_explicit_grid_matches_a_naive_interpolation(curves, grid):
    pairs = [(np.array([p[0] for p in c], float), np.array([p[1] for p in c])) for c in curves]
    got_grid, values = align_curves(pairs, grid=np.array(grid))
    np.testing.assert_array_equal(got_grid, grid)
    for row, curve in zip(values, curves):
        ordered = sorted(curve)
        xs, ys = [float(p[0]) for p in ordered], [p[1] for p in ordered]
        expected = [naive_interp(xs, ys, t) for t in grid]
        np.testing.assert_allclose(row, expected, rtol=1e-9, atol=1e-6)


def test_align_curves_default_grid_covers_the_shared_range():
    grid, values = align_curves(
        [(np.array([0.0, 100.0]), np.array([0.0, 10.0])), (np.array([20.0, 60.0]), np.array([1.0, 1.0]))],
        num_points=5,
    )
    np.testing.assert_array_equal(grid, [20.0, 30.0, 40.0, 50.0, 60.0])
    np.testing.assert_allclose(values, [[2.0, 3.0, 4.0, 5.0, 6.0], [1.0] * 5])
    grid, values = align_curves([(np.array([5.0]), np.array([3.0]))])
    assert grid.tolist() == [5.0] and values.tolist() == [[3.0]]


def test_align_curves_averages_values_logged_at_one_step_and_sorts():
    grid, values = align_curves(
        [(np.array([10.0, 0.0, 10.0, 10.0]), np.array([1.0, 0.0, 2.0, 6.0]))], num_points=3
    )
    np.testing.assert_array_equal(grid, [0.0, 5.0, 10.0])
    np.testing.assert_allclose(values, [[0.0, 1.5, 3.0]])  # at step 10: (1 + 2 + 6) / 3


@pytest.mark.parametrize(
    ("curves", "kwargs", "match"),
    [
        ([], {}, r"align_curves: curves is empty, expected at least one \(x, y\) pair"),
        ([(np.array([1.0]), np.array([1.0]))], {"num_points": 0}, r"num_points must be an int >= 1, got 0"),
        (
            [(np.array([]), np.array([]))],
            {},
            r"curve 0 must be two non-empty 1-D arrays of one shape, got x \(0,\) and y \(0,\)",
        ),
        (
            [(np.array([1.0]), np.array([1.0])), (np.ones(2), np.ones(3))],
            {},
            r"curve 1 must be .* got x \(2,\) and y \(3,\)",
        ),
        (
            [(np.array([0.0, 1.0]), np.zeros(2)), (np.array([5.0, 6.0]), np.zeros(2))],
            {},
            r"the curves share no x range \(the latest start is 5\.0, the earliest end 1\.0\); pass an explicit grid",
        ),
        (
            [(np.ones(1), np.ones(1))],
            {"grid": np.array([np.nan])},
            r"grid must be a non-empty 1-D array without NaN, got shape \(1,\)",
        ),
    ],
)
def test_align_curves_errors(curves, kwargs, match):
    with pytest.raises(ValueError, match=match):
        align_curves(curves, **kwargs)


# ------------------------------------------------------------------ runs on disk
def test_load_run_reads_columns_config_and_curves(tmp_path):
    run_dir = write_run(
        tmp_path / "run",
        [{"step": 0, "loss": 1.0}, {"step": 10, "eval/mean_return": 5.0}, {"step": 20, "loss": 0.5}],
        config={"lr": 0.1, "seed": 4},
    )
    run = load_run(run_dir)
    assert run.path == run_dir and run.config == {"lr": 0.1, "seed": 4} and run.seed == 4
    assert run.keys() == ["eval/mean_return", "loss"]
    assert run.has("loss") and not run.has("absent")
    x, y = run.curve("loss")
    assert x.tolist() == [0.0, 20.0] and y.tolist() == [1.0, 0.5]
    assert run.curve("loss", x="time")[0].tolist() == [0.0, 2.0]
    assert run.final("loss") == 0.5 and run.final("eval/mean_return") == 5.0
    with pytest.raises(KeyError, match=r"never logged 'absent'; its keys are \['eval/mean_return', 'loss'\]"):
        run.curve("absent")
    with pytest.raises(ValueError, match=r"Run\.curve: x must be 'step' or 'time', got 'wall'"):
        run.curve("loss", x="wall")
    assert load_run(write_run(tmp_path / "bare", [{"step": 0, "a": 1.0}])).config is None


def test_load_run_reads_what_csv_logger_wrote(tmp_path):
    with CSVLogger(tmp_path, clock=lambda: 0.0) as logger:
        logger.write({"a": 1.5}, step=3)
        logger.write({"b": 2}, step=4)
    run = load_run(tmp_path)
    assert run.curve("a")[1].tolist() == [1.5] and run.curve("b")[0].tolist() == [4.0]


def test_load_run_config_errors(tmp_path):
    write_run(tmp_path / "a", [{"step": 0, "x": 1.0}])
    (tmp_path / "a" / "config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"load_run: '.*config\.json' holds a list, expected a JSON object"):
        load_run(tmp_path / "a")
    (tmp_path / "a" / "config.json").write_text("{oops")
    with pytest.raises(ValueError, match=r"load_run: '.*config\.json' is not valid JSON"):
        load_run(tmp_path / "a")
    with pytest.raises(FileNotFoundError, match=r"read_csv_log: no run log at"):
        load_run(tmp_path / "missing")


def test_find_runs_searches_directories_and_lists_each_run_once(tmp_path):
    for name in ("exp/b/seed_1", "exp/a/seed_0", "exp/a/seed_1", "solo"):
        write_run(tmp_path / name, [{"step": 0, "x": 1.0}])
    (tmp_path / "exp" / "notes").mkdir()
    found = find_runs([tmp_path / "exp", tmp_path / "solo", tmp_path / "exp" / "a" / "seed_0"])
    assert [p.relative_to(tmp_path.resolve()).as_posix() for p in found] == [
        "exp/a/seed_0",
        "exp/a/seed_1",
        "exp/b/seed_1",
        "solo",
    ]
    with pytest.raises(FileNotFoundError, match=r"find_runs: '.*nowhere' does not exist"):
        find_runs([tmp_path / "nowhere"])
    with pytest.raises(
        FileNotFoundError,
        match=r"find_runs: no run under '.*notes' \(a run is a directory holding progress\.csv\)",
    ):
        find_runs([tmp_path / "exp" / "notes"])


# ------------------------------------------------------------------ grouping
def test_group_by_config_ignores_the_seed_and_labels_by_what_differs(tmp_path):
    configs = [
        {"lr": 0.1, "env": {"id": "CartPole-v1", "n": 4}, "seed": 0},
        {"lr": 0.1, "env": {"id": "CartPole-v1", "n": 4}, "seed": 1},
        {"lr": 0.01, "env": {"id": "CartPole-v1", "n": 4}, "seed": 0},
        {"lr": 0.1, "env": {"id": "Acrobot-v1", "n": 4}, "seed": 0},
    ]
    for i, config in enumerate(configs):
        write_run(tmp_path / f"run{i}", [{"step": 0, "x": float(i)}], config)
    groups = group_runs(load_runs([tmp_path]))
    assert {label: [r.path.name for r in runs] for label, runs in groups.items()} == {
        "env.id=CartPole-v1, lr=0.1": ["run0", "run1"],
        "env.id=CartPole-v1, lr=0.01": ["run2"],
        "env.id=Acrobot-v1, lr=0.1": ["run3"],
    }
    # Ignoring lr too merges the CartPole runs.
    groups = group_runs(load_runs([tmp_path]), ignore=("seed", "lr"))
    assert {label: len(runs) for label, runs in groups.items()} == {
        "env.id=CartPole-v1": 3,
        "env.id=Acrobot-v1": 1,
    }


def test_group_by_config_labels_a_key_missing_from_one_config(tmp_path):
    write_run(tmp_path / "a", [{"step": 0, "x": 1.0}], {"lr": 0.1, "seed": 0})
    write_run(tmp_path / "b", [{"step": 0, "x": 1.0}], {"lr": 0.1, "clip": 0.2, "seed": 0})
    assert list(group_runs(load_runs([tmp_path]))) == ["clip=(unset)", "clip=0.2"]


def test_group_by_parent_and_auto(tmp_path):
    for name in ("ppo/lr1/s0", "ppo/lr1/s1", "ppo/lr2/s0", "dqn/base/s0"):
        write_run(tmp_path / name, [{"step": 0, "x": 1.0}], {"seed": 0} if name.startswith("ppo") else None)
    runs = load_runs([tmp_path])
    groups = group_runs(runs)  # one run has no config.json: auto groups by parent
    assert {label: len(r) for label, r in groups.items()} == {"dqn/base": 1, "ppo/lr1": 2, "ppo/lr2": 1}
    assert group_runs(runs, by="parent").keys() == groups.keys()
    ppo = load_runs([tmp_path / "ppo"])
    assert list(group_runs(ppo, by="config")) == ["ppo"]  # one configuration: named by the common parent
    assert list(group_runs(load_runs([tmp_path / "ppo" / "lr1"]), by="parent")) == ["lr1"]


def test_group_runs_errors(tmp_path):
    run = load_run(write_run(tmp_path / "r", [{"step": 0, "x": 1.0}]))
    with pytest.raises(ValueError, match=r"group_runs: by must be 'auto', 'config' or 'parent', got 'name'"):
        group_runs([run], by="name")
    with pytest.raises(ValueError, match=r"group_runs: runs is empty, expected at least one run"):
        group_runs([])
    with pytest.raises(ValueError, match=r"group_runs: by='config' but run '.*r' has no config\.json"):
        group_runs([run], by="config")
    with pytest.raises(TypeError, match=r"group_runs: ignore must be a list of keys, got the string 'seed'"):
        group_runs([run], ignore="seed")


# ------------------------------------------------------------------ keys and final values
def test_default_return_key_prefers_evaluation_when_every_run_has_it(tmp_path):
    both = load_run(
        write_run(tmp_path / "a", [{"step": 0, "eval/mean_return": 1.0, "train/episodic_return": 2.0}])
    )
    train_only = load_run(write_run(tmp_path / "b", [{"step": 0, "train/episodic_return": 3.0, "loss": 1.0}]))
    neither = load_run(write_run(tmp_path / "c", [{"step": 0, "loss": 1.0}]))
    assert default_return_key([both]) == "eval/mean_return"
    assert default_return_key([both, train_only]) == "train/episodic_return"
    with pytest.raises(
        ValueError, match=r"no return key logged by every run: .* keys every run has: \['loss'\]"
    ):
        default_return_key([train_only, neither])
    np.testing.assert_array_equal(final_values([both, train_only], "train/episodic_return"), [2.0, 3.0])
    with pytest.raises(KeyError, match=r"run '.*c' never logged 'train/episodic_return'"):
        final_values([both, neither], "train/episodic_return")


# ------------------------------------------------------------------ plotting
def test_plot_draws_the_mean_and_the_bootstrap_band(tmp_path):
    pytest.importorskip("matplotlib")
    runs = [
        load_run(write_run(tmp_path / f"s{i}", [{"step": s, "r": float(s * (i + 1))} for s in (0, 10, 20)]))
        for i in range(3)
    ]
    figure = plot_learning_curves({"cfg": runs}, "r", num_points=3, num_resamples=100, seed=1)
    ax = figure.axes[0]
    line = ax.get_lines()[0]
    assert line.get_label() == "cfg (n=3)"
    np.testing.assert_allclose(line.get_xdata(), [0.0, 10.0, 20.0])
    np.testing.assert_allclose(line.get_ydata(), [0.0, 20.0, 40.0])  # mean of s, 2s, 3s
    band = ax.collections[0].get_paths()[0].vertices
    for step in (0.0, 10.0, 20.0):
        low, high = naive_bootstrap(np.array([step, 2 * step, 3 * step]), lambda v: sum(v) / len(v), 100, 1)
        ys = band[np.isclose(band[:, 0], step), 1]
        assert ys.min() == pytest.approx(low) and ys.max() == pytest.approx(high)
    assert ax.get_xlabel() == "environment steps" and ax.get_ylabel() == "r"
    std_axes = plot_learning_curves({"cfg": runs}, "r", spread="std", x="time").axes[0]
    assert std_axes.get_xlabel() == "wall-clock time (s)"
    assert len(plot_learning_curves({"one": runs[:1]}, "r").axes[0].collections) == 0  # one seed: no band


def _legend(figure):
    legend = figure.axes[0].get_legend()
    return legend.get_title().get_text(), [text.get_text() for text in legend.get_texts()]


def test_plot_legend_says_what_is_drawn(tmp_path):
    pytest.importorskip("matplotlib")
    runs = [
        load_run(write_run(tmp_path / f"s{i}", [{"step": s, "r": float(s + i)} for s in (0, 10, 20)]))
        for i in range(4)
    ]
    # One run: it is the run itself, not a mean, and nothing is shaded.
    assert _legend(plot_learning_curves({"a": runs[:1]}, "r")) == ("one run", ["a (1 run)"])
    figure = plot_learning_curves({"a": runs[:1], "b": runs[1:2]}, "r", spread="std")
    assert _legend(figure) == ("one run per configuration", ["a (1 run)", "b (1 run)"])
    assert len(figure.axes[0].collections) == 0
    # Several runs somewhere: the mean and its band, single runs marked as such.
    mixed = plot_learning_curves({"a": runs[:3], "b": runs[3:]}, "r", num_resamples=100)
    assert _legend(mixed) == (
        "mean over seeds; shaded: 95% bootstrap CI of the mean",
        ["a (n=3)", "b (1 run)"],
    )
    assert len(mixed.axes[0].collections) == 1  # the band of "a" only
    assert (
        _legend(plot_learning_curves({"a": runs[:2]}, "r", spread="std"))[0]
        == "mean over seeds; shaded: ±1 std"
    )
    assert _legend(plot_learning_curves({"a": runs[:2]}, "r", spread="none")) == (
        "mean over seeds",
        ["a (n=2)"],
    )


def test_plot_errors(tmp_path, monkeypatch):
    run = load_run(write_run(tmp_path / "r", [{"step": 0, "x": 1.0}]))
    with pytest.raises(ValueError, match=r"plot_learning_curves: x must be 'step' or 'time', got 'steps'"):
        plot_learning_curves({"a": [run]}, "x", x="steps")
    with pytest.raises(
        ValueError, match=r"plot_learning_curves: spread must be 'ci', 'std' or 'none', got 'iqr'"
    ):
        plot_learning_curves({"a": [run]}, "x", spread="iqr")
    with pytest.raises(ValueError, match=r"plot_learning_curves: groups is empty"):
        plot_learning_curves({}, "x")
    for module in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(
        ImportError, match=r'plot_learning_curves needs matplotlib.*pip install "rlcore\[plot\]"'
    ):
        plot_learning_curves({"a": [run]}, "x")


def test_run_is_a_plain_record():
    run = Run(path=Path("r"), log={"step": np.zeros(1), "time": np.zeros(1)})
    assert run.config is None and run.seed is None and run.keys() == []


# ------------------------------------------------------------------ grouping by hyperparameters only
# What an rlcore 0.2 run records: the config's fields but run_dir, algo, versions, git commit,
# seeding text and the names of the config's run settings.
RUN_SETTINGS = [
    "checkpoint_every",
    "vector_mode",
    "run_dir",
    "logger",
    "wandb_project",
    "progress",
    "torch_threads",
    "device",
]


def record_v02(seed: int, **changes) -> dict:
    record = {
        "env_id": "CartPole-v1",
        "seed": seed,
        "total_timesteps": 1000,
        "learning_rate": 3e-4,
        "batch_size": 64,
        "checkpoint_every": 500,
        "vector_mode": "sync",
        "logger": "csv",
        "wandb_project": None,
        "progress": True,
        "torch_threads": 1,
        "device": "cpu",
        "algo": "ppo",
        "rlcore_version": "0.2.0",
        "torch_version": "2.13.0",
        "gymnasium_version": "1.2.0",
        "python_version": "3.12.3",
        "git_commit": "a" * 40,
        "seeding": "rlcore.seeding.seed_everything(seed) ...",
        "run_settings": RUN_SETTINGS,
    }
    record.update(changes)
    return record


def labelled(groups: dict[str, list[Run]]) -> dict[str, list[str]]:
    return {label: [run.path.name for run in runs] for label, runs in groups.items()}


def test_seeds_that_differ_in_run_settings_or_metadata_stay_one_configuration(tmp_path):
    records = [
        record_v02(0),
        record_v02(1, progress=False),  # ran with --no-progress
        record_v02(
            2, git_commit="b" * 40 + "+dirty", torch_threads=4, device="cuda"
        ),  # after a README commit
        record_v02(3, logger="wandb", wandb_project="p", vector_mode="async", checkpoint_every=100),
        record_v02(4, rlcore_version="0.2.1", python_version="3.13.0", config_file="configs/a.toml"),
    ]
    for record in records:
        write_run(tmp_path / "exp" / f"seed{record['seed']}", [{"step": 0, "x": 1.0}], record)
    grouping = group_runs_explained(load_runs([tmp_path]))
    assert labelled(grouping.groups) == {"exp": [f"seed{i}" for i in range(5)]}
    assert grouping.by == "config" and grouping.differing == ()
    assert grouping.ignored_differing == (
        "checkpoint_every",
        "config_file",
        "device",
        "git_commit",
        "logger",
        "progress",
        "python_version",
        "rlcore_version",
        "torch_threads",
        "vector_mode",
        "wandb_project",
    )
    assert labelled(group_runs(load_runs([tmp_path]))) == labelled(grouping.groups)


def test_a_differing_hyperparameter_splits_and_is_named(tmp_path):
    for seed in (0, 1):
        for lr in (1e-3, 3e-4):
            changes = {"learning_rate": lr, "progress": seed == 0}
            write_run(tmp_path / f"lr{lr}-s{seed}", [{"step": 0, "x": 1.0}], record_v02(seed, **changes))
    grouping = group_runs_explained(load_runs([tmp_path]))
    assert labelled(grouping.groups) == {
        "learning_rate=0.001": ["lr0.001-s0", "lr0.001-s1"],
        "learning_rate=0.0003": ["lr0.0003-s0", "lr0.0003-s1"],
    }
    assert grouping.differing == ("learning_rate",)
    assert grouping.ignored_differing == ("progress",)
    # algo is a hyperparameter too
    write_run(tmp_path / "dqn", [{"step": 0, "x": 1.0}], record_v02(0, algo="dqn", learning_rate=1e-3))
    assert group_runs_explained(load_runs([tmp_path])).differing == ("algo", "learning_rate")


def test_a_run_setting_of_the_project_is_what_its_record_lists(tmp_path):
    # A project's own run setting (listed) is not compared; a field that is not listed is.
    listed = [*RUN_SETTINGS, "capture_video"]
    write_run(tmp_path / "a", [{"step": 0, "x": 1.0}], record_v02(0, capture_video=True, run_settings=listed))
    write_run(
        tmp_path / "b", [{"step": 0, "x": 1.0}], record_v02(1, capture_video=False, run_settings=listed)
    )
    assert list(group_runs(load_runs([tmp_path]))) == [tmp_path.name]
    # Nested keys under an ignored key are ignored with it.
    write_run(
        tmp_path / "c", [{"step": 0, "x": 1.0}], record_v02(2, run_settings=listed, device={"kind": "x"})
    )
    assert list(group_runs(load_runs([tmp_path]))) == [tmp_path.name]
    write_run(tmp_path / "d", [{"step": 0, "x": 1.0}], record_v02(3, run_settings=listed, batch_size=32))
    assert list(group_runs(load_runs([tmp_path]))) == ["batch_size=64", "batch_size=32"]


def test_records_of_rlcore_0_1_projects_fall_back_to_the_default_run_settings(tmp_path):
    assert set(DEFAULT_RUN_SETTINGS) == {
        "run_dir",
        "progress",
        "logger",
        "device",
        "torch_threads",
        "vector_mode",
        "validate_distributions",
        "checkpoint_every",
        "wandb_project",
    }
    assert "git_commit" in RUN_METADATA_KEYS and "run_settings" in RUN_METADATA_KEYS
    # What a 0.1 project's runs.config_record wrote: no run_settings, no torch version.
    base = {
        "env_id": "CartPole-v1",
        "learning_rate": 3e-4,
        "num_envs": 1,
        "checkpoint_every": 50_000,
        "logger": "csv",
        "progress": True,
        "torch_threads": 1,
        "device": "cpu",
        "validate_distributions": False,
        "vector_mode": "sync",
        "algo": "ppo",
        "rlcore_version": "0.1.3",
        "git_commit": "c" * 40,
        "seeding": "text",
    }
    variants = [
        {},
        {"progress": False, "git_commit": "d" * 40 + "+dirty"},
        {"validate_distributions": True, "device": "cuda", "run_dir": "runs/x"},
    ]
    for seed, change in enumerate(variants):
        write_run(tmp_path / f"s{seed}", [{"step": 0, "x": 1.0}], {**base, "seed": seed, **change})
    runs = load_runs([tmp_path])
    grouping = group_runs_explained(runs)
    assert list(grouping.groups) == [tmp_path.name] and len(grouping.groups[tmp_path.name]) == 3
    assert "validate_distributions" in grouping.ignored_differing
    write_run(tmp_path / "s9", [{"step": 0, "x": 1.0}], {**base, "seed": 9, "num_envs": 8})
    assert list(group_runs(load_runs([tmp_path]))) == ["num_envs=1", "num_envs=8"]
    # The 0.1 behaviour on request: every key but those in ignore.
    assert len(group_runs(runs, ignore=("seed",), hyperparameters_only=False)) == 3
    # Extra ignored keys still work, with or without the default ignore.
    assert list(group_runs(load_runs([tmp_path]), ignore=("num_envs",))) == [tmp_path.name]


def test_a_malformed_run_settings_list_is_named(tmp_path):
    write_run(tmp_path / "a", [{"step": 0, "x": 1.0}], record_v02(0, run_settings="progress"))
    with pytest.raises(
        ValueError, match=r"'run_settings' in '.*a/config\.json' must be a list of key names, got 'progress'"
    ):
        group_runs(load_runs([tmp_path]))


def test_group_by_parent_explains_nothing(tmp_path):
    for name in ("a/s0", "b/s0"):
        write_run(tmp_path / name, [{"step": 0, "x": 1.0}], record_v02(0, progress=name == "a/s0"))
    grouping = group_runs_explained(load_runs([tmp_path]), by="parent")
    assert grouping.by == "parent" and list(grouping.groups) == ["a", "b"]
    assert grouping.differing == () and grouping.ignored_differing == ()


# ------------------------------------------------------------------ selecting runs: skip what logged nothing
def test_select_runs_skips_runs_that_logged_nothing_and_names_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for seed in (0, 1):
        write_run(
            tmp_path / "runs" / f"seed{seed}", [{"step": 0, "eval/mean_return": float(seed)}], {"seed": seed}
        )
    header_only = tmp_path / "runs" / "seed2"
    header_only.mkdir()
    (header_only / "progress.csv").write_text("step,time\n")
    (header_only / "config.json").write_text('{"seed": 2}')
    no_line = tmp_path / "runs" / "seed3"
    no_line.mkdir()
    (no_line / "progress.csv").write_text("")  # created, never written
    partial = tmp_path / "runs" / "seed4"
    partial.mkdir()
    (partial / "progress.csv").write_text("step,time,eval/mean_return\n0,0.0,")  # crashed mid-row
    selection = select_runs(["runs"])
    assert [run.path.name for run in selection.runs] == ["seed0", "seed1"]
    assert selection.key == "eval/mean_return"
    assert [path.name for path in selection.no_data] == ["seed2", "seed3", "seed4"]
    assert selection.missing_key == [] and selection.skipped == selection.no_data
    assert selection.skip_report() == [
        "skipped 3 runs with no logged data: runs/seed2, runs/seed3, runs/seed4"
    ]


def test_select_runs_skips_a_run_without_the_key_and_chooses_the_most_logged_default(tmp_path):
    write_run(tmp_path / "a", [{"step": 0, "eval/mean_return": 1.0, "train/episodic_return": 0.5}])
    write_run(tmp_path / "b", [{"step": 0, "train/episodic_return": 2.0}])
    write_run(tmp_path / "c", [{"step": 0, "loss": 2.0}])
    selection = select_runs([tmp_path])
    # train/episodic_return: two runs logged it, eval/mean_return one.
    assert selection.key == "train/episodic_return"
    assert [run.path.name for run in selection.runs] == ["a", "b"]
    assert [path.name for path in selection.missing_key] == ["c"]
    [line] = selection.skip_report()
    assert re.fullmatch(r"skipped 1 run that never logged 'train/episodic_return': \S*c", line), line
    # A tie goes to the evaluation return; an explicit key is taken as it is.
    write_run(tmp_path / "d", [{"step": 0, "eval/mean_return": 1.0}])
    assert select_runs([tmp_path]).key == "eval/mean_return"
    explicit = select_runs([tmp_path], "loss")
    assert [run.path.name for run in explicit.runs] == ["c"] and len(explicit.missing_key) == 3
    # Every run logged both: as default_return_key, the evaluation return.
    assert select_runs([tmp_path / "a"]).key == default_return_key([load_run(tmp_path / "a")])


def test_select_runs_errors_name_the_runs(tmp_path):
    empty = tmp_path / "empty" / "seed0"
    empty.mkdir(parents=True)
    (empty / "progress.csv").write_text("step,time\n")
    with pytest.raises(
        ValueError,
        match=r"no run has logged data: 1 run with an empty progress\.csv \(failed before their first log "
        r"write\): \S*empty/seed0$",
    ):
        select_runs([tmp_path / "empty"])
    write_run(tmp_path / "some" / "a", [{"step": 0, "loss": 1.0}])
    shutil.copytree(empty, tmp_path / "some" / "b")
    with pytest.raises(
        KeyError,
        match=r"no run logged 'x': \S*some/a; keys they logged: \['loss'\]; skipped 1 run with no logged data: \S*some/b",
    ):
        select_runs([tmp_path / "some"], "x")
    with pytest.raises(
        ValueError, match=r"no run logged a return key: expected one of .*; keys the runs logged: \['loss'\]"
    ):
        select_runs([tmp_path / "some"])
    (tmp_path / "some" / "a" / "progress.csv").write_text("stp,time\n0,1\n")
    with pytest.raises(ValueError, match=r"read_csv_log: .* has header \['stp', 'time'\]"):
        select_runs([tmp_path / "some"])  # a malformed log is not an empty one
    with pytest.raises(FileNotFoundError, match="does not exist"):
        select_runs([tmp_path / "nowhere"])


def test_a_long_list_of_skipped_runs_is_cut(tmp_path):
    for i in range(25):
        (tmp_path / f"r{i:02d}").mkdir()
        (tmp_path / f"r{i:02d}" / "progress.csv").write_text("")
    write_run(tmp_path / "ok", [{"step": 0, "eval/mean_return": 1.0}])
    [line] = select_runs([tmp_path]).skip_report()
    assert line.startswith("skipped 25 runs with no logged data: ") and line.endswith("r19 and 5 more")


# ------------------------------------------------------------------ the summary table
@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=1, max_size=9), min_size=1, max_size=4),
    st.integers(0, 4),
)
def test_summary_table_matches_a_naive_float64_recomputation(finals, precision):
    groups = {
        f"cfg{i}": [
            Run(
                Path(f"cfg{i}/s{j}"),
                {"step": np.array([0.0, 1.0]), "time": np.zeros(2), "r": np.array([0.0, v])},
            )
            for j, v in enumerate(values)
        ]
        for i, values in enumerate(finals)
    }
    rows = summary_rows(groups, "r", num_resamples=50, seed=3)
    table = format_summary_table(rows, precision).splitlines()
    assert table[0].split() == [
        "configuration",
        "seeds",
        "mean",
        "std",
        "95%",
        "CI",
        "IQM",
        "IQM",
        "95%",
        "CI",
    ]
    assert len(table) == len(finals) + 1
    for line, values, row in zip(table[1:], finals, rows, strict=True):
        x = np.array(values, dtype=np.float64)
        cells = line.replace("[", " ").replace("]", " ").replace(",", " ").split()
        assert cells[0] == row.label and int(cells[1]) == x.size
        np.testing.assert_array_equal(row.values, x)
        assert cells[2] == f"{np.mean(x):.{precision}f}"
        assert cells[3] == ("n/a" if x.size == 1 else f"{np.std(x, ddof=1):.{precision}f}")
        assert cells[6] == f"{naive_iqm(values):.{precision}f}" or math.isclose(
            float(cells[6]), naive_iqm(values), abs_tol=10.0**-precision
        )
        ci = bootstrap_ci(x, "mean", num_resamples=50, seed=3)
        assert cells[4:6] == [f"{ci[0]:.{precision}f}", f"{ci[1]:.{precision}f}"]


def test_summary_table_columns_line_up_and_markdown(tmp_path):
    rows = summary_rows(
        {
            "lr=0.1": [
                load_run(write_run(tmp_path / f"a{i}", [{"step": 0, "r": v}]))
                for i, v in enumerate([1.0, 3.0])
            ],
            "lr=a|b": [load_run(write_run(tmp_path / "b", [{"step": 0, "r": 10.0}]))],
        },
        "r",
        num_resamples=100,
    )
    assert [(row.label, row.stats.num_runs, row.stats.mean) for row in rows] == [
        ("lr=0.1", 2, 2.0),
        ("lr=a|b", 1, 10.0),
    ]
    text = format_summary_table(rows, 1)
    lines = text.splitlines()
    assert lines == [
        "configuration  seeds  mean  std        95% CI   IQM    IQM 95% CI",
        "lr=0.1             2   2.0  1.4    [1.0, 3.0]   2.0    [1.0, 3.0]",
        "lr=a|b             1  10.0  n/a  [10.0, 10.0]  10.0  [10.0, 10.0]",
    ]
    markdown = format_summary_table(rows, 2, style="markdown").splitlines()
    assert markdown[:2] == [
        "| configuration | seeds | mean | std | 95% CI | IQM | IQM 95% CI |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    assert markdown[3] == r"| lr=a\|b | 1 | 10.00 | n/a | [10.00, 10.00] | 10.00 | [10.00, 10.00] |"
    # The confidence names the CI columns.
    ninety = summary_rows({"x": rows[0].runs}, "r", confidence=0.9, num_resamples=10)
    assert "90% CI" in format_summary_table(ninety).splitlines()[0]
    assert format_summary_table([]) == "configuration  seeds  mean  std  95% CI  IQM  IQM 95% CI"


def test_summary_errors(tmp_path):
    run = load_run(write_run(tmp_path / "a", [{"step": 0, "r": 1.0}]))
    rows = summary_rows({"a": [run]}, "r", num_resamples=10)
    with pytest.raises(ValueError, match=r"format_summary_table: precision must be an int >= 0, got -1"):
        format_summary_table(rows, -1)
    with pytest.raises(
        ValueError, match=r"format_summary_table: style must be 'text' or 'markdown', got 'html'"
    ):
        format_summary_table(rows, style="html")
    other = summary_rows({"b": [run]}, "r", confidence=0.5, num_resamples=10)
    with pytest.raises(ValueError, match=r"different confidences \[0\.5, 0\.95\]"):
        format_summary_table([*rows, *other])
    with pytest.raises(ValueError, match=r"summary_rows: configuration 'e' has no run"):
        summary_rows({"e": []}, "r")
    with pytest.raises(KeyError, match=r"never logged 'q'"):
        summary_rows({"a": [run]}, "q")
