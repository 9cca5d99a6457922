"""Episodes to MP4 files: Gymnasium's ``RecordVideo``, every frame written, headless.

Private: :func:`rlcore.evaluation.evaluate` (``video_folder=``) and :mod:`rlcore.runs`
(``capture_video``) record through :class:`RecordVideo`.

Gymnasium's ``RecordVideo`` hands its frames to moviepy 2, whose ``write_videofile`` drops the
last frame of some clips (it steps through ``arange(0, n / fps, 1 / fps)``, and rounding leaves
200 frames of 201 at 30 fps, 499 of 500 at 50). :class:`RecordVideo` keeps the wrapper (when
to record, the file names, the frames it renders) and writes the frames itself with
imageio-ffmpeg, the ffmpeg binary that moviepy installs (no system ffmpeg): an episode of ``L``
steps is ``L + 1`` frames, its first observation's and one after each step.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import RecordVideo as GymnasiumRecordVideo

__all__ = ["INSTALL_HINT", "RecordVideo", "check_video_support"]

INSTALL_HINT = "pip install 'rlcore[video]' (moviepy and imageio-ffmpeg)"


def check_video_support(render_mode: object, where: str) -> None:
    """Raise if an env of ``render_mode`` cannot be recorded here, or the video packages are missing.

    Also makes SDL (pygame, which renders Gymnasium's classic-control envs) headless, unless the
    environment already says otherwise: no window, no sound device.
    """
    if render_mode not in ("rgb_array", "rgb_array_list"):
        raise ValueError(
            f"{where} needs an env that renders images; got render_mode={render_mode!r}, "
            "expected 'rgb_array' (create the env with render_mode='rgb_array')"
        )
    for package in ("moviepy", "imageio_ffmpeg"):
        try:
            __import__(package)
        except ImportError as error:
            raise ImportError(
                f"{where} needs {package}, which is not installed; install it with {INSTALL_HINT}"
            ) from error
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


class RecordVideo(GymnasiumRecordVideo):  # type: ignore[misc]
    """Gymnasium's ``RecordVideo`` (same arguments), writing every recorded frame to the MP4.

    The file appears whole or not at all: it is written under a temporary name and renamed. The
    video is H.264 in yuv420p (what browsers, W&B and notebooks play); a frame of odd width or
    height is padded by one row or column, as the format needs even sizes.
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        video_folder: str | Path,
        episode_trigger: Callable[[int], bool] | None = None,
        name_prefix: str = "rl-video",
    ) -> None:
        with warnings.catch_warnings():
            # Gymnasium warns whenever the folder exists: a run records into one folder many times.
            warnings.filterwarnings("ignore", message=".*Overwriting existing videos")
            super().__init__(
                env,
                str(video_folder),
                episode_trigger=episode_trigger,
                name_prefix=name_prefix,
                disable_logger=True,
            )

    def stop_recording(self) -> None:
        """Write the recorded frames to ``<video_folder>/<name>.mp4`` and stop recording."""
        frames, name = self.recorded_frames, self._video_name
        self.recorded_frames = []
        self.recording = False
        self._video_name = None
        if frames:
            write_mp4(Path(self.video_folder) / f"{name}.mp4", frames, self.frames_per_sec)


def write_mp4(path: Path, frames: Sequence[Any], fps: float) -> None:
    """Encode ``frames`` (``(H, W, 3)`` uint8 each) to ``path``, all of them, atomically."""
    import imageio_ffmpeg

    first = np.asarray(frames[0])
    height, width = first.shape[0] + first.shape[0] % 2, first.shape[1] + first.shape[1] % 2
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.mp4")
    writer = imageio_ffmpeg.write_frames(
        str(partial),
        (width, height),
        fps=float(fps),
        codec="libx264",
        pix_fmt_out="yuv420p",
        macro_block_size=1,
        ffmpeg_log_level="error",
        # A fifth faster than x264's default preset, and smaller files (measured on CartPole).
        output_params=["-preset", "veryfast"],
    )
    try:
        writer.send(None)  # start ffmpeg
        for frame in frames:
            image = np.ascontiguousarray(np.asarray(frame, dtype=np.uint8)[..., :3])
            if image.shape[:2] != (height, width):
                pad = ((0, height - image.shape[0]), (0, width - image.shape[1]), (0, 0))
                image = np.pad(image, pad, mode="edge")
            writer.send(image)
        writer.close()
        os.replace(partial, path)
    finally:
        writer.close()
        partial.unlink(missing_ok=True)
