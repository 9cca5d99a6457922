"""rlcore._autoreset: the one tracker of vector-env resets that wrappers, buffers and evaluate share.

Checked against a naive loop, its two ways in (wrappers' on_step, buffers' transitions/advance)
against each other, and, through every vector wrapper, the order of its bookkeeping around a
``reset`` that the inner env rejects: such a reset must change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.wrappers import TimeLimit

import rlcore.envs
from rlcore._autoreset import AutoresetTracker, final_observations, with_final_observations
from rlcore.testing import GenericTestEnv, make_vector_env
from rlcore.wrappers import vector


@pytest.mark.parametrize("mode", list(AutoresetMode), ids=lambda m: m.name)
def test_autoreset_tracker_against_a_naive_loop(mode):
    num_envs = 5
    tracker = AutoresetTracker.of(make_vector_env(GenericTestEnv, num_envs, mode))
    rng = np.random.default_rng(4)
    pending = np.zeros(num_envs, dtype=bool)  # NEXT_STEP: whose next step is an autoreset step
    handed_out = []  # every mask returned so far, with a copy: the tracker must never change them
    tracker.on_reset()
    for _ in range(300):
        if rng.random() < 0.1:
            mask = rng.random(num_envs) < 0.5
            reset = tracker.reset_rows({"reset_mask": mask})
            np.testing.assert_array_equal(reset, mask)
            tracker.on_reset(reset)
            pending &= ~mask
        terminated = rng.random(num_envs) < 0.15
        truncated = rng.random(num_envs) < 0.1
        started, transition = tracker.on_step(terminated, truncated)
        ended = terminated | truncated
        if mode == AutoresetMode.NEXT_STEP:
            expected_started = pending.copy()
            # Flags reported on an autoreset step (which a Gymnasium env never does) do not
            # make another autoreset step.
            pending = ended & ~expected_started
        elif mode == AutoresetMode.SAME_STEP:
            expected_started = ended
        else:
            expected_started = np.zeros(num_envs, dtype=bool)
        expected_transition = (
            ~expected_started if mode == AutoresetMode.NEXT_STEP else np.ones(num_envs, bool)
        )
        np.testing.assert_array_equal(started, expected_started)
        np.testing.assert_array_equal(transition, expected_transition)
        np.testing.assert_array_equal(tracker.ended, ended)
        assert tracker.any_ended == ended.any() and tracker.any_started == expected_started.any()
        handed_out += [(started, started.copy()), (transition, transition.copy()), (tracker.ended, ended)]
        for mask, copy in handed_out[-30:]:
            np.testing.assert_array_equal(mask, copy)
    # With nothing pending, the all-True transition mask is one shared read-only array.
    for _ in range(2):  # the first step clears what is pending (NEXT_STEP)
        _, transition = tracker.on_step(np.zeros(num_envs, bool), np.zeros(num_envs, bool))
    assert transition.all() and not transition.flags.writeable


@pytest.mark.parametrize("mode", list(AutoresetMode), ids=lambda m: m.name)
@pytest.mark.parametrize("seed", range(5))
def test_the_buffers_calls_agree_with_on_step(mode, seed):
    num_envs = 4
    wrapper_side, buffer_side = AutoresetTracker(num_envs, mode), AutoresetTracker(num_envs, mode.value)
    rng = np.random.default_rng(seed)
    for _ in range(200):
        terminated = rng.random(num_envs) < 0.2
        truncated = rng.random(num_envs) < 0.1
        coming = buffer_side.transitions()
        _, transition = wrapper_side.on_step(terminated, truncated)
        if coming is None:
            assert transition.all()
        else:
            np.testing.assert_array_equal(coming, transition)
        assert buffer_side.transitions() is coming or np.array_equal(buffer_side.transitions(), coming)
        buffer_side.advance(terminated | truncated, coming)
        np.testing.assert_array_equal(buffer_side.pending, wrapper_side.pending)


def test_an_unknown_mode_names_its_owner_and_the_choices():
    with pytest.raises(
        ValueError, match=r"^ReplayBuffer: autoreset_mode must be a gymnasium AutoresetMode or one of "
    ):
        AutoresetTracker(2, "Sometimes", "ReplayBuffer")


def test_reset_rows_changes_nothing_until_the_reset_happened():
    tracker = AutoresetTracker(3, AutoresetMode.NEXT_STEP)
    tracker.on_step(np.array([True, True, False]), np.zeros(3, bool))
    rows = tracker.reset_rows({"reset_mask": np.array([True, False, False])})
    np.testing.assert_array_equal(tracker.pending, [True, True, False])
    tracker.on_reset(rows)
    np.testing.assert_array_equal(tracker.pending, [False, True, False])
    assert tracker.reset_rows(None).all() and tracker.reset_rows({}).all()
    with pytest.raises(
        ValueError, match=r"reset_mask must be a bool array of shape \(3,\), got shape \(2,\)"
    ):
        tracker.reset_rows({"reset_mask": np.array([True, False])})
    tracker.on_reset()
    assert not tracker.pending.any()


def test_a_loaded_pending_mask_is_a_read_only_copy_of_the_right_shape():
    tracker = AutoresetTracker(3, AutoresetMode.NEXT_STEP)
    given = np.array([False, True, False])
    tracker.pending = given
    given[:] = True
    np.testing.assert_array_equal(tracker.pending, [False, True, False])
    assert not tracker.pending.flags.writeable
    np.testing.assert_array_equal(tracker.transitions(), [True, False, True])
    started, _ = tracker.on_step(np.zeros(3, bool), np.zeros(3, bool))
    np.testing.assert_array_equal(started, [False, True, False])
    with pytest.raises(ValueError, match=r"shape \(3,\), got \(4,\)"):
        tracker.pending = np.zeros(4, bool)


# ---------------------------------------------------------------- a reset the inner env rejects

# reset_mask values that Gymnasium's vector envs refuse (TypeError / ValueError) after reading them.
REJECTED_MASKS: dict[str, Callable[[np.ndarray], Any]] = {
    "a list": lambda mask: mask.tolist(),
    "an int array": lambda mask: mask.astype(np.int64),
    "no True": lambda mask: np.zeros_like(mask),
}


def _generic() -> VectorEnv:
    return make_vector_env(lambda: GenericTestEnv(episode_length=3), 3, AutoresetMode.NEXT_STEP)


def _bandits() -> VectorEnv:
    return make_vector_env(
        lambda: rlcore.envs.BernoulliBanditEnv(num_arms=3, horizon=3), 3, AutoresetMode.NEXT_STEP
    )


def _goals() -> VectorEnv:  # discrete tasks
    return make_vector_env(
        lambda: TimeLimit(rlcore.envs.PointGoalEnv(num_goals=3), 3), 3, AutoresetMode.NEXT_STEP
    )


WRAPPERS: dict[str, tuple[Callable[[], VectorEnv], Callable[[VectorEnv], VectorEnv]]] = {
    "NormalizeObservation": (_generic, vector.NormalizeObservation),
    "NormalizeReward": (_generic, lambda env: vector.NormalizeReward(env, gamma=0.9)),
    "FrameStack": (_generic, lambda env: vector.FrameStack(env, 4)),
    "TaskOneHot": (_goals, vector.TaskOneHot),
    "TrialWrapper": (_bandits, lambda env: vector.TrialWrapper(env, episodes_per_trial=2)),
}


def _state(env: VectorEnv) -> dict[str, Any]:
    state_dict = getattr(env, "state_dict", None)
    return state_dict() if callable(state_dict) else {}


@pytest.mark.parametrize("mask", list(REJECTED_MASKS), ids=str)
@pytest.mark.parametrize("name", list(WRAPPERS), ids=str)
def test_a_rejected_reset_changes_nothing(name, mask):
    """NEXT_STEP, the first sub-env's episode just ended: a reset of it that the inner env
    rejects must leave its autoreset step an autoreset step (before, the wrappers cleared it
    first, so that step entered the return statistics and FrameStack mixed two episodes)."""
    make_env, wrap = WRAPPERS[name]
    rejected, twin = wrap(make_env()), wrap(make_env())
    actions = np.zeros(rejected.action_space.shape, dtype=rejected.action_space.dtype)
    for env in (rejected, twin):
        env.reset(seed=7)
    for _ in range(3):  # every sub-env's episode ends at the third step
        out_rejected, out_twin = rejected.step(actions), twin.step(actions)
    assert (out_rejected[2] | out_rejected[3]).all() and (out_twin[2] | out_twin[3]).all()
    bad = REJECTED_MASKS[mask](np.array([True, False, False]))
    with pytest.raises((TypeError, ValueError), match="reset_mask"):
        rejected.reset(options={"reset_mask": bad})
    for step in range(7):  # the autoreset step, then a whole episode and more
        out_rejected, out_twin = rejected.step(actions), twin.step(actions)
        for got, expected in zip(out_rejected[:4], out_twin[:4], strict=True):
            np.testing.assert_array_equal(
                got, expected, err_msg=f"{name}, step {step} after the rejected reset"
            )
    torch.testing.assert_close(_state(rejected), _state(twin), rtol=0, atol=0)


@pytest.mark.parametrize("kind", ["object array", "list"])
def test_with_final_observations_replaces_rows_in_a_copy(kind):
    frames = [np.full(2, float(i)) for i in range(3)]
    if kind == "object array":
        final_obs: Any = np.empty(3, dtype=object)
        for i, frame in enumerate(frames):
            final_obs[i] = frame
    else:
        final_obs = list(frames)
    info = {"final_obs": final_obs, "other": 1}
    rows = np.array([0, 2])
    assert final_observations(info, rows, "Owner") is final_obs
    out = with_final_observations(info, rows, np.array([[7.0, 7.0], [9.0, 9.0]]))
    assert out["other"] == 1 and out["final_obs"].dtype == object and out["final_obs"].shape == (3,)
    np.testing.assert_array_equal(np.stack(list(out["final_obs"])), [[7, 7], [1, 1], [9, 9]])
    np.testing.assert_array_equal(
        np.stack(list(final_obs)), [[0, 0], [1, 1], [2, 2]]
    )  # the input is untouched
    with pytest.raises(
        ValueError, match=r"^Owner: in SAME_STEP autoreset mode, sub-envs \[0, 2\] ended an episode"
    ):
        final_observations({"x": 1}, rows, "Owner")
