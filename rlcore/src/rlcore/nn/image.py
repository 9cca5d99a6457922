"""Image observations of any common layout into :class:`~rlcore.nn.NatureCNN`'s ``(C, H, W)``.

* :func:`is_image_space`: whether a Gymnasium space holds uint8 images :class:`ImageEncoder` takes.
* :func:`image_layout` and :class:`ImageLayout`: how a uint8 observation shape reaches ``(C, H, W)``.
* :class:`ImageEncoder`: that permute/reshape followed by :class:`~rlcore.nn.NatureCNN`.

The layouts, for one observation (the batch axis ``N`` comes in front of each):

==================  ===================  ==========================================================
observation shape   ``cnn_shape``        source
==================  ===================  ==========================================================
``(H, W)``          ``(1, H, W)``        one grayscale frame
``(C, H, W)``       ``(C, H, W)``        channels first; also ``(k, H, W)``, ``k`` stacked 2-D frames
``(H, W, C)``       ``(C, H, W)``        channels last, Gymnasium's image convention
``(k, C, H, W)``    ``(k * C, H, W)``    ``k`` channels-first frames stacked by ``FrameStack``
``(k, H, W, C)``    ``(k * C, H, W)``    ``k`` channels-last frames stacked by ``FrameStack``
==================  ===================  ==========================================================

A 3-D frame (the whole observation, or each stacked frame) is channels first or last by
Stable-Baselines3's rule (``is_image_space_channels_first``): the channel axis is the smallest
dimension. On a tie the first axis wins, then the last (``(40, 40, 40)`` is channels first,
``(50, 40, 40)`` channels last). Where only the middle axis is smallest (no known layout puts
channels there), :func:`image_layout` raises a ``ValueError`` rather than guess. SB3 warns
there and, as for the middle-and-last tie, takes channels last (stable-baselines3 2.9; its
docstring says it raises). Stacked frames (``rlcore.wrappers.FrameStack`` stacks on a new
leading axis, newest last) are merged frame-major: channels ``[f * C, (f + 1) * C)`` of the
CNN's input are frame ``f``'s, so the newest frame's channels come last.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from rlcore.nn.cnn import NatureCNN

__all__ = ["ImageEncoder", "ImageLayout", "image_layout", "is_image_space"]

# NatureCNN's smallest H and W: its three convolutions need 36 pixels (see NatureCNN).
_MIN_SIZE = 36


class ImageLayout(NamedTuple):
    """How one uint8 observation reaches NatureCNN's ``(C, H, W)``: the result of :func:`image_layout`.

    For a batch ``obs`` of shape ``(N, *observation_shape)``,
    ``obs.permute(0, *(axis + 1 for axis in permutation)).reshape(N, *cnn_shape)`` is the CNN's
    input ``(N, C, H, W)``.

    Attributes:
        cnn_shape: ``(C, H, W)``, the shape given to :class:`~rlcore.nn.NatureCNN`.
        permutation: an order of the observation's axes that puts every channel axis (frames,
            then channels) before ``H`` and ``W``; ``(0, 1, ...)`` where none is needed.
    """

    cnn_shape: tuple[int, int, int]
    permutation: tuple[int, ...]


def _is_channels_last(shape: tuple[int, ...], observation_shape: tuple[int, ...], owner: str) -> bool:
    """Whether the 3-D frame ``shape`` is channels last: its last dimension is a smallest one, its first is not."""
    smallest = min(shape)
    if shape[0] != smallest and shape[2] != smallest:
        raise ValueError(
            f"{owner}: cannot tell the channel axis of observation shape {observation_shape}: the "
            f"smallest dimension of the frame {shape} is the middle one only; expected channels "
            "first (C, H, W) or last (H, W, C), where C is the smallest dimension"
        )
    return shape[0] != smallest


def _layout(shape: Sequence[int], owner: str) -> ImageLayout:
    """:func:`image_layout`, with errors that name ``owner``."""
    try:
        dims = tuple(shape)
    except TypeError:
        dims = ()
    if not (
        2 <= len(dims) <= 4
        and all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1 for d in dims)
    ):
        raise ValueError(
            f"{owner}: an image observation shape must be 2, 3 or 4 ints >= 1 ((H, W), (C, H, W), "
            f"(H, W, C), (k, C, H, W) or (k, H, W, C)), got {shape!r}"
        )
    dims = tuple(int(d) for d in dims)
    if len(dims) == 2:
        height, width = dims
        return ImageLayout((1, height, width), (0, 1))
    stacked = len(dims) == 4
    frame = dims[1:] if stacked else dims
    if _is_channels_last(frame, dims, owner):
        height, width, channels = frame
        frame_permutation = (2, 0, 1)
    else:
        channels, height, width = frame
        frame_permutation = (0, 1, 2)
    if not stacked:
        return ImageLayout((channels, height, width), frame_permutation)
    return ImageLayout((dims[0] * channels, height, width), (0, *(axis + 1 for axis in frame_permutation)))


def image_layout(shape: Sequence[int]) -> ImageLayout:
    """How a uint8 observation of shape ``shape`` (no batch axis) becomes NatureCNN's ``(C, H, W)``.

    See the table of layouts in :mod:`rlcore.nn.image`: ``(H, W)`` is one grayscale frame,
    ``(C, H, W)`` or ``(H, W, C)`` one frame whose channel axis is its smallest dimension
    (as SB3's ``is_image_space_channels_first``; on a tie the first axis, then the last), and ``(k, C, H, W)`` or
    ``(k, H, W, C)`` ``k`` such frames stacked on a leading axis, merged frame-major into
    ``k * C`` channels. The size of ``H`` and ``W`` is not checked here (NatureCNN needs 36).

    Args:
        shape: the observation's shape, 2, 3 or 4 ints ``>= 1``.

    Returns:
        The :class:`ImageLayout`: ``cnn_shape`` ``(C, H, W)`` and the ``permutation`` of the
        observation's axes that precedes the reshape to it.

    Raises:
        ValueError: if ``shape`` is not 2, 3 or 4 ints ``>= 1``, or if only the middle
            dimension of a 3-D frame is smallest (channels neither first nor last).

    Example:
        >>> image_layout((84, 84))
        ImageLayout(cnn_shape=(1, 84, 84), permutation=(0, 1))
        >>> image_layout((210, 160, 3))
        ImageLayout(cnn_shape=(3, 210, 160), permutation=(2, 0, 1))
        >>> image_layout((4, 64, 64, 3))  # FrameStack(env, 4) of (64, 64, 3) frames
        ImageLayout(cnn_shape=(12, 64, 64), permutation=(0, 3, 1, 2))
    """
    return _layout(shape, "image_layout")


def is_image_space(space: Any) -> bool:
    """Whether ``space`` holds uint8 images that :class:`ImageEncoder` accepts.

    True exactly for a ``gymnasium.spaces.Box`` of dtype ``uint8`` whose shape has a layout
    (:func:`image_layout`: 2, 3 or 4 dimensions, channels not in the middle) with ``H`` and
    ``W`` both ``>= 36`` (:class:`~rlcore.nn.NatureCNN`'s minimum). The bounds are not checked:
    the dtype marks pixel data, and the encoder scales by ``1/255`` whatever they are
    (Stable-Baselines3's ``is_image_space`` also asks for ``low == 0`` and ``high == 255``, and
    for 3 dimensions). False for anything else, never an exception.

    Args:
        space: any object, usually an env's observation space.

    Returns:
        Whether ``ImageEncoder(space.shape)`` takes observations of ``space``.

    Example:
        >>> from gymnasium import spaces
        >>> is_image_space(spaces.Box(0, 255, (4, 84, 84, 3), np.uint8))
        True
        >>> is_image_space(spaces.Box(0.0, 1.0, (84, 84, 3), np.float32))
        False
    """
    if not isinstance(space, spaces.Box) or space.dtype != np.uint8:
        return False
    try:
        _, height, width = image_layout(space.shape).cnn_shape
    except ValueError:
        return False
    return min(height, width) >= _MIN_SIZE


class ImageEncoder(nn.Module):
    """:class:`~rlcore.nn.NatureCNN` for uint8 image observations of any layout of :func:`image_layout`.

    ``uint8 (N, *observation_shape) -> float32 (N, features_dim)``: the batch is permuted and
    reshaped to ``(N, *cnn_shape)`` (a view, except for stacked channels-last frames, whose
    frame and channel axes must be brought together), then passed to ``NatureCNN(cnn_shape,
    features_dim)`` (Mnih et al., "Human-level control through deep reinforcement learning",
    Nature 2015), which scales by ``1/255`` itself. Channels-last frames reach the convolutions
    as a channels-last strided view, which ``torch.nn.Conv2d`` takes as it is.

    Args:
        observation_shape: the shape of one observation, e.g. ``env.observation_space.shape``:
            ``(H, W)``, ``(C, H, W)``, ``(H, W, C)``, ``(k, C, H, W)`` or ``(k, H, W, C)`` with
            ``H, W >= 36`` (see :func:`image_layout` for how channels are told from ``H, W``).
        features_dim: size of the output features, ``>= 1`` (512 in the paper).

    Attributes:
        observation_shape: the shape of one observation, a tuple of ints.
        cnn_shape: ``(C, H, W)`` given to the CNN.
        features_dim: size of the output features.
        cnn: the :class:`~rlcore.nn.NatureCNN`.

    Raises:
        ValueError: if ``observation_shape`` has no layout (see :func:`image_layout`), ``H`` or
            ``W`` is below 36, or ``features_dim`` is not an int ``>= 1``; from ``forward``, if
            the batch is not ``(N, *observation_shape)``.
        TypeError: from ``forward``, if the observations are not ``torch.uint8``.

    Example:
        >>> import torch
        >>> encoder = ImageEncoder((4, 64, 64, 3), features_dim=256)  # 4 stacked RGB frames
        >>> encoder.cnn_shape
        (12, 64, 64)
        >>> encoder(torch.zeros(2, 4, 64, 64, 3, dtype=torch.uint8)).shape
        torch.Size([2, 256])

    Change logs:
        * v0.3.0 - Initially added.
    """

    def __init__(self, observation_shape: Sequence[int], features_dim: int = 512) -> None:
        super().__init__()
        layout = _layout(observation_shape, "ImageEncoder")
        _, height, width = layout.cnn_shape
        if min(height, width) < _MIN_SIZE:
            raise ValueError(
                f"ImageEncoder: observation_shape {tuple(observation_shape)} has frames of H x W = "
                f"{height} x {width} (CNN input (C, H, W) = {layout.cnn_shape}); H and W must be >= "
                f"{_MIN_SIZE} for NatureCNN"
            )
        if isinstance(features_dim, bool) or not isinstance(features_dim, int) or features_dim < 1:
            raise ValueError(f"ImageEncoder: features_dim must be an int >= 1, got {features_dim!r}")
        self.observation_shape: tuple[int, ...] = tuple(int(d) for d in observation_shape)
        self.cnn_shape: tuple[int, int, int] = layout.cnn_shape
        self.features_dim = features_dim
        self._permutation = (0, *(axis + 1 for axis in layout.permutation))
        self.cnn = NatureCNN(layout.cnn_shape, features_dim)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Features of a batch: uint8 ``(N, *observation_shape)`` -> float32 ``(N, features_dim)``."""
        if obs.dtype != torch.uint8:
            raise TypeError(
                f"ImageEncoder: expected uint8 observations in [0, 255], got dtype {obs.dtype}; pass the "
                "raw frames (the network scales them by 1/255 itself)"
            )
        if obs.dim() != len(self.observation_shape) + 1 or tuple(obs.shape[1:]) != self.observation_shape:
            raise ValueError(
                f"ImageEncoder: expected a batch of shape (N, {', '.join(map(str, self.observation_shape))}), "
                f"got {tuple(obs.shape)}"
            )
        images = obs.permute(self._permutation).reshape(obs.shape[0], *self.cnn_shape)
        features: torch.Tensor = self.cnn(images)
        return features
