"""The evaluate command (rlcore.runs.evaluate_run / evaluate_main) on finished and interrupted runs.

The runs are the tiny REINFORCE agent's on CartPole-v1. The references are independent: the
run's own final evaluation (``eval.json``), a naive loop that replays the saved policy on a
single env, and a trimmed mean computed by sorting.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from _runs_kit import AGENT, tiny_config

from rlcore import checkpoint
from rlcore.runs import Agent, Registry, evaluate_main, evaluate_run
from rlcore.seeding import env_seeds
from rlcore.wrappers.normalize import NormalizeObservation

REGISTRY = Registry(AGENT)


@pytest.fixture(autouse=True)
def _no_curve(monkeypatch: pytest.MonkeyPatch) -> None:
    """No learning curve (a third of a tiny run's time): nothing here reads it."""
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)


@pytest.fixture(scope="module", params=[False, True], ids=["raw", "normalized"])
def finished(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run (512 steps, checkpoints at 256 and 512), with or without observation statistics."""
    run_dir = tmp_path_factory.mktemp("evaluate") / "run"
    with pytest.MonkeyPatch.context() as monkeypatch:
        import sys

        monkeypatch.setitem(sys.modules, "matplotlib", None)
        AGENT.train(tiny_config(run_dir, normalize_observation=request.param, final_eval_episodes=6))
    return run_dir


def copy_run(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def replay(run_dir: Path, step: int, episodes: int, seed: int) -> list[tuple[float, int]]:
    """(return, length) of the saved greedy policy's episodes on one env, by hand."""
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    state = torch.load(run_dir / "checkpoints" / f"step_{step:09d}.pt", weights_only=True)
    weights = state["objects"]["policy"]
    env: Any = gym.make(config["env_id"])
    if "NormalizeObservation" in state["objects"]:
        env = NormalizeObservation(env)
        env.load_state_dict(state["objects"]["NormalizeObservation"])
        env.freeze()
    obs, _ = env.reset(seed=env_seeds(config["seed"], 1, "eval")[0] if seed is None else seed)
    found = []
    for _ in range(episodes):
        total, length, done = 0.0, 0, False
        while not done:
            logits = torch.as_tensor(obs, dtype=torch.float32) @ weights["weight"].T + weights["bias"]
            obs, reward, terminated, truncated, _ = env.step(int(logits.argmax()))
            total, length, done = total + float(reward), length + 1, terminated or truncated
        found.append((total, length))
        obs, _ = env.reset()
    return found


def test_the_last_checkpoint_of_a_finished_run_reproduces_its_final_evaluation(finished: Path) -> None:
    final = json.loads((finished / "eval.json").read_text(encoding="utf-8"))
    report = evaluate_run(REGISTRY, finished)
    for key in (
        "episode_returns",
        "episode_lengths",
        "mean_return",
        "std_return",
        "iqm_return",
        "num_episodes",
    ):
        assert report[key] == final[key], key
    assert (report["step"], report["checkpoint"], report["seed"]) == (512, "checkpoints/step_000000512.pt", 0)
    assert json.loads((finished / "evaluate-512.json").read_text(encoding="utf-8")) == report
    # An independent reading: sub-env 0 of the evaluation envs plays the "eval" stream's first seed.
    first = replay(finished, 512, 1, seed=None)[0]
    assert first in set(zip(report["episode_returns"], report["episode_lengths"], strict=True))


def test_the_iqm_is_the_mean_of_the_middle_half(finished: Path) -> None:
    report = evaluate_run(REGISTRY, finished, episodes=8, seed=5)
    returns = sorted(report["episode_returns"])
    assert len(returns) == 8
    assert report["iqm_return"] == pytest.approx(np.mean(returns[2:6]), abs=1e-12)
    assert report["std_return"] == pytest.approx(np.std(returns), abs=1e-12)
    # Seeded: the same call gives the same episodes.
    assert (
        evaluate_run(REGISTRY, finished, episodes=8, seed=5)["episode_returns"] == report["episode_returns"]
    )


def test_an_interrupted_run_is_evaluated_from_its_newest_checkpoint(finished: Path, tmp_path: Path) -> None:
    run_dir = copy_run(finished, tmp_path / "run")
    (run_dir / "eval.json").unlink()
    (run_dir / "checkpoints" / "step_000000512.pt").unlink()
    report = evaluate_run(REGISTRY, run_dir, episodes=2)
    assert report["step"] == 256 and (run_dir / "evaluate-256.json").is_file()
    assert [(r, n) for r, n in zip(report["episode_returns"], report["episode_lengths"], strict=True)][
        :1
    ] == replay(run_dir, 256, 1, seed=None)
    assert (
        evaluate_run(REGISTRY, finished, checkpoint_at=256, episodes=2)["episode_returns"]
        == report["episode_returns"]
    )


def test_a_damaged_newest_checkpoint_is_passed_over_with_a_warning(finished: Path, tmp_path: Path) -> None:
    run_dir = copy_run(finished, tmp_path / "run")
    newest = run_dir / "checkpoints" / "step_000000512.pt"
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    with pytest.warns(
        UserWarning, match=r"evaluate: evaluating .* from step_000000256.pt.*step_000000512.pt"
    ):
        assert evaluate_run(REGISTRY, run_dir, episodes=1)["step"] == 256
    with pytest.raises(checkpoint.CheckpointError, match="step_000000512.pt"):
        evaluate_run(REGISTRY, run_dir, checkpoint_at=512, episodes=1)


def test_only_the_run_directorys_own_checkpoint_files_are_read(finished: Path, tmp_path: Path) -> None:
    run_dir = copy_run(finished, tmp_path / "run")
    outside = tmp_path / "elsewhere.pt"
    shutil.copyfile(finished / "checkpoints" / "step_000000512.pt", outside)
    (run_dir / "checkpoints" / "step_000000512.pt").unlink()
    (run_dir / "checkpoints" / "step_000999999.pt").symlink_to(outside)
    assert evaluate_run(REGISTRY, run_dir, episodes=1)["step"] == 256  # the link is not a checkpoint
    with pytest.raises(FileNotFoundError, match=r"no checkpoint of step 999999; it has steps \[256\]"):
        evaluate_run(REGISTRY, run_dir, checkpoint_at=999999)
    shutil.rmtree(run_dir / "checkpoints")
    with pytest.raises(FileNotFoundError, match="holds no checkpoint"):
        evaluate_run(REGISTRY, run_dir)


def test_evaluate_records_videos_beside_the_runs_own(finished: Path, tmp_path: Path) -> None:
    import imageio_ffmpeg

    run_dir = copy_run(finished, tmp_path / "run")
    report = evaluate_run(REGISTRY, run_dir, episodes=1, video=True, video_episodes=2)
    names = [Path(path).name for path in report["videos"]]
    assert names == ["evaluate-step_000000512-episode-0.mp4", "evaluate-step_000000512-episode-1.mp4"]
    lengths = [length for _, length in replay(run_dir, 512, 2, seed=None)]
    frames = [imageio_ffmpeg.count_frames_and_secs(path)[0] for path in report["videos"]]
    assert frames == [length + 1 for length in lengths]


def test_videos_are_never_written_through_a_link_out_of_the_run(finished: Path, tmp_path: Path) -> None:
    run_dir = copy_run(finished, tmp_path / "run")
    outside = tmp_path / "outside"
    outside.mkdir()
    (run_dir / "videos").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match=r"videos' must be a folder of the run directory, not a link"):
        evaluate_run(REGISTRY, run_dir, episodes=1, video=True)
    assert not list(outside.iterdir())


def test_the_command_prints_the_statistics_and_names_what_is_wrong(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = copy_run(finished, tmp_path / "run")
    assert evaluate_main(REGISTRY, [str(run_dir), "--episodes", "3", "--seed", "7"], prog="ev") == 0
    out = capsys.readouterr().out
    report = json.loads((run_dir / "evaluate-512.json").read_text(encoding="utf-8"))
    assert report["seed"] == 7 and report["num_episodes"] == 3
    assert f"IQM {report['iqm_return']:.2f}" in out and str((run_dir / "evaluate-512.json").resolve()) in out

    assert evaluate_main(REGISTRY, [str(tmp_path / "nothing")], prog="ev") == 1
    assert "ev: error:" in capsys.readouterr().err
    assert evaluate_main(REGISTRY, [str(run_dir), "--episodes", "0"], prog="ev") == 1
    assert "episodes must be an int >= 1, got 0" in capsys.readouterr().err
    assert evaluate_main(REGISTRY, [str(run_dir), "--bogus"], prog="ev") == 2
    assert evaluate_main(REGISTRY, ["--help"], prog="ev") == 0
    assert "RUN_DIR" in capsys.readouterr().out

    blind = Registry(Agent("tiny", AGENT.config_type, AGENT.train))  # no policy builder
    assert evaluate_main(blind, [str(run_dir)], prog="ev") == 1
    assert "agent 'tiny' has no policy builder" in capsys.readouterr().err
    assert evaluate_main(Registry(), [str(run_dir)], prog="ev") == 1
    assert "no agent named 'tiny'" in capsys.readouterr().err


def test_a_config_json_with_a_bad_value_is_refused(finished: Path, tmp_path: Path) -> None:
    run_dir = copy_run(finished, tmp_path / "run")
    record = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    record["num_envs"] = -3
    (run_dir / "config.json").write_text(json.dumps(record), encoding="utf-8")
    with warnings.catch_warnings(), pytest.raises(ValueError, match="num_envs"):
        warnings.simplefilter("ignore")
        evaluate_run(REGISTRY, run_dir)
