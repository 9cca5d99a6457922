"""Checkpoints of anything with ``state_dict()`` / ``load_state_dict()``, plus RNG states and metadata.

:func:`save` writes one file holding the state dicts of the objects it is given (modules,
optimisers, LR schedulers, rlcore wrappers and buffers: it knows only the protocol, not the
classes), the states of Python's ``random``, NumPy's global RNG and PyTorch's CPU and CUDA
generators, the versions of rlcore, PyTorch, NumPy and Python, a JSON metadata dict (config,
step) and a checksum. :func:`load` checks the file and puts it all back; :func:`verify` only
checks it.

Design choices, against the failures seen in the field:

* No pickled code (SB3#172, #1122): everything is tensors and plain Python values, and the file
  loads with ``torch.load(weights_only=True)``; :func:`save` refuses a state dict that would
  not, naming the object and the offending value.
* A checkpoint that saves also loads: an object may offer ``check_state_dict(state)``, which
  raises what its ``load_state_dict(state)`` would raise and changes nothing (rlcore's
  ``RunningMeanStd``, normalisation wrappers and replay buffers do). :func:`save` calls it on
  the state it is about to write and refuses a state that :func:`load` would refuse.
* Integrity: a SHA-256 checksum of the payload is written with it and verified on load, so a
  flipped bit in the weights is refused instead of loaded (torch's zip reader does not check
  its CRCs). Every bad file (truncated, foreign, damaged, ill-formed) raises
  :class:`CheckpointError` naming the file and what is wrong with it.
* All or nothing: :func:`load` checks the whole file and the RNG states first, then loads the
  objects; if one refuses its state, those loaded before it get their previous state back and
  the RNGs are untouched.
* Atomic write: a temporary file in the same directory, flushed and ``fsync``-ed, then
  ``os.replace``-d over the target, so a crash mid-save leaves the previous checkpoint intact.
  The temporary files of a save killed mid-write (SIGKILL, power loss) are deleted by the next
  save into that directory; a full disk is reported as such.
* Normalisation statistics and RNG states travel with the weights (cleanrl#425), so a resumed
  run continues exactly where it stopped.

File layout (a dict, ``format_version`` 2; version 1, without ``checksum``, still loads)::

    {"format": "rlcore.checkpoint", "format_version": 2,
     "versions": {"rlcore": ..., "torch": ..., "numpy": ..., "python": ...},
     "metadata": "<JSON text>", "objects": {name: state_dict, ...},
     "rng": {"python": ..., "numpy": {...}, "torch": ByteTensor, "cuda": [ByteTensor, ...]},
     "checksum": "sha256:<hex>"}
"""

from __future__ import annotations

import copy
import json
import os
import platform
import shutil
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlcore._checkpoint_format import (
    FORMAT,
    FORMAT_VERSION,
    check_payload,
    clean_orphans,
    digest,
    disk_full,
    find_unplain,
    rng_state,
    set_rng_states,
    temporary_name,
    tensor_bytes,
    unsafe_message,
)
from rlcore._version import __version__

__all__ = ["CheckpointError", "CheckpointVersionWarning", "load", "save", "verify"]


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written or read: corrupt, damaged or foreign file, objects that do not match."""


class CheckpointVersionWarning(UserWarning):
    """The checkpoint was written by another rlcore version than the one loading it."""


def save(path: str | os.PathLike[str], metadata: Mapping[str, Any] | None = None, **objects: Any) -> Path:
    """Atomically write the state of ``objects``, the RNG states and ``metadata`` to ``path``.

    Args:
        path: file to write; its parent directories are created. An existing file is replaced
            only once the new one is completely on disk.
        metadata: JSON-serialisable mapping (config, step, ...), returned by :func:`load`.
        **objects: name -> object with a ``state_dict()`` method, and optionally a
            ``check_state_dict(state)`` method (see the module docstring). The names
            ``metadata``, ``restore_rng``, ``strict`` and ``map_location`` are taken by the two
            functions.

    Returns:
        The path written, as a ``pathlib.Path``.

    Raises:
        TypeError: if an object has no ``state_dict()``, or ``metadata`` is not a
            JSON-serialisable mapping.
        CheckpointError: if a state dict holds a value that ``torch.load(weights_only=True)``
            cannot load (e.g. a NumPy array), or that the object's ``check_state_dict``
            refuses (so that :func:`load` would), or the disk is full; nothing is written then.

    Example:
        >>> import tempfile, torch
        >>> from pathlib import Path
        >>> model = torch.nn.Linear(3, 1)
        >>> optimizer = torch.optim.Adam(model.parameters())
        >>> path = Path(tempfile.mkdtemp()) / "ckpt.pt"
        >>> _ = save(path, model=model, optimizer=optimizer, metadata={"step": 1000})
        >>> load(path, model=model, optimizer=optimizer)
        {'step': 1000}
        >>> sorted(torch.load(path, weights_only=True)["objects"])
        ['model', 'optimizer']
        >>> import shutil; shutil.rmtree(path.parent)
    """
    path = Path(path)
    metadata_json = _metadata_json(metadata)
    states: dict[str, Any] = {}
    for name, obj in objects.items():
        state_dict = getattr(obj, "state_dict", None)
        if not callable(state_dict):
            raise TypeError(
                f"checkpoint.save: object '{name}' ({type(obj).__name__}) has no state_dict() method"
            )
        states[name] = state = state_dict()
        _check_state(name, obj, state)

    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": {
            "rlcore": __version__,
            "torch": str(torch.__version__),
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "metadata": metadata_json,
        "objects": states,
        "rng": rng_state(),
    }
    try:
        payload["checksum"] = digest(payload)
    except ValueError as error:
        if not any(find_unplain(state, "state_dict()") for state in states.values()):
            raise CheckpointError(f"checkpoint.save: the checkpoint {error}; nothing was written") from None
        payload["checksum"] = ""  # a value torch refuses: its check below names it, and nothing is written
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_orphans(path.parent)
    tmp = temporary_name(path, uuid.uuid4().hex)
    try:
        with open(tmp, "xb") as file:
            torch.save(payload, file)
            file.flush()
            os.fsync(file.fileno())
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(tmp))
        if unsafe:
            raise CheckpointError(unsafe_message(states, unsafe))
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if disk_full(error):
            raise CheckpointError(_disk_full_message(path, states)) from error
        raise
    _fsync_directory(path.parent)
    return path


def verify(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Check that ``path`` is a whole, undamaged checkpoint that :func:`load` reads; return its metadata.

    Reads the file and checks its structure, checksum and RNG states, without loading anything
    into objects or RNGs (what a resume does to choose the newest checkpoint it can trust).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        CheckpointError: if the file is corrupt, truncated, damaged, foreign or ill-formed.
    """
    return _read(Path(path), "checkpoint.verify", "cpu")[1]


def load(
    path: str | os.PathLike[str],
    *,
    restore_rng: bool = True,
    strict: bool = True,
    map_location: str | torch.device | None = "cpu",
    **objects: Any,
) -> dict[str, Any]:
    """Load the state of ``objects`` (and, by default, the RNG states) from a :func:`save` file.

    All or nothing: the whole file (structure, checksum, RNG states, the objects it holds) is
    checked first; then each object receives ``obj.load_state_dict(saved_state)``, and if one
    fails, the objects loaded before it get their previous state back and the RNGs are left
    as they were.

    Args:
        path: a file written by :func:`save`.
        restore_rng: also restore Python's ``random``, NumPy's global RNG and PyTorch's CPU (and
            CUDA, where present) generators, so that a resumed run draws what the uninterrupted
            run would have drawn.
        strict: the names passed must be exactly the names saved; with ``strict=False`` a
            subset may be loaded (e.g. only the policy, for evaluation).
        map_location: where tensors are loaded before ``load_state_dict`` copies them (``"cpu"``
            works for every checkpoint; modules and optimisers move values to their own device).
        **objects: name -> object with a ``load_state_dict()`` method.

    Returns:
        The metadata saved with the checkpoint, as a new dict parsed from its JSON text (tuples
        come back as lists; ``{}`` if none was saved).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        CheckpointError: if the file is corrupt, truncated, damaged (checksum), not an rlcore
            checkpoint, from a newer checkpoint format, ill-formed, lacks a requested object,
            holds objects that were not requested (``strict=True``), or an object's
            ``load_state_dict`` fails; the message names the path.
        TypeError: if an object has no ``load_state_dict()`` method.

    Warns:
        CheckpointVersionWarning: if the checkpoint was written by another rlcore version.
    """
    path = Path(path)
    for name, obj in objects.items():
        if not callable(getattr(obj, "load_state_dict", None)):
            raise TypeError(
                f"checkpoint.load: object '{name}' ({type(obj).__name__}) has no load_state_dict() method"
            )
    payload, metadata, rng = _read(path, "checkpoint.load", map_location)
    saved_version = payload["versions"].get("rlcore")
    if saved_version != __version__:
        warnings.warn(
            f"checkpoint {path} was saved by rlcore {saved_version}, and is being loaded by rlcore "
            f"{__version__}; state dicts may differ between versions (see rlcore's CHANGELOG)",
            CheckpointVersionWarning,
            stacklevel=2,
        )
    saved = payload["objects"]
    missing = sorted(set(objects) - set(saved))
    if missing:
        raise CheckpointError(
            f"checkpoint.load: {path} has no object named {missing}; it holds {sorted(saved)}"
        )
    unexpected = sorted(set(saved) - set(objects))
    if strict and unexpected:
        raise CheckpointError(
            f"checkpoint.load: {path} also holds {unexpected}, which were not passed; pass them too, or "
            "strict=False to load only some objects"
        )
    _load_all(path, objects, saved)
    if restore_rng:
        trouble = set_rng_states(rng)
        if trouble is not None:
            warnings.warn(f"checkpoint {path}: {trouble}; they were not restored", stacklevel=2)
    return metadata


# --------------------------------------------------------------------------- helpers
def _read(path: Path, where: str, map_location: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The checked payload of ``path``, its metadata and its parsed RNG states, or ``CheckpointError``."""
    if not path.is_file():
        raise FileNotFoundError(f"{where}: no checkpoint file at {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise CheckpointError(
            f"{where}: cannot read {path}: the file is corrupt, truncated or not a torch.save file, "
            f"or holds values that torch.load(weights_only=True) refuses ({type(error).__name__}: {error})"
        ) from error
    try:
        metadata, rng = check_payload(payload)
    except ValueError as error:
        raise CheckpointError(f"{where}: {path} {error}") from None
    return payload, metadata, rng


def _load_all(path: Path, objects: Mapping[str, Any], saved: Mapping[str, Any]) -> None:
    """``load_state_dict`` every object, or none: earlier ones are rolled back if one fails.

    Objects with ``check_state_dict`` are checked before anything is loaded and loaded last
    (their load cannot fail once the check passed); the others are snapshotted first.
    """
    checked = {name: obj for name, obj in objects.items() if callable(getattr(obj, "check_state_dict", None))}
    for name, obj in checked.items():
        try:
            obj.check_state_dict(saved[name])
        except Exception as error:
            raise CheckpointError(_load_failed(path, name, obj, error)) from error
    order = [name for name in objects if name not in checked] + list(checked)
    snapshots: dict[str, Any] = {}
    for i, name in enumerate(order):
        obj = objects[name]
        try:
            if name not in checked:
                snapshots[name] = copy.deepcopy(obj.state_dict())
            obj.load_state_dict(saved[name])
        except Exception as error:
            rollback = _roll_back([(n, objects[n]) for n in order[: i + 1] if n in snapshots], snapshots)
            raise CheckpointError(_load_failed(path, name, obj, error) + rollback) from error


def _roll_back(loaded: list[tuple[str, Any]], snapshots: Mapping[str, Any]) -> str:
    failed = []
    for name, obj in reversed(loaded):
        try:
            obj.load_state_dict(snapshots[name])
        except Exception as error:  # pragma: no cover (a state_dict that does not load back)
            failed.append(f"{name} ({type(error).__name__}: {error})")
    if failed:  # pragma: no cover
        return f"; restoring the previous state of {', '.join(failed)} failed too"
    return "; no object was changed"


def _load_failed(path: Path, name: str, obj: Any, error: BaseException) -> str:
    return (
        f"checkpoint.load: loading object '{name}' ({type(obj).__name__}) from {path} failed: "
        f"{type(error).__name__}: {error}"
    )


def _disk_full_message(path: Path, states: Mapping[str, Any]) -> str:
    needed = sum(tensor_bytes(state) for state in states.values())
    try:
        free = f"{shutil.disk_usage(path.parent).free / 1e6:.1f} MB free"
    except OSError:
        free = "free space unknown"
    return (
        f"checkpoint.save: no space left on the device of {path.parent} writing {path.name} (it needs about "
        f"{needed / 1e6:.1f} MB, {free}); nothing was written and the previous checkpoint is intact: "
        "free some space (old checkpoints, replay buffers) and save again"
    )


def _metadata_json(metadata: Mapping[str, Any] | None) -> str:
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"checkpoint.save: metadata must be a mapping or None, got {type(metadata).__name__}")
    try:
        return json.dumps(None if metadata is None else dict(metadata))
    except (TypeError, ValueError) as error:
        raise TypeError(f"checkpoint.save: metadata must be JSON-serialisable: {error}") from None


def _check_state(name: str, obj: Any, state: Any) -> None:
    """Refuse ``state`` if the check that ``obj.load_state_dict`` runs would refuse it."""
    check = getattr(obj, "check_state_dict", None)
    if not callable(check):
        return
    try:
        check(state)
    except Exception as error:
        raise CheckpointError(
            f"checkpoint.save: object '{name}' ({type(obj).__name__}) has a state that load() would refuse, "
            f"so nothing was written: {type(error).__name__}: {error}"
        ) from error


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open a directory for fsync.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
