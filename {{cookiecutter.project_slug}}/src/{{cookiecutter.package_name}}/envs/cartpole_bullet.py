"""A cart-pole simulated by PyBullet, written the way a Gymnasium 1.x env should be.

:class:`CartPoleBulletEnv` is Gymnasium's ``CartPole-v1`` task with its equations of motion
solved by the PyBullet physics engine instead of written out by hand. Copy it to start an env of
your own on PyBullet (``pybullet_envs``, the envs that ship with PyBullet, still use the old
``gym`` API). Importing the package registers it, with a 500-step time limit, as
``{{ cookiecutter.package_name }}/CartPoleBullet-v0``::

    import gymnasium as gym
    import {{ cookiecutter.package_name }}

    env_id = "{{ cookiecutter.package_name }}/CartPoleBullet-v0"
    env = gym.make(env_id, render_mode="rgb_array")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    frame = env.render()  # (240, 320, 3) uint8
    env.close()

The task (Barto, Sutton and Anderson, "Neuronlike adaptive elements that can solve difficult
learning control problems", IEEE Transactions on Systems, Man, and Cybernetics, 1983,
https://doi.org/10.1109/TSMC.1983.6313077): keep a pole upright on a cart by pushing the cart
left or right. ``pybullet_data``'s ``cartpole.urdf`` has CartPole-v1's masses and lengths (a
1 kg cart on a rail, a 0.1 kg pole 1 m long), and an episode starts from the state CartPole-v1
starts from with the same seed. The two then drift apart only by their integration errors
(CartPole-v1 takes explicit Euler steps of 0.02 s, PyBullet two semi-implicit Euler steps of
0.01 s): after 0.2 s of random pushes the positions agree within 0.05 and the velocities within
0.1. One env step costs about 20 us (50,000 steps/s; CartPole-v1's costs half that).

What a Gymnasium env promises, and how this one keeps it:

* **Spaces.** ``observation_space`` is a float32 ``Box`` of shape ``(4,)``: cart position (m),
  cart velocity (m/s), pole angle (rad; 0 is upright, positive leans towards +x) and pole
  angular velocity (rad/s), within CartPole-v1's bounds (+-4.8 m, +-24 degrees, velocities
  unbounded). ``action_space`` is ``Discrete(2)``: 0 pushes the cart towards -x, 1 towards +x,
  with :attr:`~CartPoleBulletEnv.force` newtons during one env step of 0.02 s. Every step
  rewards 1.
* **Seeding.** All randomness comes from ``self.np_random``, which ``reset(seed=...)`` seeds
  (through ``super().reset(seed=seed)``); ``reset()`` without a seed continues the generator.
  So the same seed and the same actions give the same trajectory, bit for bit. Never draw from
  ``np.random`` or ``random`` in an env: they are shared by the whole process.
* **terminated, truncated.** ``terminated`` is True when the pole leans more than 12 degrees or
  the cart leaves +-2.4 m: the task has ended, and no reward follows (the agent's target is the
  last reward alone). The env never truncates: the registration's ``max_episode_steps=500``
  wraps it in ``gymnasium.wrappers.TimeLimit``, which sets ``truncated`` after 500 steps. A
  truncated episode was cut short, not ended; the agents bootstrap it from the value of its
  final observation. Keeping the two apart is what makes a time limit harmless.
* **Rendering.** The render mode is chosen when the env is made (``render_mode="rgb_array"``);
  ``render()`` then returns the current frame as a ``(height, width, 3)`` uint8 array from a
  fixed camera that sees the whole track. PyBullet's software renderer (TinyRenderer) draws it,
  with no display and no GPU, so evaluation videos are recorded on headless machines
  (``--capture-video``). Without a render mode, ``render()`` warns and returns None.
* **close.** ``close()`` disconnects the env's simulation; a second call does nothing. An env
  dropped without ``close()`` is disconnected when it is garbage-collected.
* **One simulation per env.** PyBullet's functions act on a *physics client*, one simulation;
  called without ``physicsClientId`` they act on the process's first one, shared by everyone.
  Each env connects its own client in ``DIRECT`` mode (in-process, headless) and passes its id
  on every call, so several envs in one process (a ``SyncVectorEnv``, an evaluation env beside
  the training envs) never touch each other's state. (``pybullet_utils.bullet_client.BulletClient``
  does the same, but prints ``argv[0]=`` at each connection; importing pybullet prints its build
  time once, from C, which this leaves as it is.)

Changing the task:

* Another robot: load another URDF in :meth:`~CartPoleBulletEnv._load_robot`, from
  ``pybullet_data`` (``pendulum5.urdf``, ``kuka_iiwa/model.urdf``, ``franka_panda/panda.urdf``,
  ``racecar/racecar.urdf``) or your own. ``getNumJoints`` and ``getJointInfo`` give the joint
  indices; switch off the default velocity motor of each joint you drive; observe what the task
  needs (``getJointStates``, ``getBasePositionAndOrientation``, ``getLinkState``) and give
  ``observation_space`` bounds that hold it. A robot that touches the ground (``plane.urdf``)
  needs shorter physics steps (PyBullet's default is 1/240 s) and keeps contact state from step
  to step: reset it with ``resetSimulation`` and a reload (about 0.5 ms here) so that no episode
  inherits the last one's contacts.
* Continuous actions: ``action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)``, the class
  ``gym.Env[NDArray[np.float32], NDArray[np.float32]]``, and in ``step`` the force
  ``self.force * float(np.clip(action[0], -1.0, 1.0))`` (an agent's Gaussian samples can leave the
  Box). The example PPO agent handles both kinds of action spaces.
* The physics: the class attributes (force, time step, thresholds) can be changed in a
  subclass; a torque set with ``TORQUE_CONTROL`` lasts for the next ``stepSimulation`` only, so
  it is set again before each physics step.
"""

from __future__ import annotations

import math
import weakref
from pathlib import Path
from typing import Any, ClassVar, SupportsFloat

import gymnasium as gym
import numpy as np
import pybullet
import pybullet_data
from gymnasium import spaces
from numpy.typing import NDArray

__all__ = ["CartPoleBulletEnv"]

CART_JOINT = 0
"""``cartpole.urdf``'s prismatic joint ``slider_to_cart``: the cart's position along x."""
POLE_JOINT = 1
"""``cartpole.urdf``'s revolute joint ``cart_to_pole``: the pole's angle about y."""


class CartPoleBulletEnv(gym.Env[NDArray[np.float32], np.int64]):
    """CartPole-v1's task on PyBullet's ``cartpole.urdf``; the module docstring explains it.

    Args:
        render_mode: ``"rgb_array"`` for :meth:`render` to return frames, or None.
        width: frame width in pixels.
        height: frame height in pixels.

    Raises:
        ValueError: if ``render_mode`` is not None or ``"rgb_array"``, or a frame size is not
            a positive int.
    """

    # A mutable class attribute (RUF012), as Gymnasium's base class declares it.
    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 50}  # noqa: RUF012

    force: ClassVar[float] = 10.0
    """Newtons on the cart while an action lasts (CartPole-v1's ``force_mag``)."""
    time_step: ClassVar[float] = 0.02
    """Seconds of simulated time per env step (CartPole-v1's ``tau``; ``1 / render_fps``)."""
    physics_steps: ClassVar[int] = 2
    """PyBullet steps per env step. Their length, ``time_step / physics_steps``, sets the
    integration error: a free pole swinging for 10 s loses 7% of its energy with one step of
    0.02 s, 4% with two of 0.01 s and 2% with four. All are stable; a PyBullet step of this
    robot costs about 3 us."""
    x_threshold: ClassVar[float] = 2.4
    """The episode terminates when the cart is further than this from the centre (m)."""
    theta_threshold: ClassVar[float] = math.radians(12.0)
    """The episode terminates when the pole leans more than this (rad)."""
    initial_bound: ClassVar[float] = 0.05
    """Each of the four state variables starts uniform in ``[-initial_bound, initial_bound]``."""

    def __init__(self, render_mode: str | None = None, width: int = 320, height: int = 240) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"CartPoleBulletEnv: render_mode must be None or one of "
                f"{self.metadata['render_modes']}, got {render_mode!r}"
            )
        for name, size in (("width", width), ("height", height)):
            if size < 1:
                raise ValueError(f"CartPoleBulletEnv: {name} must be an int >= 1, got {size!r}")
        self.render_mode = render_mode
        self.width, self.height = width, height

        # The bounds of CartPole-v1: twice the termination thresholds, so that the observation
        # that terminates an episode is still inside the space.
        high = np.array(
            [2 * self.x_threshold, np.inf, 2 * self.theta_threshold, np.inf], dtype=np.float32
        )
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        self.action_space = spaces.Discrete(2)

        self._client: int = pybullet.connect(pybullet.DIRECT)
        if self._client < 0:
            raise RuntimeError(
                f"CartPoleBulletEnv: pybullet.connect(DIRECT) failed (client id {self._client}); "
                "too many envs open at once? Close the envs you no longer use"
            )
        # close() calls it; so does the garbage collector if close() never came. Once only.
        self._disconnect = weakref.finalize(self, pybullet.disconnect, physicsClientId=self._client)
        pybullet.setGravity(0.0, 0.0, -9.8, physicsClientId=self._client)
        pybullet.setTimeStep(self.time_step / self.physics_steps, physicsClientId=self._client)
        self._robot = self._load_robot()
        # A fixed camera in front of the rail, +x to the right, that sees the cart anywhere
        # within +-2.4 m at 4:3. These two are plain maths: they need no physics client.
        self._view_matrix = pybullet.computeViewMatrix(
            cameraEyePosition=[0.0, -5.0, 0.5],
            cameraTargetPosition=[0.0, 0.0, 0.5],
            cameraUpVector=[0.0, 0.0, 1.0],
        )
        self._projection_matrix = pybullet.computeProjectionMatrixFOV(
            fov=45.0, aspect=width / height, nearVal=0.1, farVal=20.0
        )

    def _load_robot(self) -> int:
        """Load the cart-pole, its joints free (no motors, no damping); return its body id."""
        client = self._client
        urdf = Path(pybullet_data.getDataPath()) / "cartpole.urdf"
        robot: int = pybullet.loadURDF(str(urdf), physicsClientId=client)
        for link in (-1, CART_JOINT, POLE_JOINT):
            # PyBullet damps every link's velocity a little by default; the task has no damping.
            pybullet.changeDynamics(
                robot, link, linearDamping=0.0, angularDamping=0.0, physicsClientId=client
            )
        for joint in (CART_JOINT, POLE_JOINT):
            # Each joint of a URDF comes with a velocity motor that holds it still: switch it off.
            pybullet.setJointMotorControl2(
                robot, joint, pybullet.VELOCITY_CONTROL, force=0.0, physicsClientId=client
            )
        # The URDF's white pole would vanish against the renderer's white background: paint it
        # CartPole-v1's brown (the colour is only seen by the camera).
        pybullet.changeVisualShape(
            robot, POLE_JOINT, rgbaColor=[0.79, 0.6, 0.4, 1.0], physicsClientId=client
        )
        return robot

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Start an episode from a random state near upright; ``seed`` reseeds ``np_random``.

        ``options`` is accepted, as Gymnasium's API requires, and unused. The joint positions
        and velocities are the simulation's whole state (nothing touches anything, so there is
        no contact state to carry over): setting them starts the episode afresh, bit for bit,
        in 15 us. ``resetSimulation`` and a reload would take 0.5 ms.
        """
        super().reset(seed=seed)
        bound = self.initial_bound
        # CartPole-v1's draw, in its order: the same seed starts the same state.
        x, x_dot, theta, theta_dot = self.np_random.uniform(-bound, bound, size=4)
        client = self._client
        pybullet.resetJointState(self._robot, CART_JOINT, x, x_dot, physicsClientId=client)
        pybullet.resetJointState(self._robot, POLE_JOINT, theta, theta_dot, physicsClientId=client)
        obs, _ = self._observe()
        return obs, {}

    def step(
        self, action: np.int64
    ) -> tuple[NDArray[np.float32], SupportsFloat, bool, bool, dict[str, Any]]:
        """Push the cart for ``time_step`` seconds; reward 1; terminate when the pole falls."""
        if action not in (0, 1):
            raise ValueError(f"CartPoleBulletEnv.step: action must be 0 or 1, got {action!r}")
        force = self.force if action == 1 else -self.force
        client = self._client
        for _ in range(self.physics_steps):
            # TORQUE_CONTROL's force (a force, on a prismatic joint) lasts for one physics step.
            pybullet.setJointMotorControl2(
                self._robot,
                CART_JOINT,
                pybullet.TORQUE_CONTROL,
                force=force,
                physicsClientId=client,
            )
            pybullet.stepSimulation(physicsClientId=client)
        obs, terminated = self._observe()
        return obs, 1.0, terminated, False, {}

    def _observe(self) -> tuple[NDArray[np.float32], bool]:
        """The observation, and whether the pole or the cart is past its threshold."""
        cart, pole = pybullet.getJointStates(
            self._robot, (CART_JOINT, POLE_JOINT), physicsClientId=self._client
        )
        x, x_dot, theta, theta_dot = cart[0], cart[1], pole[0], pole[1]
        obs = np.array((x, x_dot, theta, theta_dot), dtype=np.float32)
        # Tested on the simulation's float64 state, as CartPole-v1 tests its own.
        terminated = bool(abs(x) > self.x_threshold or abs(theta) > self.theta_threshold)
        return obs, terminated

    def render(self) -> NDArray[np.uint8] | None:
        """The current frame, ``(height, width, 3)`` uint8, with ``render_mode="rgb_array"``."""
        if self.render_mode is None:
            gym.logger.warn(
                "CartPoleBulletEnv.render: no render_mode was given, so there is nothing to "
                'render; make the env with render_mode="rgb_array"'
            )
            return None
        _, _, rgba, _, _ = pybullet.getCameraImage(
            self.width,
            self.height,
            viewMatrix=self._view_matrix,
            projectionMatrix=self._projection_matrix,
            renderer=pybullet.ER_TINY_RENDERER,
            flags=pybullet.ER_NO_SEGMENTATION_MASK,
            physicsClientId=self._client,
        )
        # A numpy array if PyBullet was built with numpy, a flat sequence otherwise.
        pixels = np.asarray(rgba, dtype=np.uint8).reshape(self.height, self.width, 4)
        return np.ascontiguousarray(pixels[:, :, :3])

    def close(self) -> None:
        """Disconnect the simulation; later calls do nothing."""
        self._disconnect()
