"""Policy and value heads: features in, a distribution or Q-values out.

* :class:`CategoricalHead`: logits of a :class:`rlcore.nn.Categorical` (discrete actions).
* :class:`GaussianHead`: a diagonal Gaussian, optionally tanh-squashed into action bounds (SAC).
* :class:`DuelingQHead`: Q-values as value plus mean-centred advantages (dueling DQN).

Heads are blocks, not agents: they take a feature batch ``(B, in_features)`` from any torso
(:func:`rlcore.nn.mlp`, :class:`rlcore.nn.NatureCNN`) and hold no optimiser or loss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.distributions import Independent, Normal

from rlcore.nn.distributions import Categorical, SquashedNormal
from rlcore.nn.init import layer_init
from rlcore.nn.mlp import mlp

__all__ = ["CategoricalHead", "DuelingQHead", "GaussianHead"]

Bound = float | Sequence[float] | np.ndarray | torch.Tensor


class CategoricalHead(nn.Module):
    r"""Linear logits for a categorical policy over ``num_actions`` discrete actions.

    :math:`\pi(a \mid x) = \operatorname{softmax}(W x + b)_a`. ``forward`` maps features
    ``(B, in_features)`` to a :class:`rlcore.nn.Categorical` (``torch.distributions.Categorical``
    with cheaper ``sample`` and ``log_prob``) with ``batch_shape = (B,)``; ``sample()`` gives
    int64 ``(B,)``, ``log_prob(a)`` and ``entropy()`` float ``(B,)``. The weights are
    orthogonal with gain ``gain`` (0.01 keeps the initial policy near uniform: Andrychowicz
    et al., "What Matters In On-Policy Reinforcement Learning?", 2021,
    https://arxiv.org/abs/2006.05990).

    Args:
        in_features: feature size, ``>= 1``.
        num_actions: number of actions, ``>= 1``.
        gain: orthogonal gain of the logits layer.

    Example:
        >>> import torch
        >>> head = CategoricalHead(8, 3)
        >>> dist = head(torch.zeros(5, 8))
        >>> dist.sample().shape, dist.probs[0]
        (torch.Size([5]), tensor([0.3333, 0.3333, 0.3333], grad_fn=<SelectBackward0>))

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(self, in_features: int, num_actions: int, gain: float = 0.01) -> None:
        super().__init__()
        _check_size("CategoricalHead", in_features, "in_features")
        _check_size("CategoricalHead", num_actions, "num_actions")
        self.in_features = in_features
        self.num_actions = num_actions
        self.logits = layer_init(nn.Linear(in_features, num_actions), gain=gain)

    def forward(self, features: torch.Tensor) -> Categorical:
        """``(B, in_features)`` features -> ``Categorical`` over ``num_actions`` with batch shape ``(B,)``."""
        _check_features("CategoricalHead", features, self.in_features)
        return Categorical(logits=self.logits(features))


class GaussianHead(nn.Module):
    r"""Diagonal Gaussian policy head, optionally tanh-squashed into action bounds.

    The mean is linear in the features. The log standard deviation is either a learned vector
    independent of the state (PPO: Schulman et al. 2017, https://arxiv.org/abs/1707.06347) or
    a second linear layer of the features (SAC: Haarnoja et al. 2018,
    https://arxiv.org/abs/1801.01290); either way it is clamped to
    ``[log_std_min, log_std_max]`` before :math:`\sigma = e^{\log\sigma}`.

    ``forward`` maps features ``(B, in_features)`` to

    * ``squash=False``: ``Independent(Normal(mu, sigma), 1)``, with ``batch_shape = (B,)``,
      ``event_shape = (A,)``, so ``log_prob`` and ``entropy`` are summed over the action
      dimensions and have shape ``(B,)``;
    * ``squash=True``: a :class:`rlcore.nn.SquashedNormal` whose samples lie in
      ``(action_low, action_high)`` (``(-1, 1)`` without bounds), with the log-probability
      corrected for the tanh and the affine rescale (SAC, appendix C).

    Args:
        in_features: feature size, ``>= 1``.
        action_dim: number of action dimensions ``A``, ``>= 1``.
        state_dependent_std: learn ``log_std`` as a function of the features (SAC) instead of
            a free vector (PPO).
        log_std_init: initial log standard deviation (the vector's value, or the bias of the
            state-dependent layer, whose weights start near zero).
        log_std_min: lower clamp of ``log_std`` (SAC uses -20).
        log_std_max: upper clamp of ``log_std`` (SAC uses 2).
        squash: apply ``tanh`` (and the rescale to bounds) to samples.
        action_low: lower bounds, a number or an array of shape ``(A,)``; needs ``squash=True``.
        action_high: upper bounds, like ``action_low``, elementwise ``> action_low``.
        mean_gain: orthogonal gain of the mean layer (0.01 as in CleanRL's continuous PPO).

    Raises:
        ValueError: for a non-positive size, ``log_std_min >= log_std_max``, a
            ``log_std_init`` outside that range, bounds without ``squash=True``, only one
            bound, bounds of the wrong shape, non-finite, or with ``low >= high``.

    Example:
        >>> import torch
        >>> head = GaussianHead(8, 2, squash=True, action_low=[-2.0, 0.0], action_high=[2.0, 1.0])
        >>> dist = head(torch.zeros(4, 8))
        >>> action, log_prob = dist.rsample_and_log_prob()
        >>> action.shape, log_prob.shape
        (torch.Size([4, 2]), torch.Size([4]))
        >>> dist.median[0]
        tensor([0.0000, 0.5000], grad_fn=<SelectBackward0>)

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(
        self,
        in_features: int,
        action_dim: int,
        *,
        state_dependent_std: bool = False,
        log_std_init: float = 0.0,
        log_std_min: float = -20.0,
        log_std_max: float = 2.0,
        squash: bool = False,
        action_low: Bound | None = None,
        action_high: Bound | None = None,
        mean_gain: float = 0.01,
    ) -> None:
        super().__init__()
        _check_size("GaussianHead", in_features, "in_features")
        _check_size("GaussianHead", action_dim, "action_dim")
        if not (math.isfinite(log_std_min) and math.isfinite(log_std_max) and log_std_min < log_std_max):
            raise ValueError(
                f"GaussianHead: need finite log_std_min < log_std_max, got log_std_min={log_std_min!r}, "
                f"log_std_max={log_std_max!r}"
            )
        if not log_std_min <= log_std_init <= log_std_max:
            raise ValueError(
                f"GaussianHead: log_std_init must lie in [log_std_min, log_std_max] = [{log_std_min}, {log_std_max}], "
                f"got {log_std_init!r}"
            )
        self.in_features = in_features
        self.action_dim = action_dim
        self.state_dependent_std = state_dependent_std
        self.log_std_min = float(log_std_min)
        self.log_std_max = float(log_std_max)
        self.squash = squash
        self.mean = layer_init(nn.Linear(in_features, action_dim), gain=mean_gain)
        self.log_std: nn.Linear | nn.Parameter
        if state_dependent_std:
            self.log_std = layer_init(nn.Linear(in_features, action_dim), gain=0.01, bias=log_std_init)
        else:
            self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std_init)))
        self.action_low: torch.Tensor | None
        self.action_high: torch.Tensor | None
        low, high = _check_bounds(action_low, action_high, action_dim, squash)
        # Not persistent: bounds are configuration, like the sizes, not learned state.
        self.register_buffer("action_low", low, persistent=False)
        self.register_buffer("action_high", high, persistent=False)

    def forward(self, features: torch.Tensor) -> Independent[Normal] | SquashedNormal:
        """``(B, in_features)`` features -> a distribution with batch shape ``(B,)`` and event shape ``(A,)``."""
        _check_features("GaussianHead", features, self.in_features)
        mean = self.mean(features)
        if isinstance(self.log_std, nn.Linear):
            log_std = self.log_std(features)
        else:
            log_std = self.log_std.expand_as(mean)
        std = log_std.clamp(self.log_std_min, self.log_std_max).exp()
        if self.squash:
            return SquashedNormal(mean, std, self.action_low, self.action_high)
        return Independent(Normal(mean, std, validate_args=False), 1, validate_args=False)


class DuelingQHead(nn.Module):
    r"""Dueling Q-value head: :math:`Q(x, a) = V(x) + A(x, a) - \frac{1}{|\mathcal A|} \sum_{a'} A(x, a')`.

    Wang et al., "Dueling Network Architectures for Deep Reinforcement Learning", ICML 2016
    (https://arxiv.org/abs/1511.06581), eq. (9): subtracting the mean advantage makes ``V`` and
    ``A`` identifiable (``mean_a Q(x, a) = V(x)``) and keeps the greedy action
    ``argmax_a A(x, a)``. Each stream is :func:`rlcore.nn.mlp` ``(in_features -> hidden_sizes -> 1``
    or ``num_actions)``.

    ``forward`` maps features ``(B, in_features)`` to Q-values ``(B, num_actions)``;
    :meth:`streams` returns ``(V, A)`` of shapes ``(B, 1)`` and ``(B, num_actions)``.

    Args:
        in_features: feature size, ``>= 1``.
        num_actions: number of actions, ``>= 1``.
        hidden_sizes: hidden layers of each stream (the paper: one layer of 512).
        activation: activation class of the hidden layers.

    Example:
        >>> import torch
        >>> head = DuelingQHead(16, 4, hidden_sizes=[32])
        >>> x = torch.randn(3, 16)
        >>> q = head(x)
        >>> value, advantage = head.streams(x)
        >>> q.shape, torch.allclose(q.mean(dim=1, keepdim=True), value, atol=1e-6)
        (torch.Size([3, 4]), True)

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(
        self,
        in_features: int,
        num_actions: int,
        hidden_sizes: Sequence[int] = (),
        activation: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        _check_size("DuelingQHead", in_features, "in_features")
        _check_size("DuelingQHead", num_actions, "num_actions")
        self.in_features = in_features
        self.num_actions = num_actions
        self.value = mlp(in_features, hidden_sizes, 1, activation=activation)
        self.advantage = mlp(in_features, hidden_sizes, num_actions, activation=activation)

    def streams(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The value ``(B, 1)`` and raw advantage ``(B, num_actions)`` streams."""
        _check_features("DuelingQHead", features, self.in_features)
        return self.value(features), self.advantage(features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, in_features)`` features -> Q-values ``(B, num_actions)``."""
        value, advantage = self.streams(features)
        return value + advantage - advantage.mean(dim=-1, keepdim=True)


def _check_size(owner: str, value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be an int >= 1, got {value!r}")


def _check_features(owner: str, features: torch.Tensor, in_features: int) -> None:
    if features.dim() < 1 or features.shape[-1] != in_features:
        raise ValueError(
            f"{owner}: expected features of shape (B, {in_features}), got {tuple(features.shape)}"
        )


def _check_bounds(
    low: Bound | None, high: Bound | None, action_dim: int, squash: bool
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    if low is None and high is None:
        return None, None
    if low is None or high is None:
        raise ValueError(
            f"GaussianHead: pass both action_low and action_high or neither, got action_low={low!r}, action_high={high!r}"
        )
    if not squash:
        raise ValueError(
            "GaussianHead: action_low/action_high need squash=True (a plain Gaussian is unbounded; "
            "clip its samples in the env instead)"
        )
    bounds = []
    for name, value in (("action_low", low), ("action_high", high)):
        array = np.asarray(
            value.detach().cpu() if isinstance(value, torch.Tensor) else value, dtype=np.float32
        )
        if array.ndim == 0:
            array = np.full(action_dim, array, dtype=np.float32)
        if array.shape != (action_dim,):
            raise ValueError(
                f"GaussianHead: {name} must be a number or of shape ({action_dim},), got shape {array.shape}"
            )
        if not np.all(np.isfinite(array)):
            raise ValueError(f"GaussianHead: {name} must be finite, got {array.tolist()}")
        bounds.append(torch.from_numpy(array))
    if not bool((bounds[0] < bounds[1]).all()):
        raise ValueError(
            f"GaussianHead: need action_low < action_high in every dimension, got action_low={bounds[0].tolist()}, "
            f"action_high={bounds[1].tolist()}"
        )
    return bounds[0], bounds[1]
