"""Orthogonal weight initialisation for linear and convolutional layers."""

from __future__ import annotations

import math
from typing import TypeVar

import torch
from torch import nn

__all__ = ["layer_init"]

LayerT = TypeVar("LayerT", bound=nn.Module)


def layer_init(layer: LayerT, gain: float = math.sqrt(2.0), bias: float = 0.0) -> LayerT:
    r"""Initialise ``layer.weight`` orthogonally with scale ``gain`` and ``layer.bias`` to a constant.

    The weight, viewed as a matrix :math:`W` of shape ``(out, in * prod(kernel_size))``, is
    drawn from the (Haar) uniform distribution over matrices with orthonormal rows or columns
    and scaled by ``gain``, so that for the smaller side

    .. math::
        W W^\top = g^2 I_{out} \ (out \le in) \qquad\text{or}\qquad W^\top W = g^2 I_{in} \ (out > in).

    Orthogonal initialisation keeps the singular values of every layer equal to ``gain``, which
    preserves the norm of signals and gradients through deep linear networks: Saxe, McClelland
    and Ganguli, "Exact solutions to the nonlinear dynamics of learning in deep linear neural
    networks", ICLR 2014 (https://arxiv.org/abs/1312.6120). PPO implementations use
    ``gain=sqrt(2)`` for ReLU/Tanh hidden layers, ``1.0`` for the value output and ``0.01`` for
    the policy output (Huang et al., "The 37 Implementation Details of PPO", ICLR Blog Track 2022).

    The draw uses PyTorch's global RNG, so it is reproducible under ``torch.manual_seed``.

    Args:
        layer: a module with a ``weight`` parameter of at least 2 dimensions (``nn.Linear``,
            ``nn.Conv1d/2d/3d``, ...) and an optional ``bias``. Modified in place.
        gain: scale of the orthogonal matrix, finite and ``>= 0``.
        bias: constant written into every entry of ``layer.bias`` (ignored if the layer has none).

    Returns:
        The same ``layer``, so that ``layer_init(nn.Linear(4, 64))`` can be used inline.

    Raises:
        TypeError: if ``layer`` has no weight tensor of at least 2 dimensions.
        ValueError: if ``gain`` or ``bias`` is not finite, or ``gain < 0``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> _ = torch.manual_seed(0)
        >>> layer = layer_init(nn.Linear(8, 3), gain=2.0, bias=0.5)
        >>> torch.allclose(layer.weight @ layer.weight.T, 4.0 * torch.eye(3), atol=1e-5)
        True
        >>> layer.bias
        Parameter containing:
        tensor([0.5000, 0.5000, 0.5000], requires_grad=True)
    """
    weight = getattr(layer, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() < 2:
        shape = None if not isinstance(weight, torch.Tensor) else tuple(weight.shape)
        raise TypeError(
            f"layer_init: layer must have a weight tensor of at least 2 dimensions (nn.Linear, nn.Conv2d, ...), "
            f"got {type(layer).__name__} with weight of shape {shape}"
        )
    if not (math.isfinite(gain) and gain >= 0):
        raise ValueError(f"layer_init: gain must be a finite number >= 0, got {gain!r}")
    if not math.isfinite(bias):
        raise ValueError(f"layer_init: bias must be a finite number, got {bias!r}")
    nn.init.orthogonal_(weight, gain=gain)
    layer_bias = getattr(layer, "bias", None)
    if isinstance(layer_bias, torch.Tensor):
        nn.init.constant_(layer_bias, bias)
    return layer
