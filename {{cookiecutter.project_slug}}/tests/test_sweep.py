"""The sweep: its grid, its summary against a hand computation, and a small sweep on local Ray.

The grid and the summary need no Ray; the sweep itself runs only with the ``sweep`` extra
installed (``pip install -e ".[sweep]"``) and is skipped otherwise.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest

from {{ cookiecutter.package_name }} import sweep


@dataclasses.dataclass(frozen=True)
class Example:
    """A config with a field of every type the sweep reads."""

    rate: float = 0.1
    steps: int = 10
    flag: bool = False
    mode: Literal["sync", "async"] = "sync"
    label: str | None = None
    sizes: tuple[int, ...] = (64, 64)
    seed: int = 0
    run_dir: str | None = None

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"Example.steps must be >= 1, got {self.steps}")


# ---------------------------------------------------------------------------------- the grid
@pytest.mark.parametrize(
    ("text", "seeds"),
    [("0-4", [0, 1, 2, 3, 4]), ("3", [3]), ("0,3,7", [0, 3, 7]), ("0-2, 10", [0, 1, 2, 10])],
)
def test_seeds(text: str, seeds: list[int]) -> None:
    assert sweep.parse_seeds(text) == seeds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("4-0", r"--seeds: the range '4-0' is empty"),
        ("a", r"--seeds: cannot read 'a' in 'a'; expected seeds >= 0"),
        ("-1", r"--seeds: cannot read '-1'"),
        ("0-2,1", r"--seeds: '0-2,1' lists seed\(s\) \[1\] more than once"),
    ],
)
def test_bad_seeds_are_named(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sweep.parse_seeds(text)


def test_values_are_read_as_their_fields_types() -> None:
    grid = sweep.parse_set(
        [
            "rate=3e-4, 1e-3",
            "steps=1e5,200_000,7",
            "flag=true,no",
            "mode=async",
            "label=none,x",
            "sizes=[32],[64,64]",
        ],
        Example,
    )
    assert grid == {
        "rate": [3e-4, 1e-3],
        "steps": [100_000, 200_000, 7],
        "flag": [True, False],
        "mode": ["async"],
        "label": [None, "x"],
        "sizes": [(32,), (64, 64)],
    }
    assert [type(value) for value in grid["steps"]] == [int, int, int]
    assert list(grid) == ["rate", "steps", "flag", "mode", "label", "sizes"]


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("rte=1", r"Example has no field 'rte'; did you mean rate\?"),
        ("rate", r"expected FIELD=VALUE\[,VALUE...\], got 'rate'"),
        ("seed=1,2", r"--set seed: give the seeds with --seeds"),
        ("run_dir=x", r"--set run_dir: the sweep sets each trial's run_dir"),
        ("rate=0.1,,0.2", r"--set rate: empty value in '0.1,,0.2'"),
        ("rate=0.1,0.1", r"--set rate: value\(s\) \[0.1\] listed more than once"),
        ("rate=fast", r"--set rate: 'fast' is not a finite float"),
        ("rate=nan", r"--set rate: 'nan' is not a finite float"),
        ("steps=1.5", r"--set steps: '1.5' is not an int"),
        ("flag=maybe", r"--set flag: 'maybe' is not a bool; expected one of"),
        ("mode=fast", r"--set mode: 'fast' is not one of \['sync', 'async'\]"),
        ("sizes=64", r"--set sizes: '64' is not a JSON list such as \[64,64\]"),
        ("sizes=[1.5]", r"--set sizes: '1.5' is not an int"),
    ],
)
def test_bad_assignments_are_named(assignment: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sweep.parse_set([assignment], Example)


def test_a_field_set_twice_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"--set rate is given twice; list its values in one option"
    ):
        sweep.parse_set(["rate=0.1", "rate=0.2"], Example)


def test_trials_cover_the_grid_times_the_seeds(tmp_path: Path) -> None:
    grid: dict[str, list[Any]] = {"rate": [0.1, 1e-5], "sizes": [(8,), (4, 4)]}
    trials = sweep.make_trials(grid, [3, 5], tmp_path, lambda overrides: Example(steps=2))
    # A naive loop over the grid, the first field slowest and the seeds fastest.
    expected = [
        (rate, sizes, seed) for rate in grid["rate"] for sizes in grid["sizes"] for seed in (3, 5)
    ]
    assert [(t.config.rate, t.config.sizes, t.config.seed) for t in trials] == expected
    assert trials[0].name == "rate=0.1,sizes=[8]/seed=3"
    assert trials[-1].name == "rate=1e-05,sizes=[4,4]/seed=5"
    for trial in trials:
        assert trial.config.run_dir == str(tmp_path / trial.name)
        assert trial.config.steps == 2
        assert trial.name == f"{trial.configuration}/seed={trial.seed}"
    assert len({trial.name for trial in trials}) == 8


def test_base_configuration_and_unsafe_characters(tmp_path: Path) -> None:
    (trial,) = sweep.make_trials({}, [0], tmp_path, lambda overrides: Example())
    assert trial.name == "base/seed=0"
    assert sweep.configuration_name({"label": "ALE/Pong v5"}) == "label=ALE_Pong_v5"
    with pytest.raises(ValueError, match=r"get the same directory 'label=a_b'"):
        sweep.make_trials({"label": ["a/b", "a b"]}, [0], tmp_path, lambda overrides: Example())


def test_the_configs_own_checks_apply(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"Example.steps must be >= 1, got 0"):
        sweep.make_trials({"steps": [1, 0]}, [0], tmp_path, lambda overrides: Example())


def test_sweep_options_the_agent_must_not_get(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        sweep.main(["--seed", "3"])
    assert "the sweep sets each trial's seed; use --seeds" in capsys.readouterr().err
    assert sweep.main(["--set", "learnig_rate=0.1"]) == 2
    assert "did you mean learning_rate" in capsys.readouterr().err
    assert sweep.main(["--set", "learning_rate=0.1", "--learning-rate", "0.2"]) == 2
    assert "['learning_rate'] both swept (--set) and fixed" in capsys.readouterr().err


# ---------------------------------------------------------------------------------- the summary
def write_trial(trial_dir: Path, returns: list[float], *, done: bool = True) -> None:
    """A run directory as an agent leaves it: evaluations among training rows, then eval.json."""
    trial_dir.mkdir(parents=True)
    lines = ["step,time,train/episodic_return,eval/mean_return"]
    for i, value in enumerate(returns):
        lines.append(f"{100 * i + 50},{i}.0,{value - 7.0},")
        lines.append(f"{100 * (i + 1)},{i}.5,,{value}")
    (trial_dir / "progress.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if done:
        summary = {"mean_return": returns[-1]}
        (trial_dir / "eval.json").write_text(json.dumps(summary), encoding="utf-8")


def bootstrap(values: np.ndarray, statistic: Any, resamples: int, seed: int) -> np.ndarray:
    """The percentile bootstrap that rlcore.analysis documents, recomputed here."""
    indices = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    return np.asarray(np.percentile([statistic(values[row]) for row in indices], [2.5, 97.5]))


def iqm(values: np.ndarray) -> float:
    """Mean of the middle half: the n // 4 lowest and highest values dropped."""
    ordered = np.sort(values)
    cut = len(values) // 4
    return float(ordered[cut : len(values) - cut].mean())


def test_summary_matches_a_hand_computation(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    finals = {"rate=0.1": rng.normal(100, 20, 5), "rate=0.01": rng.normal(50, 5, 8)}
    for configuration, values in finals.items():
        for seed, final in enumerate(values):
            write_trial(tmp_path / configuration / f"seed={seed}", [0.0, final / 2, float(final)])
    # A trial that failed leaves a run log but no eval.json: it is not in the summary.
    write_trial(tmp_path / "rate=0.1" / "seed=9", [1e6], done=False)

    summary = sweep.summarize_sweep(tmp_path, num_resamples=500, seed=3)

    assert summary.key == "eval/mean_return"
    # Sorted paths, as `rlcore summarize` lists runs: "rate=0.01" before "rate=0.1".
    assert [row.configuration for row in summary.rows] == ["rate=0.01", "rate=0.1"]
    for row in summary.rows:
        values = finals[row.configuration]
        assert row.num_seeds == len(values)
        np.testing.assert_allclose(row.mean, values.mean(), rtol=1e-9)
        np.testing.assert_allclose(row.std, values.std(ddof=1), rtol=1e-9)
        np.testing.assert_allclose(row.iqm, iqm(values), rtol=1e-9)
        np.testing.assert_allclose(row.mean_ci, bootstrap(values, np.mean, 500, 3), rtol=1e-9)
        np.testing.assert_allclose(row.iqm_ci, bootstrap(values, iqm, 500, 3), rtol=1e-9)
        assert f"| {row.configuration} | {len(values)} | {values.mean():.2f} |" in summary.table
    assert summary.summary_path.read_text(encoding="utf-8") == summary.table + "\n"
    assert summary.plot_path is not None
    assert summary.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_of_chosen_trials_and_of_none(tmp_path: Path) -> None:
    for seed, final in enumerate([1.0, 2.0, 4.0]):
        write_trial(tmp_path / "base" / f"seed={seed}", [final])
    chosen = [tmp_path / "base" / "seed=0", tmp_path / "base" / "seed=2"]
    summary = sweep.summarize_sweep(tmp_path, trial_dirs=chosen, plot=False, num_resamples=10)
    (row,) = summary.rows
    assert (row.configuration, row.num_seeds, row.mean) == ("base", 2, 2.5)
    assert summary.plot_path is None
    with pytest.raises(FileNotFoundError, match=r"no done trial \(with eval.json\) under"):
        sweep.summarize_sweep(tmp_path / "base" / "nothing")


def test_trial_states(tmp_path: Path) -> None:
    assert sweep.trial_state(tmp_path / "missing") == "new"
    (tmp_path / "checkpoints").mkdir()
    assert sweep.trial_state(tmp_path) == "partial"
    (tmp_path / "checkpoints" / "step_000000100.pt").write_bytes(b"")
    assert sweep.trial_state(tmp_path) == "resumable"
    (tmp_path / "eval.json").write_text("{}", encoding="utf-8")
    assert sweep.trial_state(tmp_path) == "done"


def test_a_cluster_token_is_used_as_ray_start_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.setenv(name, "")  # recorded, so that the end of the test restores it
        monkeypatch.delenv(name)
    sweep.use_cluster_token("auto")
    assert "RAY_AUTH_MODE" not in os.environ  # no token anywhere
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("secret", encoding="utf-8")
    sweep.use_cluster_token(None)
    assert "RAY_AUTH_MODE" not in os.environ  # a Ray started here sets itself up
    sweep.use_cluster_token("10.0.0.1:6379")
    assert os.environ["RAY_AUTH_MODE"] == "token"
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    sweep.use_cluster_token("auto")
    assert os.environ["RAY_AUTH_MODE"] == "disabled"  # the user's choice stands


# ---------------------------------------------------------------------------------- on Ray
#: Agent options for trials of a second or two.
TINY = ["--total-timesteps", "512", "--eval-every", "256", "--eval-episodes", "2"]
TINY += ["--final-eval-episodes", "3"]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray for the module's sweeps (each sweep would otherwise start its own)."""
    ray: Any = pytest.importorskip("ray", reason="the sweep extra (Ray) is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.usefixtures("local_ray")
def test_sweep_runs_resumes_and_reports_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["--runs-dir", str(tmp_path), "--name", "lr", "--seeds", "0-1", *TINY]
    command += ["--set", "learning_rate=3e-4,1e-3"]
    assert sweep.main(command) == 0
    output = capsys.readouterr().out
    sweep_dir = tmp_path / "lr"
    names = [f"learning_rate={lr}/seed={seed}" for lr in ("0.0003", "0.001") for seed in (0, 1)]
    for name in names:
        record = json.loads((sweep_dir / name / "config.json").read_text(encoding="utf-8"))
        assert record["seed"] == int(name[-1])
        assert record["learning_rate"] == float(name.split("=")[1].split("/")[0])
        assert record["total_timesteps"] == 512
        assert (sweep_dir / name / "eval.json").is_file()
    assert "4 completed, 0 done before, 0 failed" in output
    assert (sweep_dir / "summary.md").is_file()
    assert (sweep_dir / "learning_curves.png").is_file()

    # Delete one trial: the same command runs it alone and leaves the others untouched.
    kept = {name: (sweep_dir / name / "eval.json").stat().st_mtime_ns for name in names[1:]}
    deleted = sweep_dir / names[0]
    shutil.rmtree(deleted)
    assert sweep.main(command) == 0
    output = capsys.readouterr().out
    assert "1 completed, 3 done before, 0 failed" in output
    assert f"started {names[0]}\n" in output
    assert (deleted / "eval.json").is_file()
    assert {name: (sweep_dir / name / "eval.json").stat().st_mtime_ns for name in names[1:]} == kept
    # Another budget for the same trials is refused rather than mixed with their results.
    assert sweep.main([*command, "--total-timesteps", "1024"]) == 2
    error = capsys.readouterr().err
    assert "4 trial(s) in" in error
    assert "were made with another configuration" in error
    assert "(total_timesteps: 512 there, 1024 now)" in error

    # A trial that fails is reported with its error; the others finish.
    failing = ["--runs-dir", str(tmp_path), "--name", "envs", "--seeds", "0", *TINY]
    assert sweep.main([*failing, "--set", "env_id=CartPole-v1,NoSuchEnv-v0"]) == 1
    output = capsys.readouterr().out
    assert "FAILED env_id=NoSuchEnv-v0/seed=0: NameNotFound" in output
    assert "1 completed, 0 done before, 1 failed" in output
    error = (tmp_path / "envs" / "env_id=NoSuchEnv-v0" / "seed=0" / "error.txt").read_text()
    assert "NoSuchEnv" in error
    assert (tmp_path / "envs" / "env_id=CartPole-v1" / "seed=0" / "eval.json").is_file()
    assert "| env_id=CartPole-v1 | 1 |" in output
