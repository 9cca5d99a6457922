"""TensorBoard backend (the ``tensorboard`` extra), imported only when constructed."""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlcore.logging._base import LogData, Logger, check_key, check_log_data, check_video

__all__ = ["TensorBoardLogger"]


class TensorBoardLogger(Logger):
    """Write every value as a TensorBoard scalar, ``add_scalar(key, value, global_step=step)``.

    Uses ``torch.utils.tensorboard.SummaryWriter``, imported here rather than at module import
    so that ``import rlcore.logging`` does not need (or load) TensorBoard. The event file lands
    in ``log_dir`` itself, so ``tensorboard --logdir runs`` lists each run directory by name.
    Keys with a ``/`` are grouped by TensorBoard into sections (``eval/mean_return`` shows in
    ``eval``).

    Besides scalars: :meth:`write_video` shows a video as an animated GIF in the Images tab, and
    :meth:`write_hparams` puts the run's hyperparameters in the HParams tab; both go into the
    same event file as the scalars.

    Args:
        log_dir: directory of the event file (created if missing), usually the run directory.
        flush_secs: seconds between flushes of the event file to disk.
        purge_step: for a resumed run, the step of its checkpoint: TensorBoard then hides what
            the earlier process logged at this step and after (its events in the older event
            files of ``log_dir``), so the curves do not show that stretch twice. ``None``: hide
            nothing.

    Raises:
        ImportError: if TensorBoard is not installed; the message says to
            ``pip install "rlcore[tensorboard]"``.
        ValueError: if ``flush_secs`` is not a number > 0 or ``purge_step`` not an int >= 0.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as run_dir:
        ...     with TensorBoardLogger(run_dir) as logger:
        ...         logger.write({"eval/mean_return": 1.5}, step=10)
        ...     print(sorted(p.name.split(".")[0] for p in Path(run_dir).iterdir()))
        ['events']

    Change logs:
        * v0.1.0 - Initially added.
        * Unreleased - :meth:`write_video`, :meth:`write_hparams` and ``purge_step``.
    """

    def __init__(
        self, log_dir: str | os.PathLike[str], *, flush_secs: float = 10.0, purge_step: int | None = None
    ) -> None:
        if not isinstance(flush_secs, (int, float)) or not flush_secs > 0:
            raise ValueError(f"TensorBoardLogger: flush_secs must be a number > 0, got {flush_secs!r}")
        if purge_step is not None and (
            isinstance(purge_step, bool) or not isinstance(purge_step, numbers.Integral) or purge_step < 0
        ):
            raise ValueError(f"TensorBoardLogger: purge_step must be None or an int >= 0, got {purge_step!r}")
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise ImportError(
                'TensorBoardLogger needs TensorBoard, which is not installed: pip install "rlcore[tensorboard]"'
            ) from error
        self.log_dir = Path(log_dir)
        self._writer: Any = SummaryWriter(
            log_dir=str(self.log_dir),
            flush_secs=flush_secs,
            purge_step=None if purge_step is None else int(purge_step),
        )
        self._closed = False

    def write(self, data: LogData, step: int) -> None:
        """Add each value as a scalar at ``global_step=step``."""
        values, step = check_log_data(data, step, "TensorBoardLogger.write")
        self._check_open("TensorBoardLogger.write")
        for key, value in values.items():
            self._writer.add_scalar(key, value, global_step=step)

    def write_video(self, key: str, path: str | os.PathLike[str], step: int) -> None:
        """Add the video as an animated GIF image under ``key`` at ``global_step=step``.

        The frames are decoded with imageio-ffmpeg, downscaled to at most 320 pixels wide and
        encoded with Pillow as a GIF that loops forever at the video's frame rate (frame delays
        are whole hundredths of a second, rounded on the video's clock; a video faster than
        50 fps keeps every k-th frame, as browsers slow down shorter delays). It is the summary
        torch's ``SummaryWriter.add_video`` writes, made without ``moviepy.editor`` (gone in
        moviepy 2, which makes ``add_video`` print a line and write nothing). TensorBoard's
        Images tab plays it.

        Raises:
            ImportError: if imageio-ffmpeg or Pillow is missing (``pip install "rlcore[video]"``).
            ValueError: for a bad key or step, or a file ffmpeg cannot read as a video.
            FileNotFoundError: if ``path`` does not exist.
        """
        where = "TensorBoardLogger.write_video"
        key, video, step = check_video(key, path, step, where)
        self._check_open(where)
        from tensorboard.compat.proto.summary_pb2 import Summary

        from rlcore.logging._gif import mp4_to_gif

        gif = mp4_to_gif(video, where)
        image = Summary.Image(height=gif.height, width=gif.width, colorspace=3, encoded_image_string=gif.data)
        summary = Summary(value=[Summary.Value(tag=key, image=image)])
        self._writer._get_file_writer().add_summary(summary, global_step=step)

    def write_hparams(self, hparams: Mapping[str, Any], metrics: Sequence[str]) -> None:
        """Show the run's hyperparameters in TensorBoard's HParams tab, with ``metrics`` as columns.

        Written into this logger's event file, beside the scalars, where
        ``SummaryWriter.add_hparams`` would start a sub-run folder (a second run per run in
        TensorBoard's list). The three summaries are torch's
        (``torch.utils.tensorboard.summary.hparams``): the experiment, which declares the
        hyperparameters and the metric tags, and the session's start (the values) and end.
        Call it once per run, at its start; a resumed run does not call it again.

        Args:
            hparams: the run's hyperparameters by name. Values that are not a bool, int, float
                or str (``None``, tuples, lists, paths, nested dicts) are shown as their ``str``;
                a bool is shown as 1 or 0 (torch stores it as a number).
            metrics: scalar tags written with :meth:`write`, e.g. ``["eval/mean_return"]``: the
                tab shows each one's last value in this run. Nothing is written under them here.

        Raises:
            TypeError: if ``hparams`` is not a mapping with str keys or ``metrics`` not a
                sequence of tags.
            ValueError: if a tag of ``metrics`` is not a key :meth:`write` accepts.
        """
        where = "TensorBoardLogger.write_hparams"
        if not isinstance(hparams, Mapping):
            raise TypeError(
                f"{where}: hparams must be a mapping from str to a value, got {type(hparams).__name__}"
            )
        if isinstance(metrics, str) or not isinstance(metrics, Sequence):
            raise TypeError(
                f"{where}: metrics must be a sequence of scalar tags such as ['eval/mean_return'], got {metrics!r}"
            )
        tags = [check_key(tag, where) for tag in metrics]
        values: dict[str, bool | int | float | str] = {}
        for name, value in hparams.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"{where}: hyperparameter names must be non-empty strings, got {name!r}")
            values[name] = _hparam_value(value)
        self._check_open(where)
        from torch.utils.tensorboard.summary import hparams as hparams_summaries

        # torch reads only the keys of metric_dict (the experiment's metric tags); its values
        # would be scalars only in add_hparams, which is not called: no made-up value is written.
        summaries = hparams_summaries(values, dict.fromkeys(tags, 0.0))  # type: ignore[no-untyped-call]
        file_writer = self._writer._get_file_writer()
        for summary in summaries:
            file_writer.add_summary(summary)
        file_writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        if not self._closed:
            self._writer.close()
            self._closed = True

    def _check_open(self, where: str) -> None:
        if self._closed:
            raise RuntimeError(f"{where}: the logger of {str(self.log_dir)!r} is closed")


def _hparam_value(value: object) -> bool | int | float | str:
    """``value`` as a type the HParams tab shows: bool, int, float or str (anything else's ``str``)."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):  # NumPy ints too
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)
