r"""PPO with a clipped surrogate objective in one file: config, environments, network, training.

Schulman, Wolski, Dhariwal, Radford and Klimov, "Proximal Policy Optimization Algorithms",
2017 (https://arxiv.org/abs/1707.06347), with the implementation details of Stable-Baselines3
and CleanRL (Huang et al., "The 37 Implementation Details of Proximal Policy Optimization",
ICLR Blog Track 2022): separate actor and critic MLPs with orthogonal initialisation, GAE
advantages normalised per minibatch, gradient-norm clipping, optional linear annealing of the
learning rate and of the clip range. Discrete (``Discrete``) and continuous (``Box``) actions.

Each update maximises, over minibatches of the last rollout and for ``update_epochs`` epochs,

.. math::
    L(\theta) = \mathbb{E}_t\big[\min(\rho_t \hat A_t,\ \operatorname{clip}(\rho_t, 1 - \epsilon,
    1 + \epsilon) \hat A_t)\big] - c_v\, \mathbb{E}_t\big[(V_\theta(s_t) - \hat R_t)^2\big]
    + c_e\, \mathbb{E}_t[\mathcal{H}(\pi_\theta(\cdot \mid s_t))],
    \qquad \rho_t = \frac{\pi_\theta(a_t \mid s_t)}{\pi_\text{old}(a_t \mid s_t)},

with :math:`\hat A_t` the GAE(:math:`\gamma, \lambda`) advantages (Schulman et al. 2016,
https://arxiv.org/abs/1506.02438) and :math:`\hat R_t = \hat A_t + V_\text{old}(s_t)` the
TD(:math:`\lambda`) returns. The value term is SB3's (mean squared error times ``vf_coef``), so
that the rl-baselines3-zoo hyperparameters in :data:`ENV_DEFAULTS` mean what they mean there.

Truncation is not termination: the vector envs autoreset in the same step
(``AutoresetMode.SAME_STEP``), and an episode cut by a time limit is bootstrapped from the value
of its real final observation, ``info["final_obs"]`` (``rlcore.buffers.RolloutBuffer`` and
``rlcore.returns.gae`` keep the two flags apart).

From the command line (``--help`` lists every field of :class:`PPOConfig`)::

    python -m {{ cookiecutter.package_name }}.train --env-id CartPole-v1 --seed 3

From Python (a sweep's worker, a notebook)::

    from {{ cookiecutter.package_name }}.ppo import config_for_env, train
    summary = train(config_for_env("Pendulum-v1", seed=1, run_dir="runs/pendulum/seed1"))
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.wrappers.vector import RecordEpisodeStatistics
from rlcore.buffers import RolloutBuffer
from rlcore.evaluation import evaluate
from rlcore.logging import EPISODIC_RETURN_KEY
from rlcore.nn import CategoricalHead, GaussianHead, mlp
from rlcore.schedules import LinearSchedule
from rlcore.seeding import seed_env, seed_everything
from rlcore.wrappers.vector.normalize import NormalizeObservation, NormalizeReward
from torch import nn
from torch.distributions import Distribution
from torch.nn import functional as F

from {{ cookiecutter.package_name }}.runs import Run, episode_seed, stateful_wrappers

__all__ = ["ENV_DEFAULTS", "ActorCritic", "PPOConfig", "config_for_env", "make_env", "train"]


# ---------------------------------------------------------------------------------------- config
@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO's hyperparameters and the run's settings.

    The defaults are Stable-Baselines3's generic PPO defaults; :func:`config_for_env` (and the
    command line) first apply the tuned values of :data:`ENV_DEFAULTS` for the chosen env.
    """

    env_id: str = "CartPole-v1"
    """Gymnasium id of the task (a 1-D Box observation space; Discrete or Box actions)."""
    seed: int = 0
    """Base seed of the network, the action sampling, the environments and the minibatch order."""
    total_timesteps: int = 100_000
    """Environment steps to train for (summed over the sub-environments)."""
    num_envs: int = 1
    """Parallel sub-environments of the training vector env."""
    vector_mode: Literal["sync", "async"] = "sync"
    """sync: sub-envs stepped in this process; async: one subprocess each (slow envs)."""
    num_steps: int = 2048
    """Steps per sub-env in each rollout; a rollout holds num_envs * num_steps transitions."""
    learning_rate: float = 3e-4
    """Adam's learning rate (at the start, if annealed)."""
    anneal_lr: bool = False
    """Decay the learning rate linearly to 0 over total_timesteps (the zoo's lin_)."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE's lambda: 0 gives one-step TD errors, 1 Monte Carlo returns minus the value."""
    update_epochs: int = 10
    """Passes over each rollout."""
    batch_size: int = 64
    """Transitions per minibatch (at most num_envs * num_steps)."""
    clip_coef: float = 0.2
    """The surrogate objective's clip range epsilon (at the start, if annealed)."""
    anneal_clip: bool = False
    """Decay the clip range linearly to 0 over total_timesteps."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss (mean squared error)."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clipping threshold."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layers of the actor and of the critic (two separate tanh MLPs)."""
    log_std_init: float = 0.0
    """Initial log standard deviation of the Gaussian policy (continuous actions)."""
    normalize_observation: bool = False
    """Normalise observations by running statistics (saved with the checkpoints)."""
    normalize_reward: bool = False
    """Scale rewards by the running standard deviation of the discounted return."""
    eval_every: int = 10_000
    """Evaluate every this many environment steps (deterministic policy); 0 turns it off."""
    eval_episodes: int = 10
    """Episodes of each periodic evaluation."""
    final_eval_episodes: int = 100
    """Episodes of the final evaluation (eval.json)."""
    checkpoint_every: int = 50_000
    """Save a checkpoint every this many environment steps (and at the end); 0: only at the end."""
    run_dir: str | None = None
    """The run's directory; None: runs/ppo-<env_id>/seed<seed>-<date>-<time>."""
    logger: Literal["csv", "tensorboard", "wandb"] = "{{ cookiecutter.logger }}"
    """Where metrics go besides progress.csv."""
    progress: bool = True
    """Show rlcore's console progress (steps, steps/s, latest return)."""
    torch_threads: int = 1
    """torch.set_num_threads: small networks run fastest on one thread."""
    device: str = "cpu"
    """Torch device of the network and the minibatches (cpu, cuda)."""
    validate_distributions: bool = False
    """torch.distributions' argument checks (a tenth of the training time), to debug a network."""

    def __post_init__(self) -> None:
        positive = (
            "total_timesteps",
            "num_envs",
            "num_steps",
            "update_epochs",
            "batch_size",
            "eval_episodes",
            "final_eval_episodes",
            "torch_threads",
        )
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"PPOConfig.{name} must be an int >= 1, got {value!r}")
        for name in ("eval_every", "checkpoint_every", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"PPOConfig.{name} must be an int >= 0, got {value!r}")
        for name in ("gamma", "gae_lambda"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"PPOConfig.{name} must be in [0, 1], got {value!r}")
        for name in ("learning_rate", "clip_coef", "max_grad_norm"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"PPOConfig.{name} must be a finite number > 0, got {value!r}")
        for name in ("ent_coef", "vf_coef"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"PPOConfig.{name} must be a finite number >= 0, got {value!r}")
        if self.batch_size > self.num_envs * self.num_steps:
            raise ValueError(
                "PPOConfig.batch_size must be <= num_envs * num_steps = "
                f"{self.num_envs * self.num_steps}, got {self.batch_size}"
            )
        if not self.hidden_sizes or any(size < 1 for size in self.hidden_sizes):
            raise ValueError(
                f"PPOConfig.hidden_sizes must be one or more ints >= 1, got {self.hidden_sizes!r}"
            )


ENV_DEFAULTS: dict[str, dict[str, Any]] = {
    # rl-baselines3-zoo, hyperparams/ppo.yml ("Tuned"): lin_0.001 and lin_0.2 are the annealed
    # learning rate and clip range.
    "CartPole-v1": {
        "num_envs": 8,
        "num_steps": 32,
        "batch_size": 256,
        "gae_lambda": 0.8,
        "gamma": 0.98,
        "update_epochs": 20,
        "ent_coef": 0.0,
        "learning_rate": 1e-3,
        "anneal_lr": True,
        "clip_coef": 0.2,
        "anneal_clip": True,
        "total_timesteps": 100_000,
        "eval_every": 2_560,
    },
    # rl-baselines3-zoo, hyperparams/ppo.yml ("Tuned"), without its generalized State-Dependent
    # Exploration (use_sde), which this agent does not implement. Instead: observations and
    # rewards normalised (the pendulum's rewards reach -16 per step), and minibatches of 256
    # instead of SB3's default 64. With 64 (640 updates per rollout at this learning rate) the
    # policy learned, then fell apart (seed 0: -150 at 94k steps, -630 at 200k); with 256 it
    # stays learned, and an update costs a quarter of the time.
    "Pendulum-v1": {
        "num_envs": 4,
        "num_steps": 1024,
        "batch_size": 256,
        "gae_lambda": 0.95,
        "gamma": 0.9,
        "update_epochs": 10,
        "ent_coef": 0.0,
        "learning_rate": 1e-3,
        "clip_coef": 0.2,
        "normalize_observation": True,
        "normalize_reward": True,
        "total_timesteps": 200_000,
        "eval_every": 10_240,
    },
}
"""Tuned hyperparameters per environment, applied over :class:`PPOConfig`'s defaults."""


def config_for_env(env_id: str, **overrides: Any) -> PPOConfig:
    """The config for ``env_id``: the defaults, then ``ENV_DEFAULTS[env_id]``, then ``overrides``.

    Raises:
        TypeError: if an override names no field of :class:`PPOConfig`.
    """
    fields = {field.name for field in dataclasses.fields(PPOConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(
            f"config_for_env: unknown PPOConfig field(s) {unknown}; "
            f"expected some of {sorted(fields)}"
        )
    return PPOConfig(**{"env_id": env_id, **ENV_DEFAULTS.get(env_id, {}), **overrides})


# ------------------------------------------------------------------------------ environments
def make_env(
    config: PPOConfig, num_envs: int, *, evaluation_of: VectorEnv | None = None
) -> VectorEnv:
    """``num_envs`` copies of ``config.env_id``, autoreset in the same step, wrapped inside out.

    1. ``RecordEpisodeStatistics``: ``info["episode"]`` with each finished episode's raw return.
    2. ``NormalizeObservation`` (if ``config.normalize_observation``).
    3. ``NormalizeReward`` (if ``config.normalize_reward``).

    With ``evaluation_of`` (the training envs), the envs are for evaluation: stepped in this
    process, normalising observations with the training statistics without updating them, and
    giving the env's own rewards.
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
    if config.normalize_reward and evaluation_of is None:
        envs = NormalizeReward(envs, gamma=config.gamma)
    return envs


# ----------------------------------------------------------------------------------- network
class ActorCritic(nn.Module):
    """Separate actor and critic MLPs (tanh, orthogonal initialisation), as SB3's ``MlpPolicy``.

    ``policy(obs)`` maps observations ``(B, obs_dim)`` float32 to a distribution over actions
    with batch shape ``(B,)``: a ``Categorical`` (``rlcore.nn.CategoricalHead``, logits gain
    0.01) or a diagonal Gaussian with a state-independent log std (``rlcore.nn.GaussianHead``);
    ``value(obs)`` to state values ``(B,)``.
    """

    def __init__(
        self,
        observation_space: spaces.Space[Any],
        action_space: spaces.Space[Any],
        hidden_sizes: tuple[int, ...],
        log_std_init: float = 0.0,
    ) -> None:
        super().__init__()
        if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
            raise TypeError(
                f"ActorCritic needs a 1-D Box observation space, got {observation_space}"
            )
        obs_dim = observation_space.shape[0]
        self.critic = mlp(obs_dim, hidden_sizes, 1, activation=nn.Tanh, output_gain=1.0)
        self.actor_torso = mlp(obs_dim, hidden_sizes, None, activation=nn.Tanh)
        self.head: CategoricalHead | GaussianHead
        if isinstance(action_space, spaces.Discrete):
            self.head = CategoricalHead(hidden_sizes[-1], int(action_space.n), gain=0.01)
        elif isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
            self.head = GaussianHead(
                hidden_sizes[-1], action_space.shape[0], log_std_init=log_std_init
            )
        else:
            raise TypeError(
                f"ActorCritic needs a Discrete or 1-D Box action space, got {action_space}"
            )

    def policy(self, obs: torch.Tensor) -> Distribution:
        """The action distribution in ``obs``."""
        distribution: Distribution = self.head(self.actor_torso(obs))
        return distribution

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """The state values of ``obs``, shape ``(B,)``."""
        values: torch.Tensor = self.critic(obs).squeeze(-1)
        return values


def env_actions(actions: np.ndarray, action_space: spaces.Space[Any]) -> np.ndarray:
    """What the env takes: Gaussian samples clipped into a ``Box`` (the buffer keeps them raw)."""
    if isinstance(action_space, spaces.Box):
        clipped: np.ndarray = np.clip(actions, action_space.low, action_space.high)
        return clipped
    return actions


# ------------------------------------------------------------------------------ training loop
def train(config: PPOConfig, *, resume: bool = False) -> dict[str, Any]:
    """Train PPO as ``config`` says; return the final evaluation's summary (also in ``eval.json``).

    Everything the run needs is built here from ``config``, so it can run in a sweep's worker;
    the process-wide settings it changes come from ``config`` too: the RNGs (``seed_everything``),
    ``torch.set_num_threads`` and torch.distributions' argument validation.

    Args:
        config: the hyperparameters and the run's settings.
        resume: continue the run in ``config.run_dir`` from its latest checkpoint.

    Returns:
        ``mean_return``, ``std_return``, ``episode_returns``, ``episode_lengths``, ``step``,
        ``train_seconds``, ``run_dir``, ``learning_curve`` and the run's ids.
    """
    torch.set_num_threads(config.torch_threads)
    Distribution.set_default_validate_args(config.validate_distributions)
    seed_everything(config.seed)
    device = torch.device(config.device)
    run = Run(config, "ppo", resume=resume)

    envs = make_env(config, config.num_envs)
    eval_envs = make_env(config, min(config.eval_episodes, 10), evaluation_of=envs)
    action_space = envs.single_action_space
    agent = ActorCritic(
        envs.single_observation_space, action_space, config.hidden_sizes, config.log_std_init
    ).to(device)
    parameters = list(agent.parameters())
    # fused: one kernel for all the parameters, not several per tensor (a third of the update).
    optimizer = torch.optim.Adam(parameters, lr=config.learning_rate, eps=1e-5, fused=True)
    buffer = RolloutBuffer(
        config.num_steps,
        envs.single_observation_space,
        action_space,
        num_envs=config.num_envs,
        autoreset_mode=AutoresetMode.SAME_STEP,
        device=device,
        gamma=config.gamma,
        lam=config.gae_lambda,
        seed=config.seed,
    )
    final_lr = 0.0 if config.anneal_lr else config.learning_rate
    learning_rate = LinearSchedule(config.learning_rate, final_lr, config.total_timesteps)
    final_clip = 0.0 if config.anneal_clip else config.clip_coef
    clip_range = LinearSchedule(config.clip_coef, final_clip, config.total_timesteps)
    stateful = {"agent": agent, "optimizer": optimizer, "buffer": buffer, **stateful_wrappers(envs)}

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

    def act_deterministically(observations: np.ndarray) -> np.ndarray:
        """The evaluation policy: the mode of the action distribution."""
        with torch.inference_mode():
            mode = agent.policy(torch.as_tensor(observations, device=device)).mode
        return env_actions(mode.cpu().numpy(), action_space)

    while global_step < config.total_timesteps:
        # ------------------------------------------------------------------ rollout
        buffer.reset()
        for _ in range(config.num_steps):
            with torch.inference_mode():
                obs_tensor = torch.as_tensor(obs, device=device)
                distribution = agent.policy(obs_tensor)
                actions = distribution.sample()
                log_probs = distribution.log_prob(actions)
                values = agent.value(obs_tensor)
            actions_np = actions.cpu().numpy()
            next_obs, rewards, terminated, truncated, info = envs.step(
                env_actions(actions_np, action_space)
            )
            final_values = None
            cut = truncated & ~terminated
            if cut.any():
                # A truncated episode would have gone on: bootstrap from its real final observation.
                final_obs = np.stack(info["final_obs"][cut])
                final_values = np.zeros(config.num_envs, dtype=np.float32)
                with torch.inference_mode():
                    final_values[cut] = (
                        agent.value(torch.as_tensor(final_obs, device=device)).cpu().numpy()
                    )
            buffer.add(
                obs, actions_np, log_probs, rewards, values, terminated, truncated, final_values
            )
            obs = next_obs
            global_step += config.num_envs
            if "episode" in info:
                for i in np.flatnonzero(info["_episode"]):
                    episode = {
                        EPISODIC_RETURN_KEY: info["episode"]["r"][i],
                        "train/episodic_length": info["episode"]["l"][i],
                    }
                    run.log(episode, global_step)

        # ------------------------------------------------------------------ advantages
        with torch.inference_mode():
            last_values = agent.value(torch.as_tensor(obs, device=device))
        buffer.compute_returns_and_advantages(last_values)

        # ------------------------------------------------------------------ update
        lr, clip = learning_rate(global_step), clip_range(global_step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        diagnostics = []
        for epoch in range(config.update_epochs):
            for batch in buffer.minibatches(config.batch_size, normalize_advantages=True):
                distribution = agent.policy(batch.observations)
                log_ratio = distribution.log_prob(batch.actions) - batch.log_probs
                ratio = log_ratio.exp()
                advantages = batch.advantages
                surrogate = torch.min(
                    ratio * advantages, ratio.clamp(1.0 - clip, 1.0 + clip) * advantages
                )
                policy_loss = -surrogate.mean()
                value_loss = F.mse_loss(agent.value(batch.observations), batch.returns)
                loss = policy_loss + config.vf_coef * value_loss
                if config.ent_coef > 0.0:  # a zero bonus would still cost a backward pass
                    loss = loss - config.ent_coef * distribution.entropy().mean()

                optimizer.zero_grad(set_to_none=True)
                torch.autograd.backward(loss)  # loss.backward(), which has no type annotations
                nn.utils.clip_grad_norm_(parameters, config.max_grad_norm, foreach=True)
                optimizer.step()
                if epoch == config.update_epochs - 1:
                    with torch.no_grad():
                        # KL(old || new) estimator of Schulman (http://joschu.net/blog/kl-approx.html).
                        approx_kl = ((ratio - 1.0) - log_ratio).mean()
                        clipped = ((ratio - 1.0).abs() > clip).float().mean()
                        entropy = distribution.entropy().mean()
                        diagnostics.append(
                            torch.stack([policy_loss, value_loss, entropy, approx_kl, clipped])
                        )
        # The last epoch's means: how far the update moved the policy.
        means = torch.stack(diagnostics).mean(dim=0).tolist()
        names = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")
        stats = {f"train/{name}": value for name, value in zip(names, means, strict=True)}
        run.log({**stats, "train/learning_rate": lr, "train/clip_range": clip}, global_step)

        # ------------------------------------------------------------------ evaluate, checkpoint
        finished = global_step >= config.total_timesteps
        if config.eval_every and global_step >= next_eval and not finished:
            with run.untimed():
                result = evaluate(
                    act_deterministically, eval_envs, config.eval_episodes, seed=config.seed
                )
            run.log_evaluation(result, global_step)
            while next_eval <= global_step:
                next_eval += config.eval_every
        if config.checkpoint_every and global_step >= next_checkpoint and not finished:
            while next_checkpoint <= global_step:
                next_checkpoint += config.checkpoint_every
            counters = {"next_eval": next_eval, "next_checkpoint": next_checkpoint}
            run.save_checkpoint(global_step, counters, **stateful)
            # Fresh episodes, as a run resumed from this checkpoint starts (see runs.py).
            obs = seed_env(envs, episode_seed(config.seed, global_step)).obs

    counters = {"next_eval": next_eval, "next_checkpoint": next_checkpoint}
    run.save_checkpoint(global_step, counters, **stateful)
    with run.untimed():
        result = evaluate(
            act_deterministically, eval_envs, config.final_eval_episodes, seed=config.seed
        )
    envs.close()
    eval_envs.close()
    return run.finish(result, global_step)
