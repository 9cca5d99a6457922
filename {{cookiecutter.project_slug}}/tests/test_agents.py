"""The registry and the entry points: every agent's tuned configs build; an agent trains, resumes,
is evaluated and recorded, and sweeps through ``train``, ``evaluate`` and ``sweep``.

A tiny agent (``rlcore.testing.tiny_agent``: REINFORCE with a linear policy, well under a second
of training) stands in for a real one. What a run directory holds and how a resume continues
bit for bit is rlcore's, tested there; these tests check this project's wiring.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import imageio_ffmpeg  # type: ignore[import-untyped]  # (no type hints)
import pytest
from rlcore.runs import Registry, build_config, read_config_file, run_state
from rlcore.testing import tiny_agent

from {{ cookiecutter.package_name }} import evaluate, sweep, train
from {{ cookiecutter.package_name }}.agents import AGENTS

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.toml"))


def test_every_agent_builds_a_config_for_each_tuned_env() -> None:
    for name, agent in AGENTS.items():
        for env_id, tuned in agent.env_defaults.items():
            config = AGENTS.config(name, env_id)
            assert config.env_id == env_id
            assert {field: getattr(config, field) for field in tuned} == dict(tuned)
            # The project's defaults (agents.py) apply where the env's tuned values are silent.
            for field, value in AGENTS.defaults.items():
                assert field in tuned or getattr(config, field) == value
            # Overrides win over both; an env without tuned values gets the config's defaults.
            assert AGENTS.config(name, env_id, seed=3, total_timesteps=7).total_timesteps == 7
        assert agent.config_for_env("Acrobot-v1") == agent.config_type(env_id="Acrobot-v1")


def test_example_config_files_are_read_as_the_train_command_reads_them() -> None:
    for path in CONFIGS:
        algo = tomllib.loads(path.read_text(encoding="utf-8"))["algo"]
        agent, config, resume, config_file = build_config(AGENTS, [algo, "--config", str(path)])
        values = read_config_file(path, agent.config_type)
        assert algo == values.pop("algo") == agent.name
        assert {field: getattr(config, field) for field in values} == values
        assert (resume, config_file) == (False, path)


@pytest.fixture
def agents() -> Iterator[Registry]:
    """The project's registry with the tiny agent added for the test."""
    AGENTS.register(tiny_agent())
    yield AGENTS
    AGENTS.unregister("tiny")


def test_train_command_trains_then_resumes_for_more_steps(
    agents: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    assert train.main(["tiny", "--run-dir", str(run_dir), "--total-timesteps", "256"]) == 0
    assert run_state(run_dir) == "done"
    assert train.main(["--resume", str(run_dir), "--total-timesteps", "512"]) == 0
    assert json.loads((run_dir / "eval.json").read_text(encoding="utf-8"))["step"] == 512
    assert f"run directory:  {run_dir.resolve()}" in capsys.readouterr().out


def test_evaluate_command_replays_a_finished_and_an_interrupted_run_with_videos(
    agents: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    args = ["tiny", "--run-dir", str(run_dir), "--total-timesteps", "512", "--capture-video"]
    assert train.main(args) == 0
    # A playable video per evaluation (128, 256, 384 and the final one at 512).
    videos = sorted((run_dir / "videos").glob("step_*.mp4"))
    assert [path.name[:14] for path in videos] == [f"step_{s:09d}" for s in (128, 256, 384, 512)]
    assert all(imageio_ffmpeg.count_frames_and_secs(str(path))[0] >= 2 for path in videos)

    # Finished: the last checkpoint gives the run's own final evaluation back.
    assert evaluate.main([str(run_dir), "--video"]) == 0
    final = json.loads((run_dir / "eval.json").read_text(encoding="utf-8"))
    report = json.loads((run_dir / "evaluate-512.json").read_text(encoding="utf-8"))
    assert report["episode_returns"] == final["episode_returns"]
    assert [Path(path).name for path in report["videos"]] == [
        "evaluate-step_000000512-episode-0.mp4"
    ]
    assert "IQM" in capsys.readouterr().out

    # Interrupted: no final evaluation, the newest checkpoint lost; the one before is used.
    (run_dir / "eval.json").unlink()
    (run_dir / "checkpoints" / "step_000000512.pt").unlink()
    assert evaluate.main([str(run_dir), "--episodes", "2", "--seed", "9", "--video"]) == 0
    report = json.loads((run_dir / "evaluate-256.json").read_text(encoding="utf-8"))
    assert (report["step"], report["num_episodes"], report["seed"]) == (256, 2, 9)
    assert (run_dir / "videos" / "evaluate-step_000000256-episode-0.mp4").is_file()
    assert evaluate.main([str(tmp_path / "no-such-run")]) == 1


def test_train_command_names_what_is_wrong(
    agents: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train.main(["nope"]) == 2
    assert "no agent named 'nope'" in capsys.readouterr().err
    assert train.main(["tiny", "--num-steps", "0"]) == 2
    assert "TinyConfig.num_steps must be an int >= 1, got 0" in capsys.readouterr().err


def test_sweep_command_sweeps_a_grid_and_summarises_it(agents: Registry, tmp_path: Path) -> None:
    # In this process, without Ray: the sweep's wiring; rlcore tests the sweep on Ray.
    argv = ["tiny", "--in-process", "--runs-dir", str(tmp_path), "--name", "lr", "--seeds", "0"]
    assert sweep.main([*argv, "--set", "learning_rate=0.01,0.02", "--total-timesteps", "128"]) == 0
    done = sorted(path.parents[1].name for path in (tmp_path / "lr").glob("*/seed=0/eval.json"))
    assert done == ["learning_rate=0.01", "learning_rate=0.02"]
    assert (tmp_path / "lr" / "summary.md").is_file()
