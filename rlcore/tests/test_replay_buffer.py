"""rlcore.buffers.ReplayBuffer against a naive list of transitions, SB3's buffers and a frame-stack env."""

from __future__ import annotations

import io

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import FrameStackObservation

from rlcore.buffers import ReplayBatch, ReplayBuffer
from rlcore.testing import GenericTestEnv, make_vector_env

OBS = spaces.Box(-10, 10, (2,), np.float32)
ACT = spaces.Discrete(3)


# ---------------------------------------------------------------------------- naive reference
class NaiveReplay:
    """Every transition in a dict keyed by (add number, env); slots mapped back by brute force."""

    def __init__(self, capacity, num_envs, autoreset_mode, n_step=1, gamma=0.99):
        self.rows = capacity // num_envs
        self.num_envs = num_envs
        self.next_step = AutoresetMode(autoreset_mode) == AutoresetMode.NEXT_STEP
        self.n_step, self.gamma = n_step, gamma
        self.transitions = {}
        self.adds = 0
        self.ended_before = [False] * num_envs

    def add(self, obs, next_obs, actions, rewards, terminated, truncated):
        for i in range(self.num_envs):
            # Under NEXT_STEP, the step after an episode end is the autoreset step.
            valid = not (self.next_step and self.ended_before[i])
            self.transitions[(self.adds, i)] = dict(
                obs=np.array(obs[i]),
                next_obs=np.array(next_obs[i]),
                action=np.array(actions[i]),
                reward=float(np.float32(rewards[i])),
                terminated=bool(terminated[i]),
                truncated=bool(truncated[i]),
                valid=valid,
            )
            self.ended_before[i] = valid and bool(terminated[i] or truncated[i])
        self.adds += 1

    def alive(self):
        return [(a, i) for (a, i), t in self.transitions.items() if a >= self.adds - self.rows and t["valid"]]

    def slot_of(self, a, i):
        return (a % self.rows) * self.num_envs + i

    def key_of(self, slot):
        row, i = divmod(int(slot), self.num_envs)
        a = max(a for a in range(self.adds) if a % self.rows == row)
        assert a >= self.adds - self.rows
        return a, i

    def get(self, slot):
        a, i = self.key_of(slot)
        first = self.transitions[(a, i)]
        total, j, last = 0.0, 0, first
        while True:
            t = self.transitions[(a + j, i)]
            total += self.gamma**j * t["reward"]
            last = t
            j += 1
            if t["terminated"] or t["truncated"] or j == self.n_step:
                break
            following = self.transitions.get((a + j, i))
            if following is None or not following["valid"]:
                break
        return dict(
            obs=first["obs"],
            action=first["action"],
            next_obs=last["next_obs"],
            reward=total,
            terminated=last["terminated"],
            truncated=last["truncated"],
            discount=self.gamma**j,
        )


def _assert_batch_matches(batch: ReplayBatch, reference: NaiveReplay, slots) -> None:
    for b, slot in enumerate(slots):
        want = reference.get(slot)
        np.testing.assert_array_equal(batch.observations[b].numpy(), want["obs"])
        np.testing.assert_array_equal(batch.actions[b].numpy(), want["action"])
        np.testing.assert_array_equal(batch.next_observations[b].numpy(), want["next_obs"])
        assert batch.rewards[b].item() == pytest.approx(want["reward"], rel=1e-6, abs=1e-6)
        assert batch.terminated[b].item() == want["terminated"]
        assert batch.truncated[b].item() == want["truncated"]
        assert batch.discounts[b].item() == pytest.approx(want["discount"], rel=1e-6)


def _random_step(rng, num_envs, p_end=0.15):
    obs = rng.uniform(-10, 10, (num_envs, 2)).astype(np.float32)
    next_obs = rng.uniform(-10, 10, (num_envs, 2)).astype(np.float32)
    actions = rng.integers(0, 3, num_envs)
    rewards = rng.standard_normal(num_envs).astype(np.float32)
    return obs, next_obs, actions, rewards, rng.random(num_envs) < p_end, rng.random(num_envs) < p_end


# ---------------------------------------------------------------------------- against the reference
@pytest.mark.parametrize("autoreset_mode", ["NextStep", "SameStep"])
@pytest.mark.parametrize("n_step", [1, 3])
def test_matches_naive_reference_with_wraparound(autoreset_mode, n_step):
    rng = np.random.default_rng(0)
    num_envs, capacity = 3, 21
    buffer = ReplayBuffer(
        capacity, OBS, ACT, num_envs=num_envs, autoreset_mode=autoreset_mode, n_step=n_step, gamma=0.9, seed=1
    )
    reference = NaiveReplay(capacity, num_envs, autoreset_mode, n_step=n_step, gamma=0.9)
    for _ in range(40):  # almost two laps of 7 rows
        step = _random_step(rng, num_envs, p_end=0.25)
        buffer.add(*step)
        reference.add(*step)
        assert len(buffer) == len(reference.alive())
        slots = buffer.sample_indices(min(16, len(buffer)))
        _assert_batch_matches(buffer.gather(slots), reference, slots)
        # Every slot that holds a transition can be gathered, and nothing else can.
        for a, i in reference.alive():
            _assert_batch_matches(
                buffer.gather([reference.slot_of(a, i)]), reference, [reference.slot_of(a, i)]
            )


def test_sampling_is_uniform_over_valid_transitions_only():
    rng = np.random.default_rng(3)
    buffer = ReplayBuffer(12, OBS, ACT, num_envs=2, autoreset_mode="NextStep", seed=0)
    reference = NaiveReplay(12, 2, "NextStep")
    for _ in range(9):
        step = _random_step(rng, 2, p_end=0.4)
        buffer.add(*step)
        reference.add(*step)
    expected = {reference.slot_of(a, i) for a, i in reference.alive()}
    assert len(expected) < buffer.capacity  # some autoreset rows were skipped
    draws = np.concatenate([buffer.sample_indices(len(buffer)) for _ in range(400)])
    values, counts = np.unique(draws, return_counts=True)
    assert set(values.tolist()) == expected
    share = counts / counts.sum()
    assert np.all(np.abs(share - 1 / len(expected)) < 0.25 / len(expected))


def _sb3_samples(sb3, rows):
    """SB3's samples of ``rows`` and the same transitions as our slots.

    SB3 draws the env of each row from NumPy's legacy global generator: seed it, let SB3 draw,
    and replay the draw (restoring the global state afterwards).
    """
    saved = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(12345)  # noqa: NPY002
        expected = sb3._get_samples(rows)
        np.random.seed(12345)  # noqa: NPY002
        envs = np.random.randint(0, sb3.n_envs, size=len(rows))  # noqa: NPY002
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    return expected, rows * sb3.n_envs + envs


def test_matches_stable_baselines3_replay_buffer():
    from stable_baselines3.common.buffers import ReplayBuffer as SB3ReplayBuffer

    rng = np.random.default_rng(5)
    num_envs, capacity = 4, 40
    sb3 = SB3ReplayBuffer(capacity, OBS, ACT, device="cpu", n_envs=num_envs, handle_timeout_termination=True)
    ours = ReplayBuffer(capacity, OBS, ACT, num_envs=num_envs, autoreset_mode="SameStep")
    for _ in range(23):
        obs, next_obs, actions, rewards, terminated, truncated = _random_step(rng, num_envs, p_end=0.2)
        infos = [{"TimeLimit.truncated": bool(t and not d)} for t, d in zip(truncated, terminated)]
        sb3.add(obs, next_obs, actions, rewards, terminated | truncated, infos)
        ours.add(obs, next_obs, actions, rewards, terminated, truncated)
    expected, slots = _sb3_samples(sb3, np.random.default_rng(0).integers(0, sb3.buffer_size, 64))
    batch = ours.gather(slots)
    torch.testing.assert_close(batch.observations, expected.observations)
    torch.testing.assert_close(batch.next_observations, expected.next_observations)
    torch.testing.assert_close(batch.actions, expected.actions[:, 0])
    torch.testing.assert_close(batch.rewards, expected.rewards[:, 0])
    torch.testing.assert_close(batch.terminated.float(), expected.dones[:, 0])


def test_n_step_matches_stable_baselines3():
    from stable_baselines3.common.buffers import NStepReplayBuffer

    rng = np.random.default_rng(6)
    num_envs, capacity, gamma = 3, 30, 0.8
    sb3 = NStepReplayBuffer(capacity, OBS, ACT, device="cpu", n_envs=num_envs, n_steps=4, gamma=gamma)
    ours = ReplayBuffer(
        capacity, OBS, ACT, num_envs=num_envs, autoreset_mode="SameStep", n_step=4, gamma=gamma
    )
    for adds in range(1, 26):
        obs, next_obs, actions, rewards, terminated, truncated = _random_step(rng, num_envs, p_end=0.15)
        infos = [{"TimeLimit.truncated": bool(t and not d)} for t, d in zip(truncated, terminated)]
        sb3.add(obs, next_obs, actions, rewards, terminated | truncated, infos)
        ours.add(obs, next_obs, actions, rewards, terminated, truncated)
        expected, slots = _sb3_samples(
            sb3, np.random.default_rng(adds).integers(0, min(adds, sb3.buffer_size), 32)
        )
        batch = ours.gather(slots)
        torch.testing.assert_close(batch.next_observations, expected.next_observations)
        torch.testing.assert_close(batch.rewards, expected.rewards[:, 0])
        torch.testing.assert_close(batch.discounts, expected.discounts[:, 0])
        torch.testing.assert_close(batch.terminated.float(), expected.dones[:, 0])


def test_truncated_transition_keeps_the_final_observation_and_does_not_mask_bootstrapping():
    buffer = ReplayBuffer(4, OBS, ACT, autoreset_mode="SameStep", n_step=2, gamma=0.5)
    final = np.array([[7.0, 7.0]], dtype=np.float32)
    buffer.add(np.zeros((1, 2), np.float32), final, np.array([1]), np.array([1.0]), [False], [True])
    batch = buffer.gather([0])
    assert batch.truncated.item() and not batch.terminated.item()
    np.testing.assert_array_equal(batch.next_observations.numpy(), final)
    assert batch.discounts.item() == 0.5  # one step, cut by the truncation


# ---------------------------------------------------------------------------- frame-once storage
PALETTE = np.random.default_rng(0).integers(0, 256, (3, 5, 5), dtype=np.uint8)


def _frame_env(padding_type):
    # Frames drawn from a palette of three, so equal neighbouring frames (and padding-like
    # stacks) are common; random episode lengths, ending by termination or truncation.
    def reset_func(env, seed, options):
        return PALETTE[env.np_random.integers(3)], {}

    def step_func(env, action):
        end = env.np_random.random()
        return (
            PALETTE[env.np_random.integers(3)],
            float(env.np_random.normal()),
            end < 0.1,
            0.1 <= end < 0.2,
            {},
        )

    def make():
        base = GenericTestEnv(
            observation_space=spaces.Box(0, 255, (5, 5), np.uint8),
            reset_func=reset_func,
            step_func=step_func,
        )
        return FrameStackObservation(base, 4, padding_type=padding_type)

    return make


class FrameEnvRunner:
    """Steps a seeded vector env of frame stacks and feeds every buffer the same transitions."""

    def __init__(self, autoreset_mode, padding_type, seed=0, num_envs=3):
        self.envs = make_vector_env(_frame_env(padding_type), num_envs, autoreset_mode)
        self.same_step = AutoresetMode(autoreset_mode) == AutoresetMode.SAME_STEP
        self.rng = np.random.default_rng(seed)
        self.obs, _ = self.envs.reset(seed=seed)

    def run(self, buffers, steps):
        for _ in range(steps):
            actions = self.rng.integers(0, 2, self.envs.num_envs)
            next_obs, rewards, terminated, truncated, info = self.envs.step(actions)
            stored_next = next_obs.copy()
            if self.same_step and "final_obs" in info:
                for i in np.flatnonzero(info["_final_obs"]):
                    stored_next[i] = info["final_obs"][i]
            for buffer in buffers:
                buffer.add(self.obs, stored_next, actions, rewards, terminated, truncated)
            self.obs = next_obs


@pytest.mark.parametrize("autoreset_mode", ["NextStep", "SameStep"])
@pytest.mark.parametrize("padding_type", ["reset", "zero"])
@pytest.mark.parametrize("n_step", [1, 3])
def test_frames_once_rebuilds_exactly_what_a_plain_buffer_stores(autoreset_mode, padding_type, n_step):
    obs_space = spaces.Box(0, 255, (4, 5, 5), np.uint8)
    kwargs = dict(num_envs=3, autoreset_mode=autoreset_mode, n_step=n_step, gamma=0.9)
    plain = ReplayBuffer(60, obs_space, spaces.Discrete(2), **kwargs)
    frames = ReplayBuffer(60, obs_space, spaces.Discrete(2), store_frames_once=True, **kwargs)
    FrameEnvRunner(autoreset_mode, padding_type).run([plain, frames], steps=55)
    assert len(frames) == len(plain)
    slots = np.flatnonzero(plain.state_dict()["valid"].numpy().reshape(-1))  # every stored transition
    got, want = frames.gather(slots), plain.gather(slots)
    for name in ReplayBatch._fields:
        torch.testing.assert_close(getattr(got, name), getattr(want, name), rtol=0, atol=0)


@pytest.mark.parametrize("autoreset_mode", ["NextStep", "SameStep"])
def test_frames_are_dropped_with_their_transitions_never_before(autoreset_mode):
    obs_space = spaces.Box(0, 255, (4, 5, 5), np.uint8)
    kwargs = dict(num_envs=3, autoreset_mode=autoreset_mode)
    plain = ReplayBuffer(60, obs_space, spaces.Discrete(2), **kwargs)
    # The smallest ring allowed: (k + 1)**2 * num_envs frames for up to 60 transitions.
    frames = ReplayBuffer(
        60, obs_space, spaces.Discrete(2), store_frames_once=True, frame_capacity=75, **kwargs
    )
    runner = FrameEnvRunner(autoreset_mode, "zero", seed=1)
    lengths = []
    for _ in range(70):
        runner.run([plain, frames], steps=1)
        lengths.append(len(plain) - len(frames))
        # Only the oldest transitions go, and every one left is exactly what was stored.
        assert 0 < len(frames) <= len(plain)
        state = frames.state_dict()
        alive = (np.arange(frames.capacity) // 3 - state["tail"]) % 20 < state["head"] - state["tail"]
        slots = np.flatnonzero(alive & state["valid"].numpy().reshape(-1))
        assert len(slots) == len(frames)
        got, want = frames.gather(slots), plain.gather(slots)
        for name in ReplayBatch._fields:
            torch.testing.assert_close(getattr(got, name), getattr(want, name), rtol=0, atol=0)
    assert max(lengths) > 0  # the small ring did evict


def test_frames_once_memory_for_atari_shapes():
    atari = spaces.Box(0, 255, (4, 84, 84), np.uint8)
    plain = ReplayBuffer(2000, atari, spaces.Discrete(6), num_envs=8, autoreset_mode="SameStep")
    frames = ReplayBuffer(
        2000, atari, spaces.Discrete(6), num_envs=8, autoreset_mode="SameStep", store_frames_once=True
    )
    frame = 84 * 84
    rows = 2000 // 8
    small = rows * 8 * (8 + 4 + 1 + 1 + 1)  # actions int64, reward float32, three bool flags
    assert plain.nbytes == 2 * 2000 * 4 * frame + small
    ring = 2000 + 2000 // 16 + 25 * 8
    assert frames.nbytes == ring * frame + small + rows * 8 * (4 + 1) * 8 + rows * 8 + 8 * 4 * 8 + 8
    assert frames.nbytes < 0.15 * plain.nbytes


def test_frame_checks_catch_observations_that_are_not_frame_stacks():
    obs_space = spaces.Box(0, 255, (2, 3), np.uint8)
    buffer = ReplayBuffer(10, obs_space, ACT, autoreset_mode="SameStep", store_frames_once=True)
    no = np.array([False])
    a, b, c = (np.full((1, 3), v, np.uint8) for v in (1, 2, 3))
    with pytest.raises(ValueError, match=r"next_obs\[0\]\[:-1\] differs from obs\[0\]\[1:\]"):
        buffer.add(np.stack([a, b], 1), np.stack([a, c], 1), [0], [0.0], no, no)
    buffer.add(np.stack([a, b], 1), np.stack([b, c], 1), [0], [0.0], no, no)
    with pytest.raises(ValueError, match=r"obs\[0\] is not the next_obs of env 0's previous step"):
        buffer.add(np.stack([b, b], 1), np.stack([b, a], 1), [0], [0.0], no, no)
    assert len(buffer) == 1
    buffer.add(np.stack([b, c], 1), np.stack([c, a], 1), [0], [0.0], no, no)
    assert len(buffer) == 2


# ---------------------------------------------------------------------------- checkpoints, seeding
def _roundtrip(state):
    stream = io.BytesIO()
    torch.save(state, stream)
    stream.seek(0)
    return torch.load(stream, weights_only=True)


@pytest.mark.parametrize("store_frames_once", [False, True])
def test_state_dict_roundtrip_resumes_identically(store_frames_once):
    obs_space = spaces.Box(0, 255, (4, 5, 5), np.uint8)
    kwargs = dict(
        num_envs=3, autoreset_mode="NextStep", n_step=2, store_frames_once=store_frames_once, seed=4
    )
    original = ReplayBuffer(30, obs_space, spaces.Discrete(2), **kwargs)
    runner = FrameEnvRunner("NextStep", "reset")
    runner.run([original], steps=17)
    restored = ReplayBuffer(30, obs_space, spaces.Discrete(2), **{**kwargs, "seed": 99})
    restored.load_state_dict(_roundtrip(original.state_dict()))
    assert len(restored) == len(original)
    for a, b in zip(original.sample(8), restored.sample(8)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # Both go on identically, including their autoreset bookkeeping.
    runner.run([original, restored], steps=12)
    for a, b in zip(original.sample(8), restored.sample(8)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_load_state_dict_rejects_a_mismatched_state():
    buffer = ReplayBuffer(12, OBS, ACT, num_envs=2, autoreset_mode="SameStep")
    bigger = ReplayBuffer(20, OBS, ACT, num_envs=2, autoreset_mode="SameStep")
    with pytest.raises(
        ValueError, match=r"ReplayBuffer.load_state_dict: 'actions' has shape \(10, 2\), expected \(6, 2\)"
    ):
        buffer.load_state_dict(bigger.state_dict())
    frames = ReplayBuffer(
        12, spaces.Box(0, 1, (2, 2)), ACT, num_envs=2, autoreset_mode="SameStep", store_frames_once=True
    )
    with pytest.raises(
        KeyError,
        match=r"missing \['frames', 'frames_pushed'.*unexpected \['next_observations', 'observations'\]",
    ):
        frames.load_state_dict(
            ReplayBuffer(
                12, spaces.Box(0, 1, (2, 2)), ACT, num_envs=2, autoreset_mode="SameStep"
            ).state_dict()
        )
    state = buffer.state_dict()
    state["tail"] = 5
    with pytest.raises(ValueError, match=r"'tail' must be an int in \[0, 0\], got 5"):
        buffer.load_state_dict(state)
    state = buffer.state_dict()
    state["rewards"] = state["rewards"].double()
    with pytest.raises(TypeError, match="'rewards' has dtype float64, expected float32"):
        buffer.load_state_dict(state)


def test_seeded_sampling_is_reproducible():
    rng = np.random.default_rng(0)
    a = ReplayBuffer(50, OBS, ACT, num_envs=2, autoreset_mode="SameStep", seed=3)
    b = ReplayBuffer(50, OBS, ACT, num_envs=2, autoreset_mode="SameStep", seed=3)
    for _ in range(10):
        step = _random_step(rng, 2)
        a.add(*step)
        b.add(*step)
    np.testing.assert_array_equal(a.sample_indices(16), b.sample_indices(16))
    np.testing.assert_array_equal(
        a.sample_indices(16, np.random.default_rng(7)), b.sample_indices(16, np.random.default_rng(7))
    )


def test_batch_types_and_tensor_inputs():
    buffer = ReplayBuffer(
        8, spaces.Box(0, 255, (3,), np.uint8), spaces.Box(-1, 1, (2,)), autoreset_mode="Disabled"
    )
    obs = np.ones((1, 3), np.uint8)
    buffer.add(
        obs, obs, torch.ones(1, 2, dtype=torch.float64), torch.tensor([1.5]), torch.tensor([True]), [False]
    )
    batch = buffer.sample(1)
    assert batch.observations.dtype == torch.uint8 and batch.observations.shape == (1, 3)
    assert batch.actions.dtype == torch.float32 and batch.actions.shape == (1, 2)
    assert batch.rewards.dtype == torch.float32 and batch.discounts.dtype == torch.float32
    assert batch.terminated.dtype == torch.bool and batch.terminated.all()
    assert batch.observations.device == torch.device("cpu")


@pytest.mark.parametrize("n_step", [1, 3])
def test_one_large_sample_split_is_the_small_samples(n_step):
    """A round of k updates may gather once: split(sample(k * B)) == k draws of B, same generator."""
    rng = np.random.default_rng(3)
    buffer = ReplayBuffer(40, OBS, ACT, num_envs=2, autoreset_mode="SameStep", n_step=n_step, gamma=0.9)
    for _ in range(25):  # wraps around; SameStep leaves no invalid rows to redraw
        buffer.add(*_random_step(rng, 2))
    big = buffer.sample(4 * 7, np.random.default_rng(11))
    small_generator = np.random.default_rng(11)
    parts = big.split(7)
    assert len(parts) == 4
    for part in parts:
        expected = buffer.sample(7, small_generator)
        for name, got, want in zip(ReplayBatch._fields, part, expected, strict=True):
            torch.testing.assert_close(got, want, rtol=0, atol=0, msg=name)
    assert [len(p.rewards) for p in big.split(10)] == [10, 10, 8]
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match=rf"ReplayBatch.split: size must be an int >= 1, got {bad!r}"):
            big.split(bad)


# ---------------------------------------------------------------------------- errors
def test_sampling_errors():
    buffer = ReplayBuffer(10, OBS, ACT, num_envs=2, autoreset_mode="SameStep")
    with pytest.raises(ValueError, match=r"ReplayBuffer.sample: the buffer is empty: add transitions first"):
        buffer.sample(1)
    buffer.add(*_random_step(np.random.default_rng(0), 2))
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match=rf"batch_size must be an int >= 1, got {bad!r}"):
            buffer.sample(bad)
    # With replacement: more draws than transitions is a valid sample.
    assert set(buffer.sample_indices(50).tolist()) == {0, 1}
    with pytest.raises(IndexError, match=r"ReplayBuffer.gather: slot 10 is out of range \[0, 10\)"):
        buffer.gather([10])
    with pytest.raises(
        IndexError, match="ReplayBuffer.gather: slot 4 holds no transition that can be sampled"
    ):
        buffer.gather([0, 4])


def test_add_errors_store_nothing():
    buffer = ReplayBuffer(10, spaces.Box(0, 255, (2,), np.uint8), ACT, num_envs=2, autoreset_mode="SameStep")
    obs, no = np.zeros((2, 2), np.uint8), np.zeros(2, bool)
    with pytest.raises(
        ValueError,
        match=r"ReplayBuffer.add: obs has shape \(2,\), expected \(2, 2\) \(leading dimension num_envs=2\)",
    ):
        buffer.add(obs[0], obs, [0, 1], [0.0, 0.0], no, no)
    with pytest.raises(
        TypeError,
        match="next_obs has dtype float64, which cannot be stored as uint8 without changing its kind",
    ):
        buffer.add(obs, obs.astype(np.float64), [0, 1], [0.0, 0.0], no, no)
    with pytest.raises(TypeError, match="terminated has dtype float64, which cannot be stored as bool"):
        buffer.add(obs, obs, [0, 1], [0.0, 0.0], np.zeros(2), no)
    with pytest.raises(TypeError, match="actions has dtype float64, which cannot be stored as int64"):
        buffer.add(obs, obs, [0.0, 1.0], [0.0, 0.0], no, no)
    assert len(buffer) == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(capacity=1, num_envs=2), ValueError, r"capacity must be >= num_envs \(2\), got 1"),
        (dict(capacity=0), ValueError, "capacity must be an int >= 1, got 0"),
        (dict(n_step=0), ValueError, "n_step must be an int >= 1, got 0"),
        (dict(gamma=1.5), ValueError, r"gamma must be a number in \[0, 1\], got 1.5"),
        (
            dict(autoreset_mode="Sometimes"),
            ValueError,
            "autoreset_mode must be a gymnasium AutoresetMode or one of 'NextStep'",
        ),
        (
            dict(observation_space=spaces.Dict({"a": OBS})),
            TypeError,
            "observation_space Dict.* has no fixed shape and dtype",
        ),
        (
            dict(action_space="Discrete(2)"),
            TypeError,
            "action_space must be a gymnasium.spaces.Space, got str",
        ),
        (dict(frame_capacity=100), ValueError, r"frame_capacity is only used with store_frames_once=True"),
        (
            dict(store_frames_once=True, observation_space=spaces.Discrete(4)),
            ValueError,
            r"store_frames_once needs observations of shape \(k, \*frame_shape\)",
        ),
        (
            dict(store_frames_once=True, observation_space=spaces.Box(0, 1, (4, 2)), frame_capacity=20),
            ValueError,
            r"frame_capacity must be >= \(k \+ 1\)\*\*2 \* num_envs = 25, got 20",
        ),
    ],
)
def test_constructor_errors(kwargs, error, match):
    arguments = dict(capacity=10, observation_space=OBS, action_space=ACT, autoreset_mode="SameStep")
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        ReplayBuffer(**arguments)


def test_repr_and_capacity_rounding():
    buffer = ReplayBuffer(10, OBS, ACT, num_envs=3, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    assert buffer.capacity == 9
    assert repr(buffer) == "ReplayBuffer(capacity=9, num_envs=3, len=0, n_step=1)"


def test_samples_go_to_the_chosen_device():
    # The meta device stands in for an accelerator: the tensors must be moved there.
    buffer = ReplayBuffer(8, OBS, ACT, num_envs=2, autoreset_mode="SameStep", device="meta")
    buffer.add(*_random_step(np.random.default_rng(0), 2))
    batch = buffer.sample(2)
    assert all(tensor.device.type == "meta" for tensor in batch)
    assert batch.observations.shape == (2, 2)


def test_an_n_step_window_never_reads_rewards_beyond_its_end():
    # One env, SAME_STEP: the first episode ends at step 1; the next one's first reward is NaN.
    buffer = ReplayBuffer(8, OBS, ACT, autoreset_mode="SameStep", n_step=3, gamma=0.5)
    obs = np.zeros((1, *OBS.shape), dtype=OBS.dtype)
    action = np.zeros((1, *ACT.shape), dtype=ACT.dtype)
    for reward, terminated in [(1.0, False), (2.0, True), (np.nan, False), (4.0, False)]:
        buffer.add(
            obs, obs, action, np.array([reward], np.float32), np.array([terminated]), np.array([False])
        )
    batch = buffer.gather(np.array([0, 1]))
    np.testing.assert_array_equal(batch.rewards.numpy(), np.array([1.0 + 0.5 * 2.0, 2.0], np.float32))
    np.testing.assert_array_equal(batch.discounts.numpy(), np.array([0.25, 0.5], np.float32))
    assert batch.terminated.tolist() == [True, True]
