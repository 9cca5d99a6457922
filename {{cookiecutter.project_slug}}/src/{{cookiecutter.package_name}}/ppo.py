r"""PPO with a clipped surrogate objective in one file: config, network, training loop.

Schulman, Wolski, Dhariwal, Radford and Klimov, "Proximal Policy Optimization Algorithms",
2017 (https://arxiv.org/abs/1707.06347), with the implementation details of Stable-Baselines3
and CleanRL (Huang et al., "The 37 Implementation Details of Proximal Policy Optimization",
ICLR Blog Track 2022): separate actor and critic MLPs with orthogonal initialisation, GAE
advantages normalised per minibatch, gradient-norm clipping, optional linear annealing of the
learning rate and of the clip range. Discrete (``Discrete``) and continuous (``Box``) actions;
vector observations (a ``Box`` of any shape, flattened) or images (uint8, through the convolutional
torso of Mnih et al. 2015 shared by the actor and the critic, as CleanRL's Atari PPO).

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

From the command line (``python -m {{ cookiecutter.package_name }}.train ppo --help`` lists every field of
:class:`PPOConfig`)::

    python -m {{ cookiecutter.package_name }}.train ppo --env-id CartPole-v1 --seed 3

From Python (a notebook, a test)::

    from {{ cookiecutter.package_name }}.agents import AGENTS
    config = AGENTS.config("ppo", "Pendulum-v1", seed=1, run_dir="runs/pendulum/seed1")
    summary = AGENTS["ppo"].train(config)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from rlcore import runs
from rlcore.buffers import RolloutBuffer
from rlcore.nn import CategoricalHead, GaussianHead, ImageEncoder, is_image_space, layer_init, mlp
from rlcore.schedules import LinearSchedule
from rlcore.wrappers import FrameStack
from torch import nn
from torch.distributions import Distribution
from torch.nn import functional as F

__all__ = ["AGENT", "ENV_DEFAULTS", "ActorCritic", "PPOConfig", "make_policy", "train"]


# ---------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class PPOConfig(runs.RunConfig):
    """PPO's hyperparameters (a Box observation space, vectors or images; Discrete or Box actions).

    The defaults are Stable-Baselines3's generic PPO defaults; ``AGENT.config_for_env`` (and
    the command line) first apply the tuned values of :data:`ENV_DEFAULTS` for the chosen env.
    The run's settings (env, seed, budget, evaluation, logging, device) are
    :class:`rlcore.runs.RunConfig`'s.
    """

    num_steps: runs.PositiveInt = 2048
    """Steps per sub-env in each rollout; a rollout holds num_envs * num_steps transitions."""
    learning_rate: runs.PositiveFloat = 3e-4
    """Adam's learning rate (at the start, if annealed)."""
    anneal_lr: bool = False
    """Decay the learning rate linearly to 0 over total_timesteps (the zoo's lin_)."""
    gamma: runs.UnitFloat = 0.99
    """Discount factor."""
    gae_lambda: runs.UnitFloat = 0.95
    """GAE's lambda: 0 gives one-step TD errors, 1 Monte Carlo returns minus the value."""
    update_epochs: runs.PositiveInt = 10
    """Passes over each rollout."""
    batch_size: runs.PositiveInt = 64
    """Transitions per minibatch (at most num_envs * num_steps)."""
    clip_coef: runs.PositiveFloat = 0.2
    """The surrogate objective's clip range epsilon (at the start, if annealed)."""
    anneal_clip: bool = False
    """Decay the clip range linearly to 0 over total_timesteps."""
    ent_coef: runs.NonNegativeFloat = 0.0
    """Weight of the entropy bonus."""
    vf_coef: runs.NonNegativeFloat = 0.5
    """Weight of the value loss (mean squared error)."""
    max_grad_norm: runs.PositiveFloat = 0.5
    """Global gradient-norm clipping threshold."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layers of the actor's and the critic's tanh MLPs (vector observations)."""
    frame_stack: runs.PositiveInt = 1
    """Observations stacked by rlcore.wrappers.FrameStack (e.g. 4 image frames); 1: none."""
    log_std_init: float = 0.0
    """Initial log standard deviation of the Gaussian policy (continuous actions)."""
    normalize_observation: bool = False
    """Normalise observations by running statistics (saved with the checkpoints)."""
    normalize_reward: bool = False
    """Scale rewards by the running standard deviation of the discounted return."""
    validate_distributions: Annotated[bool, runs.RunSetting] = False
    """torch.distributions' argument checks (a tenth of the training time), to debug a network."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.batch_size > self.num_envs * self.num_steps:
            raise ValueError(
                "PPOConfig.batch_size must be <= num_envs * num_steps = "
                f"{self.num_envs * self.num_steps}, got {self.batch_size}"
            )
        if not self.hidden_sizes or any(size < 1 for size in self.hidden_sizes):
            raise ValueError(
                f"PPOConfig.hidden_sizes must be one or more ints >= 1, got {self.hidden_sizes!r}"
            )

    def env_wrappers(self) -> tuple[runs.EnvWrapper, ...]:
        """The wrappers of each sub-env (training, evaluation, videos, evaluate): add yours here.

        A Gymnasium vector observation wrapper goes in as its single-env twin, e.g.
        ``runs.per_sub_env(gymnasium.wrappers.vector.ResizeObservation, shape=(84, 84))``.
        """
        if self.frame_stack == 1:
            return ()
        return (functools.partial(FrameStack, num_stack=self.frame_stack),)


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
    # Exploration (use_sde), which this agent does not implement. Instead: rewards normalised (the
    # pendulum's reach -16 per step) and minibatches of 256 instead of SB3's default 64 (with 64,
    # 640 updates per rollout, the policy learned and then fell apart). Observations are NOT
    # normalised: the angular velocity's spread doubles as the policy learns to swing (standard
    # deviation 3.5 under random actions, 7 when pumping) and shrinks as it learns to balance, so
    # running statistics keep moving the policy's inputs under it. With them, 8 of seeds 0-9
    # reached a mean return of -250 within 200k steps (one stuck near -550, one fell from -270 to
    # -670); without them, 10 of 10 got there by 74k steps (median 53k) and stayed there (final
    # returns -128 to -224). Annealing the learning rate as well changed nothing that mattered.
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
        "normalize_reward": True,
        "total_timesteps": 200_000,
        "eval_every": 10_240,
    },
{%- if cookiecutter.custom_env == "numpy" %}
    # The project's point mass (envs/point_mass.py): over 10 seeds, 10,240 steps give a mean
    # return of 17.8 (14.4 to 19.8; a random policy -17, a hand-written controller 18.0).
    "{{ cookiecutter.package_name }}/PointMass-v0": {
        "num_envs": 8,
        "num_steps": 64,
        "batch_size": 128,
        "learning_rate": 3e-3,
        "anneal_lr": True,
        "update_epochs": 10,
        "gamma": 0.98,
        "total_timesteps": 50_000,
        "eval_every": 5_120,
    },
{%- endif %}
    # rlcore's PixelCatch (bsuite's Catch drawn as 40 x 40 uint8 frames; import rlcore.envs):
    # image observations through the Nature CNN, CleanRL's Atari PPO scaled down to a small task.
    "rlcore/PixelCatch-v0": {
        "num_envs": 8,
        "num_steps": 32,
        "batch_size": 64,
        "update_epochs": 4,
        "learning_rate": 1e-3,
        "frame_stack": 2,
        "total_timesteps": 16_384,
        "eval_every": 2_048,
    },
    # Every Atari game, ALE/<Game>-v5 (the atari extra; rlcore.wrappers.atari: 4 frames per step,
    # 84 x 84 grey, sticky actions, rewards clipped to their sign for training only; the logs
    # report whole games, unclipped): rl-baselines3-zoo, hyperparams/ppo.yml "atari" (lin_2.5e-4,
    # lin_0.1), a lost life ending the training episode as the zoo's AtariWrapper does. 10M steps
    # are 40M frames; evaluations are whole games of up to 27,000 steps, hence few and rare.
    "ALE/*": {
        "num_envs": 8,
        "num_steps": 128,
        "batch_size": 256,
        "update_epochs": 4,
        "learning_rate": 2.5e-4,
        "anneal_lr": True,
        "clip_coef": 0.1,
        "anneal_clip": True,
        "ent_coef": 0.01,
        "vf_coef": 0.5,
        "frame_stack": 4,
        "terminal_on_life_loss": True,
        "total_timesteps": 10_000_000,
        "eval_every": 250_000,
        "eval_episodes": 5,
        "final_eval_episodes": 30,
        "checkpoint_every": 500_000,
    },
}
"""Tuned hyperparameters per environment, applied over :class:`PPOConfig`'s defaults."""
{%- if cookiecutter.custom_env == "pybullet" %}
# CartPole-v1's task on PyBullet (envs/cartpole_bullet.py): the zoo's CartPole-v1 settings learn
# it as fast (the template's benchmarks/bench_pybullet.py: 10 of 10 seeds reach a mean return
# of 475, at a median of 15,360 steps; Stable-Baselines3's PPO at 16,640).
ENV_DEFAULTS["{{ cookiecutter.package_name }}/CartPoleBullet-v0"] = dict(ENV_DEFAULTS["CartPole-v1"])
{%- endif %}


# ----------------------------------------------------------------------------------- network
class ActorCritic(nn.Module):
    """The actor and the critic: MLPs for vectors (SB3's ``MlpPolicy``), a shared CNN for images.

    Vector observations ``(B, *obs_shape)`` float32 (flattened) go through separate actor and
    critic MLPs (tanh, orthogonal initialisation). Image observations (``rlcore.nn.is_image_space``:
    uint8, ``(H, W, C)``, ``(C, H, W)`` or stacked frames of them) go through one
    ``rlcore.nn.ImageEncoder`` (Nature CNN, 512 features) shared by a linear actor head and a
    linear critic (gain 1), as CleanRL's Atari PPO. ``policy(obs)`` is a distribution over
    actions with batch shape ``(B,)``: a ``Categorical`` (``rlcore.nn.CategoricalHead``, logits
    gain 0.01) or a diagonal Gaussian with a state-independent log std
    (``rlcore.nn.GaussianHead``); ``value(obs)`` the state values ``(B,)``.
    """

    def __init__(
        self,
        observation_space: spaces.Space[Any],
        action_space: spaces.Space[Any],
        hidden_sizes: tuple[int, ...],
        log_std_init: float = 0.0,
    ) -> None:
        super().__init__()
        if not isinstance(observation_space, spaces.Box):
            raise TypeError(f"ActorCritic needs a Box observation space, got {observation_space}")
        self.encoder: nn.Module
        self.critic: nn.Module
        self.actor_torso: nn.Module
        if is_image_space(observation_space):
            self.encoder = ImageEncoder(observation_space.shape)
            features = self.encoder.features_dim
            self.critic = layer_init(nn.Linear(features, 1), gain=1.0)
            self.actor_torso = nn.Identity()
        else:
            self.encoder = nn.Flatten()  # no parameters: the MLPs' names stay SB3-like
            features = hidden_sizes[-1]
            obs_dim = int(np.prod(observation_space.shape))
            self.critic = mlp(obs_dim, hidden_sizes, 1, activation=nn.Tanh, output_gain=1.0)
            self.actor_torso = mlp(obs_dim, hidden_sizes, None, activation=nn.Tanh)
        self.head: CategoricalHead | GaussianHead
        if isinstance(action_space, spaces.Discrete):
            self.head = CategoricalHead(features, int(action_space.n), gain=0.01)
        elif isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
            self.head = GaussianHead(features, action_space.shape[0], log_std_init=log_std_init)
        else:
            raise TypeError(
                f"ActorCritic needs a Discrete or 1-D Box action space, got {action_space}"
            )

    def policy(self, obs: torch.Tensor) -> Distribution:
        """The action distribution in ``obs``."""
        distribution: Distribution = self.head(self.actor_torso(self.encoder(obs)))
        return distribution

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """The state values of ``obs``, shape ``(B,)``."""
        values: torch.Tensor = self.critic(self.encoder(obs)).squeeze(-1)
        return values

    def policy_and_value(self, obs: torch.Tensor) -> tuple[Distribution, torch.Tensor]:
        """Both, the observations encoded once (the CNN's cost, for images)."""
        features = self.encoder(obs)
        distribution: Distribution = self.head(self.actor_torso(features))
        values: torch.Tensor = self.critic(features).squeeze(-1)
        return distribution, values


def env_actions(actions: np.ndarray, action_space: spaces.Space[Any]) -> np.ndarray:
    """What the env takes: Gaussian samples clipped into a ``Box`` (the buffer keeps them raw)."""
    if isinstance(action_space, spaces.Box):
        clipped: np.ndarray = np.clip(actions, action_space.low, action_space.high)
        return clipped
    return actions


def make_policy(
    config: PPOConfig, envs: VectorEnv, device: torch.device
) -> tuple[dict[str, ActorCritic], runs.Policy]:
    """The network for ``envs`` (checkpointed as ``agent``) and the evaluation policy on it.

    The evaluation policy plays the mode of the action distribution. ``train`` builds its
    network here, and ``python -m {{ cookiecutter.package_name }}.evaluate RUN_DIR`` loads a checkpoint into it.
    """
    action_space = envs.single_action_space
    agent = ActorCritic(
        envs.single_observation_space, action_space, config.hidden_sizes, config.log_std_init
    ).to(device)

    def act_deterministically(observations: np.ndarray) -> np.ndarray:
        """The mode of the action distribution."""
        with torch.inference_mode():
            mode = agent.policy(torch.as_tensor(observations, device=device)).mode
        return env_actions(mode.cpu().numpy(), action_space)

    return {"agent": agent}, act_deterministically


# ------------------------------------------------------------------------------ training loop
def train(config: PPOConfig, *, resume: bool = False) -> dict[str, Any]:
    """Train PPO as ``config`` says; return the final evaluation's summary (also in ``eval.json``).

    :class:`rlcore.runs.Run` keeps the books: the run directory, the seeds and torch threads,
    the episode log, the periodic evaluations and checkpoints, an exact resume (``resume``:
    continue the run in ``config.run_dir`` from its latest checkpoint). Besides those
    process-wide settings, this sets torch.distributions' argument validation.
    """
    Distribution.set_default_validate_args(config.validate_distributions)
    run = runs.Run(config, "ppo", resume=resume)
    envs = runs.make_envs(
        config,
        config.num_envs,
        normalize_observation=config.normalize_observation,
        normalize_reward=config.normalize_reward,
        gamma=config.gamma,
    )
    eval_envs = runs.make_envs(config, min(config.eval_episodes, 10), evaluation_of=envs)
    device, action_space = run.device, envs.single_action_space
    networks, act_deterministically = make_policy(config, envs, device)
    agent = networks["agent"]
    # fused: one kernel for all the parameters, not several per tensor (a third of the update).
    optimizer = torch.optim.Adam(agent.parameters(), lr=config.learning_rate, eps=1e-5, fused=True)
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
    obs = run.start(envs, eval_envs, **networks, optimizer=optimizer, buffer=buffer)
    # The loss goes through `model` and steps `optimizer`: with --devices N, Lightning Fabric's DDP
    # wrappers (gradients averaged over the processes); else `agent` itself. The rollout and the
    # checkpoints use `agent`, which shares the parameters.
    model, optimizer = run.setup(agent, optimizer, forward_methods=("policy_and_value",))

    while not run.done:
        # ------------------------------------------------------------------ rollout
        buffer.reset()
        for _ in range(config.num_steps):
            with torch.inference_mode():
                distribution, values = agent.policy_and_value(torch.as_tensor(obs, device=device))
                actions = distribution.sample()
                log_probs = distribution.log_prob(actions)
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
            run.advance(config.num_envs, info)

        # ------------------------------------------------------------------ advantages
        with torch.inference_mode():
            last_values = agent.value(torch.as_tensor(obs, device=device))
        buffer.compute_returns_and_advantages(last_values)

        # ------------------------------------------------------------------ update
        lr, clip = learning_rate(run.step), clip_range(run.step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        diagnostics = []
        for epoch in range(config.update_epochs):
            for batch in buffer.minibatches(config.batch_size, normalize_advantages=True):
                distribution, new_values = model.policy_and_value(batch.observations)
                log_ratio = distribution.log_prob(batch.actions) - batch.log_probs
                ratio = log_ratio.exp()
                advantages = batch.advantages
                surrogate = torch.min(
                    ratio * advantages, ratio.clamp(1.0 - clip, 1.0 + clip) * advantages
                )
                policy_loss = -surrogate.mean()
                value_loss = F.mse_loss(new_values, batch.returns)
                loss = policy_loss + config.vf_coef * value_loss
                if config.ent_coef > 0.0:  # a zero bonus would still cost a backward pass
                    loss = loss - config.ent_coef * distribution.entropy().mean()

                optimizer.zero_grad(set_to_none=True)
                run.backward(loss)  # loss.backward(); with N processes, the gradients averaged
                run.clip_gradients(model, optimizer, config.max_grad_norm)
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
        run.log({**stats, "train/learning_rate": lr, "train/clip_range": clip})

        # ------------------------------------------------------------------ evaluate, checkpoint
        obs = run.after_step(act_deterministically, obs)
    return run.finish(act_deterministically)


AGENT = runs.Agent("ppo", PPOConfig, train, ENV_DEFAULTS, policy=make_policy)
"""PPO as the project's entry points see it (registered in ``agents.py``)."""
