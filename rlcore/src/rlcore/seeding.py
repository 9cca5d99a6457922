"""Seeding: the global RNGs, and independent per-sub-env seeds for training and evaluation.

* :func:`seed_everything` seeds Python's ``random``, NumPy's global RNG and PyTorch (CPU and
  every CUDA device), optionally switching PyTorch to deterministic algorithms.
* :func:`env_seeds` derives one reset seed per sub-environment from a base seed with
  ``numpy.random.SeedSequence``, separately for the ``"train"`` and ``"eval"`` streams.
* :func:`seed_env` resets a Gymnasium env or vector env with those seeds, seeds its action and
  observation spaces, and returns a :class:`SeedReport` of what it seeded.

Why not ``seed + i``: Gymnasium's ``VectorEnv.reset(seed=s)`` and SB3's ``VecEnv.seed(s)`` give
sub-env ``i`` the seed ``s + i``, so runs with base seeds ``s`` and ``s + 1`` share all but one
sub-env stream (SB3#2268), and "independent" seeds of an experiment are nothing of the sort.
``SeedSequence`` spawning (NumPy's version of M. E. O'Neill's ``seed_seq_fe``, which hashes the
entropy together with a spawn key) gives a distinct stream for every ``(seed, stream, index)``;
:func:`env_seeds` draws 64-bit seeds from them, so two sub-envs of any two base seeds collide
with probability about :math:`n^2 / 2^{64}`.

The seed tree, for base seed ``s`` (``SeedSequence(s, spawn_key=...)``):

* ``(stream, 0, i)``: the reset seed of sub-env ``i`` (``stream`` 0 = train, 1 = eval);
* ``(stream, 1, k)``: the seed of space ``k`` (action, observation, single action, single
  observation space).

Both are children of ``SeedSequence(s)``, independent of ``numpy.random.default_rng(s)``,
which :func:`seed_everything` returns. A run on several processes gives each process (rank) its
own base seed with :func:`rank_seed`: rank 0 keeps ``s``, rank ``r > 0`` takes a word of
``(2, r)``, and every stream above then derives from that base seed.
"""

from __future__ import annotations

import operator
import os
import random
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import VectorEnv

__all__ = ["SeedReport", "env_seeds", "rank_seed", "seed_env", "seed_everything"]

Stream = Literal["train", "eval"]
_STREAMS: dict[str, int] = {"train": 0, "eval": 1}
_ENV_BRANCH, _SPACE_BRANCH = 0, 1
_RANK_STREAM = 2
_SPACES = ("action_space", "observation_space", "single_action_space", "single_observation_space")


def seed_everything(seed: int, deterministic: bool = False) -> np.random.Generator:
    """Seed Python's ``random``, NumPy's global RNG and PyTorch, and return a fresh NumPy ``Generator``.

    ``torch.manual_seed`` also seeds every CUDA device (lazily, if CUDA is not initialised yet).

    With ``deterministic=True`` PyTorch uses only deterministic algorithms
    (``torch.use_deterministic_algorithms(True)``: an operation without a deterministic
    implementation raises instead of silently varying), cuDNN picks deterministic convolution
    algorithms (``cudnn.deterministic = True``) and stops benchmarking them
    (``cudnn.benchmark = False``). Deterministic cuBLAS needs the environment variable
    ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (or ``:16:8``) *before* CUDA initialises; this function
    sets it when it is unset, which is in time only if no CUDA work has run yet, so prefer
    exporting it in the shell. ``deterministic=False`` restores PyTorch's defaults for the
    three flags. See https://pytorch.org/docs/stable/notes/randomness.html.

    Args:
        seed: an int in ``[0, 2**32)`` (NumPy's legacy global RNG accepts no more).
        deterministic: switch PyTorch to deterministic algorithms (slower on GPU).

    Returns:
        ``numpy.random.default_rng(seed)``, a Generator for the caller's own draws, independent
        of the sub-env seeds of :func:`env_seeds`.

    Raises:
        TypeError: if ``seed`` is not an int.
        ValueError: if ``seed`` is outside ``[0, 2**32)``.

    Example:
        >>> import random, numpy as np, torch
        >>> rng = seed_everything(42)
        >>> a = (random.random(), np.random.rand(), torch.rand(1).item(), rng.random())
        >>> rng = seed_everything(42)
        >>> a == (random.random(), np.random.rand(), torch.rand(1).item(), rng.random())
        True
    """
    seed = _check_seed(seed, "seed_everything", upper=2**32)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (seeding the legacy global RNG is the point)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # The setter imports torch's compiler stack (about 2 s, once per process); with the
    # default already in place there is nothing to set.
    if deterministic or torch.are_deterministic_algorithms_enabled():
        torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = False
    return np.random.default_rng(seed)


def env_seeds(seed: int, num_envs: int, stream: Stream = "train") -> list[int]:
    """Independent 64-bit reset seeds for ``num_envs`` sub-environments.

    Seed ``i`` is the first 64-bit word of ``SeedSequence(seed, spawn_key=(stream_id, 0, i))``,
    the same as ``SeedSequence(seed).spawn(...)`` children: the list for ``num_envs`` is a prefix
    of the list for more envs, the ``"train"`` and ``"eval"`` streams are independent, and
    adjacent base seeds share no seed (unlike Gymnasium's and SB3's ``seed + i``).

    Args:
        seed: base seed, an int ``>= 0``.
        num_envs: number of sub-environments, ``>= 1``.
        stream: ``"train"`` or ``"eval"``.

    Returns:
        ``num_envs`` Python ints in ``[0, 2**64)``.

    Raises:
        TypeError: if ``seed`` or ``num_envs`` is not an int.
        ValueError: if ``seed < 0``, ``num_envs < 1`` or ``stream`` is unknown.

    Example:
        >>> env_seeds(0, 3) == env_seeds(0, 4)[:3]
        True
        >>> set(env_seeds(0, 4)) & set(env_seeds(1, 4)), set(env_seeds(0, 4)) & set(env_seeds(0, 4, "eval"))
        (set(), set())
    """
    seed = _check_seed(seed, "env_seeds")
    stream_id = _stream_id(stream, "env_seeds")
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"env_seeds: num_envs must be an int >= 1, got {num_envs!r}")
    return [_word(seed, (stream_id, _ENV_BRANCH, i)) for i in range(num_envs)]


@dataclass(frozen=True, eq=False)
class SeedReport:
    """What :func:`seed_env` seeded, and the observation and info of the reset it did.

    Attributes:
        seed: the base seed.
        stream: ``"train"`` or ``"eval"``.
        num_envs: 1 for a single env, ``env.num_envs`` for a vector env.
        reset_seeds: the seed each sub-env was reset with (``env_seeds(seed, num_envs, stream)``).
        space_seeds: seed of each space that was seeded, by attribute name
            (``"action_space"``, ``"observation_space"``, and for vector envs also
            ``"single_action_space"``, ``"single_observation_space"``).
        obs: the observation returned by the reset.
        info: the info returned by the reset.
    """

    seed: int
    stream: str
    num_envs: int
    reset_seeds: tuple[int, ...]
    space_seeds: dict[str, int]
    obs: Any = field(repr=False)
    info: dict[str, Any] = field(repr=False)


def seed_env(
    env: gym.Env[Any, Any] | VectorEnv,
    seed: int,
    stream: Stream = "train",
    options: dict[str, Any] | None = None,
) -> SeedReport:
    """Reset ``env`` with independent per-sub-env seeds and seed its spaces.

    A single env is reset with ``env_seeds(seed, 1, stream)[0]``; a vector env with the list
    ``env_seeds(seed, env.num_envs, stream)`` (one seed per sub-env, which Gymnasium's sync and
    async vector envs pass on to each sub-env's ``reset``). Then ``action_space`` and
    ``observation_space`` (and for vector envs the ``single_*`` spaces) are seeded with their
    own seeds from the same tree, so ``env.action_space.sample()`` is reproducible. The spaces
    of the sub-envs inside a vector env are not touched (they are not reachable in an
    ``AsyncVectorEnv``). Later resets should pass ``seed=None`` to continue the seeded streams.

    Args:
        env: a ``gymnasium.Env`` (possibly wrapped) or a ``gymnasium.vector.VectorEnv``.
        seed: base seed, an int ``>= 0``.
        stream: ``"train"`` or ``"eval"``; use different streams for training and evaluation
            envs so that their episodes are independent.
        options: passed on to ``env.reset``.

    Returns:
        A :class:`SeedReport` with the seeds used and the ``(obs, info)`` of the reset.

    Raises:
        TypeError: if ``env`` is neither a Gymnasium env nor a vector env, or ``seed`` is not an int.
        ValueError: if ``seed < 0`` or ``stream`` is unknown.

    Example:
        >>> import gymnasium as gym
        >>> env = gym.make("CartPole-v1")
        >>> report = seed_env(env, seed=0, stream="eval")
        >>> report.reset_seeds == tuple(env_seeds(0, 1, "eval")), sorted(report.space_seeds)
        (True, ['action_space', 'observation_space'])
        >>> again = seed_env(env, seed=0, stream="eval")
        >>> bool((report.obs == again.obs).all())
        True
    """
    seed = _check_seed(seed, "seed_env")
    stream_id = _stream_id(stream, "seed_env")
    names: tuple[str, ...]
    if isinstance(env, VectorEnv):
        num_envs = int(env.num_envs)
        names = _SPACES
        reset_seeds = tuple(env_seeds(seed, num_envs, stream))
        # Gymnasium's sync and async vector envs take one seed per sub-env, although the base
        # class annotates only int.
        obs, info = env.reset(seed=list(reset_seeds), options=options)  # type: ignore[arg-type]
    elif isinstance(env, gym.Env):
        num_envs = 1
        names = _SPACES[:2]
        reset_seeds = tuple(env_seeds(seed, 1, stream))
        obs, info = env.reset(seed=reset_seeds[0], options=options)
    else:
        raise TypeError(
            f"seed_env: env must be a gymnasium.Env or gymnasium.vector.VectorEnv, got {type(env).__name__}"
        )
    space_seeds: dict[str, int] = {}
    for k, name in enumerate(names):
        space = getattr(env, name, None)
        if space is None:
            continue
        space_seeds[name] = _word(seed, (stream_id, _SPACE_BRANCH, k))
        space.seed(space_seeds[name])
    return SeedReport(seed, stream, num_envs, reset_seeds, space_seeds, obs, info)


def rank_seed(seed: int, rank: int) -> int:
    """The base seed of process ``rank`` of a run on several processes with base seed ``seed``.

    Rank 0 keeps ``seed``, so that the first process of a multi-process run draws exactly what
    a single-process run with ``seed`` draws. Rank ``r > 0`` gets the low 32 bits of the first
    word of ``SeedSequence(seed, spawn_key=(2, r))`` (``SeedSequence(seed).spawn``'s children,
    on a branch of their own beside the env streams), an int that :func:`seed_everything`
    accepts; each process then seeds its RNGs, envs and buffers from its own base seed.

    Args:
        seed: the run's base seed, an int in ``[0, 2**32)``.
        rank: the process's global rank, an int ``>= 0``.

    Raises:
        TypeError: if ``seed`` or ``rank`` is not an int.
        ValueError: if ``seed`` is outside ``[0, 2**32)`` or ``rank < 0``.

    Example:
        >>> rank_seed(7, 0), rank_seed(7, 1) == rank_seed(7, 1), rank_seed(7, 1) != rank_seed(7, 2)
        (7, True, True)
    """
    seed = _check_seed(seed, "rank_seed", upper=2**32)
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 0:
        raise ValueError(f"rank_seed: rank must be an int >= 0, got {rank!r}")
    if rank == 0:
        return seed
    return _word(seed, (_RANK_STREAM, rank)) & 0xFFFFFFFF


def _word(seed: int, spawn_key: tuple[int, ...]) -> int:
    return int(np.random.SeedSequence(seed, spawn_key=spawn_key).generate_state(1, np.uint64)[0])


def _check_seed(seed: object, owner: str, upper: int | None = None) -> int:
    if isinstance(seed, bool):
        raise TypeError(f"{owner}: seed must be an int, got {seed!r}")
    try:
        value = operator.index(seed)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{owner}: seed must be an int, got {type(seed).__name__} {seed!r}") from None
    if value < 0 or (upper is not None and value >= upper):
        expected = ">= 0" if upper is None else f"in [0, 2**{upper.bit_length() - 1})"
        raise ValueError(f"{owner}: seed must be an int {expected}, got {value}")
    return int(value)


def _stream_id(stream: str, owner: str) -> int:
    if stream not in _STREAMS:
        raise ValueError(f"{owner}: stream must be 'train' or 'eval', got {stream!r}")
    return _STREAMS[stream]
