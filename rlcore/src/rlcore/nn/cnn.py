"""The convolutional torso of the DQN Nature paper, for stacked uint8 frames."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rlcore.nn.init import layer_init

__all__ = ["NatureCNN"]

# (out_channels, kernel_size, stride) of the three convolutions in Mnih et al. (2015).
_CONVS = ((32, 8, 4), (64, 4, 2), (64, 3, 1))


class NatureCNN(nn.Module):
    r"""Convolutional torso of Mnih et al., "Human-level control through deep reinforcement learning", Nature 2015.

    ``uint8 (N, C, H, W) -> float32 (N, features_dim)``: the frames are scaled by ``1/255``
    inside, then

    ``Conv(C, 32, 8, stride 4) -> ReLU -> Conv(32, 64, 4, stride 2) -> ReLU ->
    Conv(64, 64, 3, stride 1) -> ReLU -> Flatten -> Linear(n_flatten, features_dim) -> ReLU``.

    ``n_flatten = 64 * h3 * w3`` follows from the input shape with
    :math:`\lfloor (s - k) / \text{stride} \rfloor + 1` per convolution (3136 for 84 x 84), so any
    frame of at least 36 x 36 pixels works. Layers are initialised by :func:`layer_init` with
    gain :math:`\sqrt 2` (CleanRL's Atari agents).

    Args:
        observation_shape: ``(C, H, W)`` of one observation, e.g. ``(4, 84, 84)`` for four
            stacked grayscale frames.
        features_dim: size of the output features, ``>= 1`` (512 in the paper).

    Raises:
        ValueError: if ``observation_shape`` is not three positive ints, or ``H`` or ``W`` is
            below 36; from ``forward``, if the batch is not ``(N, *observation_shape)``.
        TypeError: from ``forward``, if the observations are not ``torch.uint8``.

    Example:
        >>> import torch
        >>> net = NatureCNN((4, 84, 84))
        >>> net.n_flatten
        3136
        >>> net(torch.zeros(2, 4, 84, 84, dtype=torch.uint8)).shape
        torch.Size([2, 512])

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(self, observation_shape: Sequence[int] = (4, 84, 84), features_dim: int = 512) -> None:
        super().__init__()
        shape = tuple(observation_shape)
        if len(shape) != 3 or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape
        ):
            raise ValueError(
                f"NatureCNN: observation_shape must be three ints >= 1 (C, H, W), got {observation_shape!r}"
            )
        if isinstance(features_dim, bool) or not isinstance(features_dim, int) or features_dim < 1:
            raise ValueError(f"NatureCNN: features_dim must be an int >= 1, got {features_dim!r}")
        channels, height, width = shape
        if min(height, width) < 36:
            raise ValueError(
                f"NatureCNN: observation_shape (C, H, W) = {shape} is too small; H and W must be >= 36 "
                "(84 in the paper)"
            )
        self.observation_shape: tuple[int, int, int] = (channels, height, width)
        self.features_dim = features_dim
        layers: list[nn.Module] = []
        previous = channels
        for out_channels, kernel, stride in _CONVS:
            layers += [layer_init(nn.Conv2d(previous, out_channels, kernel, stride=stride)), nn.ReLU()]
            previous = out_channels
            height = (height - kernel) // stride + 1
            width = (width - kernel) // stride + 1
        self.n_flatten = previous * height * width
        # Channels-last convolutions (NHWC): on CPU a forward and backward pass take 15-25% less
        # time than in the default NCHW layout (benchmarks/bench_atari.py); the values are the same
        # convolutions, and the state dict's shapes are unchanged.
        self.convs = nn.Sequential(*layers, nn.Flatten())
        for conv in self.convs:
            if isinstance(conv, nn.Conv2d):
                conv.weight.data = conv.weight.data.contiguous(memory_format=torch.channels_last)
        self.fc = layer_init(nn.Linear(self.n_flatten, features_dim))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Features of a batch of uint8 frames: ``(N, C, H, W)`` uint8 -> ``(N, features_dim)`` float32."""
        if obs.dtype != torch.uint8:
            raise TypeError(
                f"NatureCNN: expected uint8 observations in [0, 255], got dtype {obs.dtype}; pass the raw "
                "frames (the network scales them by 1/255 itself)"
            )
        if obs.dim() != 4 or tuple(obs.shape[1:]) != self.observation_shape:
            raise ValueError(
                f"NatureCNN: expected a batch of shape (N, {', '.join(map(str, self.observation_shape))}), "
                f"got {tuple(obs.shape)}"
            )
        # The weights' dtype rather than a fixed float32, so that net.double() keeps working.
        x = (obs.to(dtype=self.fc.weight.dtype) / 255.0).contiguous(memory_format=torch.channels_last)
        features: torch.Tensor = self.convs(x)
        return torch.relu(self.fc(features))
