"""An MP4 file as a small animated GIF: how :class:`TensorBoardLogger` shows a video.

TensorBoard has no video plugin; its Images tab plays an animated GIF. torch's
``SummaryWriter.add_video`` makes that GIF with ``moviepy.editor``, which moviepy 2 removed (it
then prints a line and writes nothing), so the frames are decoded here with imageio-ffmpeg (the
``video`` extra, the ffmpeg binary moviepy installs) and encoded with Pillow.

Two limits of the GIF format shape the result:

* a GIF's frame delays are whole hundredths of a second, so the delays are rounded on the
  video's clock (frame ``i`` ends at ``round(100 * (i + 1) / fps)`` cs) and the GIF lasts as
  long as the video instead of drifting by the rounding of every frame;
* browsers play a delay under 2 cs as 10 cs, so a video faster than 50 fps keeps every k-th
  frame (the smallest k that brings it to 50 fps or less) rather than playing in slow motion.

Frames are downscaled to at most :data:`MAX_GIF_WIDTH` pixels wide (aspect ratio kept) as they
are decoded, so memory holds the small frames only. Pillow merges consecutive identical frames
into one whose delay is their sum, so the GIF may hold fewer frames but plays as long.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["MAX_GIF_WIDTH", "Gif", "mp4_to_gif"]

#: The widest GIF :class:`TensorBoardLogger` writes: wide enough to see an episode, small enough
#: that an event file with a video per evaluation stays a few megabytes.
MAX_GIF_WIDTH = 320
# The fastest frame rate browsers play as written (a delay of 2 hundredths of a second).
_MAX_GIF_FPS = 50.0
# ffmpeg reports 0 fps when the container does not say; Gymnasium's default render_fps is 30.
_FALLBACK_FPS = 30.0

_INSTALL_HINT = 'pip install "rlcore[video]" (imageio-ffmpeg and Pillow)'


class Gif(NamedTuple):
    """An encoded GIF and its size in pixels: ``data`` (the file's bytes), ``width``, ``height``."""

    data: bytes
    width: int
    height: int


def mp4_to_gif(path: Path, where: str, max_width: int = MAX_GIF_WIDTH) -> Gif:
    """Decode the video file ``path`` and encode it as a GIF that loops forever.

    Args:
        path: a video file ffmpeg can read (an MP4 from Gymnasium's ``RecordVideo``).
        where: the caller, for error messages (``"TensorBoardLogger.write_video"``).
        max_width: frames wider than this are downscaled to it, keeping the aspect ratio.

    Raises:
        ImportError: if imageio-ffmpeg or Pillow is missing; the message says to
            ``pip install "rlcore[video]"``.
        ValueError: if ffmpeg cannot read ``path`` or it holds no frame.
    """
    try:
        import imageio_ffmpeg
        from PIL import Image
    except ImportError as error:
        raise ImportError(
            f"{where} needs imageio-ffmpeg and Pillow to read a video: {_INSTALL_HINT}"
        ) from error
    reader: Any = imageio_ffmpeg.read_frames(str(path))
    images: list[Image.Image] = []
    try:
        meta = next(reader)
        source_width, source_height = (int(n) for n in meta["size"])
        fps = float(meta.get("fps") or 0.0) or _FALLBACK_FPS
        stride = math.ceil(fps / _MAX_GIF_FPS - 1e-9)
        width = min(source_width, max_width)
        height = max(1, round(source_height * width / source_width))
        for index, frame in enumerate(reader):
            if index % stride:
                continue
            image = Image.frombytes("RGB", (source_width, source_height), frame)
            if width != source_width:
                # BOX averages the source pixels under each target pixel: an anti-aliased
                # downscale at a fraction of Lanczos' cost (a 500-frame episode is 500 resizes).
                image = image.resize((width, height), Image.Resampling.BOX)
            # Each frame gets its own 256-colour palette (what the GIF writer would do itself),
            # with the fast octree rather than the writer's median cut: about half the time.
            images.append(image.quantize(method=Image.Quantize.FASTOCTREE))
    except (OSError, RuntimeError, StopIteration) as error:
        # imageio-ffmpeg's message ends with ffmpeg's whole stderr (banner, build flags): its
        # last line says why.
        lines = [line for line in str(error).splitlines() if line.strip()]
        reason = lines[-1] if lines else type(error).__name__
        raise ValueError(f"{where}: ffmpeg cannot read {str(path)!r} as a video: {reason}") from error
    finally:
        reader.close()  # stops the ffmpeg process if the loop ended early
    if not images:
        raise ValueError(f"{where}: the video {str(path)!r} holds no frame, expected at least one")
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=_delays_ms(len(images), fps / stride),
        loop=0,
    )
    return Gif(buffer.getvalue(), width, height)


def _delays_ms(frames: int, fps: float) -> list[int]:
    """Each frame's delay in ms, whole hundredths of a second whose sums follow the video's clock."""
    ends = [round(100 * (i + 1) / fps) for i in range(frames)]
    return [10 * max(end - start, 1) for start, end in zip([0, *ends[:-1]], ends)]
