"""Checkpoints of anything with ``state_dict()`` / ``load_state_dict()``, plus RNG states and metadata.

:func:`save` writes one file holding the state dicts of the objects it is given (modules,
optimisers, LR schedulers, rlcore wrappers and buffers: it knows only the protocol, not the
classes), the states of Python's ``random``, NumPy's global RNG and PyTorch's CPU and CUDA
generators, the versions of rlcore, PyTorch, NumPy and Python, and a JSON metadata dict
(config, step). :func:`load` puts them back and returns the metadata.

Design choices, against the failures seen in the field:

* No pickled code (SB3#172, #1122): everything is tensors and plain Python values, and the file
  loads with ``torch.load(weights_only=True)``; :func:`save` refuses a state dict that would
  not, naming the object and the offending value.
* A checkpoint that saves also loads: an object may offer ``check_state_dict(state)``, which
  raises what its ``load_state_dict(state)`` would raise and changes nothing (rlcore's
  ``RunningMeanStd`` and normalisation wrappers do: their ``load_state_dict`` runs the same
  check first). :func:`save` calls it on the state it is about to write and refuses a state
  that :func:`load` would refuse, e.g. statistics holding inf, naming the object and the entry.
* Atomic write: a temporary file in the same directory, flushed and ``fsync``-ed, then
  ``os.replace``-d over the target, so a crash mid-save leaves the previous checkpoint intact.
* Normalisation statistics and RNG states travel with the weights (cleanrl#425), so a resumed
  run continues exactly where it stopped.

File layout (a dict, ``format_version`` 1)::

    {"format": "rlcore.checkpoint", "format_version": 1,
     "versions": {"rlcore": ..., "torch": ..., "numpy": ..., "python": ...},
     "metadata": "<JSON text>", "objects": {name: state_dict, ...},
     "rng": {"python": ..., "numpy": {...}, "torch": ByteTensor, "cuda": [ByteTensor, ...]}}
"""

from __future__ import annotations

import json
import os
import platform
import random
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlcore._version import __version__

__all__ = ["CheckpointError", "CheckpointVersionWarning", "load", "save"]

FORMAT = "rlcore.checkpoint"
FORMAT_VERSION = 1

# Leaves that torch.load(weights_only=True) accepts without any allowlisting; used only to
# point at the culprit once torch has said that something in the file is not loadable.
_PLAIN = (torch.Tensor, bool, int, float, complex, str, bytes, type(None), torch.dtype, torch.device)


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written or read: corrupt or foreign file, objects that do not match."""


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
            refuses (so that :func:`load` would); nothing is written then.

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

    payload = {
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
        "rng": _rng_state(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as file:
            torch.save(payload, file)
            file.flush()
            os.fsync(file.fileno())
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(tmp))
        if unsafe:
            raise CheckpointError(_unsafe_message(states, unsafe))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


def load(
    path: str | os.PathLike[str],
    *,
    restore_rng: bool = True,
    strict: bool = True,
    map_location: str | torch.device | None = "cpu",
    **objects: Any,
) -> dict[str, Any]:
    """Load the state of ``objects`` (and, by default, the RNG states) from a :func:`save` file.

    Each object receives ``obj.load_state_dict(saved_state)``. Objects are loaded in the order
    given; if one fails, those before it keep their new state.

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
        CheckpointError: if the file is corrupt or truncated, not an rlcore checkpoint, from a
            newer checkpoint format, lacks a requested object, holds objects that were not
            requested (``strict=True``), or an object's ``load_state_dict`` fails; the message
            names the path.
        TypeError: if an object has no ``load_state_dict()`` method.

    Warns:
        CheckpointVersionWarning: if the checkpoint was written by another rlcore version.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint.load: no checkpoint file at {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise CheckpointError(
            f"checkpoint.load: cannot read {path}: the file is corrupt, truncated or not a torch.save file, "
            f"or holds values that torch.load(weights_only=True) refuses ({type(error).__name__}: {error})"
        ) from error
    _check_payload(payload, path)
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
    for name, obj in objects.items():
        if not callable(getattr(obj, "load_state_dict", None)):
            raise TypeError(
                f"checkpoint.load: object '{name}' ({type(obj).__name__}) has no load_state_dict() method"
            )
    for name, obj in objects.items():
        try:
            obj.load_state_dict(saved[name])
        except Exception as error:
            raise CheckpointError(
                f"checkpoint.load: loading object '{name}' ({type(obj).__name__}) from {path} failed: "
                f"{type(error).__name__}: {error}"
            ) from error
    if restore_rng:
        _restore_rng(payload["rng"], path)
    metadata = json.loads(payload["metadata"])
    return {} if metadata is None else dict(metadata)


# --------------------------------------------------------------------------- helpers
def _metadata_json(metadata: Mapping[str, Any] | None) -> str:
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"checkpoint.save: metadata must be a mapping or None, got {type(metadata).__name__}")
    try:
        return json.dumps(None if metadata is None else dict(metadata))
    except (TypeError, ValueError) as error:
        raise TypeError(f"checkpoint.save: metadata must be JSON-serialisable: {error}") from None


def _rng_state() -> dict[str, Any]:
    numpy_state = np.random.get_state(legacy=False)  # noqa: NPY002 (the global RNG is what we save)
    assert isinstance(numpy_state, dict)
    return {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": numpy_state["bit_generator"],
            # uint32 words as int64: a NumPy array would need pickling.
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
    }


def _restore_rng(state: Mapping[str, Any], path: Path) -> None:
    python_state = state["python"]
    random.setstate((python_state[0], tuple(python_state[1]), python_state[2]))
    numpy_state = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        {
            "bit_generator": numpy_state["bit_generator"],
            "state": {"key": numpy_state["key"].cpu().numpy().astype(np.uint32), "pos": numpy_state["pos"]},
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        }
    )
    torch.set_rng_state(state["torch"].cpu())
    cuda_states = list(state["cuda"])
    if not cuda_states:
        return
    if not torch.cuda.is_available():
        warnings.warn(
            f"checkpoint {path}: CUDA RNG states of {len(cuda_states)} device(s) were saved but CUDA is not "
            "available; they were not restored",
            stacklevel=3,
        )
    elif len(cuda_states) != torch.cuda.device_count():
        warnings.warn(
            f"checkpoint {path}: CUDA RNG states of {len(cuda_states)} device(s) were saved but "
            f"{torch.cuda.device_count()} are visible; they were not restored",
            stacklevel=3,
        )
    else:
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])


def _check_payload(payload: Any, path: Path) -> None:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"checkpoint.load: {path} is not an rlcore checkpoint (no 'format': '{FORMAT}' entry)"
        )
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint.load: {path} has checkpoint format_version {version!r}; this rlcore reads versions up to "
            f"{FORMAT_VERSION}; upgrade rlcore"
        )
    missing = [key for key in ("versions", "metadata", "objects", "rng") if key not in payload]
    if missing:
        raise CheckpointError(f"checkpoint.load: {path} is incomplete: missing entries {missing}")


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


def _unsafe_message(states: Mapping[str, Any], unsafe: list[str]) -> str:
    where = ""
    for name, state in states.items():
        found = _find_unplain(state, "state_dict()")
        if found is not None:
            where = f" object '{name}' has a {found[1]} at {found[0]};"
            break
    return (
        f"checkpoint.save:{where} torch.load(weights_only=True) could not load the checkpoint (it would need "
        f"{sorted(unsafe)}); state dicts must hold tensors and plain Python values (convert arrays with "
        "torch.from_numpy, NumPy scalars with float() or int())"
    )


def _find_unplain(value: Any, where: str) -> tuple[str, str] | None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _find_unplain(item, f"{where}[{key!r}]")
            if found is not None:
                return found
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        for i, item in enumerate(value):
            found = _find_unplain(item, f"{where}[{i}]")
            if found is not None:
                return found
        return None
    if isinstance(value, _PLAIN):
        return None
    return where, f"{type(value).__module__}.{type(value).__qualname__}"


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open a directory for fsync.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
