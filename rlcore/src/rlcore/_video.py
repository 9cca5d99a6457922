"""Episodes to MP4 files: Gymnasium's ``RecordVideo``, every frame written, headless.

Private: :func:`rlcore.evaluation.evaluate` (``video_folder=``) and :mod:`rlcore.runs`
(``capture_video``) record through :class:`RecordVideo`.

Gymnasium's ``RecordVideo`` hands its frames to moviepy 2, whose ``write_videofile`` drops the
last frame of some clips (it steps through ``arange(0, n / fps, 1 / fps)``, and rounding leaves
200 frames of 201 at 30 fps, 499 of 500 at 50). :class:`RecordVideo` keeps the wrapper (when
to record, the file names, the frames it renders) and streams the frames itself to
imageio-ffmpeg, the ffmpeg binary that moviepy installs (no system ffmpeg): an episode of ``L``
steps is ``L + 1`` frames, its first observation's and one after each step.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import RecordVideo as GymnasiumRecordVideo

__all__ = ["INSTALL_HINT", "Mp4Writer", "RecordVideo", "check_video_support"]

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
    """Gymnasium's ``RecordVideo`` (same arguments), streaming every frame to the MP4 as it renders.

    Gymnasium's keeps an episode's frames in memory until it ends (a 500-step CartPole episode
    is 360 MB of frames) and then encodes them; here each frame goes to ffmpeg as it is
    rendered, so memory holds one frame and ffmpeg (its own process) encodes while the episode
    runs. The file appears whole or not at all: it is written under a temporary name and
    renamed when the recording stops. The video is H.264 in yuv420p (what browsers, W&B and
    notebooks play); a frame of odd width or height is padded by one row or column, as the
    format needs even sizes.
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
        self._writer: Mp4Writer | None = None

    def _capture_frame(self) -> None:
        super()._capture_frame()  # type: ignore[no-untyped-call]
        self._drain()

    def _drain(self) -> None:
        """Send the frames Gymnasium's wrapper collected to the file being written."""
        if not self.recorded_frames:
            return
        if self._writer is None:
            path = Path(self.video_folder) / f"{self._video_name}.mp4"
            self._writer = Mp4Writer(path, self.recorded_frames[0], self.frames_per_sec)
        for frame in self.recorded_frames:
            self._writer.send(frame)
        self.recorded_frames = []

    def stop_recording(self) -> None:
        """Finish ``<video_folder>/<name>.mp4`` and stop recording."""
        try:
            self._drain()
            if self._writer is not None:
                self._writer.close()
        finally:
            if self._writer is not None:
                self._writer.abort()  # nothing left after a close; a partial file after an error
            self._writer = None
            self.recorded_frames = []
            self.recording = False
            self._video_name = None


class Mp4Writer:
    """Frames (``(H, W, 3)`` uint8 each, all of the first one's size) to ``path``, atomically."""

    def __init__(self, path: Path, first: Any, fps: float) -> None:
        import imageio_ffmpeg

        shape = np.asarray(first).shape
        self.path = path
        self.size = (shape[0] + shape[0] % 2, shape[1] + shape[1] % 2)  # (height, width), even
        self.partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.mp4")
        self._ffmpeg: Any = imageio_ffmpeg.write_frames(
            str(self.partial),
            (self.size[1], self.size[0]),
            fps=float(fps),
            codec="libx264",
            pix_fmt_out="yuv420p",
            macro_block_size=1,
            ffmpeg_log_level="error",
            # A fifth faster than x264's default preset, and smaller files (measured on CartPole).
            output_params=["-preset", "veryfast"],
        )
        self._ffmpeg.send(None)  # start ffmpeg

    def send(self, frame: Any) -> None:
        image = np.ascontiguousarray(np.asarray(frame, dtype=np.uint8)[..., :3])
        height, width = self.size
        if image.shape[:2] != self.size:
            pad = ((0, height - image.shape[0]), (0, width - image.shape[1]), (0, 0))
            image = np.pad(image, pad, mode="edge")
        self._ffmpeg.send(image)

    def close(self) -> None:
        """Wait for ffmpeg to finish the file, then give it its name."""
        self._ffmpeg.close()
        os.replace(self.partial, self.path)

    def abort(self) -> None:
        """Stop ffmpeg and delete the unfinished file (nothing to do after :meth:`close`)."""
        self._ffmpeg.close()
        self.partial.unlink(missing_ok=True)
