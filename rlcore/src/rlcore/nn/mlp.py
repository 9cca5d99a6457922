"""Multi-layer perceptron builder with orthogonal initialisation."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from rlcore.nn.init import layer_init

__all__ = ["mlp"]


def mlp(
    in_features: int,
    hidden_sizes: Sequence[int],
    out_features: int | None,
    activation: type[nn.Module] = nn.Tanh,
    layer_norm: bool = False,
    hidden_gain: float = math.sqrt(2.0),
    output_gain: float = 1.0,
) -> nn.Sequential:
    r"""Build a fully connected network ``in_features -> hidden_sizes... -> out_features``.

    Each hidden block is ``Linear -> [LayerNorm] -> activation``; the output layer is a plain
    ``Linear`` (no activation). Every ``Linear`` is initialised by :func:`layer_init`
    (orthogonal weights, zero bias; Saxe et al. 2014) with ``hidden_gain`` for hidden layers
    and ``output_gain`` for the output layer. Layer normalisation (Ba, Kiros and Hinton,
    "Layer Normalization", 2016, https://arxiv.org/abs/1607.06450) sits before the
    activation, as in the critics of DroQ (Hiraoka et al. 2022, https://arxiv.org/abs/2110.02034).

    Shapes: input ``(*, in_features)`` float; output ``(*, out_features)`` of the same dtype, or
    ``(*, hidden_sizes[-1])`` when ``out_features is None`` (a torso whose last hidden
    activation is its output, e.g. to feed a policy head).

    Args:
        in_features: size of the input, ``>= 1``.
        hidden_sizes: sizes of the hidden layers, each ``>= 1``; may be empty (a linear map).
        out_features: size of the output, ``>= 1``, or ``None`` for no output layer.
        activation: activation *class* (instantiated once per hidden layer), e.g. ``nn.ReLU``.
        layer_norm: insert ``nn.LayerNorm`` after every hidden ``Linear``.
        hidden_gain: orthogonal gain of the hidden layers.
        output_gain: orthogonal gain of the output layer (CleanRL's PPO: 1.0 for the critic,
            0.01 for the actor).

    Returns:
        An ``nn.Sequential`` of the layers described above.

    Raises:
        ValueError: if a size is not a positive int, or ``out_features`` is ``None`` with no
            hidden layer.
        TypeError: if ``activation`` is not an ``nn.Module`` subclass.

    Example:
        >>> import torch
        >>> net = mlp(4, [64, 64], 2, activation=torch.nn.ReLU)
        >>> net
        Sequential(
          (0): Linear(in_features=4, out_features=64, bias=True)
          (1): ReLU()
          (2): Linear(in_features=64, out_features=64, bias=True)
          (3): ReLU()
          (4): Linear(in_features=64, out_features=2, bias=True)
        )
        >>> net(torch.zeros(5, 4)).shape
        torch.Size([5, 2])
    """
    _check_size(in_features, "in_features")
    sizes = list(hidden_sizes)
    for i, size in enumerate(sizes):
        _check_size(size, f"hidden_sizes[{i}]")
    if out_features is not None:
        _check_size(out_features, "out_features")
    elif not sizes:
        raise ValueError("mlp: out_features=None needs at least one hidden layer, got hidden_sizes=[]")
    if not (isinstance(activation, type) and issubclass(activation, nn.Module)):
        raise TypeError(f"mlp: activation must be an nn.Module class such as nn.ReLU, got {activation!r}")
    layers: list[nn.Module] = []
    previous = in_features
    for size in sizes:
        layers.append(layer_init(nn.Linear(previous, size), gain=hidden_gain))
        if layer_norm:
            layers.append(nn.LayerNorm(size))
        layers.append(activation())
        previous = size
    if out_features is not None:
        layers.append(layer_init(nn.Linear(previous, out_features), gain=output_gain))
    return nn.Sequential(*layers)


def _check_size(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"mlp: {name} must be an int >= 1, got {value!r}")
