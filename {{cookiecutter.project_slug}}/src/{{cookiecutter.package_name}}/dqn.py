r"""DQN in one file: config, environments, network, training loop (discrete actions).

Mnih et al., "Human-level control through deep reinforcement learning", Nature 2015
(https://doi.org/10.1038/nature14236): an epsilon-greedy behaviour policy fills a replay buffer
and a Q-network regresses on one-step (or n-step) TD targets computed with a target network
that is a periodic copy of it. Each update minimises, over a minibatch of transitions,

.. math::
    L(\theta) = \mathbb{E}\big[\operatorname{huber}\big(Q_\theta(s, a) - y\big)\big], \qquad
    y = r + \gamma^m (1 - \mathrm{term})\,
        Q_{\bar\theta}\big(s', \arg\max_{a'} Q_\theta(s', a')\big),

the target of Double DQN (van Hasselt, Guez and Silver, "Deep Reinforcement Learning with
Double Q-learning", AAAI 2016, https://arxiv.org/abs/1509.06461; ``double_q=False`` gives DQN's
:math:`\max_{a'} Q_{\bar\theta}(s', a')`), where :math:`r` sums the rewards of :math:`m \le n`
steps, :math:`r_t + \gamma r_{t+1} + \dots`, stopped at the episode's end (n-step returns,
Sutton and Barto 2018, section 7.1; ``n_step=1`` is DQN's one-step target).

The Huber loss and the gradient-norm clipping are Stable-Baselines3's. Three well-known
additions to the rl-baselines3-zoo settings of :data:`ENV_DEFAULTS` make CartPole learn faster
and stay learned (SB3's DQN with the zoo settings often collapses late in training): Double DQN
against overestimated targets, 3-step returns that carry the reward back faster (both from
Rainbow: Hessel et al., "Rainbow: Combining Improvements in Deep Reinforcement Learning", AAAI
2018, https://arxiv.org/abs/1710.02298), and a learning rate annealed linearly to 0
(``anneal_lr``), so that the last updates cannot undo a learned policy.

Truncation is not termination: the vector envs autoreset in the same step
(``AutoresetMode.SAME_STEP``), the replay buffer stores the real final observation of an episode
that ended (``info["final_obs"]``) as its next observation, and only ``terminated`` stops the
bootstrap (Pardo et al., "Time Limits in Reinforcement Learning", ICML 2018).

From the command line (``--help`` lists every field of :class:`DQNConfig`)::

    python -m {{ cookiecutter.package_name }}.train --env-id CartPole-v1 --seed 3

From Python (a sweep's worker, a notebook)::

    from {{ cookiecutter.package_name }}.dqn import config_for_env, train
    summary = train(config_for_env("CartPole-v1", seed=1, run_dir="runs/cartpole/seed1"))
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.wrappers.vector import RecordEpisodeStatistics
from rlcore.buffers import ReplayBuffer
from rlcore.evaluation import evaluate
from rlcore.logging import EPISODIC_RETURN_KEY
from rlcore.nn import mlp, polyak_update
from rlcore.schedules import LinearSchedule
from rlcore.seeding import seed_env, seed_everything
from rlcore.wrappers.vector.normalize import NormalizeObservation
from torch import nn
from torch.nn import functional as F

from {{ cookiecutter.package_name }}.runs import Run, episode_seed, stateful_wrappers

__all__ = ["ENV_DEFAULTS", "DQNConfig", "QNetwork", "config_for_env", "make_env", "train"]


# ---------------------------------------------------------------------------------------- config
@dataclasses.dataclass(frozen=True)
class DQNConfig:
    """DQN's hyperparameters and the run's settings.

    The defaults are Stable-Baselines3's generic DQN defaults plus Double DQN;
    :func:`config_for_env` (and the command line) first apply the tuned values of
    :data:`ENV_DEFAULTS` for the chosen env.
    """

    env_id: str = "CartPole-v1"
    """Gymnasium id of the task (a 1-D Box observation space, Discrete actions)."""
    seed: int = 0
    """Base seed of the network, the exploration, the environments and the replay sampling."""
    total_timesteps: int = 100_000
    """Environment steps to train for (summed over the sub-environments)."""
    num_envs: int = 1
    """Parallel sub-environments of the training vector env."""
    vector_mode: Literal["sync", "async"] = "sync"
    """sync: sub-envs stepped in this process; async: one subprocess each (slow envs)."""
    learning_rate: float = 1e-4
    """Adam's learning rate (at the start, if annealed)."""
    anneal_lr: bool = False
    """Decay the learning rate linearly to 0 over total_timesteps."""
    buffer_size: int = 1_000_000
    """Transitions the replay buffer holds."""
    learning_starts: int = 100
    """Environment steps before the first update."""
    batch_size: int = 32
    """Transitions per minibatch."""
    gamma: float = 0.99
    """Discount factor."""
    n_step: int = 1
    """Steps of the TD target's reward sum (stopped at episode ends)."""
    double_q: bool = True
    """Choose the target's next action with the online network (Double DQN)."""
    train_freq: int = 4
    """Environment steps between two rounds of updates."""
    gradient_steps: int = 1
    """Updates in each round."""
    target_update_interval: int = 10_000
    """Environment steps between two target-network updates."""
    tau: float = 1.0
    """Weight of the online network in a target update (1: a copy)."""
    exploration_fraction: float = 0.1
    """Fraction of total_timesteps over which epsilon decays linearly."""
    exploration_initial_eps: float = 1.0
    """Epsilon at the start."""
    exploration_final_eps: float = 0.05
    """Epsilon after the decay."""
    max_grad_norm: float = 10.0
    """Global gradient-norm clipping threshold."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layers of the Q-network (a ReLU MLP)."""
    normalize_observation: bool = False
    """Normalise observations by running statistics (saved with the checkpoints)."""
    eval_every: int = 10_000
    """Evaluate every this many environment steps (greedy policy); 0 turns it off."""
    eval_episodes: int = 10
    """Episodes of each periodic evaluation."""
    final_eval_episodes: int = 100
    """Episodes of the final evaluation (eval.json)."""
    checkpoint_every: int = 50_000
    """Save a checkpoint every this many environment steps (and at the end); 0: only at the end."""
    run_dir: str | None = None
    """The run's directory; None: runs/dqn-<env_id>/seed<seed>-<date>-<time>."""
    logger: Literal["csv", "tensorboard", "wandb"] = "{{ cookiecutter.logger }}"
    """Where metrics go besides progress.csv."""
    progress: bool = True
    """Show rlcore's console progress (steps, steps/s, latest return)."""
    torch_threads: int = 1
    """torch.set_num_threads: small networks run fastest on one thread."""
    device: str = "cpu"
    """Torch device of the networks and the minibatches (cpu, cuda)."""

    def __post_init__(self) -> None:
        positive = (
            "total_timesteps",
            "num_envs",
            "buffer_size",
            "batch_size",
            "n_step",
            "train_freq",
            "gradient_steps",
            "target_update_interval",
            "eval_episodes",
            "final_eval_episodes",
            "torch_threads",
        )
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"DQNConfig.{name} must be an int >= 1, got {value!r}")
        for name in ("learning_starts", "eval_every", "checkpoint_every", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"DQNConfig.{name} must be an int >= 0, got {value!r}")
        unit = (
            "gamma",
            "tau",
            "exploration_fraction",
            "exploration_initial_eps",
            "exploration_final_eps",
        )
        for name in unit:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"DQNConfig.{name} must be in [0, 1], got {value!r}")
        for name in ("learning_rate", "max_grad_norm"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"DQNConfig.{name} must be a finite number > 0, got {value!r}")
        if self.buffer_size < self.num_envs:
            raise ValueError(
                f"DQNConfig.buffer_size must be >= num_envs ({self.num_envs}), "
                f"got {self.buffer_size}"
            )
        if not self.hidden_sizes or any(size < 1 for size in self.hidden_sizes):
            raise ValueError(
                f"DQNConfig.hidden_sizes must be one or more ints >= 1, got {self.hidden_sizes!r}"
            )


ENV_DEFAULTS: dict[str, dict[str, Any]] = {
    # rl-baselines3-zoo, hyperparams/dqn.yml ("Almost Tuned"), plus 3-step returns and the
    # learning rate annealed (Double DQN is the config's default).
    "CartPole-v1": {
        "learning_rate": 2.3e-3,
        "anneal_lr": True,
        "n_step": 3,
        "batch_size": 64,
        "buffer_size": 100_000,
        "learning_starts": 1_000,
        "gamma": 0.99,
        "target_update_interval": 10,
        "train_freq": 256,
        "gradient_steps": 128,
        "exploration_fraction": 0.16,
        "exploration_final_eps": 0.04,
        "hidden_sizes": (256, 256),
        "total_timesteps": 50_000,
        "eval_every": 2_560,
    },
}
"""Tuned hyperparameters per environment, applied over :class:`DQNConfig`'s defaults."""


def config_for_env(env_id: str, **overrides: Any) -> DQNConfig:
    """The config for ``env_id``: the defaults, then ``ENV_DEFAULTS[env_id]``, then ``overrides``.

    Raises:
        TypeError: if an override names no field of :class:`DQNConfig`.
    """
    fields = {field.name for field in dataclasses.fields(DQNConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(
            f"config_for_env: unknown DQNConfig field(s) {unknown}; "
            f"expected some of {sorted(fields)}"
        )
    return DQNConfig(**{"env_id": env_id, **ENV_DEFAULTS.get(env_id, {}), **overrides})


# ------------------------------------------------------------------------------ environments
def make_env(
    config: DQNConfig, num_envs: int, *, evaluation_of: VectorEnv | None = None
) -> VectorEnv:
    """``num_envs`` copies of ``config.env_id``, autoreset in the same step, wrapped inside out.

    1. ``RecordEpisodeStatistics``: ``info["episode"]`` with each finished episode's return.
    2. ``NormalizeObservation`` (if ``config.normalize_observation``).

    Rewards are not normalised: the replay buffer would mix rewards of different scales.
    With ``evaluation_of`` (the training envs), the envs are for evaluation: stepped in this
    process and normalising observations with the training statistics without updating them.
    """
    envs: VectorEnv = gym.make_vec(
        config.env_id,
        num_envs=num_envs,
        vectorization_mode="sync" if evaluation_of is not None else config.vector_mode,
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
    )
    envs = RecordEpisodeStatistics(envs)
    if config.normalize_observation:
        if evaluation_of is None:
            envs = NormalizeObservation(envs)
        else:
            training = stateful_wrappers(evaluation_of)["NormalizeObservation"]
            envs = NormalizeObservation(envs, obs_rms=training.obs_rms)
            envs.freeze()
    return envs


# ----------------------------------------------------------------------------------- network
class QNetwork(nn.Module):
    """Q-values of every action: observations ``(B, obs_dim)`` float32 -> ``(B, num_actions)``.

    A ReLU MLP (``rlcore.nn.mlp``, orthogonal initialisation), as SB3's DQN ``MlpPolicy``.
    """

    def __init__(
        self,
        observation_space: spaces.Space[Any],
        action_space: spaces.Space[Any],
        hidden_sizes: tuple[int, ...],
    ) -> None:
        super().__init__()
        if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
            raise TypeError(f"QNetwork needs a 1-D Box observation space, got {observation_space}")
        if not isinstance(action_space, spaces.Discrete):
            raise TypeError(f"QNetwork needs a Discrete action space, got {action_space}")
        self.num_actions = int(action_space.n)
        self.q = mlp(observation_space.shape[0], hidden_sizes, self.num_actions, activation=nn.ReLU)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q-values ``(B, num_actions)``."""
        values: torch.Tensor = self.q(obs)
        return values


# ------------------------------------------------------------------------------ training loop
def train(config: DQNConfig, *, resume: bool = False) -> dict[str, Any]:
    """Train DQN as ``config`` says; return the final evaluation's summary (also in ``eval.json``).

    Everything the run needs is built here from ``config``, so it can run in a sweep's worker;
    the process-wide settings it changes come from ``config`` too: the RNGs (``seed_everything``)
    and ``torch.set_num_threads``.

    Args:
        config: the hyperparameters and the run's settings.
        resume: continue the run in ``config.run_dir`` from its latest checkpoint.

    Returns:
        ``mean_return``, ``std_return``, ``episode_returns``, ``episode_lengths``, ``step``,
        ``train_seconds``, ``run_dir``, ``learning_curve`` and the run's ids.
    """
    torch.set_num_threads(config.torch_threads)
    seed_everything(config.seed)
    device = torch.device(config.device)
    run = Run(config, "dqn", resume=resume)

    envs = make_env(config, config.num_envs)
    eval_envs = make_env(config, min(config.eval_episodes, 10), evaluation_of=envs)
    q_network = QNetwork(
        envs.single_observation_space, envs.single_action_space, config.hidden_sizes
    ).to(device)
    target_network = copy.deepcopy(q_network)
    parameters = list(q_network.parameters())
    # fused: one kernel for all the parameters instead of several per tensor.
    optimizer = torch.optim.Adam(parameters, lr=config.learning_rate, fused=True)
    buffer = ReplayBuffer(
        config.buffer_size,
        envs.single_observation_space,
        envs.single_action_space,
        num_envs=config.num_envs,
        autoreset_mode=AutoresetMode.SAME_STEP,
        device=device,
        n_step=config.n_step,
        gamma=config.gamma,
        seed=config.seed,
    )
    final_lr = 0.0 if config.anneal_lr else config.learning_rate
    learning_rate = LinearSchedule(config.learning_rate, final_lr, config.total_timesteps)
    exploration_steps = max(config.exploration_fraction * config.total_timesteps, 1.0)
    epsilon = LinearSchedule(
        config.exploration_initial_eps, config.exploration_final_eps, exploration_steps
    )
    stateful = {
        "q_network": q_network,
        "target_network": target_network,
        "optimizer": optimizer,
        "buffer": buffer,
        **stateful_wrappers(envs),
    }

    global_step, next_eval, next_checkpoint = 0, config.eval_every, config.checkpoint_every
    episode_seed_base = config.seed
    if resume:
        counters = run.restore(**stateful)
        global_step, next_eval, next_checkpoint = (
            counters["step"],
            counters["next_eval"],
            counters["next_checkpoint"],
        )
        episode_seed_base = episode_seed(config.seed, global_step)
    obs = seed_env(envs, episode_seed_base).obs
    num_envs, num_actions = config.num_envs, q_network.num_actions

    def act_greedily(observations: np.ndarray) -> np.ndarray:
        """The evaluation policy: the action of the highest Q-value."""
        with torch.inference_mode():
            q_values = q_network(torch.as_tensor(observations, device=device))
        actions: np.ndarray = q_values.argmax(dim=1).cpu().numpy()
        return actions

    while global_step < config.total_timesteps:
        # ------------------------------------------------------------------ act (epsilon-greedy)
        random_actions = torch.randint(num_actions, (num_envs,))
        explore = torch.rand(num_envs) < epsilon(global_step)
        if bool(explore.all()):
            actions = random_actions
        else:
            with torch.inference_mode():
                greedy = q_network(torch.as_tensor(obs, device=device)).argmax(dim=1).cpu()
            actions = torch.where(explore, random_actions, greedy)
        actions_np = actions.numpy()
        next_obs, rewards, terminated, truncated, info = envs.step(actions_np)
        previous_step, global_step = global_step, global_step + num_envs
        # The transition's next observation is the real final one where an episode ended.
        ended = terminated | truncated
        real_next_obs = next_obs
        if ended.any():
            real_next_obs = next_obs.copy()
            real_next_obs[ended] = np.stack(info["final_obs"][ended])
        # A periodic checkpoint after this step cuts every episode short (see below): the buffer
        # records the cut as a truncation, so that no n-step return runs across it.
        checkpoint_now = (
            config.checkpoint_every > 0
            and global_step >= next_checkpoint
            and global_step < config.total_timesteps
        )
        buffer.add(obs, real_next_obs, actions_np, rewards, terminated, truncated | checkpoint_now)
        obs = next_obs
        if "episode" in info:
            for i in np.flatnonzero(info["_episode"]):
                episode = {
                    EPISODIC_RETURN_KEY: info["episode"]["r"][i],
                    "train/episodic_length": info["episode"]["l"][i],
                }
                run.log(episode, global_step)

        # ------------------------------------------------------------------ target network
        if (
            global_step // config.target_update_interval
            > previous_step // config.target_update_interval
        ):
            polyak_update(target_network, q_network, config.tau)

        # ------------------------------------------------------------------ update
        due = global_step // config.train_freq > previous_step // config.train_freq
        if due and global_step > config.learning_starts:
            lr = learning_rate(global_step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            losses = []
            for _ in range(config.gradient_steps):
                batch = buffer.sample(config.batch_size)
                with torch.no_grad():
                    next_q = target_network(batch.next_observations)
                    if config.double_q:
                        next_actions = q_network(batch.next_observations).argmax(
                            dim=1, keepdim=True
                        )
                        next_value = next_q.gather(1, next_actions).squeeze(1)
                    else:
                        next_value = next_q.max(dim=1).values
                    td_target = batch.rewards + batch.discounts * (~batch.terminated) * next_value
                q = (
                    q_network(batch.observations)
                    .gather(1, batch.actions.long().unsqueeze(1))
                    .squeeze(1)
                )
                loss = F.smooth_l1_loss(q, td_target)

                optimizer.zero_grad(set_to_none=True)
                torch.autograd.backward(loss)  # loss.backward(), which has no type annotations
                nn.utils.clip_grad_norm_(parameters, config.max_grad_norm, foreach=True)
                optimizer.step()
                losses.append(loss.detach())
            stats = {
                "train/td_loss": torch.stack(losses).mean().item(),
                "train/q_value": q.detach().mean().item(),
                "train/learning_rate": lr,
                "train/epsilon": epsilon(global_step),
            }
            run.log(stats, global_step)

        # ------------------------------------------------------------------ evaluate, checkpoint
        finished = global_step >= config.total_timesteps
        if config.eval_every and global_step >= next_eval and not finished:
            with run.untimed():
                result = evaluate(act_greedily, eval_envs, config.eval_episodes, seed=config.seed)
            run.log_evaluation(result, global_step)
            while next_eval <= global_step:
                next_eval += config.eval_every
        if checkpoint_now:
            while next_checkpoint <= global_step:
                next_checkpoint += config.checkpoint_every
            counters = {"next_eval": next_eval, "next_checkpoint": next_checkpoint}
            run.save_checkpoint(global_step, counters, **stateful)
            # Fresh episodes, as a run resumed from this checkpoint starts (see runs.py).
            obs = seed_env(envs, episode_seed(config.seed, global_step)).obs

    counters = {"next_eval": next_eval, "next_checkpoint": next_checkpoint}
    run.save_checkpoint(global_step, counters, **stateful)
    with run.untimed():
        result = evaluate(act_greedily, eval_envs, config.final_eval_episodes, seed=config.seed)
    envs.close()
    eval_envs.close()
    return run.finish(result, global_step)
