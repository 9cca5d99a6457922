"""A tiny agent written on :class:`rlcore.runs.Run`, for testing run plumbing end to end.

REINFORCE with a batch-mean baseline and a linear softmax policy (Williams, "Simple
statistical gradient-following algorithms for connectionist reinforcement learning", Machine
Learning 1992): small enough to train in a fraction of a second, yet it uses everything a real
agent's run does (torch's RNG for actions, an optimiser with state, optional observation
normalisation, periodic evaluations and checkpoints, exact resume). Discrete actions and 1-D
``Box`` observations (CartPole-v1).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Annotated, Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import VectorEnv
from torch.distributions import Categorical

from rlcore.runs import (
    Agent,
    AtLeast,
    NonNegativeInt,
    Policy,
    PositiveFloat,
    PositiveInt,
    Run,
    RunConfig,
    RunSetting,
    UnitFloat,
    make_envs,
)

__all__ = ["TinyConfig", "make_policy", "tiny_agent", "train"]


@dataclasses.dataclass(frozen=True)
class TinyConfig(RunConfig):
    """REINFORCE with a linear softmax policy: a test agent for run plumbing."""

    total_timesteps: PositiveInt = 512
    """Environment steps to train for (summed over the sub-environments)."""
    num_envs: PositiveInt = 2
    """Parallel sub-environments of the training vector env."""
    num_steps: PositiveInt = 32
    """Steps per sub-env between two updates."""
    learning_rate: PositiveFloat = 1e-2
    """Adam's learning rate."""
    gamma: UnitFloat = 0.99
    """Discount factor of the rewards-to-go."""
    hidden_sizes: tuple[int, ...] = ()
    """Hidden layers of the policy (a tanh MLP); () is a linear policy."""
    normalize_observation: bool = False
    """Normalise observations by running statistics (saved with the checkpoints)."""
    eval_every: NonNegativeInt = 128
    """Evaluate every this many environment steps; 0 turns it off."""
    eval_episodes: PositiveInt = 2
    """Episodes of each periodic evaluation."""
    final_eval_episodes: PositiveInt = 3
    """Episodes of the final evaluation (eval.json)."""
    checkpoint_every: Annotated[int, AtLeast(0), RunSetting] = 256
    """Save a checkpoint every this many environment steps (and at the end); 0: only at the end."""
    progress: Annotated[bool, RunSetting] = False
    """Show rlcore's console progress (off: the tiny agent runs inside tests)."""


def train(config: TinyConfig, *, resume: bool = False, algo: str = "tiny") -> dict[str, Any]:
    """Train the tiny agent as ``config`` says; return :meth:`rlcore.runs.Run.finish`'s summary.

    ``algo`` is the name the run records (``config.json``'s ``algo``): the agent's name.
    """
    run = Run(config, algo, resume=resume)
    envs = make_envs(config, config.num_envs, normalize_observation=config.normalize_observation)
    eval_envs = make_envs(config, min(config.eval_episodes, 4), evaluation_of=envs)
    networks, act_greedily = make_policy(config, envs)
    policy = networks["policy"]
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.learning_rate)
    obs = run.start(envs, eval_envs, **networks, optimizer=optimizer)
    # The loss goes through `model` (on several processes, DDP's wrapper, which averages the
    # gradients); the rollout acts with `policy` itself.
    model, optimizer = run.setup(policy, optimizer)

    while not run.done:
        observations, chosen, rewards, ends = [], [], [], []
        for _ in range(config.num_steps):
            observations.append(torch.as_tensor(obs, dtype=torch.float32).flatten(1))
            with torch.no_grad():
                distribution = Categorical(logits=policy(observations[-1]))
            actions = distribution.sample()  # type: ignore[no-untyped-call]
            obs, reward, terminated, truncated, info = envs.step(actions.numpy())
            run.advance(config.num_envs, info)
            chosen.append(actions)
            rewards.append(np.asarray(reward, dtype=np.float32))
            ends.append(terminated | truncated)
        to_go = np.zeros((len(rewards), config.num_envs), dtype=np.float32)
        running = np.zeros(config.num_envs, dtype=np.float32)
        for t in reversed(range(len(rewards))):
            running = rewards[t] + config.gamma * running * ~ends[t]
            to_go[t] = running
        advantages = torch.as_tensor(to_go - to_go.mean()).flatten()
        distribution = Categorical(logits=model(torch.cat(observations)))
        log_probs = distribution.log_prob(torch.cat(chosen))  # type: ignore[no-untyped-call]
        loss = -(log_probs * advantages).mean()
        optimizer.zero_grad()
        run.backward(loss)
        optimizer.step()
        run.log({"train/loss": loss.item()})
        obs = run.after_step(act_greedily, obs)
    return run.finish(act_greedily)


def make_policy(
    config: TinyConfig, envs: VectorEnv, device: torch.device | str = "cpu"
) -> tuple[dict[str, torch.nn.Module], Policy]:
    """The policy network for ``envs`` (registered as ``policy``) and its greedy evaluation policy."""
    observation_space, action_space = envs.single_observation_space, envs.single_action_space
    if not isinstance(action_space, spaces.Discrete) or not isinstance(observation_space, spaces.Box):
        raise TypeError(f"the tiny agent needs Box observations and Discrete actions, got {envs}")
    if min(config.hidden_sizes, default=1) < 1:
        raise ValueError(f"TinyConfig.hidden_sizes must be ints >= 1, got {config.hidden_sizes!r}")
    sizes = [int(np.prod(observation_space.shape)), *config.hidden_sizes, int(action_space.n)]
    layers: list[torch.nn.Module] = []
    for inputs, outputs in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(inputs, outputs), torch.nn.Tanh()]
    policy = layers[0] if len(layers) == 2 else torch.nn.Sequential(*layers[:-1])

    def act_greedily(observations: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            logits = policy(torch.as_tensor(observations, dtype=torch.float32).flatten(1))
        actions: np.ndarray = logits.argmax(dim=1).numpy()
        return actions

    return {"policy": policy}, act_greedily


def tiny_agent(name: str = "tiny") -> Agent[TinyConfig]:
    """The tiny agent as an :class:`rlcore.runs.Agent` (register it in a project's registry)."""
    return Agent(
        name,
        TinyConfig,
        functools.partial(train, algo=name),
        {"CartPole-v1": {"gamma": 0.98}},
        policy=make_policy,
    )
