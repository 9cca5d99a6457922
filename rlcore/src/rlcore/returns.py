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

* :func:`n_step_returns` (Sutton & Barto 2018, §7.1), of windows rather than trajectories: the
  discounted sum of the first :math:`m \le n` rewards of a window, :math:`G = \sum_{j<m}
  \gamma^j r_j`, and the discount :math:`\gamma^m` of the value it bootstraps from. Replay
  buffers call it for their n-step transitions.

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

from typing import Any, NoReturn, overload

import numpy as np
import torch

from rlcore._returns_core import (
    cast,
    check_inputs,
    check_unit_interval,
    continues,
    f64,
    no_grad,
    reverse_linear_scan,
)

__all__ = ["discounted_returns", "gae", "n_step_returns", "td_lambda_returns"]


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
    kind = check_inputs(where, floats, {"terminated": terminated, "truncated": truncated})
    check_unit_interval(where, "gamma", gamma)
    check_unit_interval(where, "lam", lam)
    with no_grad(kind):
        r, nv = f64(rewards), f64(next_values)
        cont = continues(terminated, truncated)
        bootstrap = gamma * f64(~terminated) * nv
        # Inside an episode only (1 - lam) of the bootstrap is taken now; lam of it comes
        # through G_{t+1}. Where the recursion is cut (cont = 0) the whole bootstrap is taken.
        b = r + bootstrap * (1.0 - lam * cont)
        out = reverse_linear_scan(b, cont * (gamma * lam))
        return cast(out, kind, floats)


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
    kind = check_inputs(where, floats, {"terminated": terminated, "truncated": truncated})
    check_unit_interval(where, "gamma", gamma)
    check_unit_interval(where, "lam", lam)
    with no_grad(kind):
        r, v, nv = f64(rewards), f64(values), f64(next_values)
        delta = r + gamma * f64(~terminated) * nv - v
        advantages = reverse_linear_scan(delta, continues(terminated, truncated) * (gamma * lam))
        returns = advantages + v
        return cast(advantages, kind, floats), cast(returns, kind, floats)


@overload
def n_step_returns(
    rewards: np.ndarray, lengths: np.ndarray, gamma: float = ...
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def n_step_returns(
    rewards: torch.Tensor, lengths: torch.Tensor, gamma: float = ...
) -> tuple[torch.Tensor, torch.Tensor]: ...
def n_step_returns(rewards: Any, lengths: Any, gamma: float = 0.99) -> tuple[Any, Any]:
    r"""n-step returns of windows of ``n`` steps that each stop after their first ``m`` steps.

    .. math::
        G = \sum_{j=0}^{m-1} \gamma^j r_j, \qquad \text{discount} = \gamma^m,

    so that the n-step target of a window starting at :math:`s_t` is
    :math:`G + \gamma^m (1 - \mathrm{term})\, v(s_{t+m})` (Sutton & Barto, *Reinforcement
    Learning: An Introduction*, 2nd ed., 2018, §7.1). A window stops early at an episode end
    (its last step then carries the flags), or where no later step is known. Rewards at
    :math:`j \ge m` are not read (they may be anything, NaN included). Equals
    ``discounted_returns(...)[0]`` of the window with its rewards after step ``m - 1`` zeroed,
    ``terminated`` set at step ``m - 1`` and zero next values (tested).

    Args:
        rewards: :math:`r_j`, floating, shape ``(n, N)``: ``N`` windows of ``n`` steps, time first.
        lengths: :math:`m`, integer, shape ``(N,)``, each in ``[0, n]``.
        gamma: discount in [0, 1].

    Returns:
        ``(returns, discounts)``, each shape ``(N,)``, in the dtype of ``rewards`` (summed in float64).

    Example:
        >>> rewards = np.array([[1.0, 1.0], [2.0, 2.0], [4.0, np.nan]])
        >>> n_step_returns(rewards, np.array([3, 2]), gamma=0.5)
        (array([3., 2.]), array([0.125, 0.25 ]))
    """
    where = "n_step_returns"
    check_unit_interval(where, "gamma", gamma)
    # NumPy first, with the few checks it needs: replay buffers call this on every sample.
    if type(rewards) is np.ndarray and type(lengths) is np.ndarray:
        if rewards.dtype.kind != "f" or lengths.dtype.kind not in "iu":
            raise TypeError(
                f"{where}: rewards must be floating and lengths integer, got {rewards.dtype} and {lengths.dtype}"
            )
        steps, shape = _window_shape(where, rewards, lengths)
        powers = gamma ** np.arange(steps + 1, dtype=np.float64)  # gamma^0 .. gamma^n
        try:
            # The lookup checks the upper bound (IndexError); a negative length would wrap.
            discounts = powers.take(lengths)
        except IndexError:
            discounts = None
        if discounts is None or (lengths.size and lengths.min() < 0):
            _raise_length_range(where, lengths, steps)
        j = np.arange(steps).reshape(steps, *([1] * len(shape)))
        # Masked before the product: a reward the window does not reach may be NaN or inf.
        inside = np.where(j < lengths, rewards, rewards.dtype.type(0))
        returns = (inside * powers[:steps].reshape(j.shape)).sum(axis=0)
        return returns.astype(rewards.dtype), discounts.astype(rewards.dtype)
    kind = check_inputs(where, {"rewards": rewards}, {})
    if kind == "numpy":
        raise TypeError(
            f"{where}: lengths must be an integer numpy.ndarray like rewards, got {_describe(lengths)}"
        )
    if not isinstance(lengths, torch.Tensor) or lengths.is_floating_point() or lengths.dtype == torch.bool:
        raise TypeError(
            f"{where}: lengths must be an integer torch.Tensor like rewards, got {_describe(lengths)}"
        )
    if lengths.device != rewards.device:
        raise ValueError(
            f"{where}: lengths is on device {lengths.device}, but rewards is on {rewards.device}"
        )
    steps, shape = _window_shape(where, rewards, lengths)
    if ((lengths < 0) | (lengths > steps)).any():
        _raise_length_range(where, lengths, steps)
    with no_grad(kind):
        times = torch.arange(steps, device=rewards.device).reshape(steps, *([1] * len(shape)))
        base = torch.tensor(gamma, dtype=torch.float64, device=rewards.device)
        masked = torch.where(times < lengths, f64(rewards), 0.0)
        sums = (masked * torch.pow(base, times)).sum(dim=0)
        return sums.to(rewards.dtype), torch.pow(base, lengths).to(rewards.dtype)


def _window_shape(where: str, rewards: Any, lengths: Any) -> tuple[int, tuple[int, ...]]:
    """``(n, rewards.shape[1:])``, or a ``ValueError`` if ``lengths`` does not have the window shape."""
    if rewards.ndim == 0:
        raise ValueError(f"{where}: rewards must have shape (n, ...) with a time axis first, got a 0-d array")
    shape = tuple(rewards.shape[1:])
    if tuple(lengths.shape) != shape:
        raise ValueError(
            f"{where}: lengths has shape {tuple(lengths.shape)}, expected rewards.shape[1:] = {shape}"
        )
    return int(rewards.shape[0]), shape


def _raise_length_range(where: str, lengths: Any, steps: int) -> NoReturn:
    low, high = int(lengths.min()), int(lengths.max())
    raise ValueError(f"{where}: lengths must be in [0, n] = [0, {steps}], got values in [{low}, {high}]")


def _describe(x: Any) -> str:
    dtype = getattr(x, "dtype", None)
    return f"{type(x).__module__}.{type(x).__name__}" + (f" of dtype {dtype}" if dtype is not None else "")
