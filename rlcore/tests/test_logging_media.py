"""Videos in rlcore.logging: ``Logger.write_video``, its wrappers and TensorBoard's animated GIF.

The videos are MP4 files made here with imageio-ffmpeg, one solid colour per frame, so that
every frame of what a backend wrote can be read back with other readers (TensorBoard's
``EventAccumulator``, Pillow) and compared with the colour that went in. W&B's side is in
``test_logging_wandb.py``.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rlcore.logging import (
    ConsoleLogger,
    CSVLogger,
    InMemoryLogger,
    KeyFilter,
    Logger,
    MultiLogger,
    TensorBoardLogger,
    read_csv_log,
)


def frame_colours(frames: int) -> np.ndarray:
    """``(frames, 3)`` uint8 colours, far enough apart to stay distinct after H.264 and a GIF palette."""
    i = np.arange(frames)
    return np.stack([(i * 21) % 256, 255 - (i * 21) % 256, (i * 97) % 256], axis=1).astype(np.uint8)


def make_mp4(path: Path, frames: int = 12, width: int = 64, height: int = 48, fps: float = 20) -> np.ndarray:
    """Write an MP4 of ``frames`` solid-colour frames at ``fps``; return the colours."""
    colours = frame_colours(frames)
    writer = imageio_ffmpeg.write_frames(
        str(path), (width, height), fps=fps, macro_block_size=1, ffmpeg_log_level="error"
    )
    writer.send(None)  # starts ffmpeg
    for colour in colours:
        writer.send(np.ascontiguousarray(np.broadcast_to(colour, (height, width, 3))))
    writer.close()
    return colours


def gif_frames(data: bytes) -> tuple[Image.Image, list[np.ndarray], list[int]]:
    """The GIF ``data`` opened with Pillow, its frames as RGB arrays and each frame's delay in ms."""
    gif = Image.open(io.BytesIO(data))
    frames, delays = [], []
    for index in range(gif.n_frames):
        gif.seek(index)
        frames.append(np.asarray(gif.convert("RGB")))
        delays.append(gif.info["duration"])
    return gif, frames, delays


def tensorboard_images(log_dir: Path, tag: str) -> list:
    accumulator = EventAccumulator(str(log_dir), size_guidance={"images": 0})
    accumulator.Reload()
    return accumulator.Images(tag)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "rl-video-episode-0.mp4"
    make_mp4(path)
    return path


# ------------------------------------------------------------------ the write_video contract
@pytest.mark.parametrize(
    ("key", "step", "error", "match"),
    [
        ("", 0, ValueError, r"keys must be non-empty strings without line breaks, got ''"),
        (
            "eval/\nvideo",
            0,
            ValueError,
            r"keys must be .* got 'eval/\\nvideo': it holds '\\n' \(U\+000A, a line break\)",
        ),
        ("step", 0, ValueError, r"key 'step' is reserved"),
        (3, 0, ValueError, r"keys must be non-empty strings without line breaks, got 3"),
        ("eval/video", -1, ValueError, r"step must be an int >= 0, got -1"),
        ("eval/video", 2.0, ValueError, r"step must be an int >= 0, got 2\.0"),
        ("eval/video", True, ValueError, r"step must be an int >= 0, got True"),
    ],
)
@pytest.mark.parametrize("cls", [InMemoryLogger, ConsoleLogger])
def test_write_video_checks_key_and_step_like_write(video, cls, key, step, error, match):
    logger = cls()
    with pytest.raises(error, match=rf"{cls.__name__}\.write_video: {match}"):
        logger.write_video(key, video, step)


def test_write_video_needs_an_existing_regular_file(tmp_path, video):
    logger = InMemoryLogger()
    missing = tmp_path / "episode-9.mp4"
    with pytest.raises(
        FileNotFoundError,
        match=rf"InMemoryLogger\.write_video: the video file '{re.escape(str(missing))}' of 'eval/video' does not exist",
    ):
        logger.write_video("eval/video", missing, 0)
    with pytest.raises(
        ValueError,
        match=rf"the video path '{re.escape(str(tmp_path))}' of 'eval/video' is not a regular file",
    ):
        logger.write_video("eval/video", tmp_path, 0)
    with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike naming a video file, got None"):
        logger.write_video("eval/video", None, 0)
    assert logger.videos == []
    logger.write_video("eval/video", str(video), np.int64(7))  # a str path and a NumPy step
    assert logger.videos == [(7, "eval/video", video)]
    assert type(logger.videos[0][0]) is int and isinstance(logger.videos[0][2], Path)
    logger.close()
    with pytest.raises(RuntimeError, match=r"InMemoryLogger\.write_video: the logger is closed"):
        logger.write_video("eval/video", video, 8)


def test_a_logger_written_for_scalars_ignores_videos(tmp_path, video):
    class ScalarsOnly(Logger):
        def __init__(self) -> None:
            self.rows = []

        def write(self, data, step):
            self.rows.append((step, dict(data)))

    logger = ScalarsOnly()
    logger.write_video("eval/video", video, 5)
    assert logger.rows == []
    with CSVLogger(tmp_path / "run") as csv_logger:
        csv_logger.write({"a": 1}, step=1)
        csv_logger.write_video("eval/video", video, 2)
    assert list(read_csv_log(tmp_path / "run")) == ["step", "time", "a"]
    np.testing.assert_array_equal(read_csv_log(tmp_path / "run")["step"], [1])


def test_multi_logger_checks_once_and_forwards_every_video(tmp_path, video):
    first, last = InMemoryLogger(), InMemoryLogger()
    logger = MultiLogger([first, CSVLogger(tmp_path / "run"), ConsoleLogger(stream=io.StringIO()), last])
    logger.write_video("eval/video", video, 10)
    for bad in (tmp_path / "missing.mp4", tmp_path):
        with pytest.raises((FileNotFoundError, ValueError), match=r"^MultiLogger\.write_video: "):
            logger.write_video("eval/video", bad, 11)
    with pytest.raises(ValueError, match=r"^MultiLogger\.write_video: step must be an int >= 0, got -3"):
        logger.write_video("eval/video", video, -3)
    logger.close()
    assert first.videos == last.videos == [(10, "eval/video", video)]


def test_key_filter_forwards_the_videos_whose_key_passes(video):
    inner = InMemoryLogger()
    logger = KeyFilter(inner, keep=["eval/*"], drop=["eval/debug_*"])
    for step, key in enumerate(["eval/video", "train/video", "eval/debug_video", "eval/video_greedy"]):
        logger.write_video(key, video, step)
    assert inner.videos == [(0, "eval/video", video), (3, "eval/video_greedy", video)]
    with pytest.raises(ValueError, match=r"^KeyFilter\.write_video: keys must be non-empty strings"):
        logger.write_video("", video, 4)


# ------------------------------------------------------------------ TensorBoard: an animated GIF
@pytest.mark.parametrize(
    ("size", "expected_size"),
    [((64, 48), (64, 48)), ((400, 100), (320, 80)), ((330, 102), (320, 99))],
)
def test_tensorboard_video_is_a_looping_gif_of_every_frame_in_the_images_tab(tmp_path, size, expected_size):
    path = tmp_path / "episode.mp4"
    colours = make_mp4(path, frames=12, width=size[0], height=size[1], fps=20)
    with TensorBoardLogger(tmp_path / "run") as logger:
        logger.write_video("eval/video", path, step=300)
        logger.write({"eval/mean_return": 1.0}, step=300)
    (image,) = tensorboard_images(tmp_path / "run", "eval/video")
    assert image.step == 300
    assert (image.width, image.height) == expected_size
    gif, frames, delays = gif_frames(image.encoded_image_string)
    assert gif.format == "GIF" and gif.size == expected_size and gif.info["loop"] == 0  # loop forever
    assert len(frames) == 12
    assert delays == [50] * 12  # 20 fps
    # Each frame is its solid colour, give or take H.264 and the GIF palette.
    for frame, colour in zip(frames, colours):
        assert np.abs(frame.astype(int) - colour.astype(int)).max() <= 12


@pytest.mark.parametrize(
    ("fps", "frames", "expected_frames"), [(30, 12, 12), (50, 10, 10), (60, 12, 6), (120, 12, 4)]
)
def test_gif_delays_follow_the_video_clock_and_fast_videos_keep_every_kth_frame(
    tmp_path, fps, frames, expected_frames
):
    path = tmp_path / "episode.mp4"
    colours = make_mp4(path, frames=frames, fps=fps)
    with TensorBoardLogger(tmp_path / "run") as logger:
        logger.write_video("eval/video", path, step=0)
    (image,) = tensorboard_images(tmp_path / "run", "eval/video")
    _, gif, delays = gif_frames(image.encoded_image_string)
    assert len(gif) == expected_frames
    # Delays are whole hundredths of a second, at least 2 (what browsers play as written), and
    # add up to the video's length.
    assert all(delay % 10 == 0 and delay >= 20 for delay in delays)
    assert sum(delays) == pytest.approx(1000 * frames / fps, abs=10)
    stride = frames // expected_frames
    for frame, colour in zip(gif, colours[::stride]):
        assert np.abs(frame.astype(int) - colour.astype(int)).max() <= 12


def test_tensorboard_write_video_errors(tmp_path, video, monkeypatch):
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_bytes(b"not a video" * 10)
    logger = TensorBoardLogger(tmp_path / "run")
    with pytest.raises(
        ValueError,
        match=rf"TensorBoardLogger\.write_video: ffmpeg cannot read '{re.escape(str(not_a_video))}' as a video: .*Invalid data",
    ):
        logger.write_video("eval/video", not_a_video, 0)
    with pytest.raises(
        FileNotFoundError, match=r"TensorBoardLogger\.write_video: the video file .* does not exist"
    ):
        logger.write_video("eval/video", tmp_path / "missing.mp4", 0)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # as if the video extra were missing
    with pytest.raises(
        ImportError, match=r'TensorBoardLogger\.write_video needs .*pip install "rlcore\[video\]"'
    ):
        logger.write_video("eval/video", video, 0)
    monkeypatch.undo()
    logger.close()
    with pytest.raises(
        RuntimeError, match=r"TensorBoardLogger\.write_video: the logger of '.*run' is closed"
    ):
        logger.write_video("eval/video", video, 0)
    accumulator = EventAccumulator(str(tmp_path / "run"))
    accumulator.Reload()
    assert accumulator.Tags()["images"] == []


def test_importing_rlcore_logging_loads_no_video_or_image_package():
    code = textwrap.dedent(
        """
        import json, sys
        import rlcore.logging
        heavy = ("moviepy", "imageio", "imageio_ffmpeg", "PIL", "tensorboard", "wandb")
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
