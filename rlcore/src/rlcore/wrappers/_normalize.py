"""Logic shared by the normalisers of :mod:`rlcore.wrappers.normalize` and their vector twins.

Private: argument validation, the freeze switch, the normalisation arithmetic, the
non-finite checks (with messages that name the wrapper, the sub-env and the element), the
restatement of a statistics overflow in the wrapper's name and the ``state_dict`` helpers.
The single-env and vector wrappers both call these, so their behaviour cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from rlcore._numeric import first_nonfinite, probably_finite, real_number
from rlcore.stats import RunningMeanStd, StatisticsOverflowError

__all__ = [
    "Freezable",
    "ObservationNormalizerState",
    "RewardNormalizerState",
    "as_float64",
    "check_clip",
    "check_epsilon",
    "check_gamma",
    "check_normalizer_state",
    "check_obs_finite",
    "check_rewards_finite",
    "checked_float64",
    "load_normalizer_state",
    "normalize_obs",
    "normalized_box",
    "observation_shape",
    "resolve_rms",
    "standardize",
    "statistics_overflow",
]


class Freezable:
    """The freeze switch of a normaliser: frozen, it uses its statistics but never updates them."""

    _frozen: bool = False

    @property
    def frozen(self) -> bool:
        """Whether the statistics are frozen (read-only; use :meth:`freeze` / :meth:`unfreeze`)."""
        return self._frozen

    def freeze(self) -> None:
        """Stop updating the statistics; normalise with their current values (e.g. for evaluation)."""
        self._frozen = True

    def unfreeze(self) -> None:
        """Resume updating the statistics."""
        self._frozen = False


# --------------------------------------------------------------------------- arguments
def _argument_error(owner: str, name: str, expected: str, value: Any) -> ValueError:
    kind = "" if real_number(value) is not None else f" (a {type(value).__name__}, not a real number)"
    return ValueError(f"{owner}: {name} must be {expected}, got {value!r}{kind}")


def check_epsilon(owner: str, epsilon: float) -> float:
    # epsilon keeps the division away from zero; 0 or less divides by zero on a constant feature.
    number = real_number(epsilon)
    if number is None or not 0 < number < math.inf:
        raise _argument_error(owner, "epsilon", "a finite number > 0", epsilon)
    return number


def check_clip(owner: str, clip: float | None) -> float | None:
    if clip is None:
        return None
    # A clip of 0 or less would map every value to one constant (or an empty interval).
    number = real_number(clip)
    if number is None or not 0 < number < math.inf:
        raise _argument_error(owner, "clip", "None or a finite number > 0", clip)
    return number


def check_gamma(owner: str, gamma: float) -> float:
    # The accumulator is multiplied by gamma every step: above 1 it diverges, below 0 it flips sign.
    number = real_number(gamma)
    if number is None or not 0 <= number <= 1:  # NaN fails the comparison too
        raise _argument_error(owner, "gamma", "a number in [0, 1]", gamma)
    return number


def observation_shape(owner: str, space: spaces.Space[Any]) -> tuple[int, ...]:
    """The shape of a ``Box`` observation space; anything else cannot be normalised element-wise."""
    if not isinstance(space, spaces.Box):
        raise TypeError(f"{owner} needs a Box observation space, got {space!r}")
    return tuple(space.shape)


def normalized_box(shape: tuple[int, ...], clip: float | None) -> spaces.Box:
    """``Box(-clip, clip)`` or ``Box(-inf, inf)``, float32, of the given shape."""
    bound = np.inf if clip is None else clip
    return spaces.Box(low=-bound, high=bound, shape=shape, dtype=np.float32)


def resolve_rms(
    owner: str, name: str, rms: RunningMeanStd | None, shape: tuple[int, ...], num_streams: int | None
) -> RunningMeanStd:
    """A new ``RunningMeanStd(shape, num_streams=...)``, or ``rms`` after checking that its layout fits."""
    if rms is None:
        return RunningMeanStd(shape, num_streams=num_streams)
    if not isinstance(rms, RunningMeanStd):
        raise TypeError(f"{owner}: {name} must be a RunningMeanStd or None, got {type(rms).__name__}")
    if rms.shape != shape:
        raise ValueError(f"{owner}: {name} has shape {rms.shape}, expected {shape}")
    if rms.num_streams != num_streams:
        layout = "None (one shared statistic)" if num_streams is None else f"{num_streams} (one per sub-env)"
        raise ValueError(f"{owner}: {name} has num_streams={rms.num_streams}, expected {layout}")
    return rms


# --------------------------------------------------------------------------- arithmetic
# Batches of at least this many elements are scaled by a reciprocal (see standardize).
_RECIPROCAL_MIN_SIZE = 4096


def normalize_obs(x: np.ndarray, rms: RunningMeanStd, epsilon: float, clip: float | None) -> np.ndarray:
    """``(x - mean) / sqrt(var + epsilon)`` computed in float64, clipped to ``[-clip, clip]``, as float32."""
    return standardize(x, rms.mean, np.sqrt(rms.var + epsilon), clip)


def standardize(x: np.ndarray, mean: np.ndarray, std: np.ndarray, clip: float | None) -> np.ndarray:
    """``(x - mean) / std`` computed in float64, clipped to ``[-clip, clip]``, as a new float32 array.

    ``std`` is passed in so that a caller normalising two batches with the same statistics
    (SAME_STEP's observations and final observations) takes the square root once.
    """
    # mean is a float64 array, so the subtraction runs in float64 whatever x's dtype.
    centred: np.ndarray = x - mean
    if centred.size >= _RECIPROCAL_MIN_SIZE:
        # A multiplication costs less than a division, enough to pay for one reciprocal per
        # element of std on large batches (e.g. a third less time on 8 x 84 x 84 frames).
        # The float32 result is the same but for a rare last-bit difference in float64.
        centred *= 1.0 / std
    else:
        centred /= std
    if clip is not None:
        np.minimum(centred, clip, out=centred)
        np.maximum(centred, -clip, out=centred)
    return centred.astype(np.float32)


# --------------------------------------------------------------------------- finiteness
# Comparing a dtype with a dtype instance is cheaper than with the scalar type np.float64.
_FLOAT64 = np.dtype(np.float64)


def as_float64(owner: str, obs: Any, shape: tuple[int, ...], what: str = "observation") -> np.ndarray:
    """``obs`` as a float64 array of shape ``shape`` (not a copy if it already is one), unchecked for NaN/inf.

    Converting once up front keeps every later NumPy call single-dtype (mixed float32/float64
    calls cost about three times more).
    """
    x = np.asarray(obs)
    if x.shape != shape:
        raise ValueError(f"{owner}: {what} has shape {x.shape}, expected {shape}")
    return x if x.dtype == _FLOAT64 else x.astype(np.float64)


def check_obs_finite(owner: str, obs: Any, batched: bool, what: str = "observation") -> None:
    """Raise ``ValueError`` naming the first NaN or inf in ``obs`` (and, with ``batched``, its sub-env)."""
    x = np.asarray(obs)
    if probably_finite(x):  # the common case, without the call below
        return
    found = first_nonfinite(x)
    if found is None:
        return
    index, value = found
    if batched:
        raise ValueError(
            f"{owner}: sub-env {index[0]} returned a non-finite {what} value {value!r} at index "
            f"{index[1:]}; expected finite values"
        )
    raise ValueError(f"{owner}: non-finite {what} value {value!r} at index {index}; expected finite values")


def checked_float64(
    owner: str, obs: Any, shape: tuple[int, ...], batched: bool, what: str = "observation"
) -> np.ndarray:
    """``obs`` as a float64 array (not a copy if it already is one), after checking it.

    Raises ``ValueError`` unless ``obs`` has shape ``shape`` and holds only finite values.
    With ``batched``, the first axis indexes sub-envs and the message names the sub-env and
    the element within its observation.
    """
    x = np.asarray(obs)
    if x.shape != shape:
        raise ValueError(f"{owner}: {what} has shape {x.shape}, expected {shape}")
    check_obs_finite(owner, x, batched, what)
    return np.asarray(x, dtype=np.float64)


def check_rewards_finite(owner: str, rewards: np.ndarray) -> None:
    """Raise ``ValueError`` naming the first sub-env whose reward is NaN or inf."""
    if probably_finite(rewards):  # the common case, without the call below
        return
    found = first_nonfinite(rewards)
    if found is not None:
        index, value = found
        raise ValueError(
            f"{owner}: sub-env {index[0]} returned a non-finite reward {value!r}; expected a finite number"
        )


def statistics_overflow(owner: str, what: str, error: ValueError) -> StatisticsOverflowError:
    """The error of an update of ``owner``'s statistics with values it found finite, in ``owner``'s words.

    The wrappers check NaN and inf themselves, so those errors name them; an update with
    checked values fails only for values too large for float64 statistics, and its
    :class:`~rlcore.stats.StatisticsOverflowError` names ``RunningMeanStd``. Or, for
    ``NormalizeReward``, finite rewards accumulated into a discounted return beyond the
    float64 range, which the statistics see as inf. ``what`` names what entered
    (``"observations"``, ``"discounted returns"``).
    """
    if isinstance(error, StatisticsOverflowError):
        return StatisticsOverflowError(f"{owner}: {what}", error.detail)
    return StatisticsOverflowError(
        f"{owner}: {what}",
        f"values too large for float64 statistics: finite inputs accumulated to inf ({error}); the "
        "statistics are left unchanged. Scale the values down (e.g. divide them by a constant) before they enter",
    )


# --------------------------------------------------------------------------- state
def check_normalizer_state(
    owner: str,
    rms_key: str,
    rms: RunningMeanStd,
    state: Mapping[str, Any],
    extra: Mapping[str, tuple[int, ...]],
) -> dict[str, np.ndarray]:
    """Check ``state`` as :func:`load_normalizer_state` does, changing nothing.

    Returns the values of the ``extra`` keys as float64 arrays.

    Raises:
        KeyError: if a key is missing or unknown.
        ValueError: if a shape is wrong or a value is not finite.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"{owner}.load_state_dict: expected a mapping, got {type(state).__name__}")
    expected = {rms_key, *extra}
    missing, unknown = expected - set(state), set(state) - expected
    if missing or unknown:
        raise KeyError(
            f"{owner}.load_state_dict: missing keys {sorted(missing)}, unknown keys {sorted(unknown)}; "
            f"expected {sorted(expected)}"
        )
    values: dict[str, np.ndarray] = {}
    for key, shape in extra.items():
        value = state[key]
        value = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        array = np.array(value, dtype=np.float64)
        if array.shape != shape:
            raise ValueError(f"{owner}.load_state_dict: '{key}' has shape {array.shape}, expected {shape}")
        found = first_nonfinite(array)
        if found is not None:
            raise ValueError(
                f"{owner}.load_state_dict: '{key}' has a non-finite value {found[1]!r} at index {found[0]}"
            )
        values[key] = array
    stats = state[rms_key]
    if not isinstance(stats, Mapping):
        raise TypeError(f"{owner}.load_state_dict: '{rms_key}' must be a mapping, got {type(stats).__name__}")
    try:
        rms.check_state_dict(stats)
    except (KeyError, ValueError) as error:
        raise type(error)(f"{owner}.load_state_dict: '{rms_key}': {error.args[0]}") from error
    return values


def load_normalizer_state(
    owner: str,
    rms_key: str,
    rms: RunningMeanStd,
    state: Mapping[str, Any],
    extra: Mapping[str, tuple[int, ...]],
) -> dict[str, np.ndarray]:
    """Check ``state`` (keys ``rms_key`` plus ``extra``) and load its statistics into ``rms``.

    ``extra`` maps the other keys to the shape each must have; their values are returned as
    float64 arrays after every check has passed and ``rms`` has been loaded, so a failed load
    changes nothing.

    Raises:
        KeyError: if a key is missing or unknown.
        ValueError: if a shape is wrong or a value is not finite.
    """
    # One check for loading and for checkpoint.save (through check_state_dict), so that a
    # state that saves also loads.
    values = check_normalizer_state(owner, rms_key, rms, state, extra)
    rms.load_state_dict(state[rms_key])
    return values


class ObservationNormalizerState(Freezable):
    """Freeze switch and state of ``NormalizeObservation``, single env and vector alike."""

    obs_rms: RunningMeanStd

    def state_dict(self) -> dict[str, Any]:
        """``{"obs_rms": {"mean", "var", "count"}}`` as float64 tensors (``RunningMeanStd.state_dict``).

        Shared statistics have the same form in the single-env wrapper and its vector twin, so
        either state loads into the other; per-env statistics add a leading ``num_envs`` axis.
        """
        return {"obs_rms": self.obs_rms.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Load a state from :meth:`state_dict`.

        Raises:
            KeyError: if a key is missing or unknown.
            ValueError: if a shape differs or a value is not finite; nothing is changed then.
        """
        load_normalizer_state("NormalizeObservation", "obs_rms", self.obs_rms, state, {})

    def check_state_dict(self, state: Mapping[str, Any]) -> None:
        """Raise what :meth:`load_state_dict` would raise for ``state``; change nothing.

        :func:`rlcore.checkpoint.save` calls it, so that every checkpoint it writes loads.
        """
        check_normalizer_state("NormalizeObservation", "obs_rms", self.obs_rms, state, {})


class RewardNormalizerState(Freezable):
    """Freeze switch and state of ``NormalizeReward``, single env and vector alike."""

    return_rms: RunningMeanStd
    # A float for a single env, a float64 array of shape (num_envs,) for a vector env.
    discounted_return: Any

    def state_dict(self) -> dict[str, Any]:
        """``{"return_rms": {"mean", "var", "count"}, "discounted_return": ...}`` as float64 tensors.

        ``discounted_return`` has shape ``()`` for a single env and ``(num_envs,)`` for a vector env.
        """
        return {
            "return_rms": self.return_rms.state_dict(),
            "discounted_return": torch.tensor(np.asarray(self.discounted_return, dtype=np.float64)),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Load a state from :meth:`state_dict`.

        Raises:
            KeyError: if a key is missing or unknown.
            ValueError: if a shape differs or a value is not finite; nothing is changed then.
        """
        values = load_normalizer_state(
            "NormalizeReward",
            "return_rms",
            self.return_rms,
            state,
            {"discounted_return": np.shape(self.discounted_return)},
        )
        loaded = values["discounted_return"]
        self.discounted_return = float(loaded) if isinstance(self.discounted_return, float) else loaded

    def check_state_dict(self, state: Mapping[str, Any]) -> None:
        """Raise what :meth:`load_state_dict` would raise for ``state``; change nothing.

        :func:`rlcore.checkpoint.save` calls it, so that every checkpoint it writes loads.
        """
        check_normalizer_state(
            "NormalizeReward",
            "return_rms",
            self.return_rms,
            state,
            {"discounted_return": np.shape(self.discounted_return)},
        )
