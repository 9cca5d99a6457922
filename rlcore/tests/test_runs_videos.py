"""Runs that record their evaluation episodes (capture_video) and log them to TensorBoard and W&B.

The tiny REINFORCE agent on CartPole-v1 (256 steps: an evaluation at 128, the final one at
256). The files are read back independently: ffmpeg (imageio-ffmpeg) counts the frames, a naive
loop replays the saved policy for the episode lengths, TensorBoard's own event reader and W&B's
offline run folder show what reached them.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import imageio_ffmpeg
import pytest
import torch
from _runs_kit import AGENT, tiny_config

from rlcore.runs import Registry, Run, build_config, make_envs
from rlcore.seeding import env_seeds
from rlcore.wrappers.normalize import NormalizeObservation


@pytest.fixture(autouse=True)
def _no_curve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def frames(path: Path) -> int:
    return int(imageio_ffmpeg.count_frames_and_secs(str(path))[0])


def greedy_lengths(run_dir: Path, step: int, episodes: int) -> list[int]:
    """Lengths of the saved greedy policy's first episodes on the "eval" stream, by hand."""
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    objects = torch.load(run_dir / "checkpoints" / f"step_{step:09d}.pt", weights_only=True)["objects"]
    env: Any = gym.make(config["env_id"])
    if "NormalizeObservation" in objects:
        env = NormalizeObservation(env)
        env.load_state_dict(objects["NormalizeObservation"])
        env.freeze()
    obs, _ = env.reset(seed=env_seeds(config["seed"], 1, "eval")[0])
    lengths = []
    for _ in range(episodes):
        length, done = 0, False
        while not done:
            logits = torch.as_tensor(obs, dtype=torch.float32) @ objects["policy"]["weight"].T
            obs, _, terminated, truncated, _ = env.step(int((logits + objects["policy"]["bias"]).argmax()))
            length, done = length + 1, terminated or truncated
        lengths.append(length)
        obs, _ = env.reset()
    return lengths


def test_every_evaluation_is_recorded_frame_for_frame(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    config = tiny_config(
        run_dir,
        total_timesteps=256,
        checkpoint_every=128,
        capture_video=True,
        video_episodes=2,
        normalize_observation=True,
    )
    summary = AGENT.train(config)
    names = sorted(path.name for path in (run_dir / "videos").iterdir())
    assert names == [f"step_{step:09d}-episode-{k}.mp4" for step in (128, 256) for k in (0, 1)]
    assert summary["videos"] == [str(run_dir / "videos" / f"step_000000256-episode-{k}.mp4") for k in (0, 1)]
    assert json.loads((run_dir / "eval.json").read_text(encoding="utf-8"))["videos"] == summary["videos"]
    for step in (128, 256):
        expected = [length + 1 for length in greedy_lengths(run_dir, step, 2)]
        assert [frames(run_dir / "videos" / f"step_{step:09d}-episode-{k}.mp4") for k in (0, 1)] == expected


def test_recording_changes_nothing_the_run_learns_or_logs(tmp_path: Path) -> None:
    plain = AGENT.train(tiny_config(tmp_path / "plain", total_timesteps=256))
    recorded = AGENT.train(tiny_config(tmp_path / "recorded", total_timesteps=256, capture_video=True))
    assert recorded["episode_returns"] == plain["episode_returns"]
    rows = [
        (tmp_path / name / "progress.csv").read_text(encoding="utf-8").splitlines()
        for name in ("plain", "recorded")
    ]
    untimed = [[line.split(",")[:1] + line.split(",")[2:] for line in r[1:]] for r in rows]
    assert len(untimed[0]) == len(untimed[1])  # same rows (the clocks aside)


@pytest.mark.filterwarnings("ignore:.*is not in the possible render_modes")
def test_a_missing_video_package_or_an_env_that_cannot_render_fails_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "moviepy", None)
        with pytest.raises(ImportError, match=r"capture_video needs moviepy, which is not installed"):
            Run(tiny_config(tmp_path / "a", capture_video=True), "tiny")
    assert not (tmp_path / "a").exists()

    class Blind(gym.Env[Any, Any]):
        metadata: ClassVar[dict[str, Any]] = {"render_modes": []}
        observation_space = gym.spaces.Box(-1.0, 1.0, (4,))
        action_space = gym.spaces.Discrete(2)

        def __init__(self, render_mode: str | None = None) -> None:
            self.render_mode = render_mode

    gym.register("BlindForVideo-v0", entry_point=Blind, max_episode_steps=5)
    try:
        config = tiny_config(tmp_path / "b", env_id="BlindForVideo-v0", capture_video=True)
        run = Run(config, "tiny")
        envs = make_envs(config, 1)
        with pytest.raises(ValueError, match=r"capture_video: 'BlindForVideo-v0' cannot render frames"):
            run.start(envs, make_envs(config, 1, evaluation_of=envs))
    finally:
        gym.registry.pop("BlindForVideo-v0")


def test_tensorboard_shows_the_videos_and_the_hyperparameters(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    run_dir = tmp_path / "run"
    AGENT.train(tiny_config(run_dir, total_timesteps=256, capture_video=True, logger="tensorboard"))
    events = EventAccumulator(str(run_dir), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    assert [image.step for image in events.Images("eval/video")] == [128, 256]
    assert [scalar.step for scalar in events.Scalars("eval/mean_return")] == [128, 256]
    content = events.PluginTagToContent("hparams")
    session = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = session.session_start_info.hparams
    assert hparams["learning_rate"].number_value == pytest.approx(AGENT.config_type.learning_rate)
    assert hparams["env_id"].string_value == "CartPole-v1"
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"])
    assert "eval/mean_return" in [info.name.tag for info in experiment.experiment.metric_infos]


@pytest.fixture
def wandb_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """W&B without an account or a network: everything under tmp_path."""
    home = tmp_path / "wandb-home"
    for name, value in {
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_DIR": str(home),
        "WANDB_CACHE_DIR": str(home / "cache"),
        "WANDB_CONFIG_DIR": str(home / "config"),
        "WANDB_DATA_DIR": str(home / "data"),
        "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_CODE": "true",
    }.items():
        monkeypatch.setenv(name, value)
    return home


def test_a_resumed_run_continues_its_wandb_run_with_config_and_videos(
    tmp_path: Path, wandb_offline: Path
) -> None:
    run_dir = tmp_path / "run"
    config = tiny_config(
        run_dir,
        total_timesteps=256,
        logger="wandb",
        wandb_project="rlcore-tests",
        wandb_group="grp",
        wandb_tags=("a", "b"),
        capture_video=True,
    )
    AGENT.train(config)
    run_id = (run_dir / "wandb-id.txt").read_text(encoding="utf-8").strip()
    _, more, resume, _ = build_config(Registry(AGENT), ["--resume", str(run_dir), "--total-timesteps", "512"])
    AGENT.train(more, resume=resume)
    assert (run_dir / "wandb-id.txt").read_text(encoding="utf-8").strip() == run_id
    folders = sorted((run_dir / "wandb").glob("offline-run-*"))
    # One folder per process, named by its start time (to the second) and the one run id; W&B
    # adds "-1" to the second when both processes started within the same second.
    name = re.compile(rf"offline-run-\d{{8}}_\d{{6}}-{run_id}(-\d+)?")
    assert 1 <= len(folders) <= 2 and all(name.fullmatch(folder.name) for folder in folders), folders
    # Offline, W&B keeps the config in the run's record file; the videos under files/media, named
    # by their step (the resumed process evaluates at 320, where the finished run's next was due).
    record = next(folders[0].glob("run-*.wandb")).read_bytes()
    assert b"learning_rate" in record and b"capture_video" in record and b"grp" in record
    steps = sorted(
        int(p.name.split("_")[1])
        for folder in folders
        for p in (folder / "files" / "media" / "videos").rglob("*.mp4")
    )
    assert steps == [128, 256, 320, 384, 512]
