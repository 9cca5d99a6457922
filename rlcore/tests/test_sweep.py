"""rlcore.sweep: its grid, trials, summary and options without Ray, then small sweeps on local Ray.

The sweeps train :func:`rlcore.testing.tiny_agent` (a fraction of a second per trial) on one
local Ray of 2 CPUs shared by the module; they are skipped when Ray is not installed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest

from rlcore import sweep
from rlcore.analysis import interquartile_mean
from rlcore.runs import PositiveInt, Registry, RunConfig, run_state
from rlcore.testing import tiny_agent


@dataclasses.dataclass(frozen=True)
class Example(RunConfig):
    """A config with a field of every kind the sweep reads."""

    rate: float = 0.1
    steps: PositiveInt = 10
    flag: bool = False
    mode: Literal["sync", "async"] = "sync"
    label: str | None = None
    limit: int | None = None
    sizes: tuple[int, ...] = (64, 64)


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


def test_values_are_read_by_tyro_as_their_fields_types() -> None:
    grid = sweep.parse_set(
        [
            "rate=3e-4, 1e-3,-2",
            "steps=100_000,7",
            "flag=True,False",
            "mode=async",
            "label=None,x,-y",
            "limit=None,5",
            "sizes=[32],[64, 64],[]",
        ],
        Example,
    )
    assert grid == {
        "rate": [3e-4, 1e-3, -2.0],
        "steps": [100_000, 7],
        "flag": [True, False],
        "mode": ["async"],
        "label": [None, "x", "-y"],
        "limit": [None, 5],
        "sizes": [(32,), (64, 64), ()],
    }
    assert [type(value) for value in grid["rate"]] == [float, float, float]
    assert [type(value) for value in grid["steps"]] == [int, int]
    assert list(grid) == ["rate", "steps", "flag", "mode", "label", "limit", "sizes"]
    # A sweep reads a value as the agent's flag does: the same field of the base config.
    assert sweep.parse_set(["vector_mode=async", "total_timesteps=5"], RunConfig) == {
        "vector_mode": ["async"],
        "total_timesteps": [5],
    }


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("rte=1", r"Example has no field 'rte'; did you mean rate\?"),
        ("rate", r"expected FIELD=VALUE\[,VALUE...\], got 'rate'"),
        ("seed=1,2", r"--set seed: the sweep sets each trial's seed; use --seeds, e.g. --seeds 0-4"),
        ("run_dir=x", r"--set run_dir: the sweep sets each trial's run_dir; use --runs-dir and --name"),
        ("rate=0.1,,0.2", r"--set rate: empty value in '0.1,,0.2'"),
        ("rate=0.1,0.1", r"--set rate: value\(s\) \[0.1\] listed more than once"),
        ("rate=fast", r"--set rate: cannot read 'fast'; Example.rate is a float$"),
        ("steps=1.5", r"--set steps: cannot read '1.5'; Example.steps is an int$"),
        ("steps=1e5", r"--set steps: cannot read '1e5'; Example.steps is an int$"),
        ("flag=yes", r"--set flag: cannot read 'yes'; Example.flag is a bool \(True or False\)"),
        ("mode=fast", r"--set mode: cannot read 'fast'; Example.mode is one of 'sync', 'async'"),
        ("limit=x", r"--set limit: cannot read 'x'; Example.limit is an int or None"),
        ("sizes=64", r"--set sizes: cannot read '64'; Example.sizes is a bracketed list \(an int\)"),
        ("sizes=[1.5]", r"--set sizes: cannot read '\[1.5\]'; Example.sizes is a bracketed list"),
    ],
)
def test_bad_assignments_are_named(assignment: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sweep.parse_set([assignment], Example)


def test_a_field_set_twice_is_refused() -> None:
    with pytest.raises(ValueError, match=r"--set rate is given twice; list its values in one option"):
        sweep.parse_set(["rate=0.1", "rate=0.2"], Example)


def test_values_split_at_commas_outside_brackets() -> None:
    assert sweep.split_values("[64,64], [32],1") == ["[64,64]", "[32]", "1"]
    assert sweep.split_values("a") == ["a"]


# ---------------------------------------------------------------------------------- the trials
def test_trials_cover_the_grid_times_the_seeds(tmp_path: Path) -> None:
    grid: dict[str, list[Any]] = {"rate": [0.1, 1e-5], "sizes": [(8,), (4, 4)]}
    trials = sweep.make_trials(grid, [3, 5], tmp_path, lambda overrides: Example(steps=2))
    # A naive loop over the grid, the first field slowest and the seeds fastest.
    expected = [(rate, sizes, seed) for rate in grid["rate"] for sizes in grid["sizes"] for seed in (3, 5)]
    assert [(t.config.rate, t.config.sizes, t.config.seed) for t in trials] == expected
    assert trials[0].name == "rate=0.1,sizes=[8]/seed=3"
    assert trials[-1].name == "rate=1e-05,sizes=[4,4]/seed=5"
    for trial in trials:
        assert trial.config.run_dir == str(tmp_path / trial.name)
        assert trial.path == tmp_path / trial.name
        assert trial.config.steps == 2
        assert trial.name == f"{trial.configuration}/seed={trial.seed}"
    assert len({trial.name for trial in trials}) == 8


def test_base_configuration_and_unsafe_characters(tmp_path: Path) -> None:
    (trial,) = sweep.make_trials({}, [0], tmp_path, lambda overrides: Example())
    assert trial.name == "base/seed=0"
    assert sweep.configuration_name({"label": "ALE/Pong v5"}) == "label=ALE_Pong_v5"
    with pytest.raises(ValueError, match=r"get the same directory 'label=a_b'"):
        sweep.make_trials({"label": ["a/b", "a b"]}, [0], tmp_path, lambda overrides: Example())
    with pytest.raises(ValueError, match=r"no seeds"):
        sweep.make_trials({}, [], tmp_path, lambda overrides: Example())


def test_the_configs_own_checks_apply(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"Example.steps must be an int >= 1, got 0"):
        sweep.make_trials({"steps": [1, 0]}, [0], tmp_path, lambda overrides: Example())


def test_run_settings_the_sweep_gives_trials() -> None:
    settings = sweep.trial_run_settings(Example, set(), cpus_per_trial=2.5, gpus_per_trial=0.0)
    assert settings == {"progress": False, "torch_threads": 2}
    settings = sweep.trial_run_settings(Example, set(), cpus_per_trial=0.5, gpus_per_trial=0.25)
    assert settings == {"progress": False, "torch_threads": 1, "device": "cuda"}
    # What the user set (options, config file, --set) stands.
    given = {"progress", "torch_threads", "device"}
    assert sweep.trial_run_settings(Example, given, cpus_per_trial=4, gpus_per_trial=1) == {}


def test_flags_given_to_the_agent() -> None:
    argv = ["--total-timesteps", "5", "--no-progress", "--torch_threads=2"]
    assert [sweep.flag_given(argv, f) for f in ("total_timesteps", "progress", "torch_threads")] == [True] * 3
    assert not sweep.flag_given(argv, "total")
    assert not sweep.flag_given(["5"], "seed")


# ---------------------------------------------------------------------------------- the command line
@pytest.fixture
def registry() -> Registry:
    return Registry(tiny_agent())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "name the agent first: sweep AGENT --name NAME ... (agents: tiny)"),
        (["ppo"], "no agent named 'ppo'; name the agent first"),
        (["tiny", "--seed", "3"], "the sweep sets each trial's seed; use --seeds"),
        (["tiny", "--run-dir", "x"], "the sweep sets each trial's run_dir; use --runs-dir and --name"),
        (["tiny", "--resume", "x"], "the sweep sets each trial's resume; use the same command again"),
        (["tiny", "--set", "learnig_rate=0.1"], "did you mean learning_rate"),
        (["tiny", "--set", "learning_rate=fast"], "cannot read 'fast'; TinyConfig.learning_rate is a float"),
        (
            ["tiny", "--set", "learning_rate=0.1", "--learning-rate", "0.2"],
            "['learning_rate'] both swept (--set) and fixed (an agent option)",
        ),
        (["tiny", "--seeds", "2-1"], "--seeds: the range '2-1' is empty"),
        (["tiny", "--set", "learning_rate=-1"], "TinyConfig.learning_rate must be a finite number > 0"),
        (["tiny", "--config", "missing.toml"], "config file 'missing.toml' does not exist"),
    ],
)
def test_bad_options_are_named_with_status_2(
    registry: Registry, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sweep.sweep_main(registry, argv, prog="sweep") == 2
    error = capsys.readouterr().err
    assert error.startswith("sweep: error: ")
    assert message in error


def test_bad_agent_options_are_tyros(registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    assert sweep.sweep_main(registry, ["tiny", "--total-timesteps", "x"]) == 2
    assert "--total-timesteps" in capsys.readouterr().err
    assert sweep.sweep_main(registry, ["--help"]) == 0
    assert "--cpus-per-trial" in capsys.readouterr().out


def test_import_needs_no_ray() -> None:
    optional = ("ray", "matplotlib")
    if any(name in sys.modules for name in optional):  # another test imported one: ask a fresh Python
        code = f"import sys, rlcore.sweep; print(sorted(m for m in {optional} if m in sys.modules))"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert result.stdout.strip() == "[]"
    else:  # this module imported rlcore.sweep, and nothing pulled them in
        assert "rlcore.sweep._runner" in sys.modules


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


# ---------------------------------------------------------------------------------- the summary
def write_trial(trial_dir: Path, returns: list[float], *, done: bool = True) -> None:
    """A run directory as an agent leaves it: evaluations among training rows, a checkpoint, eval.json."""
    trial_dir.mkdir(parents=True)
    lines = ["step,time,train/episodic_return,eval/mean_return"]
    for i, value in enumerate(returns):
        lines.append(f"{100 * i + 50},{i}.0,{value - 7.0},")
        lines.append(f"{100 * (i + 1)},{i}.5,,{value}")
    (trial_dir / "progress.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if done:
        (trial_dir / "checkpoints").mkdir()
        (trial_dir / "checkpoints" / f"step_{100 * len(returns)}.pt").write_bytes(b"")
        (trial_dir / "eval.json").write_text(json.dumps({"mean_return": returns[-1]}), encoding="utf-8")


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
    assert [row.label for row in summary.rows] == ["rate=0.01", "rate=0.1"]
    for row in summary.rows:
        values = finals[row.label]
        assert row.stats.num_runs == len(values)
        np.testing.assert_allclose(row.stats.mean, values.mean(), rtol=1e-9)
        np.testing.assert_allclose(row.stats.std, values.std(ddof=1), rtol=1e-9)
        np.testing.assert_allclose(row.stats.iqm, iqm(values), rtol=1e-9)
        np.testing.assert_allclose(row.stats.iqm, interquartile_mean(values), rtol=1e-9)
        np.testing.assert_allclose(row.stats.mean_ci, bootstrap(values, np.mean, 500, 3), rtol=1e-9)
        np.testing.assert_allclose(row.stats.iqm_ci, bootstrap(values, iqm, 500, 3), rtol=1e-9)
        assert f"| {row.label} | {len(values)} | {values.mean():.2f} |" in summary.table
    assert summary.summary_path.read_text(encoding="utf-8") == summary.table + "\n"
    assert summary.plot_path is not None
    assert summary.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_of_chosen_trials_and_of_none(tmp_path: Path) -> None:
    for seed, final in enumerate([1.0, 2.0, 4.0]):
        write_trial(tmp_path / "base" / f"seed={seed}", [final])
    chosen = [tmp_path / "base" / "seed=0", tmp_path / "base" / "seed=2"]
    summary = sweep.summarize_sweep(tmp_path, trial_dirs=chosen, plot=False, num_resamples=10)
    (row,) = summary.rows
    assert (row.label, row.stats.num_runs, row.stats.mean) == ("base", 2, 2.5)
    assert summary.plot_path is None
    with pytest.raises(FileNotFoundError, match=r"summarize_sweep: no done trial under"):
        sweep.summarize_sweep(tmp_path / "base" / "nothing")


# ---------------------------------------------------------------------------------- without Ray
TINY = ["--total-timesteps", "128", "--eval-every", "64", "--checkpoint-every", "64"]


def tiny_trials(tmp_path: Path, **fixed: Any) -> list[sweep.Trial]:
    agent = tiny_agent()
    config = agent.config_for_env("CartPole-v1", total_timesteps=128, progress=False, **fixed)
    return sweep.make_trials({}, [0], tmp_path / "s", lambda overrides: config)


def test_done_trials_are_skipped_and_stale_ones_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (trial,) = tiny_trials(tmp_path)
    tiny_agent().train(trial.config)
    assert run_state(trial.path) == "done"
    # Done, with other run settings only: skipped without starting Ray, and summarised.
    (changed,) = tiny_trials(tmp_path, torch_threads=2, checkpoint_every=64)
    outcome = sweep.run_sweep([changed], tmp_path / "s", train=tiny_agent().train)
    assert (outcome.completed, outcome.skipped, outcome.failed) == ([], ["base/seed=0"], {})
    assert outcome.summary is not None and outcome.summary.rows[0].label == "base"
    assert "0 completed, 1 done before, 0 failed" in capsys.readouterr().out
    # Another hyperparameter: refused rather than mixed with the results made before.
    (stale,) = tiny_trials(tmp_path, learning_rate=0.5)
    with pytest.raises(ValueError, match=r"1 trial\(s\) in .* were made with another configuration") as error:
        sweep.run_sweep([stale], tmp_path / "s", train=tiny_agent().train)
    assert "base/seed=0 (learning_rate: 0.01 there, 0.5 now)" in str(error.value)


def test_in_process_sweep_runs_skips_and_reports_without_ray(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    argv = ["tiny", "--in-process", "--runs-dir", str(tmp_path), "--name", "n", "--seeds", "0-1", *TINY]
    assert sweep.sweep_main(registry, [*argv, "--set", "learning_rate=0.01,0.02"]) == 0
    out = capsys.readouterr().out
    assert "4 completed, 0 done before, 0 failed" in out
    trial_dirs = sorted(path.parent for path in (tmp_path / "n").rglob("eval.json"))
    assert [path.relative_to(tmp_path / "n").as_posix() for path in trial_dirs] == [
        f"learning_rate={lr}/seed={seed}" for lr in ("0.01", "0.02") for seed in (0, 1)
    ]
    # Identical to the single-run command's run for the same config.
    single = tmp_path / "single"
    config = tiny_agent().config_for_env(
        "CartPole-v1", learning_rate=0.02, seed=1, total_timesteps=128, eval_every=64, checkpoint_every=64
    )
    tiny_agent().train(dataclasses.replace(config, run_dir=str(single), progress=False))
    trial = tmp_path / "n" / "learning_rate=0.02" / "seed=1"
    assert (
        json.loads((trial / "eval.json").read_text())["episode_returns"]
        == json.loads((single / "eval.json").read_text())["episode_returns"]
    )
    # Again: every trial is done; a failing trial is reported and the command exits 1.
    assert sweep.sweep_main(registry, [*argv, "--set", "learning_rate=0.01,0.02"]) == 0
    assert "0 completed, 4 done before, 0 failed" in capsys.readouterr().out
    assert sweep.sweep_main(registry, [*argv, "--name", "bad", "--env-id", "Pendulum-v1"]) == 1
    out = capsys.readouterr().out
    assert "FAILED base/seed=0: TypeError: the tiny agent needs Box observations and Discrete actions" in out
    assert (tmp_path / "bad" / "base" / "seed=0" / "error.txt").is_file()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cpus_per_trial": 0}, "cpus_per_trial must be a number > 0, got 0"),
        ({"gpus_per_trial": -1}, "gpus_per_trial must be a number >= 0, got -1"),
        ({"max_concurrent": 0}, "max_concurrent must be an int >= 1, got 0"),
        ({"address": "auto", "num_cpus": 2}, "num_cpus sizes a Ray started here"),
    ],
)
def test_bad_resources_are_named(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sweep.run_sweep(tiny_trials(tmp_path), tmp_path, train=tiny_agent().train, **options)


# ---------------------------------------------------------------------------------- on Ray
@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray for the module's sweeps (each sweep would otherwise start its own)."""
    ray: Any = pytest.importorskip("ray", reason="the sweep extra (Ray) is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.usefixtures("local_ray")
def test_sweep_runs_resumes_restarts_and_reports_failures(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = tmp_path / "tiny.toml"
    config_file.write_text("algo = 'tiny'\neval_episodes = 1\n", encoding="utf-8")
    command = ["tiny", "--runs-dir", str(tmp_path), "--name", "lr", "--seeds", "0-1", *TINY]
    command += ["--set", "learning_rate=0.01,0.03", "--config", str(config_file), "--progress-every", "1"]
    assert sweep.sweep_main(registry, command) == 0
    output = capsys.readouterr().out
    sweep_dir = tmp_path / "lr"
    names = [f"learning_rate={lr}/seed={seed}" for lr in ("0.01", "0.03") for seed in (0, 1)]
    for name in names:
        record = json.loads((sweep_dir / name / "config.json").read_text(encoding="utf-8"))
        assert record["seed"] == int(name[-1])
        assert record["learning_rate"] == float(name.split("=")[1].split("/")[0])
        assert (record["total_timesteps"], record["eval_episodes"]) == (128, 1)
        assert (record["progress"], record["torch_threads"], record["gamma"]) == (False, 1, 0.98)
        assert record["config_file"] == str(config_file)
        assert (sweep_dir / name / "config.toml").read_text() == config_file.read_text()
        assert run_state(sweep_dir / name) == "done"
    assert "4 completed, 0 done before, 0 failed" in output
    assert "done 4/4, running 0, failed 0, waiting 0" in output
    assert "| learning_rate=0.01 | 2 |" in (sweep_dir / "summary.md").read_text(encoding="utf-8")
    assert (sweep_dir / "learning_curves.png").is_file()

    # One trial deleted, one interrupted after a checkpoint, one failed before its first: the
    # same command runs the first again, resumes the second, starts the third over, and leaves
    # the last untouched.
    kept = (sweep_dir / names[3] / "eval.json").stat().st_mtime_ns
    shutil.rmtree(sweep_dir / names[0])
    (sweep_dir / names[1] / "eval.json").unlink()
    shutil.rmtree(sweep_dir / names[2] / "checkpoints")
    assert [run_state(sweep_dir / name) for name in names[1:]] == ["resumable", "failed", "done"]
    assert sweep.sweep_main(registry, [*command, "--max-concurrent", "1"]) == 0
    output = capsys.readouterr().out
    assert "4 trial(s), 1 done before" in output
    assert f"started {names[0]}\n" in output
    assert f"resumed {names[1]}\n" in output
    assert f"started {names[2]}\n" in output
    assert "3 completed, 1 done before, 0 failed" in output
    assert all(run_state(sweep_dir / name) == "done" for name in names)
    assert (sweep_dir / names[3] / "eval.json").stat().st_mtime_ns == kept

    # Another budget for the same trials is refused rather than mixed with their results.
    assert sweep.sweep_main(registry, [*command, "--total-timesteps", "256"]) == 2
    error = capsys.readouterr().err
    assert "4 trial(s) in" in error and "were made with another configuration" in error
    assert "(total_timesteps: 128 there, 256 now)" in error
    # More GPUs per trial than the cluster has.
    assert sweep.sweep_main(registry, [*command, "--name", "gpu", "--gpus-per-trial", "1"]) == 2
    assert "each trial asks for 1 GPU(s) but the Ray cluster has 0" in capsys.readouterr().err

    # A trial that fails is reported with its error; the others finish; the status is 1.
    failing = ["tiny", "--runs-dir", str(tmp_path), "--name", "envs", "--seeds", "0", *TINY]
    failing += ["--set", "env_id=CartPole-v1,NoSuchEnv-v0"]
    assert sweep.sweep_main(registry, failing) == 1
    output = capsys.readouterr().out
    assert "FAILED env_id=NoSuchEnv-v0/seed=0: ValueError: env_id 'NoSuchEnv-v0' is not" in output
    assert "1 completed, 0 done before, 1 failed" in output
    failed = tmp_path / "envs" / "env_id=NoSuchEnv-v0" / "seed=0"
    assert "NoSuchEnv" in (failed / "error.txt").read_text(encoding="utf-8")
    assert run_state(tmp_path / "envs" / "env_id=CartPole-v1" / "seed=0") == "done"
    assert "| env_id=CartPole-v1 | 1 |" in output
