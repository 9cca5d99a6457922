"""Helpers shared by the replay and rollout buffers: input checks, spaces, autoreset rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from rlcore._numeric import LARGE_SIZE, real_number

__all__ = [
    "FieldChecker",
    "check_positive_int",
    "check_state_keys",
    "check_unit_interval",
    "load_array",
    "load_int",
    "make_rng",
    "rng_state",
    "set_rng_state",
    "space_layout",
    "to_numpy",
    "to_tensor",
]


def space_layout(where: str, name: str, space: spaces.Space[Any]) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """Shape and dtype of one element of ``space`` (Box, Discrete, MultiDiscrete, MultiBinary)."""
    if not isinstance(space, spaces.Space):
        raise TypeError(f"{where}: {name} must be a gymnasium.spaces.Space, got {type(space).__name__}")
    if space.shape is None or space.dtype is None:
        raise TypeError(
            f"{where}: {name} {space} has no fixed shape and dtype; expected a Box, Discrete, "
            "MultiDiscrete or MultiBinary space"
        )
    return tuple(int(s) for s in space.shape), np.dtype(space.dtype)


def to_numpy(value: Any) -> np.ndarray:
    """``value`` as a NumPy array without copying when it already is one (tensors are detached)."""
    if type(value) is np.ndarray:
        return value
    array: np.ndarray = np.asarray(value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value)
    return array


# How FieldChecker looks at the values of a source dtype (see FieldChecker).
_SAFE, _SQUARES, _MIN_MAX = "safe", "squares", "min max"


class FieldChecker:
    """Checks that a value fits one storage field before anything is written.

    Every field of a buffer goes through one of these, so that a cast never silently changes
    data. The shape must match exactly; the dtype may change only within its kind (float ->
    int, int -> bool and the like raise ``TypeError``); and the values must survive the cast
    into the field, or ``ValueError`` names the field, the first value that does not and the
    dtype:

    * integer storage holds integers exactly: a value outside its range (300 into int8) is
      refused;
    * float storage rounds to its precision, as float32 storage always does, but never turns
      a finite value into inf (1e300 into float32 is refused); NaN and inf stay as they are.

    A cast that NumPy calls safe (int8 -> int64, float32 -> float64) needs no look at the
    values; a narrower float costs one sum of squares (below the square of the largest float
    of the field, every value fits), any other a min and a max.
    """

    def __init__(
        self, where: str, name: str, shape: tuple[int, ...], dtype: np.dtype[Any], hint: str = ""
    ) -> None:
        self.where = where
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.hint = hint
        # Values in this range survive a cast into the field (floats just above it may too:
        # the precise check decides). Python numbers: comparing a Python float with a NumPy
        # float32 would cast (and warn) the wrong way.
        self._range: tuple[float, float] | None = None
        if dtype.kind in "iu":
            self._range = (int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
        elif dtype.kind == "f":
            self._range = (-float(np.finfo(dtype).max), float(np.finfo(dtype).max))
        self._squares_bound = 0.0 if self._range is None else self._range[1] ** 2
        # can_cast costs as much as the copy itself; a dict lookup per call keeps add() fast.
        # Per source dtype: how its values are checked (_SAFE: not at all).
        self._checks: dict[np.dtype[Any], str] = {}

    def __call__(self, given: Any) -> np.ndarray:
        """``given`` as an array, checked; the assignment into the storage casts it."""
        value = to_numpy(given)
        if value.shape != self.shape:
            raise ValueError(
                f"{self.where}: {self.name} has shape {value.shape}, expected {self.shape}{self.hint}"
            )
        if value.dtype == self.dtype:
            return value
        check = self._checks.get(value.dtype)
        if check is None:
            check = self._checks[value.dtype] = self._check_for(value.dtype)
        if check is _SAFE or not value.size:
            return value
        assert self._range is not None
        # NaN and inf fail these comparisons, and the precise check then looks at them.
        if check is _SQUARES and value.size < LARGE_SIZE:
            # One BLAS call; its threads can stall on large arrays (see rlcore.stats).
            if np.vdot(value, value) <= self._squares_bound:
                return value
        elif value.size <= 64:
            # Python's min and max of a short list cost less than two NumPy reductions. NaN
            # never hides a value out of range: it is skipped, or it is the result.
            items = value.ravel().tolist()
            if self._range[0] <= min(items) and max(items) <= self._range[1]:
                return value
        elif self._range[0] <= value.min() and value.max() <= self._range[1]:
            return value
        self._check_values(value)
        return value

    def _check_for(self, source: np.dtype[Any]) -> str:
        if np.can_cast(source, self.dtype, "safe"):
            return _SAFE
        if not np.can_cast(source, self.dtype, "same_kind"):
            raise TypeError(
                f"{self.where}: {self.name} has dtype {source}, which cannot be stored as {self.dtype} "
                "without changing its kind"
            )
        # same_kind but not safe: a narrower float (its squares in float64 cannot wrap
        # around, as an int's would), a narrower int, or an int into a float too narrow
        # for some of its values.
        return _SQUARES if source.kind == "f" and source.itemsize == 8 else _MIN_MAX

    def _check_values(self, value: np.ndarray) -> None:
        """Raise ``ValueError`` naming the first value of ``value`` that the cast would change."""
        if self.dtype.kind in "iu":
            info = np.iinfo(self.dtype)
            bad = (value < info.min) | (value > info.max)
            expected = f"expected integers in [{info.min}, {info.max}]"
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                bad = ~np.isfinite(value.astype(self.dtype)) & np.isfinite(value)
            expected = f"expected magnitudes up to {float(np.finfo(self.dtype).max):.6g}"
        if not bad.any():  # NaN and inf, stored as they are; or values that round to the largest
            return
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        with np.errstate(over="ignore"):
            becomes = value[index].astype(self.dtype).item()
        raise ValueError(
            f"{self.where}: {self.name} holds {value[index].item()!r} at index {index}, which {self.dtype} "
            f"cannot store (it would become {becomes!r}); {expected}"
        )


def to_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    tensor = torch.from_numpy(array)
    return tensor if device.type == "cpu" else tensor.to(device)


def check_state_keys(where: str, state: Mapping[str, Any], expected: set[str]) -> None:
    missing = expected - set(state)
    unexpected = set(state) - expected
    if missing or unexpected:
        raise KeyError(
            f"{where}: state keys do not match this buffer: missing {sorted(missing)}, unexpected {sorted(unexpected)}"
        )


def load_array(where: str, name: str, value: Any, like: np.ndarray) -> np.ndarray:
    """``value`` (tensor or array) as an array of ``like``'s shape and dtype, or a clear error."""
    array = to_numpy(value)
    if array.shape != like.shape:
        raise ValueError(f"{where}: '{name}' has shape {array.shape}, expected {like.shape}")
    if array.dtype != like.dtype:
        raise TypeError(f"{where}: '{name}' has dtype {array.dtype}, expected {like.dtype}")
    return array


def load_int(where: str, name: str, value: Any, low: int, high: int) -> int:
    number = int(value.item()) if isinstance(value, (torch.Tensor, np.ndarray)) else value
    if isinstance(number, bool) or not isinstance(number, (int, np.integer)) or not low <= number <= high:
        raise ValueError(f"{where}: '{name}' must be an int in [{low}, {high}], got {value!r}")
    return int(number)


def check_positive_int(where: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{where}: {name} must be an int >= 1, got {value!r}")
    return int(value)


def check_unit_interval(where: str, name: str, value: Any) -> float:
    number = real_number(value)  # NumPy scalars included, bools not
    if number is None or not 0.0 <= number <= 1.0:
        raise ValueError(f"{where}: {name} must be a number in [0, 1], got {value!r}")
    return number


# ---------------------------------------------------------------------------- RNG state
# The sampling generator is a PCG64 whose state is two 128-bit integers; a checkpoint holds
# tensors and plain numbers only, so each is split into four 32-bit limbs of an int64 tensor.
_LIMBS = 4


def make_rng(seed: int | None) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def rng_state(rng: np.random.Generator) -> torch.Tensor:
    state = rng.bit_generator.state
    words = [state["state"]["state"], state["state"]["inc"]]
    limbs = [(word >> (32 * i)) & 0xFFFFFFFF for word in words for i in range(_LIMBS)]
    return torch.tensor([*limbs, state["has_uint32"], state["uinteger"]], dtype=torch.int64)


def set_rng_state(where: str, rng: np.random.Generator, value: Any) -> None:
    limbs = [int(v) for v in to_numpy(value).reshape(-1)]
    if len(limbs) != 2 * _LIMBS + 2:
        raise ValueError(f"{where}: 'rng_state' must hold {2 * _LIMBS + 2} integers, got {len(limbs)}")
    state, inc = (sum(limbs[j * _LIMBS + i] << (32 * i) for i in range(_LIMBS)) for j in range(2))
    rng.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": state, "inc": inc},
        "has_uint32": limbs[-2],
        "uinteger": limbs[-1],
    }
