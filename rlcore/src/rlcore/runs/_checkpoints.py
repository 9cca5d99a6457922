"""A run's checkpoints: what goes in which file, how many are kept, and loading them back.

Each checkpoint ``checkpoints/step_<step>.pt`` holds the run's objects but its replay buffers,
the RNG states and the run's counters. rlcore's :class:`~rlcore.buffers.ReplayBuffer` s (1M
transitions by default, gigabytes at Atari scale) go to ``step_<step>.buffers.pt`` instead,
and only the newest checkpoint keeps one: a resume from it is exact, and a checkpoint costs
its weights, not its buffer. The buffers are written first and the older buffer files deleted
last, so that a process killed at any point leaves the newest checkpoint with its buffers.
Of the checkpoints themselves the newest ``keep_last`` stay.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rlcore import checkpoint
from rlcore._rundir import buffers_file, checkpoints
from rlcore.buffers import ReplayBuffer

__all__ = ["kept_apart", "load_run_checkpoint", "save_run_checkpoint"]


def kept_apart(stateful: Mapping[str, Any]) -> dict[str, Any]:
    """The objects saved in their own file, with the newest checkpoint only: rlcore's replay buffers.

    (And what says ``KEPT_APART = True``: the replay buffers of the other ranks of a run on
    several processes.)
    """
    return {
        name: obj
        for name, obj in stateful.items()
        if isinstance(obj, ReplayBuffer) or getattr(obj, "KEPT_APART", False) is True
    }


def save_run_checkpoint(
    path: Path, stateful: Mapping[str, Any], metadata: Mapping[str, Any], *, keep_last: int
) -> Path:
    """Save ``stateful`` at ``path`` (replay buffers beside it); prune to the newest ``keep_last`` (0: all)."""
    apart = kept_apart(stateful)
    others = {name: obj for name, obj in stateful.items() if name not in apart}
    buffers = buffers_file(path)
    if apart:  # first: a checkpoint never exists without its buffers
        checkpoint.save(buffers, metadata={"step": metadata["step"]}, **apart)
    # The names say what the file holds without loading it (the evaluate command's statistics).
    saved = {"kept_apart": sorted(apart), "objects": sorted(others)}
    checkpoint.save(path, metadata={**metadata, **saved}, **others)
    run_dir = path.parent.parent
    for old in checkpoints(run_dir, buffers=True):
        if old != buffers:
            old.unlink(missing_ok=True)
    if keep_last > 0:
        for old in checkpoints(run_dir)[keep_last:]:
            if old != path:
                old.unlink(missing_ok=True)
    return path


def load_run_checkpoint(
    path: Path, stateful: Mapping[str, Any], metadata: Mapping[str, Any]
) -> dict[str, Any]:
    """Load the checkpoint ``path`` (whose verified ``metadata`` is given) and its replay buffers.

    A buffers file that is missing or damaged (the newest checkpoint was, and this is an older
    one) leaves the buffers empty, with a warning: the resume is not exact then. A whole file
    that does not fit the buffers (a changed ``buffer_size``) raises, as a checkpoint that does
    not fit the networks does.

    Raises:
        rlcore.checkpoint.CheckpointError: if a file does not fit the objects.
    """
    apart = kept_apart(stateful) if "kept_apart" in metadata else {}  # rlcore 0.2: all in one file
    others = {name: obj for name, obj in stateful.items() if name not in apart}
    loaded = checkpoint.load(path, **others)
    if not apart:
        return loaded
    buffers = buffers_file(path)
    try:
        checkpoint.load(buffers, restore_rng=False, **apart)
    except (OSError, checkpoint.CheckpointError) as error:
        try:
            checkpoint.verify(buffers)
        except (OSError, checkpoint.CheckpointError) as damage:
            reason = "is missing" if isinstance(damage, FileNotFoundError) else f"cannot be used ({damage})"
            warnings.warn(
                f"Run: resuming from {path.name}, but its replay buffers' file {buffers.name} {reason} "
                f"(buffers are kept with the newest checkpoint only): {sorted(apart)} start empty, "
                "so this resume is not exact",
                stacklevel=4,
            )
            return loaded
        raise error  # a whole file that does not fit the buffers: a config that changed
    return loaded
