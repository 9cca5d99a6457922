"""rlcore.runs: configs and their checks, agents, run directories, checkpoints and exact resume.

The runs are the tiny REINFORCE agent's (``rlcore.testing.tiny_agent``) on CartPole-v1: 512
steps, two checkpoints, four evaluations, about half a second each.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import gymnasium as gym
import numpy as np
import pytest
import torch
from _runs_kit import (
    AGENT,
    ENV_ID,
    assert_same_state,
    due_steps,
    read_log,
    tiny_config,
    untimed_rows,
    update_steps,
    write_text,
)
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers.vector import RecordEpisodeStatistics

import rlcore
from rlcore.runs import (
    CHECKPOINT_DIR,
    CONFIG_FILE_COPY,
    CURVE_FILENAME,
    ERROR_FILENAME,
    EVAL_FILENAME,
    SEEDING,
    TRAIN_CPU_SECONDS_KEY,
    TRAIN_SECONDS_KEY,
    Agent,
    AtLeast,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Registry,
    Run,
    RunConfig,
    RunSetting,
    UnitFloat,
    check_device,
    check_env_id,
    checkpoint_step,
    config_fields,
    config_for_env,
    config_record,
    default_run_dir,
    episode_seed,
    git_commit,
    latest_checkpoint,
    make_envs,
    read_config_file,
    run_settings,
    run_state,
    saved_config,
    stateful_wrappers,
)

TinyConfig: Any = AGENT.config_type
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: RunConfig's run settings (run_dir aside), in declaration order, as the spec lists them.
BASE_RUN_SETTINGS = [
    "checkpoint_every",
    "keep_last",
    "vector_mode",
    "logger",
    "wandb_project",
    "wandb_entity",
    "wandb_group",
    "wandb_tags",
    "wandb_name",
    "capture_video",
    "video_episodes",
    "progress",
    "torch_threads",
    "device",
    "strategy",
]


@dataclasses.dataclass(frozen=True)
class ProbeConfig(RunConfig):
    """A config with a field of every kind a config uses."""

    count: PositiveInt = 1
    index: NonNegativeInt = 0
    rate: PositiveFloat = 0.5
    weight: NonNegativeFloat = 0.0
    fraction: UnitFloat = 0.5
    mode: Literal["a", "b"] = "a"
    sizes: tuple[int, ...] = (4, 4)
    ratios: tuple[float, ...] = (0.5, 1.0)
    note: str | None = None
    clip: float | None = None
    flag: bool = False


@dataclasses.dataclass(frozen=True)
class RedeclaredConfig(RunConfig):
    """Redeclares run settings with new defaults, plainly and with Annotated."""

    progress: bool = False
    device: Annotated[str, RunSetting] = "cpu"
    checkpoint_every: Annotated[int, AtLeast(0)] = 1_000
    learning_rate: PositiveFloat = 1e-3


def hide_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import matplotlib`` fail, as without the ``plot`` extra: runs write no curve."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)


@pytest.fixture
def without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs without the learning curve, which is a third of a tiny run's time."""
    hide_matplotlib(monkeypatch)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run with the default config (read it or copy it; never change it)."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    with pytest.MonkeyPatch.context() as monkeypatch:
        hide_matplotlib(monkeypatch)
        AGENT.train(tiny_config(run_dir))
    return run_dir


def copy_run(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def checkpoint_names(run_dir: Path) -> list[str]:
    return sorted(path.name for path in (run_dir / CHECKPOINT_DIR).iterdir())


def load_checkpoint(path: Path) -> dict[str, Any]:
    payload: dict[str, Any] = torch.load(path, weights_only=True)
    return payload


def fail_before_first_checkpoint(monkeypatch: pytest.MonkeyPatch, config: Any) -> None:
    """Run the tiny agent until its first update, where it raises (as a crashing agent would)."""

    def boom(self: Run, policy: Any, obs: np.ndarray) -> np.ndarray:
        raise RuntimeError("the agent crashed")

    with monkeypatch.context() as patch:
        patch.setattr(Run, "after_step", boom)
        with pytest.raises(RuntimeError, match="the agent crashed"):
            AGENT.train(config)


# ------------------------------------------------------------------------- the test helpers
def test_assert_same_state_sees_a_single_differing_element() -> None:
    state = {"w": torch.zeros(3), "step": 4, "rng": [torch.arange(3, dtype=torch.uint8), (1, 2)]}
    assert_same_state(
        {"w": torch.zeros(3), "step": 4, "rng": [torch.arange(3, dtype=torch.uint8), (1, 2)]}, state
    )
    changed_tensor = {**state, "w": torch.tensor([0.0, 0.0, 1e-7])}
    with pytest.raises(AssertionError, match=r"checkpoint\['w'\]"):
        assert_same_state(changed_tensor, state)
    with pytest.raises(AssertionError, match=r"checkpoint\['w'\]"):
        assert_same_state({**state, "w": torch.zeros(3, dtype=torch.float64)}, state)
    with pytest.raises(AssertionError, match=r"checkpoint\['rng'\]\[1\]\[1\]"):
        assert_same_state({**state, "rng": [state["rng"][0], (1, 3)]}, state)
    with pytest.raises(AssertionError, match=r"checkpoint\['rng'\]"):
        assert_same_state({**state, "rng": [state["rng"][0]]}, state)
    with pytest.raises(AssertionError, match="checkpoint"):
        assert_same_state({"w": state["w"]}, state)


def test_due_steps_by_hand() -> None:
    # Updates of 64 steps to 512: a checkpoint every 256 falls at 256 (512 is the end).
    assert update_steps(512, 64) == [64, 128, 192, 256, 320, 384, 448, 512]
    assert due_steps(512, 64, 256) == [256]
    # Updates of 96 steps: 96, 192, ..., 576 (the first at or past 512).
    assert update_steps(512, 96) == [96, 192, 288, 384, 480, 576]
    assert due_steps(512, 96, 200) == [288, 480]
    assert due_steps(512, 96, 100) == [192, 288, 384, 480]
    # Updates longer than the interval: one each time, never twice.
    assert due_steps(512, 96, 10) == [96, 192, 288, 384, 480]
    assert due_steps(512, 96, 0) == []


# ------------------------------------------------------------------------- the run directory
def test_run_directory_holds_config_log_checkpoints_evaluation_and_curve(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    config = tiny_config(run_dir, seed=7, num_envs=3, checkpoint_every=200, eval_every=100)
    per_update = config.num_envs * config.num_steps
    end = update_steps(config.total_timesteps, per_update)[-1]
    summary = AGENT.train(config)
    assert summary["step"] == end == 576

    # config.json: every field but run_dir, and how the run was made.
    record = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    fields = dataclasses.asdict(config)
    del fields["run_dir"]  # differs between the seeds of one setting, which plots group by config.json
    assert {k: record[k] for k in fields} == json.loads(json.dumps(fields))
    extras = {
        "algo",
        "run_settings",
        "rlcore_version",
        "torch_version",
        "gymnasium_version",
        "python_version",
        "git_commit",
        "seeding",
        "config_file",
    }
    assert set(record) == set(fields) | extras
    assert record["algo"] == "tiny"
    assert record["run_settings"] == BASE_RUN_SETTINGS
    assert record["rlcore_version"] == rlcore.__version__
    assert record["torch_version"] == torch.__version__
    assert record["gymnasium_version"] == gym.__version__
    assert record["python_version"] == platform.python_version()
    assert record["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", record["git_commit"])
    assert record["seeding"] == SEEDING
    assert record["config_file"] is None

    # Checkpoints at the first update past each multiple of checkpoint_every, and at the end.
    expected_steps = [*due_steps(config.total_timesteps, per_update, 200), end]
    assert expected_steps == [288, 480, 576]
    assert checkpoint_names(run_dir) == [f"step_{step:09d}.pt" for step in expected_steps]
    for step in expected_steps:
        payload = load_checkpoint(run_dir / CHECKPOINT_DIR / f"step_{step:09d}.pt")
        assert sorted(payload["objects"]) == ["optimizer", "policy"]
        assert json.loads(payload["metadata"])["step"] == step
    assert latest_checkpoint(run_dir) == run_dir / CHECKPOINT_DIR / f"step_{end:09d}.pt"

    # eval.json: the final evaluation, as the summary says.
    evaluation = json.loads((run_dir / EVAL_FILENAME).read_text(encoding="utf-8"))
    assert evaluation == {k: v for k, v in summary.items() if k != "learning_curve"}
    returns = np.asarray(evaluation["episode_returns"], dtype=np.float64)
    assert len(returns) == config.final_eval_episodes == evaluation["num_episodes"]
    assert len(evaluation["episode_lengths"]) == config.final_eval_episodes
    assert evaluation["mean_return"] == pytest.approx(returns.mean())
    assert evaluation["std_return"] == pytest.approx(returns.std())
    # CartPole pays 1 per step: an episode's return is its length.
    assert evaluation["episode_returns"] == [float(n) for n in evaluation["episode_lengths"]]
    assert evaluation["mean_length"] == pytest.approx(np.mean(evaluation["episode_lengths"]))
    assert (evaluation["algo"], evaluation["env_id"], evaluation["seed"]) == ("tiny", ENV_ID, 7)
    assert evaluation["run_dir"] == str(run_dir)
    assert evaluation["train_cpu_seconds"] > 0
    assert evaluation["train_seconds"] > 0

    # progress.csv: one loss row per update, evaluations when due and at the end, clocks rising.
    rows = read_log(run_dir)
    steps = [int(row["step"]) for row in rows]
    assert steps == sorted(steps)
    assert [int(row["step"]) for row in rows if row["train/loss"]] == update_steps(512, per_update)
    evaluations = [row for row in rows if row["eval/mean_return"]]
    assert [int(row["step"]) for row in evaluations] == [*due_steps(512, per_update, 100), end]
    assert float(evaluations[-1]["eval/mean_return"]) == pytest.approx(summary["mean_return"])
    for key in (TRAIN_SECONDS_KEY, TRAIN_CPU_SECONDS_KEY):
        seconds = [float(row[key]) for row in evaluations]
        assert seconds == sorted(seconds), key
        assert seconds[0] > 0, key
        assert all(not row[key] for row in rows if not row["eval/mean_return"]), key
    # The summary's clock stops after the last row (closing the envs is timed, the evaluation not).
    assert float(evaluations[-1][TRAIN_SECONDS_KEY]) <= summary["train_seconds"]
    assert float(evaluations[-1][TRAIN_CPU_SECONDS_KEY]) <= summary["train_cpu_seconds"]
    # eval.json's history: every evaluation row, periodic and final, as the log has it.
    assert evaluation["evaluations"] == [
        {
            "step": int(row["step"]),
            "mean_return": float(row["eval/mean_return"]),
            "std_return": float(row["eval/std_return"]),
            "mean_length": float(row["eval/mean_length"]),
            "train_seconds": float(row[TRAIN_SECONDS_KEY]),
        }
        for row in evaluations
    ]
    episodes = [row for row in rows if row["train/episodic_return"]]
    assert episodes
    assert all(float(r["train/episodic_return"]) == float(r["train/episodic_length"]) for r in episodes)

    assert summary["learning_curve"] == str(run_dir / CURVE_FILENAME)
    assert (run_dir / CURVE_FILENAME).read_bytes()[:8] == PNG_SIGNATURE
    assert run_state(run_dir) == "done"


@pytest.mark.usefixtures("without_matplotlib")
def test_a_run_without_run_dir_goes_under_runs_algo_env_seed_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = time.strftime("%Y%m%d-%H%M%S")
    summary = AGENT.train(tiny_config(None, seed=5, total_timesteps=64, eval_every=0, checkpoint_every=0))
    after = time.strftime("%Y%m%d-%H%M%S")
    run_dir = Path(summary["run_dir"])
    assert run_dir.parent == Path("runs") / "tiny-CartPole-v1"
    stamp = run_dir.name.removeprefix("seed5-")
    assert re.fullmatch(r"\d{8}-\d{6}", stamp)
    assert before <= stamp <= after
    assert run_state(run_dir) == "done"
    # Without matplotlib (the plot extra) a run writes everything but the learning curve.
    assert summary["learning_curve"] is None
    assert not (run_dir / CURVE_FILENAME).exists()
    # checkpoint_every 0 and eval_every 0: only the end's checkpoint and evaluation.
    assert checkpoint_names(run_dir) == ["step_000000064.pt"]
    assert [int(row["step"]) for row in read_log(run_dir) if row["eval/mean_return"]] == [64]


def test_default_run_dir_names_the_algo_the_env_and_the_seed() -> None:
    path = default_run_dir("ppo", "ale_py:ALE/Pong-v5", 3)
    assert path.parent == Path("runs") / "ppo-ale_py_ALE_Pong-v5"
    assert re.fullmatch(r"seed3-\d{8}-\d{6}", path.name)


# ------------------------------------------------------------------------- resume
@pytest.mark.parametrize(
    ("num_envs", "normalize_observation"),
    [(1, False), (1, True), (3, False), (3, True)],
)
@pytest.mark.usefixtures("without_matplotlib")
def test_resumed_run_equals_the_uninterrupted_run(
    tmp_path: Path, num_envs: int, normalize_observation: bool
) -> None:
    whole, interrupted = tmp_path / "whole", tmp_path / "interrupted"
    # One periodic evaluation after the checkpoint (the schedule is restored too), single-episode
    # evaluations: a policy on normalised observations balances for hundreds of steps at once.
    changes: dict[str, Any] = {
        "num_envs": num_envs,
        "normalize_observation": normalize_observation,
        "eval_episodes": 1,
        "final_eval_episodes": 1,
    }
    if num_envs == 1:
        changes.update(total_timesteps=256, checkpoint_every=128, eval_every=160)
    else:
        changes.update(total_timesteps=512, checkpoint_every=256, eval_every=300)
    AGENT.train(tiny_config(whole, **changes))
    # The same run, stopped after its first checkpoint: the log goes on past it, as the process
    # ran until it was killed, and nothing of the end was written.
    copy_run(whole, interrupted)
    checkpoints = sorted((interrupted / CHECKPOINT_DIR).iterdir())
    assert len(checkpoints) == 2
    for path in [*checkpoints[1:], interrupted / EVAL_FILENAME]:
        path.unlink()
    assert run_state(interrupted) == "resumable"
    resumed_from = checkpoint_step(checkpoints[0])
    assert any(int(row["step"]) > resumed_from for row in read_log(interrupted))

    AGENT.train(tiny_config(interrupted, **changes), resume=True)

    evaluations = [int(row["step"]) for row in read_log(whole) if row["eval/mean_return"]]
    assert len(evaluations) == 2
    assert evaluations[0] > resumed_from
    assert checkpoint_names(interrupted) == checkpoint_names(whole)
    final = checkpoint_names(whole)[-1]
    expected = load_checkpoint(whole / CHECKPOINT_DIR / final)
    actual = load_checkpoint(interrupted / CHECKPOINT_DIR / final)
    has_statistics = "NormalizeObservation" in expected["objects"]
    assert has_statistics == normalize_observation
    assert_same_state(actual["objects"], expected["objects"], "objects")
    assert_same_state(actual["rng"], expected["rng"], "rng")
    expected_meta, actual_meta = json.loads(expected["metadata"]), json.loads(actual["metadata"])
    for key in ("step", "next_eval", "next_checkpoint"):
        assert actual_meta[key] == expected_meta[key], key
    expected_eval = json.loads((whole / EVAL_FILENAME).read_text(encoding="utf-8"))
    actual_eval = json.loads((interrupted / EVAL_FILENAME).read_text(encoding="utf-8"))
    assert actual_eval["episode_returns"] == expected_eval["episode_returns"]
    # The log holds each step once: the rows after the checkpoint were logged again, identically.
    assert untimed_rows(interrupted) == untimed_rows(whole)
    seconds = [float(row[TRAIN_SECONDS_KEY]) for row in read_log(interrupted) if row[TRAIN_SECONDS_KEY]]
    assert seconds == sorted(seconds)


@pytest.mark.usefixtures("without_matplotlib")
def test_resume_does_not_depend_on_the_rng_state_of_the_resuming_process(
    tmp_path: Path, finished_run: Path
) -> None:
    interrupted = copy_run(finished_run, tmp_path / "interrupted")
    for path in [*sorted((interrupted / CHECKPOINT_DIR).iterdir())[1:], interrupted / EVAL_FILENAME]:
        path.unlink()
    torch.manual_seed(12345)
    np.random.seed(54321)  # noqa: NPY002 - the global state that seed_everything sets
    AGENT.train(tiny_config(interrupted), resume=True)
    assert untimed_rows(interrupted) == untimed_rows(finished_run)


@pytest.mark.usefixtures("without_matplotlib")
def test_a_finished_run_trains_longer_when_resumed_with_more_steps(
    tmp_path: Path, finished_run: Path
) -> None:
    run_dir = copy_run(finished_run, tmp_path / "run")
    first = json.loads((run_dir / EVAL_FILENAME).read_text(encoding="utf-8"))
    total = 2 * first["step"]
    second = AGENT.train(tiny_config(run_dir, total_timesteps=total), resume=True)
    assert second["step"] >= total > first["step"]
    assert second["train_seconds"] > first["train_seconds"]
    steps = [int(row["step"]) for row in read_log(run_dir)]
    assert steps == sorted(steps)
    assert steps[-1] == second["step"]
    # The rows of the first run are kept as they were.
    assert untimed_rows(run_dir)[: len(untimed_rows(finished_run))] == untimed_rows(finished_run)
    assert checkpoint_names(run_dir)[-1] == f"step_{second['step']:09d}.pt"
    assert json.loads((run_dir / EVAL_FILENAME).read_text(encoding="utf-8"))["step"] == second["step"]
    assert json.loads((run_dir / "config.json").read_text(encoding="utf-8"))["total_timesteps"] == total


@pytest.mark.usefixtures("without_matplotlib")
@pytest.mark.parametrize("eval_json", [True, False], ids=["finished", "stopped-before-eval-json"])
def test_resuming_a_run_at_its_end_logs_the_final_evaluation_once(
    tmp_path: Path, finished_run: Path, eval_json: bool
) -> None:
    # Resumed with nothing left to train: the final checkpoint, then finish evaluates again.
    run_dir = copy_run(finished_run, tmp_path / "run")
    if not eval_json:  # stopped after the last checkpoint and the final row, before eval.json
        (run_dir / EVAL_FILENAME).unlink()
    summary = AGENT.train(tiny_config(run_dir), resume=True)
    expected = json.loads((finished_run / EVAL_FILENAME).read_text(encoding="utf-8"))
    assert summary["step"] == expected["step"]
    assert summary["episode_returns"] == expected["episode_returns"]
    assert untimed_rows(run_dir) == untimed_rows(finished_run)


@pytest.mark.parametrize("state", ["done", "resumable"])
def test_an_existing_run_is_never_overwritten(tmp_path: Path, finished_run: Path, state: str) -> None:
    run_dir = copy_run(finished_run, tmp_path / "run")
    if state == "resumable":
        (run_dir / EVAL_FILENAME).unlink()
    assert run_state(run_dir) == state
    before = {p.relative_to(run_dir): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    message = rf"already holds a run; resume it \(--resume {re.escape(str(run_dir))}\)"
    with pytest.raises(FileExistsError, match=message):
        AGENT.train(tiny_config(run_dir))
    after = {p.relative_to(run_dir): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert after == before


def test_resume_needs_a_run(tmp_path: Path) -> None:
    missing = (
        r"cannot resume '.*empty': it holds no run \(config.json, progress.csv or checkpoints/step_\*\.pt\)"
    )
    with pytest.raises(FileNotFoundError, match=missing):
        Run(tiny_config(tmp_path / "empty"), "tiny", resume=True)
    assert not (tmp_path / "empty").exists()
    unrelated = tmp_path / "unrelated"
    write_text(unrelated / "notes.txt", "not a run\n")
    with pytest.raises(FileNotFoundError, match="cannot resume '.*unrelated'"):
        AGENT.train(tiny_config(unrelated), resume=True)
    assert sorted(p.name for p in unrelated.iterdir()) == ["notes.txt"]
    nowhere = r"resume=True needs config.run_dir, the run to continue; got None"
    with pytest.raises(ValueError, match=nowhere):
        Run(tiny_config(None), "tiny", resume=True)


def test_run_refuses_a_config_that_is_no_run_config(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"Run: config must be an rlcore.runs.RunConfig, got \{'seed': 0\}"):
        Run({"seed": 0}, "tiny")  # type: ignore[arg-type]


# ------------------------------------------------------------------------- failed runs
@pytest.mark.parametrize("resume", [False, True], ids=["again", "resume"])
@pytest.mark.usefixtures("without_matplotlib")
def test_a_run_that_failed_before_its_first_checkpoint_starts_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, finished_run: Path, resume: bool
) -> None:
    run_dir = tmp_path / "run"
    fail_before_first_checkpoint(monkeypatch, tiny_config(run_dir))
    assert (run_dir / "config.json").is_file()
    assert read_log(run_dir)  # it logged episodes before it crashed
    assert run_state(run_dir) == "failed"
    assert latest_checkpoint(run_dir) is None
    # What a sweep leaves of a failed trial, and leftovers of an older attempt.
    write_text(run_dir / ERROR_FILENAME, "Traceback ...\n")
    write_text(run_dir / CONFIG_FILE_COPY, "seed = 99\n")

    summary = AGENT.train(tiny_config(run_dir), resume=resume)

    assert run_state(run_dir) == "done"
    assert not (run_dir / ERROR_FILENAME).exists()
    assert not (run_dir / CONFIG_FILE_COPY).exists()
    # Started over: the run is the one a fresh directory gets, its log without the crashed rows.
    assert untimed_rows(run_dir) == untimed_rows(finished_run)
    assert (
        summary["episode_returns"]
        == json.loads((finished_run / EVAL_FILENAME).read_text())["episode_returns"]
    )
    final = checkpoint_names(finished_run)[-1]
    assert checkpoint_names(run_dir) == checkpoint_names(finished_run)
    assert_same_state(
        load_checkpoint(run_dir / CHECKPOINT_DIR / final)["objects"],
        load_checkpoint(finished_run / CHECKPOINT_DIR / final)["objects"],
    )


@pytest.mark.usefixtures("without_matplotlib")
def test_a_directory_with_only_a_config_or_only_a_log_is_a_failed_run(tmp_path: Path) -> None:
    only_config = tmp_path / "only_config"
    write_text(only_config / "config.json", json.dumps(config_record(tiny_config(only_config), "tiny")))
    only_log = tmp_path / "only_log"
    write_text(only_log / "progress.csv", "")
    for run_dir in (only_config, only_log):
        assert run_state(run_dir) == "failed"
    AGENT.train(tiny_config(only_log, total_timesteps=64, eval_every=0), resume=True)
    assert run_state(only_log) == "done"
    assert [int(row["step"]) for row in read_log(only_log) if row["train/loss"]] == [64]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"env_id": "NoSuchEnv-v0"}, r"env_id 'NoSuchEnv-v0' is not a registered Gymnasium id"),
        (
            {"env_id": "no_such_module_xyz:Thing-v0"},
            r"env_id: cannot import 'no_such_module_xyz' for 'Thing-v0'",
        ),
        pytest.param(
            {"device": "cuda"},
            r"device 'cuda': this torch build .* sees no CUDA GPU; use --device cpu",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU"),
        ),
        ({"device": "gpu-please"}, r"device 'gpu-please' is not a torch device"),
    ],
)
def test_a_bad_env_id_or_device_fails_before_any_file_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=message):
        AGENT.train(tiny_config(tmp_path / "run", **changes))
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match=message):
        AGENT.train(tiny_config(None, **changes))
    assert list(tmp_path.iterdir()) == []


def test_check_env_id_and_check_device() -> None:
    check_env_id(ENV_ID)
    check_env_id("gymnasium.envs.classic_control:CartPole-v1")  # module:Name imports the module
    assert check_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"env_id 'CartPole-v999' is not a registered Gymnasium id"):
        check_env_id("CartPole-v999")


# ------------------------------------------------------------------------- the reader
def test_run_state_and_latest_checkpoint(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert run_state(run_dir) == "new"  # missing
    run_dir.mkdir()
    assert run_state(run_dir) == "new"  # empty
    write_text(run_dir / "notes.txt", "unrelated\n")
    assert run_state(run_dir) == "new"
    write_text(run_dir / "config.json", "{}")
    assert run_state(run_dir) == "failed"
    folder = run_dir / CHECKPOINT_DIR
    folder.mkdir()
    (folder / "step_000000512.pt.tmp").write_bytes(b"")  # a half-written checkpoint
    (folder / "step_7.pt").mkdir()  # not a file
    (folder / "latest.pt").write_bytes(b"")
    assert latest_checkpoint(run_dir) is None
    assert run_state(run_dir) == "failed"
    for step in (9, 10, 2):
        (folder / f"step_{step}.pt").write_bytes(b"")
    (folder / "step_99.pt").symlink_to(folder / "step_9.pt")  # a link does not count
    # The highest step, numerically (step_10 sorts before step_9 as text).
    assert latest_checkpoint(run_dir) == folder / "step_10.pt"
    assert run_state(run_dir) == "resumable"
    write_text(run_dir / EVAL_FILENAME, "{}")
    assert run_state(run_dir) == "done"


def test_checkpoint_step_reads_the_step_from_the_name() -> None:
    assert checkpoint_step("runs/x/checkpoints/step_000000512.pt") == 512
    assert checkpoint_step(Path("step_7.pt")) == 7
    for bad in ("step_.pt", "step_12.pth", "ckpt_12.pt", "step_-1.pt", "step_1.pt.tmp"):
        with pytest.raises(
            ValueError, match=rf"not a checkpoint name: '{re.escape(bad)}', expected step_<step>\.pt"
        ):
            checkpoint_step(bad)


# ------------------------------------------------------------------------- Run's pieces
def test_advance_counts_steps_and_logs_the_episodes_that_ended(tmp_path: Path) -> None:
    run = Run(tiny_config(tmp_path / "run", total_timesteps=10, checkpoint_every=4), "tiny")
    try:
        assert (run.step, run.done, run.checkpoint_due) == (0, False, False)
        info = {
            "episode": {"r": np.array([1.5, 2.5, 3.5]), "l": np.array([3, 4, 5])},
            "_episode": np.array([False, True, True]),
        }
        run.advance(3, info)
        run.advance(3, {})
        assert (run.step, run.done, run.checkpoint_due) == (6, False, True)
        run.step = 10
        assert (run.done, run.checkpoint_due) == (True, False)  # the end's checkpoint is finish's
    finally:
        run.logger.close()
    rows = read_log(tmp_path / "run")
    assert [(r["step"], r["train/episodic_return"], r["train/episodic_length"]) for r in rows] == [
        ("3", "2.5", "4"),
        ("3", "3.5", "5"),
    ]


def test_run_sets_the_threads_and_the_seeds(tmp_path: Path) -> None:
    threads = torch.get_num_threads()

    def draws_after_run(name: str, seed: int) -> tuple[torch.Tensor, np.ndarray]:
        run = Run(tiny_config(tmp_path / name, seed=seed, torch_threads=2), "tiny")
        run.logger.close()
        return torch.rand(3), np.random.random(3)  # noqa: NPY002

    try:
        first = draws_after_run("first", 11)
        assert torch.get_num_threads() == 2
        torch.rand(5), np.random.random(5)  # noqa: NPY002 - the process's RNGs move on
        again = draws_after_run("again", 11)
        other = draws_after_run("other", 12)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(first[0], again[0])
    assert np.array_equal(first[1], again[1])
    assert not torch.equal(first[0], other[0])
    assert not np.array_equal(first[1], other[1])


def test_episode_seed_is_a_64_bit_seed_per_run_seed_and_step() -> None:
    seeds = {episode_seed(seed, step) for seed in range(4) for step in (0, 64, 128, 256)}
    assert len(seeds) == 16
    assert all(isinstance(s, int) and 0 <= s < 2**64 for s in seeds)
    assert episode_seed(3, 128) == episode_seed(3, 128)
    assert episode_seed(3, 128) == int(np.random.SeedSequence([3, 128]).generate_state(1, np.uint64)[0])


def test_make_envs_wraps_inside_out_and_evaluation_shares_frozen_statistics() -> None:
    config = tiny_config(None, vector_mode="async")
    sync_config = tiny_config(None)
    plain = make_envs(sync_config, 2)
    assert isinstance(plain, RecordEpisodeStatistics)
    assert plain.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert stateful_wrappers(plain) == {}
    plain.close()

    envs = make_envs(sync_config, 2, normalize_observation=True, normalize_reward=True, gamma=0.9)
    wrappers = stateful_wrappers(envs)
    assert sorted(wrappers) == ["NormalizeObservation", "NormalizeReward"]
    assert type(envs).__name__ == "NormalizeReward"  # the outermost
    assert type(envs.env).__name__ == "NormalizeObservation"
    assert envs.num_envs == 2
    envs.reset(seed=0)
    envs.step(np.array([0, 1]))
    count = float(np.sum(wrappers["NormalizeObservation"].obs_rms.count))

    evaluation = make_envs(config, 3, normalize_reward=True, evaluation_of=envs)
    assert isinstance(evaluation.unwrapped, SyncVectorEnv)  # evaluation is sync, whatever vector_mode says
    assert list(stateful_wrappers(evaluation)) == ["NormalizeObservation"]  # rewards as the env gives them
    assert (
        stateful_wrappers(evaluation)["NormalizeObservation"].obs_rms
        is wrappers["NormalizeObservation"].obs_rms
    )
    evaluation.reset(seed=1)
    for _ in range(5):
        evaluation.step(np.array([0, 1, 0]))
    assert float(np.sum(wrappers["NormalizeObservation"].obs_rms.count)) == count  # frozen
    evaluation.close()
    envs.close()

    without = make_envs(sync_config, 2)
    assert stateful_wrappers(make_envs(sync_config, 2, evaluation_of=without)) == {}


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_commit_names_the_checked_out_commit_and_marks_changes(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    assert git_commit(outside) is None
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    write_text(repo / "pkg" / "agent.py", "x = 1\n")
    assert git_commit(repo) is None  # no commit yet
    git("add", ".")
    git("commit", "-q", "-m", "first")
    head = (repo / ".git" / "refs" / "heads" / "main").read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{40}", head)
    assert git_commit(repo / "pkg" / "agent.py") == head  # a file: its folder's repository
    write_text(repo / "untracked.py", "y = 2\n")
    assert git_commit(repo / "pkg") == head  # untracked files do not count
    write_text(repo / "pkg" / "agent.py", "x = 2\n")
    assert git_commit(repo / "pkg") == head + "+dirty"


# ------------------------------------------------------------------------- field checks
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("count", True, r"ProbeConfig.count must be of type int, got bool: True"),
        ("count", 1.0, r"ProbeConfig.count must be of type int, got float: 1.0"),
        ("count", "3", r"ProbeConfig.count must be of type int, got str: '3'"),
        ("count", 0, r"ProbeConfig.count must be an int >= 1, got 0"),
        ("index", -1, r"ProbeConfig.index must be an int >= 0, got -1"),
        ("index", False, r"ProbeConfig.index must be of type int, got bool: False"),
        ("rate", 0.0, r"ProbeConfig.rate must be a finite number > 0, got 0.0"),
        ("rate", -1e-9, r"ProbeConfig.rate must be a finite number > 0, got -1e-09"),
        ("rate", math.nan, r"ProbeConfig.rate must be a finite number > 0, got nan"),
        ("rate", math.inf, r"ProbeConfig.rate must be a finite number > 0, got inf"),
        ("rate", True, r"ProbeConfig.rate must be of type float, got bool: True"),
        ("rate", "0.1", r"ProbeConfig.rate must be of type float, got str: '0.1'"),
        ("weight", -0.5, r"ProbeConfig.weight must be a finite number >= 0, got -0.5"),
        ("weight", math.inf, r"ProbeConfig.weight must be a finite number >= 0, got inf"),
        ("weight", math.nan, r"ProbeConfig.weight must be a finite number >= 0, got nan"),
        ("fraction", 1.5, r"ProbeConfig.fraction must be a finite number in \[0, 1\], got 1.5"),
        ("fraction", -0.1, r"ProbeConfig.fraction must be a finite number in \[0, 1\], got -0.1"),
        ("fraction", math.nan, r"ProbeConfig.fraction must be a finite number in \[0, 1\], got nan"),
        ("mode", "c", r"ProbeConfig.mode must be of type 'a' \| 'b', got str: 'c'"),
        ("mode", None, r"ProbeConfig.mode must be of type 'a' \| 'b', got NoneType: None"),
        (
            "sizes",
            (4, True),
            r"ProbeConfig.sizes must be of type tuple\[int, \.\.\.\], got tuple: \(4, True\)",
        ),
        ("sizes", (4, 2.0), r"ProbeConfig.sizes must be of type tuple\[int, \.\.\.\], got tuple: \(4, 2.0\)"),
        ("sizes", [4, 4], r"ProbeConfig.sizes must be of type tuple\[int, \.\.\.\], got list: \[4, 4\]"),
        ("ratios", (0.5, "1"), r"ProbeConfig.ratios must be of type tuple\[float, \.\.\.\], got tuple"),
        ("note", 3, r"ProbeConfig.note must be of type str \| None, got int: 3"),
        ("clip", "x", r"ProbeConfig.clip must be of type float \| None, got str: 'x'"),
        ("flag", 1, r"ProbeConfig.flag must be of type bool, got int: 1"),
        ("flag", "yes", r"ProbeConfig.flag must be of type bool, got str: 'yes'"),
        # RunConfig's own fields, named with the subclass.
        ("seed", -1, r"ProbeConfig.seed must be an int >= 0, got -1"),
        ("total_timesteps", 0, r"ProbeConfig.total_timesteps must be an int >= 1, got 0"),
        ("num_envs", 2.0, r"ProbeConfig.num_envs must be of type int, got float: 2.0"),
        ("eval_episodes", 0, r"ProbeConfig.eval_episodes must be an int >= 1, got 0"),
        ("checkpoint_every", -1, r"ProbeConfig.checkpoint_every must be an int >= 0, got -1"),
        ("torch_threads", 0, r"ProbeConfig.torch_threads must be an int >= 1, got 0"),
        ("vector_mode", "parallel", r"ProbeConfig.vector_mode must be of type 'sync' \| 'async', got str"),
        (
            "logger",
            "mlflow",
            r"ProbeConfig.logger must be of type 'csv' \| 'tensorboard' \| 'wandb', got str: 'mlflow'",
        ),
        ("env_id", None, r"ProbeConfig.env_id must be of type str, got NoneType: None"),
        ("run_dir", Path("x"), r"ProbeConfig.run_dir must be of type str \| None, got PosixPath"),
        ("progress", 0, r"ProbeConfig.progress must be of type bool, got int: 0"),
    ],
)
def test_every_field_is_checked_against_its_annotation(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProbeConfig(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("count", 1),
        ("index", 0),
        ("rate", 1e-12),
        ("rate", 3),  # an int where a float is expected
        ("weight", 0.0),
        ("fraction", 0.0),
        ("fraction", 1.0),
        ("fraction", 1),
        ("mode", "b"),
        ("sizes", ()),
        ("sizes", (1, 2, 3)),
        ("ratios", (1, 0.5)),
        ("note", "text"),
        ("clip", 0.2),
        ("run_dir", "runs/x"),
        ("wandb_project", "project"),
        ("device", "cuda:1"),  # the device is checked when a run starts, not by the config
        ("env_id", "NoSuchEnv-v0"),  # the same for the env id
    ],
)
def test_values_within_the_declared_checks_are_accepted(field: str, value: Any) -> None:
    assert getattr(ProbeConfig(**{field: value}), field) == value


def test_a_subclass_check_in_post_init_runs_after_the_field_checks() -> None:
    @dataclasses.dataclass(frozen=True)
    class Checked(RunConfig):
        batch_size: PositiveInt = 4

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.total_timesteps % self.batch_size:
                raise ValueError("Checked.total_timesteps must be a multiple of batch_size")

    with pytest.raises(ValueError, match=r"Checked.batch_size must be an int >= 1, got 0"):
        Checked(batch_size=0)  # the field check first: no ZeroDivisionError
    with pytest.raises(ValueError, match="multiple of batch_size"):
        Checked(total_timesteps=10)
    assert Checked(total_timesteps=12).batch_size == 4


def test_run_settings_and_config_fields() -> None:
    assert config_fields(RunConfig) == tuple(f.name for f in dataclasses.fields(RunConfig))
    assert config_fields(RunConfig)[:3] == ("env_id", "seed", "total_timesteps")
    # In declaration order; config.json's list (BASE_RUN_SETTINGS) leaves run_dir out.
    assert run_settings(RunConfig) == (*BASE_RUN_SETTINGS[:3], "run_dir", *BASE_RUN_SETTINGS[3:])
    # The tiny agent redeclares checkpoint_every and progress (new defaults): still run settings.
    assert set(run_settings(TinyConfig)) == set(run_settings(RunConfig))
    assert set(run_settings(ProbeConfig)) == set(run_settings(RunConfig))
    # Redeclared plainly, with Annotated but no RunSetting mark, or with it: run settings all.
    assert set(run_settings(RedeclaredConfig)) == set(run_settings(RunConfig))
    assert "learning_rate" not in run_settings(RedeclaredConfig)
    assert RedeclaredConfig().progress is False
    assert RedeclaredConfig().checkpoint_every == 1_000
    # ... and what config.json lists (never run_dir, which is not recorded).
    record = config_record(RedeclaredConfig(), "x")
    assert set(record["run_settings"]) == set(BASE_RUN_SETTINGS)


# ------------------------------------------------------------------------- agents and registries
def test_config_for_env_applies_defaults_then_env_defaults_then_overrides() -> None:
    tuned = {ENV_ID: {"learning_rate": 0.5, "gamma": 0.9}, "Acrobot-v1": {"gamma": 0.8}}
    config = config_for_env(TinyConfig, tuned, ENV_ID, gamma=0.7, seed=3)
    assert config == TinyConfig(env_id=ENV_ID, learning_rate=0.5, gamma=0.7, seed=3)
    assert config_for_env(TinyConfig, tuned, "Acrobot-v1") == TinyConfig(env_id="Acrobot-v1", gamma=0.8)
    assert config_for_env(TinyConfig, tuned, "MountainCar-v0") == TinyConfig(env_id="MountainCar-v0")
    assert type(config) is TinyConfig
    with pytest.raises(
        TypeError,
        match=r"config_for_env: unknown TinyConfig field\(s\) \['lr', 'sead'\]; expected some of \[.*'seed'.*\]",
    ):
        config_for_env(TinyConfig, tuned, ENV_ID, sead=1, lr=0.1)
    with pytest.raises(ValueError, match=r"TinyConfig.gamma must be a finite number in \[0, 1\], got 2.0"):
        config_for_env(TinyConfig, tuned, ENV_ID, gamma=2.0)


def test_agent_checks_its_name_config_type_and_env_defaults() -> None:
    agent = Agent("mine", TinyConfig, AGENT.train, {ENV_ID: {"gamma": 0.5}})
    assert agent.config_for_env(ENV_ID, seed=2) == TinyConfig(gamma=0.5, seed=2)
    assert agent.config_for_env("Acrobot-v1") == TinyConfig(env_id="Acrobot-v1")
    assert Agent("bare", TinyConfig, AGENT.train).env_defaults == {}
    with pytest.raises(
        TypeError,
        match=r"Agent 'bad': env_defaults\['CartPole-v1'\]: unknown TinyConfig field\(s\) \['gama'\]",
    ):
        Agent("bad", TinyConfig, AGENT.train, {ENV_ID: {"gama": 0.5}})
    with pytest.raises(ValueError, match=r"Agent.name must be a Python identifier, got 'my agent'"):
        Agent("my agent", TinyConfig, AGENT.train)
    with pytest.raises(
        TypeError,
        match=r"Agent 'plain': config_type must be a subclass of rlcore.runs.RunConfig, got <class 'dict'>",
    ):
        Agent("plain", dict, AGENT.train)  # type: ignore[arg-type]


def test_registry_holds_agents_by_name() -> None:
    first, second = Agent("first", TinyConfig, AGENT.train), Agent("second", ProbeConfig, AGENT.train)
    registry = Registry(first, second)
    assert list(registry) == ["first", "second"]
    assert len(registry) == 2
    assert registry["second"] is second
    assert "first" in registry
    assert "third" not in registry
    assert repr(registry) == "Registry(first, second)"
    with pytest.raises(KeyError, match=r"no agent named 'third'; the agents are: first, second"):
        registry["third"]
    with pytest.raises(KeyError, match=r"no agent named 'x'; the agents are: none registered"):
        Registry()["x"]
    with pytest.raises(ValueError, match=r"Registry.register: an agent named 'first' is registered"):
        registry.register(Agent("first", ProbeConfig, AGENT.train))
    with pytest.raises(ValueError, match=r"an agent named 'first' is registered"):
        Registry(first, first)
    with pytest.raises(TypeError, match=r"Registry.register: expected an rlcore.runs.Agent, got 'third'"):
        registry.register("third")  # type: ignore[arg-type]
    registry.unregister("second")
    assert list(registry) == ["first"]
    with pytest.raises(KeyError, match="no agent named 'second'"):
        registry.unregister("second")
    registry.register(second)
    assert list(registry) == ["first", "second"]


def test_registry_config_applies_project_defaults_under_env_defaults() -> None:
    tuned = Agent("tuned", TinyConfig, AGENT.train, {ENV_ID: {"eval_episodes": 5, "gamma": 0.9}})
    registry = Registry(
        tuned, defaults={"eval_episodes": 4, "final_eval_episodes": 6, "logger": "tensorboard"}
    )
    config = registry.config("tuned", ENV_ID)
    expected = TinyConfig(eval_episodes=5, final_eval_episodes=6, logger="tensorboard", gamma=0.9)
    assert config == expected
    assert registry.config("tuned", "Acrobot-v1") == dataclasses.replace(
        expected, env_id="Acrobot-v1", eval_episodes=4, gamma=TinyConfig.gamma
    )
    overridden = registry.config("tuned", ENV_ID, eval_episodes=7, final_eval_episodes=8, logger="csv")
    assert (overridden.eval_episodes, overridden.final_eval_episodes, overridden.logger) == (7, 8, "csv")
    with pytest.raises(TypeError, match=r"unknown TinyConfig field\(s\) \['bogus'\]"):
        registry.config("tuned", ENV_ID, bogus=1)
    with pytest.raises(KeyError, match="no agent named 'ppo'; the agents are: tuned"):
        registry.config("ppo", ENV_ID)
    with pytest.raises(TypeError, match=r"Registry defaults: unknown RunConfig field\(s\) \['lr'\]"):
        Registry(tuned, defaults={"lr": 0.1})
    with pytest.raises(
        ValueError, match=r"TinyConfig.logger must be of type 'csv' \| 'tensorboard' \| 'wandb'"
    ):
        Registry(tuned, defaults={"logger": "mlflow"}).config("tuned", ENV_ID)


# ------------------------------------------------------------------------- config files
def test_read_config_file_reads_a_flat_table_of_fields(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "probe.toml",
        """\
        algo = "probe"
        env_id = "Acrobot-v1"
        seed = 3
        rate = 2
        fraction = 1
        sizes = [8, 16]
        ratios = [1, 0.25]
        mode = "b"
        flag = true
        """,
    )
    values = read_config_file(path, ProbeConfig)
    assert values == {
        "algo": "probe",
        "env_id": "Acrobot-v1",
        "seed": 3,
        "rate": 2.0,
        "fraction": 1.0,
        "sizes": (8, 16),
        "ratios": (1, 0.25),
        "mode": "b",
        "flag": True,
    }
    assert isinstance(values["rate"], float)
    assert isinstance(values["fraction"], float)
    assert isinstance(values["seed"], int)
    del values["algo"]
    config = ProbeConfig(**values)
    assert config.sizes == (8, 16)
    assert read_config_file(write_text(tmp_path / "empty.toml", ""), ProbeConfig) == {}


def test_read_config_file_makes_floats_of_integers_inside_optional_and_tuple_float_fields(
    tmp_path: Path,
) -> None:
    values = read_config_file(write_text(tmp_path / "c.toml", "clip = 1\nratios = [1, 2]\n"), ProbeConfig)
    assert values == {"clip": 1.0, "ratios": (1.0, 2.0)}
    assert isinstance(values["clip"], float)
    assert all(isinstance(r, float) for r in values["ratios"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "sead = 1\n",
            r"unknown key\(s\) \['sead'\] \(a flat table of ProbeConfig fields is expected\); the fields are: env_id, seed, ",
        ),
        ("seed = 1\nlr = 0.1\nbatch = 2\n", r"unknown key\(s\) \['batch', 'lr'\]"),
        ("[agent]\nlr = 0.1\n", r"unknown key\(s\) \['agent'\] \(a flat table"),
        ("[seed]\nvalue = 1\n", r"unknown key\(s\) \['seed'\] \(a flat table"),
        ("seed = \n", r"is not valid TOML"),
        ("seed = 1\nseed = 2\n", r"is not valid TOML"),
    ],
)
def test_read_config_file_names_the_file_and_the_bad_key(tmp_path: Path, text: str, message: str) -> None:
    path = write_text(tmp_path / "bad.toml", text)
    with pytest.raises(ValueError, match=rf"config file '{re.escape(str(path))}'(: | is not valid TOML).*"):
        read_config_file(path, ProbeConfig)
    with pytest.raises(ValueError, match=message):
        read_config_file(path, ProbeConfig)


def test_read_config_file_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"config file '.*nowhere.toml' does not exist"):
        read_config_file(tmp_path / "nowhere.toml", ProbeConfig)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_config_file(tmp_path, ProbeConfig)  # a folder is no config file


def test_saved_config_round_trips_config_json(tmp_path: Path) -> None:
    config = ProbeConfig(
        seed=4, sizes=(8, 16), ratios=(0.25,), note="n", clip=0.5, mode="b", rate=1.0, run_dir="elsewhere"
    )
    write_text(tmp_path / "run" / "config.json", json.dumps(config_record(config, "probe")))
    restored = saved_config(tmp_path / "run", ProbeConfig)
    assert restored == dataclasses.replace(config, run_dir=str(tmp_path / "run"))
    assert isinstance(restored.sizes, tuple)
    assert isinstance(restored.ratios, tuple)
    assert isinstance(restored.rate, float)
    # A record from before a field existed: the field's default.
    record = config_record(config, "probe")
    del record["clip"]
    write_text(tmp_path / "old" / "config.json", json.dumps(record))
    assert saved_config(tmp_path / "old", ProbeConfig).clip is None


def test_saved_config_of_a_directory_without_a_good_config_json(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"'.*none' holds no config.json; is it a run directory\?"):
        saved_config(tmp_path / "none", ProbeConfig)
    write_text(tmp_path / "broken" / "config.json", "{not json")
    with pytest.raises(ValueError, match=r"config.json' is not valid JSON"):
        saved_config(tmp_path / "broken", ProbeConfig)
    write_text(tmp_path / "list" / "config.json", "[1, 2]")
    with pytest.raises(ValueError, match=r"config.json' holds a list, expected a JSON object"):
        saved_config(tmp_path / "list", ProbeConfig)
    write_text(tmp_path / "bad" / "config.json", json.dumps({"seed": -2}))
    with pytest.raises(ValueError, match=r"ProbeConfig.seed must be an int >= 0, got -2"):
        saved_config(tmp_path / "bad", ProbeConfig)
