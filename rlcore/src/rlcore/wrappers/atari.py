"""Atari 2600 games (the Arcade Learning Environment, ``ale-py``) as deep RL papers train on them.

The evaluation protocol of Machado et al., "Revisiting the Arcade Learning Environment:
Evaluation Protocols and Open Problems for General Agents", JAIR 2018
(https://arxiv.org/abs/1709.06009), with the preprocessing of Mnih et al., "Human-level control
through deep reinforcement learning", Nature 2015, as rl-baselines3-zoo and CleanRL use them:

* :data:`ENV_KWARGS`: the game made with ``frameskip=1`` (the preprocessing skips frames, and
  Gymnasium's ``AtariPreprocessing`` refuses an env that already does), episodes cut at
  108,000 frames (30 minutes of play); the id's own sticky actions are kept
  (``ALE/<Game>-v5``: the last action repeated with probability 0.25 on each frame).
* :func:`preprocessing`: Gymnasium's ``AtariPreprocessing`` on each env: up to 30 no-op actions
  at reset, each action repeated on :data:`FRAME_SKIP` frames with the last two max-pooled,
  84 x 84 greyscale ``uint8`` frames. An agent stacks 4 of them (:class:`rlcore.wrappers.FrameStack`)
  and reads them with the Nature CNN (:class:`rlcore.nn.ImageEncoder`).
* :func:`training_wrappers`: for the training envs only, rewards clipped to their sign and,
  as an option, a lost life as the end of an episode (:class:`TerminalOnLifeLoss`). They wrap
  the vector env outside its episode statistics, so the logs and the evaluations report the
  scores of whole games, unclipped.

:func:`rlcore.runs.make_envs` applies all of this to any Atari id (:func:`is_atari`); this module
needs ``ale-py`` and OpenCV only when such an env is made (``pip install 'rlcore[atari]'``).
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

__all__ = [
    "ENV_KWARGS",
    "FRAME_SKIP",
    "TerminalOnLifeLoss",
    "is_atari",
    "preprocessing",
    "register_atari_envs",
    "training_wrappers",
]

FRAME_SKIP = 4
"""Emulator frames per agent step: an agent step is 4 frames (the logs count both)."""

ENV_KWARGS: dict[str, Any] = {"frameskip": 1, "max_num_frames_per_episode": 108_000}
"""``gymnasium.make`` arguments of an Atari game: no frame skipping in the emulator, at most
108,000 frames (27,000 agent steps) per episode, a truncation (Machado et al. 2018)."""

INSTALL_HINT = (
    "install the atari extra: pip install 'rlcore[atari]' (in a generated project: pip install -e '.[atari]')"
)


def register_atari_envs() -> None:
    """Register the ALE's ids (``ALE/Pong-v5``, ...) with Gymnasium: ``import ale_py``.

    Raises:
        ImportError: naming the extra to install if ``ale-py`` (or OpenCV, which
            ``AtariPreprocessing`` resizes frames with) is missing.
    """
    for module in ("ale_py", "cv2"):
        try:
            imported = importlib.import_module(module)
        except ImportError as error:
            raise ImportError(f"Atari games need {module} ({error}): {INSTALL_HINT}") from None
        if module == "ale_py":
            gym.register_envs(imported)


def is_atari(env_id: str) -> bool:
    """Whether ``env_id`` (``[module:]id``) names an Atari game: an ``ALE/`` id, or an id of ``ale_py``'s."""
    name = env_id.split(":", 1)[-1]
    if name.startswith("ALE/"):
        return True
    spec = gym.registry.get(name)
    entry_point = getattr(spec, "entry_point", None)
    return isinstance(entry_point, str) and entry_point.startswith("ale_py")


def preprocessing(noop_max: int = 30, screen_size: int = 84) -> tuple[Any, ...]:
    """The single-env wrappers of an Atari game, innermost first: Gymnasium's ``AtariPreprocessing``.

    Observations become ``uint8`` frames of shape ``(screen_size, screen_size)``; each step
    repeats the action on :data:`FRAME_SKIP` frames and returns the max of the last two. Its own
    ``terminal_on_life_loss`` is off: it would restart the whole game at each lost life
    (:class:`TerminalOnLifeLoss` does not).
    """
    from gymnasium.wrappers import AtariPreprocessing

    return (
        functools.partial(
            AtariPreprocessing,
            noop_max=noop_max,
            frame_skip=FRAME_SKIP,
            screen_size=screen_size,
            terminal_on_life_loss=False,
            grayscale_obs=True,
            scale_obs=False,
        ),
    )


def training_wrappers(envs: VectorEnv, *, terminal_on_life_loss: bool) -> VectorEnv:
    """``envs`` wrapped for training: rewards clipped to their sign, and lost lives as episode ends if asked.

    Wrap the vector env outside ``RecordEpisodeStatistics``, which then keeps counting whole
    games and their unclipped scores.
    """
    from gymnasium.wrappers.vector import TransformReward

    if terminal_on_life_loss:
        envs = TerminalOnLifeLoss(envs)
    return TransformReward(envs, np.sign)


class TerminalOnLifeLoss(VectorWrapper):
    """A lost life ends the learner's episode (``terminated``); the game itself goes on.

    Mnih et al. (2015) and rl-baselines3-zoo's ``AtariWrapper`` train this way: the value of a
    state right before a lost life is not bootstrapped from the next one. Where a sub-env
    (autoreset in the same step, ``AutoresetMode.SAME_STEP``) loses a life without its game
    ending, the step reports ``terminated=True`` and the observation after the loss as
    ``info["final_obs"]`` too; the next step continues from it, as SB3's ``EpisodicLifeEnv``
    does with a no-op step. Wrap the vector env outside ``RecordEpisodeStatistics``, which then
    logs whole games. Machado et al. (2018) recommend against it for evaluation: evaluation
    envs never have it.

    Raises:
        ValueError: if the vector env does not autoreset in the same step, or a sub-env does not
            report ``info["lives"]`` (ALE games do).
    """

    def __init__(self, env: VectorEnv) -> None:
        super().__init__(env)
        mode = env.metadata.get("autoreset_mode")
        if mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                "TerminalOnLifeLoss: expected a vector env that autoresets in the same step "
                f"(vector_kwargs={{'autoreset_mode': AutoresetMode.SAME_STEP}}), got autoreset_mode {mode}"
            )
        self._lives = np.zeros(self.num_envs, dtype=np.int64)

    def _read_lives(self, info: dict[str, Any]) -> np.ndarray:
        if "lives" not in info:
            raise ValueError(
                "TerminalOnLifeLoss: the sub-envs report no info['lives']; expected an Atari game (ALE) "
                f"or another env that counts lives, got info keys {sorted(info)}"
            )
        lives: np.ndarray = np.asarray(info["lives"], dtype=np.int64)
        return lives

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        lives = self._read_lives(info)
        mask = info.get("_lives", np.ones(self.num_envs, dtype=bool))
        self._lives = np.where(mask, lives, self._lives)
        return obs, info

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        lives = self._read_lives(info)
        ended = np.asarray(terminated) | np.asarray(truncated)
        lost = (lives < self._lives) & ~ended
        self._lives = lives  # an ended game's entry holds its next game's lives (reset in this step)
        if lost.any():
            terminated = np.asarray(terminated) | lost
            final_obs = info.get("final_obs")
            if final_obs is None:
                final_obs = np.full(self.num_envs, None, dtype=object)
            final_mask = np.asarray(info.get("_final_obs", np.zeros(self.num_envs, dtype=bool))).copy()
            final_obs = np.array(final_obs, dtype=object, copy=True)
            for i in np.flatnonzero(lost):
                final_obs[i] = np.array(obs[i], copy=True)
            final_mask |= lost
            info = {**info, "final_obs": final_obs, "_final_obs": final_mask}
        return obs, rewards, terminated, truncated, info
