"""What recording an evaluation episode costs: rlcore's ``RecordVideo`` against Gymnasium's, side by side.

Both wrap the same env (``CartPole-v1`` and ``Pendulum-v1``, ``render_mode="rgb_array"``) and
record the same seeded episodes of a fixed policy through ``rlcore.evaluation.evaluate``:

* **Gymnasium**: ``gymnasium.wrappers.RecordVideo``, which writes with moviepy 2
  (``ImageSequenceClip.write_videofile``, x264's default preset);
* **rlcore**: ``rlcore._video.RecordVideo`` (what ``capture_video`` and ``evaluate --video`` use),
  which writes every frame with imageio-ffmpeg (x264's ``veryfast`` preset).

Prints, per env: seconds per episode (median over repeats, ``time.perf_counter``), the part of
it that is stepping and rendering alone (no recording), the peak memory Python allocated while
recording (``tracemalloc``, which sees NumPy's frames; ffmpeg's own process is not counted),
frames per episode that each writer left in the file (counted by ffmpeg; an episode of ``L``
steps renders ``L + 1``), bytes per file, and the ratios rlcore / Gymnasium.

    python benchmarks/bench_video.py            # about a minute
    python benchmarks/bench_video.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import gymnasium as gym
import imageio_ffmpeg
import numpy as np
from gymnasium.wrappers import RecordVideo as GymnasiumRecordVideo

from rlcore._video import RecordVideo, check_video_support
from rlcore.evaluation import evaluate

POLICIES: dict[str, Any] = {
    "CartPole-v1": lambda obs: int(obs[2] + 0.3 * obs[3] > 0),  # balances for hundreds of steps
    "Pendulum-v1": lambda obs: np.array([-2.0 * obs[2]], dtype=np.float32),
}


def _always(episode: int) -> bool:
    return True


def timed(env_id: str, writer: str | None, folder: Path, episodes: int) -> tuple[float, list[int], list[int]]:
    """Seconds per episode, frames per file, bytes per file for one writer (None: no recording)."""
    env: Any = gym.make(env_id, render_mode="rgb_array")
    if writer == "gymnasium":
        env = GymnasiumRecordVideo(env, str(folder), episode_trigger=_always, disable_logger=True)
    elif writer == "rlcore":
        env = RecordVideo(env, folder, episode_trigger=_always)
    else:
        env = _Rendering(env)
    start = time.perf_counter()
    evaluate(POLICIES[env_id], env, episodes, seed=0)
    if writer is not None and env.recording:
        env.stop_recording()
    seconds = (time.perf_counter() - start) / episodes
    env.close()
    files = sorted(folder.glob("*.mp4"))
    frames = [int(imageio_ffmpeg.count_frames_and_secs(str(path))[0]) for path in files]
    sizes = [path.stat().st_size for path in files]
    return seconds, frames, sizes


class _Rendering(gym.Wrapper[Any, Any, Any, Any]):
    """Renders every frame as the recorders do, and keeps none: the cost of the env and its renderer."""

    def reset(self, **kwargs: Any) -> Any:
        result = self.env.reset(**kwargs)
        self.env.render()
        return result

    def step(self, action: Any) -> Any:
        result = self.env.step(action)
        self.env.render()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat of one episode")
    args = parser.parse_args()
    repeats, episodes = (1, 1) if args.quick else (5, 2)
    check_video_support("rgb_array", "bench_video")  # headless SDL
    print(
        "| env | writer | s / episode | of which env + render | peak MiB | frames / file (steps + 1) | KB / file |"
    )
    print("| --- | --- | ---: | ---: | ---: | --- | ---: |")
    for env_id in POLICIES:
        lengths = evaluate(POLICIES[env_id], gym.make(env_id), episodes, seed=0).episode_lengths.tolist()
        results: dict[str | None, tuple[float, list[int], list[int]]] = {}
        peaks: dict[str | None, float] = {}
        for writer in (None, "gymnasium", "rlcore"):
            runs = []
            for _ in range(repeats):
                with tempfile.TemporaryDirectory() as tmp:
                    runs.append(timed(env_id, writer, Path(tmp), episodes))
            with tempfile.TemporaryDirectory() as tmp:  # one more, for the memory alone
                tracemalloc.start()
                timed(env_id, writer, Path(tmp), 1)
                peaks[writer] = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
            results[writer] = (statistics.median(r[0] for r in runs), runs[0][1], runs[0][2])
        base = results[None][0]
        for writer in ("gymnasium", "rlcore"):
            seconds, frames, sizes = results[writer]
            print(
                f"| {env_id} | {writer} | {seconds:.3f} | {base:.3f} | {peaks[writer]:.0f} "
                f"| {frames} ({[n + 1 for n in lengths]}) "
                f"| {np.mean(sizes) / 1024:.0f} |"
            )
        ratio = results["rlcore"][0] / results["gymnasium"][0]
        size_ratio = np.mean(results["rlcore"][2]) / np.mean(results["gymnasium"][2])
        memory = peaks["rlcore"] / peaks["gymnasium"]
        print(f"| {env_id} | rlcore / Gymnasium | {ratio:.2f}x | | {memory:.2f}x | | {size_ratio:.2f}x |")
    print(f"\n(python {platform.python_version()}, {repeats} repeats of {episodes} episodes, medians)")


if __name__ == "__main__":
    main()
