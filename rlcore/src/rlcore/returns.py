r"""Returns and advantages of a batch of trajectories: discounted returns, TD(λ) returns, GAE.

Pure functions of arrays shaped ``(T, N)``: ``T`` consecutive steps of ``N`` parallel
environments (any trailing batch shape works, and ``(T,)`` is one environment). Time runs
along axis 0. Every function takes NumPy arrays or torch tensors (all of one kind) and returns
the same kind: for tensors, on the same device. Floating inputs keep their (promoted) dtype in
the output; the arithmetic is done in float64 inside. Tensors are treated as targets: the
results carry no gradient.

Naming convention, shared by every signature here (rlax-style, one index per step ``t``):

===================  =========================  ==================================================
argument             maths                      meaning
===================  =========================  ==================================================
``rewards[t]``       :math:`r_t`                reward of the step taken from :math:`s_t`
``values[t]``        :math:`v(s_t)`             value estimate of the state the step starts from
``next_values[t]``   :math:`v(s'_t)`            value of the observation returned by step ``t``:
                                                :math:`v(s_{t+1})` while the episode goes on, the
                                                value of the episode's *real final observation*
                                                when step ``t`` ends it (not of the reset
                                                observation a vector env returns in its place)
``terminated[t]``    :math:`\mathrm{term}_t`    step ``t`` reached a terminal state (bool)
``truncated[t]``     :math:`\mathrm{trunc}_t`   step ``t`` was cut short, e.g. by a time limit (bool)
``gamma``            :math:`\gamma`             discount, in [0, 1]
``lam``              :math:`\lambda`            TD(λ) / GAE trade-off, in [0, 1]
===================  =========================  ==================================================

Terminated and truncated are treated differently: a terminated step does not bootstrap
(its value after the end is 0), a truncated step bootstraps from ``next_values[t]``, the value of
the real final observation. Either one ends the episode, so no recursion crosses it. The last
step of the batch, ``t = T - 1``, bootstraps from ``next_values[T - 1]`` unless it terminated.
(CleanRL's PPO treats truncation as termination, cleanrl#198; Stable-Baselines3 leaves it to
each algorithm, SB3#633.) With :math:`\mathrm{end}_t = \mathrm{term}_t \lor \mathrm{trunc}_t`
and :math:`c_t = 1 - \mathrm{end}_t` for :math:`t < T - 1`, :math:`c_{T-1} = 0`:

* :func:`discounted_returns`: :math:`G_t = r_t + \gamma\,[c_t\, G_{t+1} + (1 - c_t)(1 -
  \mathrm{term}_t)\, v(s'_t)]`.
* :func:`td_lambda_returns` (Sutton & Barto, *Reinforcement Learning: An Introduction*, 2nd ed.,
  2018, §12.1 and §12.2): :math:`G^\lambda_t = r_t + \gamma\,[c_t\,((1-\lambda)\, v(s'_t) +
  \lambda\, G^\lambda_{t+1}) + (1 - c_t)(1 - \mathrm{term}_t)\, v(s'_t)]`.
* :func:`gae` (Schulman, Moritz, Levine, Jordan and Abbeel, "High-Dimensional Continuous
  Control Using Generalized Advantage Estimation", 2016, https://arxiv.org/abs/1506.02438):
  :math:`\delta_t = r_t + \gamma (1 - \mathrm{term}_t)\, v(s'_t) - v(s_t)`,
  :math:`A_t = \delta_t + \gamma\lambda\, c_t\, A_{t+1}`, returns :math:`A_t + v(s_t)`.

Identities (tested): ``td_lambda_returns(..., lam=1)`` equals ``discounted_returns``; when
``next_values[t] == values[t + 1]`` wherever step ``t`` does not end an episode (as in any
rollout), the returns of ``gae`` equal ``td_lambda_returns``, and with ``lam=0`` the advantages
are the one-step TD errors :math:`\delta_t`.

Each recursion has the form :math:`x_t = b_t + c_t x_{t+1}` with :math:`c_t \in \{0, \kappa\}`.
It is solved exactly without a Python loop over ``T``: a Hillis-Steele doubling scan composes
the affine maps :math:`x \mapsto b_t + c_t x` in :math:`\lceil \log_2 T \rceil` vectorised
steps, summing each output's terms in a tree (no division, so no loss of accuracy when
:math:`\kappa` is small or 0).
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
from typing import Any, overload

import numpy as np
import torch

__all__ = ["discounted_returns", "gae", "td_lambda_returns"]


@overload
def discounted_returns(
    rewards: np.ndarray,
    next_values: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    gamma: float = ...,
) -> np.ndarray: ...
@overload
def discounted_returns(
    rewards: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float = ...,
) -> torch.Tensor: ...
def discounted_returns(
    rewards: Any,
    next_values: Any,
    terminated: Any,
    truncated: Any,
    gamma: float = 0.99,
) -> Any:
    r"""Discounted sums of rewards, bootstrapped from ``next_values`` at truncations and at ``T - 1``.

    :math:`G_t = r_t + \gamma G_{t+1}` inside an episode; a terminated step ends the sum
    (:math:`G_t = r_t`); a truncated step, and the last step of the batch, add
    :math:`\gamma\, v(s'_t)` instead of :math:`\gamma G_{t+1}`. See the module docstring for the
    argument convention.

    Args:
        rewards: :math:`r_t`, floating, shape ``(T, N)``.
        next_values: :math:`v(s'_t)`, floating, shape ``(T, N)``; read only where step ``t``
            is truncated (and not terminated) or ``t = T - 1``.
        terminated: bool, shape ``(T, N)``.
        truncated: bool, shape ``(T, N)``.
        gamma: discount in [0, 1].

    Returns:
        :math:`G_t`, shape ``(T, N)``, of the promoted dtype of ``rewards`` and ``next_values``.

    Example:
        >>> rewards = np.array([1.0, 1.0, 1.0, 1.0])
        >>> next_values = np.array([0.0, 10.0, 0.0, 4.0])
        >>> terminated = np.array([False, False, False, False])
        >>> truncated = np.array([False, True, False, False])
        >>> discounted_returns(rewards, next_values, terminated, truncated, gamma=0.5)
        array([4. , 6. , 2.5, 3. ])
    """
    return td_lambda_returns(rewards, next_values, terminated, truncated, gamma=gamma, lam=1.0)


@overload
def td_lambda_returns(
    rewards: np.ndarray,
    next_values: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    gamma: float = ...,
    lam: float = ...,
) -> np.ndarray: ...
@overload
def td_lambda_returns(
    rewards: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float = ...,
    lam: float = ...,
) -> torch.Tensor: ...
def td_lambda_returns(
    rewards: Any,
    next_values: Any,
    terminated: Any,
    truncated: Any,
    gamma: float = 0.99,
    lam: float = 0.95,
) -> Any:
    r"""TD(λ) returns (Sutton & Barto 2018, §12.1), the targets of a λ-return critic.

    :math:`G^\lambda_t = r_t + \gamma\,((1 - \lambda)\, v(s'_t) + \lambda\, G^\lambda_{t+1})`
    inside an episode; a terminated step gives :math:`r_t`; a truncated step, and the last step
    of the batch, give :math:`r_t + \gamma\, v(s'_t)`. ``lam=1`` gives
    :func:`discounted_returns`, ``lam=0`` the one-step targets :math:`r_t + \gamma (1 -
    \mathrm{term}_t)\, v(s'_t)`.

    Args:
        rewards: :math:`r_t`, floating, shape ``(T, N)``.
        next_values: :math:`v(s'_t)`, floating, shape ``(T, N)``.
        terminated: bool, shape ``(T, N)``.
        truncated: bool, shape ``(T, N)``.
        gamma: discount in [0, 1].
        lam: λ in [0, 1].

    Returns:
        :math:`G^\lambda_t`, shape ``(T, N)``, of the promoted dtype of ``rewards`` and
        ``next_values``.

    Example:
        >>> rewards = torch.tensor([1.0, 1.0, 1.0])
        >>> next_values = torch.tensor([2.0, 4.0, 2.0])
        >>> flags = torch.tensor([False, False, False])
        >>> td_lambda_returns(rewards, next_values, flags, flags, gamma=0.5, lam=0.5)
        tensor([2.1250, 2.5000, 2.0000])
    """
    where = "td_lambda_returns"
    floats = {"rewards": rewards, "next_values": next_values}
    kind = _check_inputs(where, floats, {"terminated": terminated, "truncated": truncated})
    _check_unit_interval(where, "gamma", gamma)
    _check_unit_interval(where, "lam", lam)
    with _no_grad(kind):
        r, nv = _f64(rewards), _f64(next_values)
        cont = _continues(terminated, truncated)
        bootstrap = gamma * _f64(~terminated) * nv
        # Inside an episode only (1 - lam) of the bootstrap is taken now; lam of it comes
        # through G_{t+1}. Where the recursion is cut (cont = 0) the whole bootstrap is taken.
        b = r + bootstrap * (1.0 - lam * cont)
        out = _reverse_linear_scan(b, cont * (gamma * lam))
        return _cast(out, kind, floats)


@overload
def gae(
    rewards: np.ndarray,
    values: np.ndarray,
    next_values: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    gamma: float = ...,
    lam: float = ...,
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float = ...,
    lam: float = ...,
) -> tuple[torch.Tensor, torch.Tensor]: ...
def gae(
    rewards: Any,
    values: Any,
    next_values: Any,
    terminated: Any,
    truncated: Any,
    gamma: float = 0.99,
    lam: float = 0.95,
) -> tuple[Any, Any]:
    r"""Generalized Advantage Estimation (Schulman et al. 2016, arXiv:1506.02438).

    .. math::
        \delta_t = r_t + \gamma\,(1 - \mathrm{term}_t)\, v(s'_t) - v(s_t), \qquad
        A_t = \delta_t + \gamma\lambda\,(1 - \mathrm{end}_t)\, A_{t+1}, \qquad
        A_T = 0,

    where :math:`\mathrm{end}_t = \mathrm{term}_t \lor \mathrm{trunc}_t`: a truncated step
    bootstraps from the value of its real final observation, a terminated one does not, and
    neither lets the recursion cross into the next episode. The returns :math:`A_t + v(s_t)`
    are the TD(λ) returns when ``next_values[t] == values[t + 1]`` inside episodes.

    Args:
        rewards: :math:`r_t`, floating, shape ``(T, N)``.
        values: :math:`v(s_t)`, floating, shape ``(T, N)``.
        next_values: :math:`v(s'_t)`, floating, shape ``(T, N)``: ``values[t + 1]`` inside an
            episode, the value of the final observation where step ``t`` ended one, and the
            value of the observation after the last step at ``t = T - 1``.
        terminated: bool, shape ``(T, N)``.
        truncated: bool, shape ``(T, N)``.
        gamma: discount in [0, 1].
        lam: λ in [0, 1] (0: one-step TD errors; 1: discounted returns minus values).

    Returns:
        ``(advantages, returns)``, each shape ``(T, N)``, of the promoted dtype of the three
        floating inputs.

    Example:
        >>> rewards = np.array([1.0, 1.0, 1.0])
        >>> values = np.array([0.5, 0.5, 0.5])
        >>> next_values = np.array([0.5, 0.5, 2.0])
        >>> terminated = np.array([False, False, False])
        >>> truncated = np.array([False, True, False])
        >>> advantages, returns = gae(rewards, values, next_values, terminated, truncated, gamma=0.5, lam=1.0)
        >>> advantages
        array([1.125, 0.75 , 1.5  ])
        >>> returns
        array([1.625, 1.25 , 2.   ])
    """
    where = "gae"
    floats = {"rewards": rewards, "values": values, "next_values": next_values}
    kind = _check_inputs(where, floats, {"terminated": terminated, "truncated": truncated})
    _check_unit_interval(where, "gamma", gamma)
    _check_unit_interval(where, "lam", lam)
    with _no_grad(kind):
        r, v, nv = _f64(rewards), _f64(values), _f64(next_values)
        delta = r + gamma * _f64(~terminated) * nv - v
        advantages = _reverse_linear_scan(delta, _continues(terminated, truncated) * (gamma * lam))
        returns = advantages + v
        return _cast(advantages, kind, floats), _cast(returns, kind, floats)


# ---------------------------------------------------------------------------- the scan
def _reverse_linear_scan(b: Any, c: Any) -> Any:
    r"""Solve :math:`x_t = b_t + c_t x_{t+1}`, :math:`x_T = 0`, along axis 0; overwrites ``b`` and ``c``.

    Hillis-Steele doubling: after the round with offset ``k``, ``x[t]`` holds the sum of the
    terms :math:`(\prod_{u=t}^{s-1} c_u)\, b_s` for :math:`s < t + 2k` and ``c[t]`` the product
    :math:`\prod_{u=t}^{t+2k-1} c_u`. Each round reads only values of the previous round (the
    right-hand sides are evaluated before the assignment), so NumPy and torch give the same
    result, and ``log2(T)`` rounds of whole-array operations replace ``T`` Python steps.
    """
    x = b
    steps = x.shape[0]
    k = 1
    while k < steps:
        x[: steps - k] += c[: steps - k] * x[k:]
        if 2 * k < steps:
            c[: steps - k] = c[: steps - k] * c[k:]
        k *= 2
    return x


def _continues(terminated: Any, truncated: Any) -> Any:
    """1.0 where the recursion goes on to ``t + 1`` (no episode end, not the last step), else 0.0."""
    cont = _f64(~(terminated | truncated))
    if cont.shape[0]:
        cont[-1] = 0.0
    return cont


# ---------------------------------------------------------------------------- checks
def _check_inputs(where: str, floats: dict[str, Any], flags: dict[str, Any]) -> str:
    """Check kinds, shapes, dtypes and devices; return ``"numpy"`` or ``"torch"``."""
    first_name, first = next(iter(floats.items()))
    if isinstance(first, np.ndarray):
        kind = "numpy"
    elif isinstance(first, torch.Tensor):
        kind = "torch"
    else:
        raise TypeError(
            f"{where}: {first_name} must be a numpy.ndarray or a torch.Tensor, got {type(first).__name__}"
        )
    array_type = np.ndarray if kind == "numpy" else torch.Tensor
    shape = tuple(first.shape)
    if len(shape) == 0:
        raise ValueError(
            f"{where}: {first_name} must have shape (T, ...) with a time axis first, got a 0-d array"
        )
    for name, x in {**floats, **flags}.items():
        if not isinstance(x, array_type):
            raise TypeError(
                f"{where}: {name} is a {type(x).__module__}.{type(x).__name__} but {first_name} is a "
                f"{array_type.__module__}.{array_type.__name__}; pass all arrays as NumPy arrays or all as torch tensors"
            )
        if tuple(x.shape) != shape:
            raise ValueError(
                f"{where}: {name} has shape {tuple(x.shape)}, expected the shape of {first_name} {shape}"
            )
        if kind == "torch" and x.device != first.device:
            raise ValueError(
                f"{where}: {name} is on device {x.device}, but {first_name} is on {first.device}"
            )
    for name, x in floats.items():
        floating = np.issubdtype(x.dtype, np.floating) if kind == "numpy" else x.is_floating_point()
        if not floating:
            raise TypeError(f"{where}: {name} must have a floating dtype, got {x.dtype}")
    for name, x in flags.items():
        if x.dtype != (np.bool_ if kind == "numpy" else torch.bool):
            convert = ".astype(bool)" if kind == "numpy" else ".bool()"
            raise TypeError(
                f"{where}: {name} must have dtype bool, got {x.dtype} (convert it with {convert})"
            )
    return kind


def _check_unit_interval(where: str, name: str, value: Any) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
        or not 0.0 <= float(value) <= 1.0
    ):
        raise ValueError(f"{where}: {name} must be a number in [0, 1], got {value!r}")


# ---------------------------------------------------------------------------- backend helpers
def _f64(x: Any) -> Any:
    """A float64 copy-or-view of ``x`` (bool arrays become 0.0 / 1.0)."""
    if isinstance(x, torch.Tensor):
        return x.to(torch.float64)
    return x.astype(np.float64, copy=x.dtype != np.float64)


def _cast(x: Any, kind: str, floats: dict[str, Any]) -> Any:
    """``x`` in the promoted dtype of the floating inputs."""
    if kind == "numpy":
        return x.astype(np.result_type(*(a.dtype for a in floats.values())), copy=False)
    dtype = functools.reduce(torch.promote_types, (a.dtype for a in floats.values()))
    return x.to(dtype)


def _no_grad(kind: str) -> Any:
    # Returns and advantages are regression targets: gradients must not flow through them.
    return torch.no_grad() if kind == "torch" else contextlib.nullcontext()
