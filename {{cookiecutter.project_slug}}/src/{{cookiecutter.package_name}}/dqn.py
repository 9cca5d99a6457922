r"""DQN in one file: config, network, training loop (discrete actions; vectors or images).

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

Train it with ``python -m {{ cookiecutter.package_name }}.train dqn --env-id CartPole-v1 --seed 3`` (``--help``
lists every field of :class:`DQNConfig`), or from Python::

    from {{ cookiecutter.package_name }}.agents import AGENTS
    summary = AGENTS["dqn"].train(AGENTS.config("dqn", "CartPole-v1", run_dir="runs/dqn/seed0"))
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from rlcore import runs
from rlcore.buffers import ReplayBuffer
from rlcore.nn import ImageEncoder, is_image_space, layer_init, mlp, polyak_update
from rlcore.schedules import LinearSchedule
from rlcore.wrappers import FrameStack
from torch import nn
from torch.nn import functional as F

__all__ = ["AGENT", "ENV_DEFAULTS", "DQNConfig", "QNetwork", "make_policy", "train"]


# ---------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class DQNConfig(runs.RunConfig):
    """DQN's hyperparameters (a Box observation space, vectors or images; Discrete actions).

    The defaults are Stable-Baselines3's generic DQN defaults plus Double DQN;
    ``AGENT.config_for_env`` (and the command line) first apply the tuned values of
    :data:`ENV_DEFAULTS` for the chosen env. The run's settings are
    :class:`rlcore.runs.RunConfig`'s.
    """

    learning_rate: runs.PositiveFloat = 1e-4  # Adam's learning rate (at the start, if annealed).
    anneal_lr: bool = False  # Decay the learning rate linearly to 0 over total_timesteps.
    buffer_size: runs.PositiveInt = 1_000_000  # Transitions the replay buffer holds.
    learning_starts: runs.NonNegativeInt = 100  # Environment steps before the first update.
    batch_size: runs.PositiveInt = 32  # Transitions per minibatch.
    gamma: runs.UnitFloat = 0.99  # Discount factor.
    n_step: runs.PositiveInt = 1  # Steps of the TD target's reward sum (stopped at episode ends).
    double_q: bool = True  # Choose the target's next action with the online network (Double DQN).
    train_freq: runs.PositiveInt = 4  # Environment steps between two rounds of updates.
    gradient_steps: runs.PositiveInt = 1  # Updates in each round.
    target_update_interval: runs.PositiveInt = 10_000  # Environment steps between target updates.
    tau: runs.UnitFloat = 1.0  # Weight of the online network in a target update (1: a copy).
    exploration_fraction: runs.UnitFloat = 0.1  # Part of total_timesteps that epsilon decays over.
    exploration_initial_eps: runs.UnitFloat = 1.0  # Epsilon at the start.
    exploration_final_eps: runs.UnitFloat = 0.05  # Epsilon after the decay.
    max_grad_norm: runs.PositiveFloat = 10.0  # Global gradient-norm clipping threshold.
    hidden_sizes: tuple[int, ...] = (64, 64)  # Hidden layers of the Q-network's MLP (vectors).
    frame_stack: runs.PositiveInt = 1  # Observations stacked (rlcore.wrappers.FrameStack); 1: none.
    normalize_observation: bool = False  # Normalise observations by running statistics.
    log_every: Annotated[int, runs.AtLeast(1), runs.RunSetting] = 1_000  # Steps per train/ row.

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.buffer_size < self.num_envs:
            raise ValueError(
                f"DQNConfig.buffer_size must be >= num_envs ({self.num_envs}), "
                f"got {self.buffer_size}"
            )
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise ValueError(
                f"DQNConfig.hidden_sizes must be one or more ints >= 1, got {self.hidden_sizes!r}"
            )

    def env_wrappers(self) -> tuple[runs.EnvWrapper, ...]:
        """The wrappers of each sub-env (training, evaluation, videos, evaluate): add yours here.

        A Gymnasium vector observation wrapper goes in as its single-env twin, e.g.
        ``runs.per_sub_env(gymnasium.wrappers.vector.ResizeObservation, shape=(84, 84))``. With
        image frames stacked here, the replay buffer stores each frame once.
        """
        if self.frame_stack == 1:
            return ()
        return (functools.partial(FrameStack, num_stack=self.frame_stack),)


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
    # Every Atari game, ALE/<Game>-v5 (the atari extra; rlcore.wrappers.atari: 4 frames per step,
    # 84 x 84 grey, sticky actions, rewards clipped to their sign for training only; the logs
    # report whole games, unclipped): rl-baselines3-zoo, hyperparams/dqn.yml "atari", a lost life
    # ending the training episode as the zoo's AtariWrapper does, plus Double DQN (the config's
    # default). The replay buffer stores each of the 4 stacked frames once: 100k transitions take
    # about 0.75 GB instead of 5.6 GB. Evaluations are whole games of up to 27,000 steps.
    "ALE/*": {
        "buffer_size": 100_000,
        "learning_rate": 1e-4,
        "batch_size": 32,
        "learning_starts": 100_000,
        "target_update_interval": 1_000,
        "train_freq": 4,
        "gradient_steps": 1,
        "exploration_fraction": 0.1,
        "exploration_final_eps": 0.01,
        "frame_stack": 4,
        "terminal_on_life_loss": True,
        "total_timesteps": 10_000_000,
        "eval_every": 250_000,
        "eval_episodes": 5,
        "final_eval_episodes": 30,
        "checkpoint_every": 500_000,
    },
{%- if cookiecutter.custom_env == "numpy" %}
    # The project's point mass (envs/point_mass.py): the CartPole settings' shape; over 5 seeds,
    # 50k steps give a mean return of 18.3 (18.0 to 18.6; a random policy -17).
    "{{ cookiecutter.package_name }}/PointMass-v0": {
        "num_envs": 4,
        "learning_rate": 2e-3,
        "anneal_lr": True,
        "n_step": 3,
        "batch_size": 64,
        "buffer_size": 50_000,
        "learning_starts": 1_000,
        "gamma": 0.98,
        "target_update_interval": 10,
        "train_freq": 256,
        "gradient_steps": 64,
        "exploration_fraction": 0.2,
        "exploration_final_eps": 0.05,
        "total_timesteps": 50_000,
        "eval_every": 5_000,
    },
{%- endif %}
}
"""Tuned hyperparameters per environment, applied over :class:`DQNConfig`'s defaults."""
{%- if cookiecutter.custom_env == "pybullet" %}
# CartPole-v1's task on PyBullet (envs/cartpole_bullet.py): CartPole-v1's settings learn it too
# (over 5 seeds, 50k steps give a final mean return of 500, 500, 500, 418 and 414).
ENV_DEFAULTS["{{ cookiecutter.package_name }}/CartPoleBullet-v0"] = dict(ENV_DEFAULTS["CartPole-v1"])
{%- endif %}


# ----------------------------------------------------------------------------------- network
class QNetwork(nn.Module):
    """Q-values of every action: observations ``(B, *obs_shape)`` -> ``(B, num_actions)``.

    Vector observations (float32, flattened): a ReLU MLP (``rlcore.nn.mlp``, orthogonal
    initialisation), as SB3's DQN ``MlpPolicy``. Images (``rlcore.nn.is_image_space``: uint8,
    ``(H, W, C)``, ``(C, H, W)`` or stacked frames of them): the Nature DQN, an
    ``rlcore.nn.ImageEncoder`` (512 features) and a linear layer.
    """

    def __init__(
        self,
        observation_space: spaces.Space[Any],
        action_space: spaces.Space[Any],
        hidden_sizes: tuple[int, ...],
    ) -> None:
        super().__init__()
        if not isinstance(observation_space, spaces.Box):
            raise TypeError(f"QNetwork needs a Box observation space, got {observation_space}")
        if not isinstance(action_space, spaces.Discrete):
            raise TypeError(f"QNetwork needs a Discrete action space, got {action_space}")
        self.num_actions = int(action_space.n)
        self.encoder: nn.Module
        self.q: nn.Module
        if is_image_space(observation_space):
            self.encoder = ImageEncoder(observation_space.shape)
            self.q = layer_init(nn.Linear(self.encoder.features_dim, self.num_actions), gain=1.0)
        else:
            self.encoder = nn.Flatten()  # no parameters: the MLP's names stay SB3-like
            obs_dim = int(np.prod(observation_space.shape))
            self.q = mlp(obs_dim, hidden_sizes, self.num_actions, activation=nn.ReLU)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q-values ``(B, num_actions)``."""
        values: torch.Tensor = self.q(self.encoder(obs))
        return values


def make_policy(
    config: DQNConfig, envs: VectorEnv, device: torch.device
) -> tuple[dict[str, QNetwork], runs.Policy]:
    """The Q-network for ``envs`` (checkpointed as ``q_network``) and the greedy policy on it.

    ``train`` builds its network here, and ``python -m {{ cookiecutter.package_name }}.evaluate RUN_DIR`` loads
    a checkpoint into it.
    """
    q_network = QNetwork(
        envs.single_observation_space, envs.single_action_space, config.hidden_sizes
    ).to(device)

    def act_greedily(observations: np.ndarray) -> np.ndarray:
        """The action of the highest Q-value."""
        with torch.inference_mode():
            q_values = q_network(torch.as_tensor(observations, device=device))
        actions: np.ndarray = q_values.argmax(dim=1).cpu().numpy()
        return actions

    return {"q_network": q_network}, act_greedily


# ------------------------------------------------------------------------------ training loop
def train(config: DQNConfig, *, resume: bool = False) -> dict[str, Any]:
    """Train DQN as ``config`` says and return the summary of its final evaluation.

    The algorithm is here; :class:`rlcore.runs.Run` does the rest (run directory, RNGs, logs,
    evaluations, checkpoints and ``resume`` from the latest one of ``config.run_dir``).
    """
    run = runs.Run(config, "dqn", resume=resume)
    # Rewards are not normalised: the replay buffer would mix rewards of different scales.
    envs = runs.make_envs(
        config, config.num_envs, normalize_observation=config.normalize_observation
    )
    eval_envs = runs.make_envs(config, min(config.eval_episodes, 10), evaluation_of=envs)
    device = run.device
    networks, act_greedily = make_policy(config, envs, device)
    q_network = networks["q_network"]
    target_network = copy.deepcopy(q_network)
    # fused: one kernel for all the parameters instead of several per tensor.
    optimizer = torch.optim.Adam(q_network.parameters(), lr=config.learning_rate, fused=True)
    observation_space = envs.single_observation_space
    buffer = ReplayBuffer(
        config.buffer_size,
        observation_space,
        envs.single_action_space,
        n_step=config.n_step,
        gamma=config.gamma,
        num_envs=config.num_envs,
        autoreset_mode=AutoresetMode.SAME_STEP,
        device=device,
        seed=config.seed,
        # Stacked image frames: each frame once, not 2 * frame_stack times per transition.
        store_frames_once=config.frame_stack > 1 and is_image_space(observation_space),
    )
    final_lr = 0.0 if config.anneal_lr else config.learning_rate
    learning_rate = LinearSchedule(config.learning_rate, final_lr, config.total_timesteps)
    exploration_steps = max(config.exploration_fraction * config.total_timesteps, 1.0)
    epsilon = LinearSchedule(
        config.exploration_initial_eps, config.exploration_final_eps, exploration_steps
    )
    obs = run.start(
        envs,
        eval_envs,
        **networks,
        target_network=target_network,
        optimizer=optimizer,
        buffer=buffer,
    )
    # The loss goes through `model` and steps `optimizer`: with --devices N, Lightning Fabric's DDP
    # wrappers (gradients averaged over the processes); else `q_network` itself.
    model, optimizer = run.setup(q_network, optimizer)
    num_envs, num_actions = config.num_envs, q_network.num_actions

    while not run.done:
        # ------------------------------------------------------------------ act (epsilon-greedy)
        explore = torch.rand(num_envs) < epsilon(run.step)
        if bool(explore.all()):
            actions = torch.randint(num_actions, (num_envs,))
        else:
            with torch.inference_mode():
                actions = q_network(torch.as_tensor(obs, device=device)).argmax(dim=1).cpu()
            if bool(explore.any()):
                actions = torch.where(explore, torch.randint(num_actions, (num_envs,)), actions)
        actions_np = actions.numpy()
        next_obs, rewards, terminated, truncated, info = envs.step(actions_np)
        previous_step = run.step
        run.advance(num_envs, info)
        # The transition's next observation is the real final one where an episode ended.
        ended = terminated | truncated
        real_next_obs = next_obs
        if ended.any():
            real_next_obs = next_obs.copy()
            real_next_obs[ended] = np.stack(info["final_obs"][ended])
        # A periodic checkpoint after this step cuts every episode short (run.after_step): the
        # buffer records the cut as a truncation, so that no n-step return runs across it.
        cut = truncated | run.checkpoint_due
        buffer.add(obs, real_next_obs, actions_np, rewards, terminated, cut)
        obs = next_obs

        # ------------------------------------------------------------------ target network
        if (
            run.step // config.target_update_interval
            > previous_step // config.target_update_interval
        ):
            polyak_update(target_network, q_network, config.tau)

        # ------------------------------------------------------------------ update
        due = run.step // config.train_freq > previous_step // config.train_freq
        # A buffer holds a batch unless a resume had to start it empty (rlcore warns): refill it.
        if due and run.step > config.learning_starts and len(buffer) >= config.batch_size:
            lr = learning_rate(run.step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            # The round's minibatches in one draw (the distribution of one draw per update: nothing
            # is added in between), and the target network's values of all of them in one forward
            # pass: it changes between rounds only.
            size = config.batch_size
            sampled = buffer.sample(size * config.gradient_steps)
            with torch.no_grad():
                next_q_target = torch.split(target_network(sampled.next_observations), size)
            losses = []
            for batch, next_q in zip(sampled.split(size), next_q_target, strict=True):
                with torch.no_grad():
                    if config.double_q:
                        next_actions = q_network(batch.next_observations).argmax(
                            dim=1, keepdim=True
                        )
                        next_value = next_q.gather(1, next_actions).squeeze(1)
                    else:
                        next_value = next_q.max(dim=1).values
                    td_target = batch.rewards + batch.discounts * (~batch.terminated) * next_value
                q = (
                    model(batch.observations)
                    .gather(1, batch.actions.long().unsqueeze(1))
                    .squeeze(1)
                )
                loss = F.smooth_l1_loss(q, td_target)

                optimizer.zero_grad(set_to_none=True)
                run.backward(loss)  # loss.backward(); with N processes, the gradients averaged
                run.clip_gradients(model, optimizer, config.max_grad_norm)
                optimizer.step()
                losses.append(loss.detach())
            # A row for the first round after each multiple of log_every steps, not one per round
            # (with Atari's train_freq of 4, 2.5M rows in 10M steps); a function of the step
            # alone, so a resumed run logs the same rows.
            if run.step // config.log_every > (run.step - config.train_freq) // config.log_every:
                stats = {
                    "train/td_loss": torch.stack(losses).mean().item(),
                    "train/q_value": q.detach().mean().item(),
                    "train/learning_rate": lr,
                    "train/epsilon": epsilon(run.step),
                }
                run.log(stats)

        # ------------------------------------------------------------------ evaluate, checkpoint
        obs = run.after_step(act_greedily, obs)
    return run.finish(act_greedily)


AGENT = runs.Agent("dqn", DQNConfig, train, ENV_DEFAULTS, policy=make_policy)
"""DQN as the project's entry points see it (registered in ``agents.py``)."""
