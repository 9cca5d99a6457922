"""The checkpoint file format: its checksum, its structure checks and the RNG states it carries.

Private to :mod:`rlcore.checkpoint`, which turns the ``ValueError`` raised here into its
``CheckpointError`` naming the file.

The checksum is a SHA-256 over a canonical walk of the payload (every tensor's dtype, shape and
bytes, every plain value and key, in order), computed from the objects before ``torch.save`` and
again from what ``torch.load`` returns: a flipped bit in the weights, or in anything else the file
holds, no longer loads silently. It does not depend on the device the tensors are loaded to.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "check_payload",
    "check_rng_state",
    "clean_orphans",
    "digest",
    "disk_full",
    "find_unplain",
    "rng_state",
    "set_rng_states",
    "temporary_name",
    "tensor_bytes",
    "unsafe_message",
]

FORMAT = "rlcore.checkpoint"
#: 2 (rlcore 0.3) added ``checksum``; version 1 files (rlcore 0.1 and 0.2) load without one.
FORMAT_VERSION = 2
_HASHED = ("format", "format_version", "versions", "metadata", "objects", "rng")
_TENSOR_TAG = b"T"
# Leaves that torch.load(weights_only=True) accepts without any allowlisting; used only to
# point at the culprit once torch has said that something in the file is not loadable.
_PLAIN = (torch.Tensor, bool, int, float, complex, str, bytes, type(None), torch.dtype, torch.device)
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


# --------------------------------------------------------------------------- checksum
def digest(payload: Mapping[str, Any]) -> str:
    """``"sha256:<hex>"`` of the payload's entries but ``checksum``.

    Raises ``ValueError`` naming where a value that no checkpoint holds is (a set, an array).
    """
    hasher = hashlib.sha256()
    for key in _HASHED:
        _feed(hasher, key, ())
        _feed(hasher, payload.get(key), (key,))
    return "sha256:" + hasher.hexdigest()


def _feed(hasher: Any, value: Any, path: tuple[Any, ...]) -> None:
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
        if tensor.layout != torch.strided:
            tensor = tensor.to_dense()
        if tensor.is_quantized:
            tensor = tensor.dequantize()
        tensor = tensor.resolve_conj().resolve_neg().cpu().contiguous().reshape(-1)
        if tensor.numel() and tensor.stride(0) != 1:  # one element "contiguous" with another stride
            tensor = tensor.clone(memory_format=torch.contiguous_format)
        hasher.update(
            b"%s%s%s;" % (_TENSOR_TAG, str(tensor.dtype).encode(), str(tuple(value.shape)).encode())
        )
        if tensor.numel():
            hasher.update(tensor.view(torch.uint8).numpy())
    elif isinstance(value, Mapping):
        hasher.update(b"D%d;" % len(value))
        for key, item in value.items():
            _feed(hasher, key, path)
            _feed(hasher, item, (*path, key))
    elif isinstance(value, (list, tuple)):  # torch.load may give back either
        hasher.update(b"L%d;" % len(value))
        for i, item in enumerate(value):
            _feed(hasher, item, (*path, i))
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        hasher.update(b"S%d;" % len(data))
        hasher.update(data)
    elif isinstance(value, bytes):
        hasher.update(b"B%d;" % len(value))
        hasher.update(value)
    elif value is None or isinstance(value, (bool, int, torch.dtype, torch.device)):
        hasher.update(b"V%s;" % repr(value).encode())
    elif isinstance(value, float):
        hasher.update(b"F%s;" % value.hex().encode())
    elif isinstance(value, complex):
        hasher.update(b"C%s,%s;" % (value.real.hex().encode(), value.imag.hex().encode()))
    else:
        where = path[0] + "".join(f"[{part!r}]" for part in path[1:]) if path else "a key"
        raise ValueError(
            f"holds a {type(value).__module__}.{type(value).__qualname__} at {where}, which no checkpoint holds "
            "(tensors and plain Python values only: no sets, arrays or objects)"
        )


# --------------------------------------------------------------------------- structure
def check_payload(payload: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check what ``torch.load`` returned: ``(metadata, parsed RNG states)``, or ``ValueError`` saying why."""
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"is not an rlcore checkpoint (no 'format': '{FORMAT}' entry)")
    version = payload.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ValueError(
            f"has checkpoint format_version {version!r}; this rlcore reads versions 1 to {FORMAT_VERSION}"
            + ("; upgrade rlcore" if isinstance(version, int) and version > FORMAT_VERSION else "")
        )
    required = [*_HASHED[2:], *(["checksum"] if version >= 2 else [])]
    missing = [key for key in required if key not in payload]
    if missing:
        raise ValueError(f"is incomplete: missing entries {missing}")
    if version >= 2:
        saved = payload["checksum"]
        try:
            actual = digest(payload)
        except ValueError as error:
            raise ValueError(f"is damaged: it {error}") from None
        if saved != actual:
            raise ValueError(
                f"is damaged: its checksum is {actual}, but it was written with {saved!r} "
                "(bits changed on disk or in a copy); use an earlier checkpoint"
            )
    versions = payload["versions"]
    if not isinstance(versions, dict) or not all(isinstance(v, str) for v in versions.values()):
        raise ValueError(f"has 'versions' {_brief(versions)}, expected a dict of version strings")
    objects = payload["objects"]
    if not isinstance(objects, dict) or not all(isinstance(name, str) for name in objects):
        raise ValueError(f"has 'objects' {_brief(objects)}, expected a dict of state dicts by name")
    text = payload["metadata"]
    if not isinstance(text, str):
        raise ValueError(f"has 'metadata' {_brief(text)}, expected JSON text")
    try:
        metadata = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"has 'metadata' that is not valid JSON ({error})") from None
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError(f"has 'metadata' holding a JSON {type(metadata).__name__}, expected an object")
    rng = check_rng_state(payload["rng"])
    return ({} if metadata is None else metadata), rng


def _brief(value: Any) -> str:
    text = repr(value)
    return f"of type {type(value).__name__} ({text[:60]}{'...' if len(text) > 60 else ''})"


# --------------------------------------------------------------------------- RNG states
def rng_state() -> dict[str, Any]:
    """The states of Python's ``random``, NumPy's global RNG and torch's CPU and CUDA generators."""
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


def check_rng_state(state: Any) -> dict[str, Any]:
    """Parse a saved RNG state into what :func:`set_rng_states` sets, trying each on a spare generator.

    Raises ``ValueError`` naming the entry; nothing global changes, so a checkpoint whose RNG
    state cannot be restored is refused before any object is loaded.
    """
    if not isinstance(state, dict) or not {"python", "numpy", "torch", "cuda"} <= set(state):
        raise ValueError(f"has 'rng' {_brief(state)}, expected the entries python, numpy, torch and cuda")
    try:
        version, words, gauss = state["python"]
        python_state = (version, tuple(words), gauss)
        random.Random().setstate(python_state)
    except Exception as error:
        raise ValueError(f"has an unusable rng['python'] state ({type(error).__name__}: {error})") from None
    try:
        saved = state["numpy"]
        key = saved["key"]
        if not isinstance(key, torch.Tensor):
            raise TypeError(f"'key' is a {type(key).__name__}, expected a tensor")
        numpy_state = {
            "bit_generator": saved["bit_generator"],
            "state": {"key": key.cpu().numpy().astype(np.uint32), "pos": saved["pos"]},
            "has_gauss": saved["has_gauss"],
            "gauss": saved["gauss"],
        }
        np.random.RandomState().set_state(numpy_state)
    except Exception as error:
        raise ValueError(f"has an unusable rng['numpy'] state ({type(error).__name__}: {error})") from None
    torch_state, cuda_states = state["torch"], state["cuda"]
    try:
        if not isinstance(torch_state, torch.Tensor):
            raise TypeError(f"it is a {type(torch_state).__name__}, expected a uint8 tensor")
        torch_state = torch_state.cpu()
        torch.Generator().set_state(torch_state)
    except Exception as error:
        raise ValueError(f"has an unusable rng['torch'] state ({type(error).__name__}: {error})") from None
    if not isinstance(cuda_states, (list, tuple)) or not all(
        isinstance(s, torch.Tensor) and s.dtype == torch.uint8 for s in cuda_states
    ):
        raise ValueError(f"has rng['cuda'] {_brief(cuda_states)}, expected a list of uint8 tensors")
    return {"python": python_state, "numpy": numpy_state, "torch": torch_state, "cuda": list(cuda_states)}


def set_rng_states(parsed: Mapping[str, Any]) -> str | None:
    """Set every RNG from :func:`check_rng_state`'s result; return a warning text, or None."""
    random.setstate(parsed["python"])
    np.random.set_state(parsed["numpy"])  # noqa: NPY002
    torch.set_rng_state(parsed["torch"])
    cuda_states = parsed["cuda"]
    if not cuda_states:
        return None
    if not torch.cuda.is_available():
        return f"CUDA RNG states of {len(cuda_states)} device(s) were saved but CUDA is not available"
    if len(cuda_states) != torch.cuda.device_count():
        return (
            f"CUDA RNG states of {len(cuda_states)} device(s) were saved but "
            f"{torch.cuda.device_count()} are visible"
        )
    torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])
    return None


# --------------------------------------------------------------------------- temporary files
# ".<target>.<host>-<pid>.<32 hex>.tmp"; rlcore 0.2 wrote ".<target>.<pid>.<32 hex>.tmp".
_TEMPORARY = re.compile(r"^\..+\.(?:(?P<host>[A-Za-z0-9-]+)-)?(?P<pid>\d+)\.[0-9a-f]{32}\.tmp$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:64] or "host"


def temporary_name(path: Path, token: str) -> Path:
    """Where :func:`rlcore.checkpoint.save` writes ``path`` before renaming it (``token``: 32 hex)."""
    return path.with_name(f".{path.name}.{_host()}-{os.getpid()}.{token}.tmp")


def clean_orphans(directory: Path) -> list[Path]:
    """Delete the temporary files that saves killed mid-write left in ``directory``; return them.

    Only files of processes of this host that are no longer alive go (a save that another
    process is making right now keeps its file).
    """
    if os.name != "posix" or not directory.is_dir():
        return []
    removed = []
    host = _host()
    for entry in directory.iterdir():
        match = _TEMPORARY.match(entry.name)
        if match is None or match["host"] not in (None, host) or not entry.is_file() or entry.is_symlink():
            continue
        pid = int(match["pid"])
        if pid == os.getpid() or _alive(pid):
            continue
        entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # alive, but another user's (or not a pid this system has: leave it)
    return True


# --------------------------------------------------------------------------- save's errors


def unsafe_message(states: Mapping[str, Any], unsafe: list[str]) -> str:
    where = ""
    for name, state in states.items():
        found = find_unplain(state, "state_dict()")
        if found is not None:
            where = f" object '{name}' has a {found[1]} at {found[0]};"
            break
    return (
        f"checkpoint.save:{where} torch.load(weights_only=True) could not load the checkpoint (it would need "
        f"{sorted(unsafe)}); state dicts must hold tensors and plain Python values (convert arrays with "
        "torch.from_numpy, NumPy scalars with float() or int())"
    )


def find_unplain(value: Any, where: str) -> tuple[str, str] | None:
    """``(where, type name)`` of the first value in ``value`` that torch's ``weights_only`` load refuses."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = find_unplain(item, f"{where}[{key!r}]")
            if found is not None:
                return found
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        for i, item in enumerate(value):
            found = find_unplain(item, f"{where}[{i}]")
            if found is not None:
                return found
        return None
    if isinstance(value, _PLAIN):
        return None
    return where, f"{type(value).__module__}.{type(value).__qualname__}"


def disk_full(error: BaseException | None) -> bool:
    """Whether ``error`` or an error it arose from is "no space left" (torch wraps it in a RuntimeError)."""
    seen = 0
    while error is not None and seen < 16:
        if isinstance(error, OSError) and error.errno in _DISK_FULL:
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def tensor_bytes(value: Any) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, Mapping):
        return sum(tensor_bytes(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return sum(tensor_bytes(item) for item in value)
    return 0
