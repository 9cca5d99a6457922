"""Neural-network building blocks: initialisation, torsos, policy/value heads, target updates.

* :func:`layer_init`: orthogonal weights, constant bias (Saxe et al. 2014).
* :func:`mlp`: an ``nn.Sequential`` multi-layer perceptron, optionally layer-normalised.
* :class:`NatureCNN`: the Atari torso of Mnih et al. (2015) for uint8 frames.
* :class:`ImageEncoder`: ``NatureCNN`` for uint8 images of any common layout (``(H, W)``,
  channels first or last, ``FrameStack``-stacked); :func:`is_image_space` says which spaces it
  takes and :func:`image_layout` (an :class:`ImageLayout`) how they reach ``(C, H, W)``.
* :class:`CategoricalHead`, :class:`GaussianHead`, :class:`DuelingQHead`: heads that map
  features to a distribution or to Q-values.
* :class:`Categorical`: ``torch.distributions.Categorical`` with cheaper ``sample`` / ``log_prob``.
* :class:`SquashedNormal` and :func:`tanh_log_abs_det_jacobian`: SAC's tanh-squashed Gaussian.
* :func:`polyak_update`: soft (or hard, ``tau=1``) target-network update.

Blocks, not agents: none of them holds an optimiser, a loss or an environment.
"""

from __future__ import annotations

from rlcore.nn.cnn import NatureCNN
from rlcore.nn.distributions import Categorical, SquashedNormal, tanh_log_abs_det_jacobian
from rlcore.nn.heads import CategoricalHead, DuelingQHead, GaussianHead
from rlcore.nn.image import ImageEncoder, ImageLayout, image_layout, is_image_space
from rlcore.nn.init import layer_init
from rlcore.nn.mlp import mlp
from rlcore.nn.polyak import polyak_update

__all__ = [
    "Categorical",
    "CategoricalHead",
    "DuelingQHead",
    "GaussianHead",
    "ImageEncoder",
    "ImageLayout",
    "NatureCNN",
    "SquashedNormal",
    "image_layout",
    "is_image_space",
    "layer_init",
    "mlp",
    "polyak_update",
    "tanh_log_abs_det_jacobian",
]
