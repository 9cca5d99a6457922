"""rlcore.buffers.RolloutBuffer against a naive per-env reference and SB3's RolloutBuffer."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from gymnasium import spaces

import rlcore.buffers.rollout as rollout_module
from rlcore.buffers import RolloutBatch, RolloutBuffer

OBS = spaces.Box(-1, 1, (3,), np.float32)
ACT = spaces.Discrete(4)


def _rollout(rng, steps, num_envs, p_end=0.15):
    """Random step data: a dict of (T, N, ...) arrays, plus final values for every step."""
    shape = (steps, num_envs)
    return dict(
        obs=rng.uniform(-1, 1, (*shape, 3)).astype(np.float32),
        actions=rng.integers(0, 4, shape),
        log_probs=rng.standard_normal(shape).astype(np.float32),
        rewards=rng.standard_normal(shape).astype(np.float32),
        values=rng.standard_normal(shape).astype(np.float32),
        terminated=rng.random(shape) < p_end,
        truncated=rng.random(shape) < p_end,
        final_values=rng.standard_normal(shape).astype(np.float32),
    )


def _fill(buffer, data, with_final_values):
    for t in range(len(data["rewards"])):
        final = data["final_values"][t] if with_final_values else None
        buffer.add(
            *(
                data[k][t]
                for k in ("obs", "actions", "log_probs", "rewards", "values", "terminated", "truncated")
            ),
            final,
        )


def naive_advantages(data, last_values, gamma, lam, next_step, pending_before=None):
    """Advantages as explicit sums over each episode segment; validity from the autoreset rule."""
    r, v = data["rewards"].astype(np.float64), data["values"].astype(np.float64)
    term, trunc = data["terminated"], data["truncated"]
    steps, envs = r.shape
    valid = np.ones((steps, envs), dtype=bool)
    pending = np.zeros(envs, bool) if pending_before is None else pending_before.copy()
    for t in range(steps):
        for i in range(envs):
            valid[t, i] = not (next_step and pending[i])
            pending[i] = valid[t, i] and (term[t, i] or trunc[t, i])
    adv = np.zeros((steps, envs))
    for i in range(envs):
        for t in range(steps):
            total = 0.0
            for s in range(t, steps):
                if (term[s, i] or trunc[s, i]) and not next_step:
                    next_value = data["final_values"][s, i]
                else:
                    next_value = v[s + 1, i] if s + 1 < steps else last_values[i]
                delta = r[s, i] + (0.0 if term[s, i] else gamma * next_value) - v[s, i]
                total += (gamma * lam) ** (s - t) * delta
                if term[s, i] or trunc[s, i]:
                    break
            adv[t, i] = total if valid[t, i] else 0.0
    returns = np.where(valid, adv + v, 0.0)
    return adv, returns, valid


@pytest.mark.parametrize("autoreset_mode", ["SameStep", "NextStep", "Disabled"])
def test_advantages_match_naive_reference(autoreset_mode):
    rng = np.random.default_rng(0)
    steps, envs, gamma, lam = 24, 3, 0.9, 0.8
    data = _rollout(rng, steps, envs, p_end=0.2)
    next_step = autoreset_mode == "NextStep"
    buffer = RolloutBuffer(
        steps, OBS, ACT, num_envs=envs, autoreset_mode=autoreset_mode, gamma=gamma, lam=lam
    )
    _fill(buffer, data, with_final_values=not next_step)
    last_values = rng.standard_normal(envs).astype(np.float32)
    buffer.compute_returns_and_advantages(last_values)
    adv, ret, valid = naive_advantages(data, last_values, gamma, lam, next_step)
    np.testing.assert_array_equal(buffer.valid, valid)
    np.testing.assert_allclose(buffer.advantages, adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(buffer.returns, ret, rtol=1e-5, atol=1e-5)
    assert not valid.all() if next_step else valid.all()


def test_matches_stable_baselines3_rollout_buffer_without_truncation():
    from stable_baselines3.common.buffers import RolloutBuffer as SB3RolloutBuffer

    rng = np.random.default_rng(1)
    steps, envs, gamma, lam = 32, 4, 0.99, 0.95
    data = _rollout(rng, steps, envs)
    data["truncated"][:] = False
    ours = RolloutBuffer(steps, OBS, ACT, num_envs=envs, autoreset_mode="SameStep", gamma=gamma, lam=lam)
    sb3 = SB3RolloutBuffer(steps, OBS, ACT, device="cpu", gamma=gamma, gae_lambda=lam, n_envs=envs)
    episode_start = np.ones(envs, dtype=bool)
    for t in range(steps):
        sb3.add(
            data["obs"][t],
            data["actions"][t],
            data["rewards"][t],
            episode_start,
            torch.from_numpy(data["values"][t]),
            torch.from_numpy(data["log_probs"][t]),
        )
        episode_start = data["terminated"][t]
    _fill(ours, data, with_final_values=False)
    last_values = rng.standard_normal(envs).astype(np.float32)
    sb3.compute_returns_and_advantage(torch.from_numpy(last_values), data["terminated"][-1])
    ours.compute_returns_and_advantages(torch.from_numpy(last_values))
    np.testing.assert_allclose(ours.advantages, sb3.advantages, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.returns, sb3.returns, rtol=1e-5, atol=1e-5)


def test_advantages_come_from_rlcore_returns_gae(monkeypatch):
    calls = []
    real = rollout_module.gae

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(rollout_module, "gae", spy)
    buffer = RolloutBuffer(5, OBS, ACT, num_envs=2, autoreset_mode="SameStep", gamma=0.5, lam=0.25)
    _fill(buffer, _rollout(np.random.default_rng(2), 5, 2), with_final_values=True)
    buffer.compute_returns_and_advantages(np.zeros(2, np.float32))
    assert calls == [{"gamma": 0.5, "lam": 0.25}]


# ---------------------------------------------------------------------------- minibatches
def _computed_buffer(autoreset_mode="NextStep", steps=16, envs=3, seed=0):
    rng = np.random.default_rng(seed)
    data = _rollout(rng, steps, envs, p_end=0.2)
    buffer = RolloutBuffer(steps, OBS, ACT, num_envs=envs, autoreset_mode=autoreset_mode, seed=seed)
    _fill(buffer, data, with_final_values=autoreset_mode != "NextStep")
    buffer.compute_returns_and_advantages(np.zeros(envs, np.float32))
    return buffer, data


def test_minibatches_cover_every_transition_once_and_skip_autoreset_steps():
    buffer, data = _computed_buffer()
    batches = list(buffer.minibatches(batch_size=7))
    total = int(buffer.valid.sum())
    assert [len(b.values) for b in batches] == [7] * (total // 7) + ([total % 7] if total % 7 else [])
    got = torch.cat([b.log_probs for b in batches]).numpy()
    # log-probs are distinct random floats, so they identify the transitions.
    np.testing.assert_array_equal(np.sort(got), np.sort(data["log_probs"][buffer.valid]))
    flat = {float(lp): i for i, lp in enumerate(data["log_probs"].reshape(-1))}
    for batch in batches:
        rows = [flat[float(lp)] for lp in batch.log_probs]
        np.testing.assert_array_equal(batch.observations.numpy(), data["obs"].reshape(-1, 3)[rows])
        np.testing.assert_array_equal(batch.actions.numpy(), data["actions"].reshape(-1)[rows])
        np.testing.assert_array_equal(batch.values.numpy(), data["values"].reshape(-1)[rows])
        np.testing.assert_array_equal(batch.advantages.numpy(), buffer.advantages.reshape(-1)[rows])
        np.testing.assert_array_equal(batch.returns.numpy(), buffer.returns.reshape(-1)[rows])


def test_minibatch_order_is_reproducible_and_advantages_can_be_normalised():
    a, _ = _computed_buffer(seed=3)
    b, _ = _computed_buffer(seed=3)
    for x, y in zip(a.minibatches(8), b.minibatches(8)):
        for name in RolloutBatch._fields:
            torch.testing.assert_close(getattr(x, name), getattr(y, name), rtol=0, atol=0)
    for x, y in zip(
        a.minibatches(8, np.random.default_rng(1)), b.minibatches(8, np.random.default_rng(1), True)
    ):
        expected = (x.advantages - x.advantages.mean()) / (x.advantages.std() + 1e-8)
        torch.testing.assert_close(y.advantages, expected)
        torch.testing.assert_close(y.returns, x.returns)
        assert abs(float(y.advantages.mean())) < 1e-5 and float(y.advantages.std()) == pytest.approx(
            1.0, abs=1e-4
        )


def test_one_minibatch_is_the_whole_rollout_in_storage_order_and_a_copy():
    buffer, data = _computed_buffer(seed=5)
    valid = buffer.valid
    state = buffer._rng.bit_generator.state
    for size in (int(valid.sum()), 10_000):
        (batch,) = list(buffer.minibatches(size))
        np.testing.assert_array_equal(batch.log_probs.numpy(), data["log_probs"][valid])
        np.testing.assert_array_equal(batch.advantages.numpy(), buffer.advantages[valid])
        np.testing.assert_array_equal(batch.observations.numpy(), data["obs"][valid])
        batch.returns.zero_()  # the caller's own tensors: the next epoch sees the real returns
    assert buffer._rng.bit_generator.state == state
    (again,) = list(buffer.minibatches(10_000, normalize_advantages=True))
    np.testing.assert_array_equal(again.returns.numpy(), buffer.returns[valid])
    expected = (batch.advantages - batch.advantages.mean()) / (batch.advantages.std() + 1e-8)
    torch.testing.assert_close(again.advantages, expected)


def test_batch_dtypes_and_tensor_inputs():
    buffer = RolloutBuffer(
        2, spaces.Box(0, 255, (2,), np.uint8), spaces.Box(-1, 1, (2,)), autoreset_mode="SameStep"
    )
    for _ in range(2):
        buffer.add(
            np.zeros((1, 2), np.uint8),
            torch.zeros(1, 2),
            torch.zeros(1, requires_grad=True),
            [1.0],
            torch.ones(1, dtype=torch.float64),
            [False],
            [False],
        )
    buffer.compute_returns_and_advantages(torch.zeros(1))
    (batch,) = list(buffer.minibatches(2))
    assert batch.observations.dtype == torch.uint8 and batch.actions.dtype == torch.float32
    assert batch.advantages.dtype == torch.float32 and batch.advantages.shape == (2,)


# ---------------------------------------------------------------------------- lifecycle
def test_autoreset_pending_carries_over_reset_and_checkpoints():
    buffer = RolloutBuffer(2, OBS, ACT, num_envs=2, autoreset_mode="NextStep", seed=0)
    data = _rollout(np.random.default_rng(0), 2, 2, p_end=0.0)
    data["terminated"][1] = [True, False]
    _fill(buffer, data, with_final_values=False)
    buffer.compute_returns_and_advantages(np.zeros(2, np.float32))
    stream = io.BytesIO()
    torch.save(buffer.state_dict(), stream)
    stream.seek(0)
    restored = RolloutBuffer(2, OBS, ACT, num_envs=2, autoreset_mode="NextStep", seed=5)
    restored.load_state_dict(torch.load(stream, weights_only=True))
    for b in (buffer, restored):
        b.reset()
        assert len(b) == 0 and not b.full
        _fill(b, _rollout(np.random.default_rng(1), 2, 2, p_end=0.0), with_final_values=False)
        # Env 0 ended at the last step of the previous rollout: its first step now is an autoreset step.
        np.testing.assert_array_equal(b.valid[0], [False, True])
        b.compute_returns_and_advantages(np.zeros(2, np.float32))
    np.testing.assert_array_equal(
        next(iter(buffer.minibatches(3))).log_probs.numpy(),
        next(iter(restored.minibatches(3))).log_probs.numpy(),
    )


def test_lifecycle_errors():
    buffer = RolloutBuffer(2, OBS, ACT, num_envs=1, autoreset_mode="SameStep")
    step = (np.zeros((1, 3), np.float32), [0], [0.0], [0.0], [0.0], [False], [False])
    with pytest.raises(RuntimeError, match="RolloutBuffer.minibatches: call compute_returns_and_advantages"):
        buffer.minibatches(1)
    buffer.add(*step)
    with pytest.raises(RuntimeError, match="the buffer holds 1 of 2 steps; add the remaining steps first"):
        buffer.compute_returns_and_advantages([0.0])
    buffer.add(*step)
    with pytest.raises(RuntimeError, match=r"RolloutBuffer.add: the buffer is full \(2 steps\)"):
        buffer.add(*step)
    buffer.compute_returns_and_advantages([0.0])
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        buffer.minibatches(0)
    with pytest.raises(ValueError, match=r"last_values has shape \(2,\), expected \(1,\)"):
        buffer.compute_returns_and_advantages([0.0, 1.0])


def test_add_errors():
    same = RolloutBuffer(2, OBS, ACT, num_envs=2, autoreset_mode="SameStep")
    obs, zeros, no = np.zeros((2, 3), np.float32), np.zeros(2, np.float32), np.zeros(2, bool)
    trunc = np.array([False, True])
    with pytest.raises(
        ValueError, match=r"truncated\[1\] is True but final_values is None; with autoreset_mode SAME_STEP"
    ):
        same.add(obs, [0, 1], zeros, zeros, zeros, no, trunc)
    with pytest.raises(ValueError, match=r"RolloutBuffer.add: values has shape \(2, 1\), expected \(2,\)"):
        same.add(obs, [0, 1], zeros, zeros, zeros[:, None], no, no)
    with pytest.raises(TypeError, match="actions has dtype float64, which cannot be stored as int64"):
        same.add(obs, [0.5, 1.0], zeros, zeros, zeros, no, no)
    assert len(same) == 0
    nxt = RolloutBuffer(2, OBS, ACT, num_envs=2, autoreset_mode="NextStep")
    with pytest.raises(ValueError, match="final_values is not used with autoreset_mode NEXT_STEP"):
        nxt.add(obs, [0, 1], zeros, zeros, zeros, no, trunc, zeros)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(num_steps=0), "RolloutBuffer: num_steps must be an int >= 1, got 0"),
        (dict(num_envs=2.0), "num_envs must be an int >= 1, got 2.0"),
        (dict(lam=-0.5), r"lam must be a number in \[0, 1\], got -0.5"),
        (dict(autoreset_mode="never"), "autoreset_mode must be a gymnasium AutoresetMode"),
    ],
)
def test_constructor_errors(kwargs, match):
    arguments = dict(num_steps=4, observation_space=OBS, action_space=ACT, autoreset_mode="SameStep")
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        RolloutBuffer(**arguments)


def test_load_state_dict_errors():
    buffer = RolloutBuffer(2, OBS, ACT, num_envs=2, autoreset_mode="NextStep")
    with pytest.raises(KeyError, match=r"missing \['rng_state'\]"):
        buffer.load_state_dict({"autoreset_pending": torch.zeros(2, dtype=torch.bool)})
    with pytest.raises(ValueError, match=r"'autoreset_pending' has shape \(3,\), expected \(2,\)"):
        buffer.load_state_dict(
            {
                "autoreset_pending": torch.zeros(3, dtype=torch.bool),
                "rng_state": buffer.state_dict()["rng_state"],
            }
        )


def test_minibatches_go_to_the_chosen_device():
    # The meta device stands in for an accelerator: the tensors must be moved there.
    rng = np.random.default_rng(0)
    buffer = RolloutBuffer(4, OBS, ACT, num_envs=2, autoreset_mode="SameStep", device="meta")
    _fill(buffer, _rollout(rng, 4, 2), with_final_values=True)
    buffer.compute_returns_and_advantages(np.zeros(2, np.float32))
    batches = list(buffer.minibatches(3))
    assert [len(b.values) for b in batches] == [3, 3, 2]
    assert all(tensor.device.type == "meta" for batch in batches for tensor in batch)
