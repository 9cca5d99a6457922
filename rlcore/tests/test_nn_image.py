"""rlcore.nn.image against an independent reference: every layout is built by hand (explicit NumPy
transposes and loops) from frames whose meaning the test knows, and the encoder must feed
NatureCNN exactly the ``(N, C, H, W)`` batch the loops build; the channel rule against SB3's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st

from rlcore.nn import ImageEncoder, ImageLayout, NatureCNN, image_layout, is_image_space
from rlcore.testing import GenericTestEnv
from rlcore.wrappers import FrameStack

FAST = settings(max_examples=25, deadline=None)
LAYOUTS = ["HW", "CHW", "HWC", "kCHW", "kHWC"]


def _lay_out(frames: np.ndarray, layout: str) -> np.ndarray:
    """Observations in ``layout`` from ``frames`` of shape ``(N, k, C, H, W)`` (explicit transposes)."""
    _, k, c, _, _ = frames.shape
    if layout == "HW":
        assert k == 1 and c == 1
        return frames[:, 0, 0].copy()
    if layout in ("CHW", "HWC"):
        assert k == 1
        one = frames[:, 0]
        return one.copy() if layout == "CHW" else np.ascontiguousarray(np.transpose(one, (0, 2, 3, 1)))
    return frames.copy() if layout == "kCHW" else np.ascontiguousarray(np.transpose(frames, (0, 1, 3, 4, 2)))


def _reference_cnn_input(frames: np.ndarray) -> np.ndarray:
    """``(N, k * C, H, W)``: channel ``f * C + c`` is channel ``c`` of frame ``f`` (a plain loop)."""
    n, k, c, h, w = frames.shape
    out = np.empty((n, k * c, h, w), dtype=frames.dtype)
    for i in range(n):
        for f in range(k):
            for ch in range(c):
                out[i, f * c + ch] = frames[i, f, ch]
    return out


def _run(encoder: ImageEncoder, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The encoder's output and the batch it gave to its NatureCNN."""
    seen: list[torch.Tensor] = []
    handle = encoder.cnn.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    try:
        out = encoder(obs)
    finally:
        handle.remove()
    return out, seen[0]


def _frames(n: int, k: int, c: int, h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, k, c, h, w), dtype=np.uint8)


def _check_against_reference(layout: str, frames: np.ndarray, features_dim: int = 8) -> ImageEncoder:
    obs = _lay_out(frames, layout)
    torch.manual_seed(0)
    encoder = ImageEncoder(obs.shape[1:], features_dim=features_dim)
    expected_input = _reference_cnn_input(frames)
    assert encoder.cnn_shape == expected_input.shape[1:]
    assert encoder.observation_shape == obs.shape[1:]
    assert encoder.features_dim == features_dim
    out, cnn_input = _run(encoder, torch.from_numpy(obs))
    np.testing.assert_array_equal(cnn_input.numpy(), expected_input)
    # The same weights on the reference batch (a contiguous copy, so a different conv path).
    reference = NatureCNN(encoder.cnn_shape, features_dim)
    reference.load_state_dict(encoder.cnn.state_dict())
    with torch.no_grad():
        expected = reference(torch.from_numpy(expected_input))
    assert out.dtype == torch.float32 and out.shape == (frames.shape[0], features_dim)
    np.testing.assert_allclose(out.detach().numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    return encoder


# --------------------------------------------------------------------------- every layout
@pytest.mark.parametrize(
    ("layout", "k", "c"),
    [
        ("HW", 1, 1),
        ("CHW", 1, 3),
        ("CHW", 1, 4),
        ("HWC", 1, 3),
        ("HWC", 1, 1),
        ("kCHW", 4, 3),
        ("kHWC", 4, 3),
        ("kHWC", 2, 1),
        ("kCHW", 1, 1),
    ],
)
def test_each_layout_feeds_natures_cnn_the_reference_batch(layout, k, c):
    _check_against_reference(layout, _frames(3, k, c, 37, 44, seed=k * 10 + c))


@FAST
@given(
    layout=st.sampled_from(LAYOUTS),
    n=st.integers(1, 3),
    k=st.integers(1, 4),
    c=st.integers(1, 4),
    h=st.integers(36, 50),
    w=st.integers(36, 50),
    seed=st.integers(0, 2**16),
)
def test_any_shape_of_a_layout_matches_the_reference(layout, n, k, c, h, w, seed):
    k = 1 if layout in ("HW", "CHW", "HWC") else k
    c = 1 if layout == "HW" else c
    _check_against_reference(layout, _frames(n, k, c, h, w, seed), features_dim=4)


def test_stacked_grayscale_frames_are_channels_first():
    # (k, H, W) from FrameStack on (H, W) frames: channels first with C = k, as intended.
    assert image_layout((4, 84, 84)) == ImageLayout((4, 84, 84), (0, 1, 2))
    _check_against_reference("CHW", _frames(2, 1, 4, 40, 40, seed=1))


@pytest.mark.parametrize("layout", ["HW", "CHW", "HWC", "kCHW"])
def test_the_encoder_reshapes_without_copying(layout):
    frames = _frames(2, 3 if layout == "kCHW" else 1, 1 if layout == "HW" else 3, 40, 40, seed=2)
    obs = torch.from_numpy(_lay_out(frames, layout))
    _, cnn_input = _run(ImageEncoder(obs.shape[1:], features_dim=4), obs)
    assert cnn_input.data_ptr() == obs.data_ptr()


def test_frame_stack_of_channels_last_frames_matches_the_reference():
    shape = (40, 44, 3)

    def frame(env: GenericTestEnv) -> np.ndarray:  # a distinct random image per (episode, step)
        return np.random.default_rng([env.episode, env.t]).integers(0, 256, shape, dtype=np.uint8)

    def make() -> GenericTestEnv:
        return GenericTestEnv(
            observation_space=spaces.Box(0, 255, shape, np.uint8),
            reset_func=lambda env, seed, options: (frame(env), {}),
            step_func=lambda env, action: (frame(env), 0.0, False, False, {}),
        )

    env = FrameStack(make(), 3)
    raw = make()  # the same frames, unstacked
    assert is_image_space(env.observation_space)
    torch.manual_seed(0)
    encoder = ImageEncoder(env.observation_space.shape, features_dim=16)
    assert encoder.cnn_shape == (9, 40, 44)
    history = [raw.reset(seed=0)[0]] * 3  # "reset" padding repeats the first frame
    obs, _ = env.reset(seed=0)
    for _ in range(4):
        # Reference: the last three raw frames, oldest first, each (H, W, C) -> (C, H, W) by hand.
        chw = [np.stack([f[:, :, ch] for ch in range(3)]) for f in history[-3:]]
        expected_input = np.concatenate(chw)[None]
        out, cnn_input = _run(encoder, torch.from_numpy(obs)[None])
        np.testing.assert_array_equal(cnn_input.numpy(), expected_input)
        with torch.no_grad():
            expected = encoder.cnn(torch.from_numpy(np.ascontiguousarray(expected_input)))
        np.testing.assert_allclose(out.detach().numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
        obs = env.step(0)[0]
        history.append(raw.step(0)[0])


# --------------------------------------------------------------------------- the channel rule
def _sb3_channels_first(shape: tuple[int, int, int]) -> bool:
    preprocessing = pytest.importorskip("stable_baselines3.common.preprocessing")
    with warnings.catch_warnings():  # SB3 warns where the middle dimension is a smallest one
        warnings.simplefilter("ignore")
        return bool(preprocessing.is_image_space_channels_first(spaces.Box(0, 255, shape, np.uint8)))


@settings(max_examples=150, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 90), st.integers(1, 90), st.integers(1, 90))
    | st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4))  # many ties
)
def test_channel_axis_agrees_with_sb3_and_the_middle_is_refused(shape):
    if shape[1] < shape[0] and shape[1] < shape[2]:  # SB3 warns and guesses; rlcore refuses
        with pytest.raises(ValueError, match=r"image_layout: cannot tell the channel axis"):
            image_layout(shape)
        return
    layout = image_layout(shape)
    channels_first = _sb3_channels_first(shape)
    assert layout.permutation == ((0, 1, 2) if channels_first else (2, 0, 1))
    assert layout.cnn_shape == tuple(shape[i] for i in layout.permutation)
    stacked = image_layout((5, *shape))
    assert stacked.cnn_shape == (5 * layout.cnn_shape[0], *layout.cnn_shape[1:])


def test_ties_go_to_the_first_smallest_axis():
    assert image_layout((40, 40, 40)).permutation == (0, 1, 2)
    assert image_layout((3, 40, 3)).permutation == (0, 1, 2)
    assert image_layout((50, 40, 40)).cnn_shape == (40, 50, 40)  # middle and last tie: channels last
    assert image_layout((3, 3, 40)).permutation == (0, 1, 2)
    assert image_layout(np.array([2, 40, 40])).cnn_shape == (2, 40, 40)


# --------------------------------------------------------------------------- is_image_space
@pytest.mark.parametrize(
    ("space", "expected"),
    [
        (spaces.Box(0, 255, (84, 84), np.uint8), True),
        (spaces.Box(0, 255, (4, 84, 84), np.uint8), True),
        (spaces.Box(0, 255, (210, 160, 3), np.uint8), True),
        (spaces.Box(0, 255, (36, 36, 1), np.uint8), True),
        (spaces.Box(0, 255, (4, 84, 84, 3), np.uint8), True),
        (spaces.Box(0, 255, (4, 3, 84, 84), np.uint8), True),
        (spaces.Box(0, 1, (40, 40), np.uint8), True),  # bounds are not checked
        (spaces.Box(0, 255, (35, 84, 3), np.uint8), False),  # H below NatureCNN's 36
        (spaces.Box(0, 255, (84, 35), np.uint8), False),
        (spaces.Box(0, 255, (2, 35, 35, 1), np.uint8), False),
        (spaces.Box(0, 255, (84, 3, 84), np.uint8), False),  # channels in the middle
        (spaces.Box(0.0, 1.0, (84, 84, 3), np.float32), False),
        (spaces.Box(0, 255, (84, 84, 3), np.int64), False),
        (spaces.Box(0, 255, (7056,), np.uint8), False),
        (spaces.Box(0, 255, (), np.uint8), False),
        (spaces.Box(0, 255, (2, 4, 84, 84, 3), np.uint8), False),
        (spaces.Discrete(5), False),
        (spaces.MultiBinary((84, 84)), False),
        (spaces.Dict({"pixels": spaces.Box(0, 255, (84, 84, 3), np.uint8)}), False),
        (spaces.Tuple((spaces.Box(0, 255, (84, 84, 3), np.uint8),)), False),
        (None, False),
        ((84, 84, 3), False),
        (np.zeros((84, 84, 3), np.uint8), False),
    ],
    ids=repr,
)
def test_is_image_space_truth_table(space, expected):
    assert is_image_space(space) is expected
    if expected:
        ImageEncoder(space.shape, features_dim=2)  # what True promises


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "shape",
    [(84,), (2, 2, 84, 84, 3), (), (84, 0), (84.0, 84), (True, 84), "abc", 84, None, (4, -1, 84)],
    ids=repr,
)
def test_shapes_without_a_layout_are_refused(shape):
    with pytest.raises(ValueError, match=r"image_layout: an image observation shape must be 2, 3 or 4 ints"):
        image_layout(shape)
    with pytest.raises(ValueError, match=r"ImageEncoder: an image observation shape must be 2, 3 or 4 ints"):
        ImageEncoder(shape)


def test_encoder_errors_name_the_shape_and_dtype():
    with pytest.raises(
        ValueError, match=r"ImageEncoder: cannot tell the channel axis of observation shape \(84, 3, 84\)"
    ):
        ImageEncoder((84, 3, 84))
    with pytest.raises(
        ValueError,
        match=r"ImageEncoder: observation_shape \(4, 35, 84, 3\) has frames of H x W = 35 x 84 "
        r"\(CNN input \(C, H, W\) = \(12, 35, 84\)\); H and W must be >= 36",
    ):
        ImageEncoder((4, 35, 84, 3))
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match=r"ImageEncoder: features_dim must be an int >= 1, got"):
            ImageEncoder((84, 84), features_dim=bad)
    encoder = ImageEncoder((40, 40, 3), features_dim=4)
    with pytest.raises(
        TypeError, match=r"ImageEncoder: expected uint8 observations in \[0, 255\], got dtype torch.float32"
    ):
        encoder(torch.zeros(1, 40, 40, 3))
    with pytest.raises(
        ValueError, match=r"ImageEncoder: expected a batch of shape \(N, 40, 40, 3\), got \(40, 40, 3\)"
    ):
        encoder(torch.zeros(40, 40, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"got \(2, 3, 40, 40\)"):
        encoder(torch.zeros(2, 3, 40, 40, dtype=torch.uint8))


# --------------------------------------------------------------------------- training and eval
@pytest.mark.parametrize("layout", LAYOUTS)
def test_gradients_reach_every_parameter(layout):
    frames = _frames(4, 2 if layout.startswith("k") else 1, 1 if layout == "HW" else 2, 40, 40, seed=3)
    obs = torch.from_numpy(_lay_out(frames, layout))
    torch.manual_seed(0)
    encoder = ImageEncoder(obs.shape[1:], features_dim=8)
    encoder(obs).square().sum().backward()
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


def test_plain_eval_is_deterministic_and_equals_train_mode():
    # No dropout or batch norm: eval and train compute the same function.
    torch.manual_seed(0)
    encoder = ImageEncoder((2, 48, 40, 3), features_dim=8)
    obs = torch.from_numpy(_lay_out(_frames(3, 2, 3, 48, 40, seed=4), "kHWC"))
    train_out = encoder(obs).detach()
    encoder.eval()
    with torch.inference_mode():
        first, second = encoder(obs), encoder(obs)
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    torch.testing.assert_close(first, train_out, rtol=0, atol=0)


def test_double_precision_and_state_dict_round_trip():
    torch.manual_seed(0)
    encoder = ImageEncoder((40, 40), features_dim=4)
    obs = torch.from_numpy(_frames(2, 1, 1, 40, 40, seed=5)[:, 0, 0])
    assert encoder.double()(obs).dtype == torch.float64
    copy = ImageEncoder((40, 40), features_dim=4).double()
    copy.load_state_dict(encoder.state_dict())
    torch.testing.assert_close(copy(obs), encoder(obs), rtol=0, atol=0)
