"""Test kit: a small env whose behaviour a test injects, and the contract every wrapper passes.

Shipped inside the package (as Acme ships its fakes) so that a research project can run the
same contract on its own wrappers::

    from rlcore.testing import GenericTestEnv, check_wrapper, check_vector_wrapper

* :class:`GenericTestEnv` is modelled on Gymnasium's test ``GenericTestEnv``: spaces,
  ``reset`` and ``step`` are arguments, and the defaults give a seeded random env with
  episodes of fixed length.
* :func:`check_wrapper` and :func:`check_vector_wrapper` run the wrapper contract: spaces
  declared and respected, seeding reproducible, reset and autoreset semantics,
  ``state_dict`` round trip through ``torch.load(weights_only=True)``, and a clear error on
  a bad state. They raise ``AssertionError`` with a message naming the failed check.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv

if TYPE_CHECKING:
    from rlcore.runs import Agent

__all__ = [
    "GenericTestEnv",
    "check_vector_wrapper",
    "check_wrapper",
    "make_vector_env",
    "tiny_agent",
    "train_interrupted",
]

ResetFunc = Callable[["GenericTestEnv", "int | None", "dict[str, Any] | None"], tuple[Any, dict[str, Any]]]
StepFunc = Callable[["GenericTestEnv", Any], tuple[Any, float, bool, bool, dict[str, Any]]]


class GenericTestEnv(gym.Env[Any, Any]):
    """A configurable env for tests; behaviour is injected through ``reset_func`` / ``step_func``.

    Defaults: observations are samples of ``observation_space`` (seeded by ``reset(seed=...)``),
    rewards are standard-normal float64 draws, an episode terminates after
    ``episode_length`` steps and is truncated after ``truncate_length`` steps (``None``: never).
    ``self.t`` counts the steps of the current episode, ``self.episode`` the resets.

    Args:
        observation_space: default ``Box(-1, 1, (3,), float32)``.
        action_space: default ``Discrete(2)``.
        reset_func: ``f(env, seed, options) -> (obs, info)``; replaces the default reset body
            (``super().reset(seed=seed)`` has already run, so ``env.np_random`` is seeded).
        step_func: ``f(env, action) -> (obs, reward, terminated, truncated, info)``.
        episode_length: steps until ``terminated`` with the default step.
        truncate_length: steps until ``truncated`` with the default step.

    Example:
        >>> env = GenericTestEnv(episode_length=2)
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, obs.dtype
        ((3,), dtype('float32'))
        >>> [env.step(0)[2] for _ in range(2)]
        [False, True]
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (Gymnasium's convention)

    def __init__(
        self,
        observation_space: spaces.Space[Any] | None = None,
        action_space: spaces.Space[Any] | None = None,
        reset_func: ResetFunc | None = None,
        step_func: StepFunc | None = None,
        episode_length: int | None = 5,
        truncate_length: int | None = None,
    ) -> None:
        self.observation_space = (
            observation_space if observation_space is not None else spaces.Box(-1.0, 1.0, (3,), np.float32)
        )
        self.action_space = action_space if action_space is not None else spaces.Discrete(2)
        self._reset_func = reset_func
        self._step_func = step_func
        self.episode_length = episode_length
        self.truncate_length = truncate_length
        self.t = 0
        self.episode = -1

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self.observation_space.seed(int(self.np_random.integers(2**31 - 1)))
        self.t = 0
        self.episode += 1
        if self._reset_func is not None:
            return self._reset_func(self, seed, options)
        return self.observation_space.sample(), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        self.t += 1
        if self._step_func is not None:
            return self._step_func(self, action)
        terminated = self.episode_length is not None and self.t >= self.episode_length
        truncated = self.truncate_length is not None and self.t >= self.truncate_length
        return self.observation_space.sample(), float(self.np_random.normal()), terminated, truncated, {}


def make_vector_env(
    env_fn: Callable[[], gym.Env[Any, Any]],
    num_envs: int,
    autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    vectorization_mode: str = "sync",
) -> VectorEnv:
    """A ``SyncVectorEnv`` or ``AsyncVectorEnv`` of ``num_envs`` copies of ``env_fn()``."""
    mode = AutoresetMode(autoreset_mode)
    fns = [env_fn] * num_envs
    if vectorization_mode == "sync":
        return SyncVectorEnv(fns, autoreset_mode=mode)
    if vectorization_mode == "async":
        return AsyncVectorEnv(fns, autoreset_mode=mode)
    raise ValueError(
        f"make_vector_env: vectorization_mode must be 'sync' or 'async', got {vectorization_mode!r}"
    )


# --------------------------------------------------------------------------- contract helpers
def _roundtrip(state: Mapping[str, Any]) -> Any:
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _assert_same(a: Any, b: Any, what: str) -> None:
    if isinstance(a, Mapping):
        assert isinstance(b, Mapping) and set(a) == set(b), f"{what}: keys differ: {sorted(a)} vs {sorted(b)}"
        for key in a:
            _assert_same(a[key], b[key], f"{what}[{key!r}]")
    elif isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b), f"{what}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{what}[{i}]")
    elif isinstance(a, (torch.Tensor, np.ndarray)):
        x = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a
        y = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
        assert x.shape == y.shape and np.array_equal(x, y, equal_nan=True), f"{what}: arrays differ"
    else:
        assert a == b, f"{what}: {a!r} != {b!r}"


def _assert_plain_state(state: Any, what: str) -> None:
    """State dicts hold only tensors, plain numbers, strings, None and containers of them."""
    if isinstance(state, Mapping):
        for key, value in state.items():
            assert isinstance(key, str), f"{what}: key {key!r} is not a str"
            _assert_plain_state(value, f"{what}[{key!r}]")
    elif isinstance(state, (list, tuple)):
        for i, value in enumerate(state):
            _assert_plain_state(value, f"{what}[{i}]")
    else:
        assert isinstance(state, (torch.Tensor, bool, int, float, str, type(None))), (
            f"{what}: {type(state).__name__} is not a tensor or plain value (pickled objects break "
            "torch.load(weights_only=True))"
        )


def _assert_equal_obs(a: Any, b: Any, what: str) -> None:
    if isinstance(a, dict):
        for key in a:
            _assert_equal_obs(a[key], b[key], f"{what}[{key!r}]")
        return
    assert np.array_equal(np.asarray(a), np.asarray(b)), f"{what}: differ between two identically seeded runs"


def _check_state_dict(make: Callable[[], Any], env: Any, name: str) -> None:
    if not hasattr(env, "state_dict"):
        return
    state = env.state_dict()
    _assert_plain_state(state, f"{name}.state_dict()")
    loaded = _roundtrip(state)
    fresh = make()
    fresh.load_state_dict(loaded)
    _assert_same(state, fresh.state_dict(), f"{name}: state_dict after a load_state_dict round trip")
    fresh.close()
    bogus = {"not_a_key": torch.zeros(3)}
    try:
        env.load_state_dict(bogus)
    except (KeyError, ValueError, TypeError) as error:
        assert str(error), f"{name}.load_state_dict(bogus) raised {type(error).__name__} without a message"
    else:
        # A wrapper without learned state accepts only an empty state.
        raise AssertionError(f"{name}.load_state_dict accepted a state with an unknown key")


# --------------------------------------------------------------------------- single env
def check_wrapper(make: Callable[[], gym.Env[Any, Any]], *, steps: int = 30, seed: int = 7) -> None:
    """Run the wrapper contract on a single-env wrapper built by ``make()``.

    Checks: the spaces are Gymnasium spaces and every observation is in the observation
    space; ``reset`` returns ``(obs, dict)`` and ``step`` a 5-tuple with a float reward and
    bool flags; two instances reset with the same seed and given the same actions agree;
    resetting mid-episode works; ``state_dict`` (if any) holds only tensors and plain values,
    survives ``torch.save`` / ``torch.load(weights_only=True)`` into a fresh instance, and
    ``load_state_dict`` rejects an unknown key with a message.
    """
    env_a, env_b = make(), make()
    name = type(env_a).__name__
    assert isinstance(env_a.observation_space, spaces.Space), f"{name}: observation_space is not a Space"
    assert isinstance(env_a.action_space, spaces.Space), f"{name}: action_space is not a Space"
    env_a.action_space.seed(seed)
    actions = [env_a.action_space.sample() for _ in range(steps)]
    results = []
    for env in (env_a, env_b):
        obs, info = env.reset(seed=seed)
        assert isinstance(info, dict), f"{name}.reset: info is {type(info).__name__}, expected dict"
        assert obs in env.observation_space, (
            f"{name}.reset: observation {obs!r} not in {env.observation_space}"
        )
        trace = [obs]
        for action in actions:
            out = env.step(action)
            assert len(out) == 5, f"{name}.step returned {len(out)} values, expected 5"
            obs, reward, terminated, truncated, info = out
            assert obs in env.observation_space, (
                f"{name}.step: observation {obs!r} not in {env.observation_space}"
            )
            assert isinstance(reward, (float, int, np.floating)), (
                f"{name}.step: reward is {type(reward).__name__}"
            )
            assert isinstance(terminated, (bool, np.bool_)) and isinstance(truncated, (bool, np.bool_)), (
                f"{name}.step: terminated/truncated must be bools"
            )
            trace.append((obs, reward, terminated, truncated))
            if terminated or truncated:
                obs, _ = env.reset()
                assert obs in env.observation_space, (
                    f"{name}.reset after an episode: observation not in space"
                )
                trace.append(obs)
        results.append(trace)
    for i, (a, b) in enumerate(zip(*results)):
        if isinstance(a, tuple):
            _assert_equal_obs(a[0], b[0], f"{name} step {i} obs")
            assert a[1:] == b[1:], f"{name} step {i}: reward/flags differ between identically seeded runs"
        else:
            _assert_equal_obs(a, b, f"{name} reset {i} obs")
    # Resetting mid-episode is allowed and gives a valid observation.
    env_a.reset(seed=seed)
    env_a.step(actions[0])
    obs, _ = env_a.reset()
    assert obs in env_a.observation_space, f"{name}: reset mid-episode gave an observation outside the space"
    _check_state_dict(make, env_a, name)
    env_a.close()
    env_b.close()


# --------------------------------------------------------------------------- vector env
def check_vector_wrapper(
    make: Callable[[AutoresetMode], VectorEnv], *, steps: int = 30, seed: int = 7
) -> None:
    """Run the wrapper contract on a vector wrapper built by ``make(autoreset_mode)``, in all three modes.

    Checks, per autoreset mode: batched spaces declared (``single_observation_space`` and
    ``observation_space``), every batch in the batched space with one row per sub-env;
    rewards of shape ``(num_envs,)``; two identically seeded instances agree; NEXT_STEP and
    SAME_STEP keep stepping through episode ends; DISABLED accepts a partial
    ``reset(options={"reset_mask": ...})``; and the ``state_dict`` contract as for single envs.
    """
    for mode in AutoresetMode:
        env_a, env_b = make(mode), make(mode)
        name = f"{type(env_a).__name__}[{mode.name}]"
        n = env_a.num_envs
        assert isinstance(env_a.single_observation_space, spaces.Space), (
            f"{name}: no single_observation_space"
        )
        env_a.action_space.seed(seed)
        actions = [env_a.action_space.sample() for _ in range(steps)]
        traces = []
        for env in (env_a, env_b):
            obs, info = env.reset(seed=seed)
            assert isinstance(info, dict), f"{name}.reset: info is not a dict"
            assert obs in env.observation_space, f"{name}.reset: batch not in {env.observation_space}"
            trace = [obs]
            for action in actions:
                obs, reward, terminated, truncated, info = env.step(action)
                assert obs in env.observation_space, f"{name}.step: batch not in {env.observation_space}"
                assert np.shape(reward) == (n,), (
                    f"{name}.step: reward shape {np.shape(reward)}, expected ({n},)"
                )
                assert np.shape(terminated) == (n,) and np.shape(truncated) == (n,), (
                    f"{name}.step: flag shapes"
                )
                trace.append((obs, np.asarray(reward), np.asarray(terminated), np.asarray(truncated)))
                done = np.logical_or(terminated, truncated)
                if mode == AutoresetMode.DISABLED and done.any():
                    obs, _ = env.reset(options={"reset_mask": done})
                    assert obs in env.observation_space, (
                        f"{name}: partial reset gave a batch outside the space"
                    )
                    trace.append(obs)
            traces.append(trace)
        for i, (a, b) in enumerate(zip(*traces)):
            if isinstance(a, tuple):
                for j, (x, y) in enumerate(zip(a, b)):
                    _assert_equal_obs(x, y, f"{name} step {i} item {j}")
            else:
                _assert_equal_obs(a, b, f"{name} reset {i} obs")
        _check_state_dict(lambda mode=mode: make(mode), env_a, name)  # type: ignore[misc]
        env_a.close()
        env_b.close()


def tiny_agent(name: str = "tiny") -> Agent[Any]:
    """A tiny REINFORCE agent (an :class:`rlcore.runs.Agent`) to test run plumbing end to end.

    It trains CartPole-v1 (or any env with 1-D ``Box`` observations and ``Discrete`` actions) in
    well under a second through :class:`rlcore.runs.Run`: periodic evaluations and checkpoints,
    exact resume, ``eval.json``. Register it in a project's registry to test the project's
    entry points::

        AGENTS.register(tiny_agent())
        train_main(AGENTS, ["tiny", "--run-dir", "runs/t", "--no-progress"])
    """
    from rlcore._tiny_agent import tiny_agent as make

    return make(name)


def train_interrupted(train: Callable[..., dict[str, Any]], config: Any, *, after_step: int) -> int:
    """Train ``config`` as a process killed right after the checkpoint at ``after_step`` would.

    Runs ``train(config)`` through :func:`rlcore.runs.launch` (so on ``config.devices``
    processes) and stops every process as soon as its run has saved the periodic checkpoint
    at a step ``>= after_step``: nothing after it is written, no ``eval.json``; the run directory
    is left ``resumable``, with that checkpoint the newest (its replay buffers with it). A test
    then resumes it and compares with the run that was not interrupted. Returns the step of
    that checkpoint.

    Raises:
        AssertionError: if the run ended without such a checkpoint (``after_step`` past the
            last periodic checkpoint).
    """
    from rlcore.runs import launch

    stopped = launch(functools.partial(_train_until, train=train, after_step=after_step), config)
    if not isinstance(stopped, int):
        raise AssertionError(
            f"train_interrupted: the run finished without a checkpoint at or after step {after_step}"
        )
    return stopped


class _Interrupted(Exception):
    """Stops a run in :func:`train_interrupted` (as a kill would)."""


def _train_until(config: Any, *, resume: bool = False, train: Callable[..., Any], after_step: int) -> Any:
    from rlcore.runs import Run

    after = Run.after_step

    def after_step_then_stop(self: Run, policy: Any, obs: Any) -> Any:
        due = self.checkpoint_due
        obs = after(self, policy, obs)
        if due and self.step >= after_step:
            # What the end of a killed process does: its envs and its run directory's lock go.
            self._close_envs()
            self._release_lock()
            raise _Interrupted(self.step)
        return obs

    Run.after_step = after_step_then_stop  # type: ignore[method-assign]
    try:
        return train(config, resume=resume)
    except _Interrupted as stop:
        return int(stop.args[0])
    finally:
        Run.after_step = after  # type: ignore[method-assign]
