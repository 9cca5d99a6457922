"""Tests of rlcore.nn against independent references: float64 NumPy recomputations, torch's
own TransformedDistribution, numerical change of variables, naive loops and SB3."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.distributions import AffineTransform, Independent, Normal, TanhTransform, TransformedDistribution
from torch.nn import functional as F

from rlcore.nn import (
    Categorical,
    CategoricalHead,
    DuelingQHead,
    GaussianHead,
    NatureCNN,
    SquashedNormal,
    layer_init,
    mlp,
    polyak_update,
    tanh_log_abs_det_jacobian,
)

FAST = settings(max_examples=40, deadline=None)


def _f64(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float64)


# --------------------------------------------------------------------------- layer_init
@FAST
@given(
    out_features=st.integers(1, 24),
    in_features=st.integers(1, 24),
    gain=st.floats(0.05, 3.0),
    bias=st.floats(-2.0, 2.0),
    seed=st.integers(0, 2**16),
)
def test_layer_init_linear_is_orthogonal_on_the_smaller_side(out_features, in_features, gain, bias, seed):
    torch.manual_seed(seed)
    layer = nn.Linear(in_features, out_features)
    assert layer_init(layer, gain=gain, bias=bias) is layer
    w = _f64(layer.weight)
    gram = w @ w.T if out_features <= in_features else w.T @ w
    np.testing.assert_allclose(
        gram, gain**2 * np.eye(min(out_features, in_features)), atol=1e-5 * max(1.0, gain**2)
    )
    np.testing.assert_array_equal(_f64(layer.bias), np.full(out_features, np.float32(bias)))


@FAST
@given(
    out_channels=st.integers(1, 16),
    in_channels=st.integers(1, 4),
    kernel=st.integers(1, 3),
    gain=st.floats(0.1, 2.0),
)
def test_layer_init_conv_is_orthogonal_after_flattening(out_channels, in_channels, kernel, gain):
    layer = layer_init(nn.Conv2d(in_channels, out_channels, kernel), gain=gain)
    w = _f64(layer.weight).reshape(out_channels, -1)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(w.shape)), atol=1e-5)


def test_layer_init_is_reproducible_under_manual_seed_and_keeps_a_missing_bias():
    torch.manual_seed(3)
    a = layer_init(nn.Linear(5, 4, bias=False))
    torch.manual_seed(3)
    b = layer_init(nn.Linear(5, 4, bias=False))
    assert a.bias is None
    assert torch.equal(a.weight, b.weight)


def test_layer_init_rejects_bad_arguments():
    with pytest.raises(
        TypeError, match=r"layer_init: layer must have a weight tensor .* got ReLU with weight of shape None"
    ):
        layer_init(nn.ReLU())
    with pytest.raises(TypeError, match=r"got LayerNorm with weight of shape \(3,\)"):
        layer_init(nn.LayerNorm(3))
    with pytest.raises(ValueError, match=r"layer_init: gain must be a finite number >= 0, got -1.0"):
        layer_init(nn.Linear(2, 2), gain=-1.0)
    with pytest.raises(ValueError, match=r"layer_init: gain .* got nan"):
        layer_init(nn.Linear(2, 2), gain=float("nan"))
    with pytest.raises(ValueError, match=r"layer_init: bias must be a finite number, got inf"):
        layer_init(nn.Linear(2, 2), bias=float("inf"))


# --------------------------------------------------------------------------- mlp
def _numpy_mlp(net: nn.Sequential, x: np.ndarray, activation, layer_norm: bool) -> np.ndarray:
    """Float64 forward pass written from the layer list, without calling the modules."""
    linears = [m for m in net if isinstance(m, nn.Linear)]
    norms = [m for m in net if isinstance(m, nn.LayerNorm)]
    h = x
    for i, linear in enumerate(linears):
        h = h @ _f64(linear.weight).T + _f64(linear.bias)
        if i < len(linears) - 1:
            if layer_norm:
                mean = h.mean(-1, keepdims=True)
                var = h.var(-1, keepdims=True)
                h = (h - mean) / np.sqrt(var + norms[i].eps) * _f64(norms[i].weight) + _f64(norms[i].bias)
            h = activation(h)
    return h


@FAST
@given(
    in_features=st.integers(1, 6),
    hidden=st.lists(st.integers(1, 8), min_size=0, max_size=3),
    out_features=st.integers(1, 4),
    layer_norm=st.booleans(),
    use_relu=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_mlp_matches_a_float64_recomputation(in_features, hidden, out_features, layer_norm, use_relu, seed):
    torch.manual_seed(seed)
    activation, np_activation = (nn.ReLU, lambda h: np.maximum(h, 0.0)) if use_relu else (nn.Tanh, np.tanh)
    net = mlp(in_features, hidden, out_features, activation=activation, layer_norm=layer_norm)
    x = torch.randn(7, in_features)
    out = net(x)
    assert out.shape == (7, out_features) and out.dtype == torch.float32
    expected = _numpy_mlp(net, _f64(x), np_activation, layer_norm and bool(hidden))
    np.testing.assert_allclose(_f64(out), expected, rtol=1e-4, atol=1e-4)
    kinds = [type(m) for m in net]
    assert kinds.count(nn.Linear) == len(hidden) + 1
    assert kinds.count(nn.LayerNorm) == (len(hidden) if layer_norm else 0)
    assert kinds.count(activation) == len(hidden)


def test_mlp_gains_and_torso_mode():
    torch.manual_seed(0)
    net = mlp(10, [6], 3, hidden_gain=2.0, output_gain=0.5)
    hidden_w, out_w = _f64(net[0].weight), _f64(net[2].weight)
    np.testing.assert_allclose(hidden_w @ hidden_w.T, 4.0 * np.eye(6), atol=1e-5)
    np.testing.assert_allclose(out_w @ out_w.T, 0.25 * np.eye(3), atol=1e-5)
    torso = mlp(4, [8, 5], None, activation=nn.ReLU)
    assert isinstance(torso[-1], nn.ReLU)
    assert torso(torch.randn(2, 4)).shape == (2, 5)


def test_mlp_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"mlp: in_features must be an int >= 1, got 0"):
        mlp(0, [4], 1)
    with pytest.raises(ValueError, match=r"mlp: hidden_sizes\[1\] must be an int >= 1, got -3"):
        mlp(2, [4, -3], 1)
    with pytest.raises(ValueError, match=r"mlp: out_features must be an int >= 1, got 2.5"):
        mlp(2, [4], 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"mlp: out_features=None needs at least one hidden layer"):
        mlp(2, [], None)
    with pytest.raises(
        TypeError, match=r"mlp: activation must be an nn.Module class .* got <built-in method relu"
    ):
        mlp(2, [4], 1, activation=torch.relu)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- NatureCNN
@settings(max_examples=10, deadline=None)
@given(channels=st.integers(1, 4), height=st.integers(36, 100), width=st.integers(36, 100))
def test_nature_cnn_flattened_size_matches_a_dummy_forward(channels, height, width):
    net = NatureCNN((channels, height, width), features_dim=16)
    with torch.no_grad():
        flat = net.convs(torch.zeros(1, channels, height, width))
    assert net.n_flatten == flat.shape[1]
    assert net(torch.zeros(3, channels, height, width, dtype=torch.uint8)).shape == (3, 16)


def test_nature_cnn_paper_architecture_and_scaling():
    torch.manual_seed(0)
    net = NatureCNN((4, 84, 84))
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (32, (8, 8), (4, 4)),
        (64, (4, 4), (2, 2)),
        (64, (3, 3), (1, 1)),
    ]
    assert net.n_flatten == 64 * 7 * 7 and net.fc.out_features == 512
    frames = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    out = net(frames)
    # Reference: the functional pipeline on frames scaled outside the network.
    h = frames.double() / 255.0
    for conv in convs:
        h = F.relu(F.conv2d(h, conv.weight.double(), conv.bias.double(), stride=conv.stride))
    expected = F.relu(F.linear(h.flatten(1), net.fc.weight.double(), net.fc.bias.double()))
    assert out.dtype == torch.float32 and out.shape == (2, 512)
    np.testing.assert_allclose(_f64(out), _f64(expected), rtol=1e-4, atol=1e-5)


def test_nature_cnn_rejects_bad_input():
    with pytest.raises(
        ValueError, match=r"NatureCNN: observation_shape must be three ints >= 1 \(C, H, W\), got \(84, 84\)"
    ):
        NatureCNN((84, 84))
    with pytest.raises(
        ValueError, match=r"NatureCNN: observation_shape \(C, H, W\) = \(1, 35, 84\) is too small"
    ):
        NatureCNN((1, 35, 84))
    with pytest.raises(ValueError, match=r"NatureCNN: features_dim must be an int >= 1, got 0"):
        NatureCNN(features_dim=0)
    net = NatureCNN((1, 36, 36))
    with pytest.raises(
        TypeError, match=r"NatureCNN: expected uint8 observations in \[0, 255\], got dtype torch.float32"
    ):
        net(torch.zeros(1, 1, 36, 36))
    with pytest.raises(
        ValueError, match=r"NatureCNN: expected a batch of shape \(N, 1, 36, 36\), got \(1, 36, 36\)"
    ):
        net(torch.zeros(1, 36, 36, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"got \(2, 1, 36, 40\)"):
        net(torch.zeros(2, 1, 36, 40, dtype=torch.uint8))


# --------------------------------------------------------------------------- CategoricalHead
@settings(max_examples=40, deadline=None)
@given(
    batch=st.integers(1, 6),
    actions=st.integers(1, 5),
    seed=st.integers(0, 2**31 - 1),
    scale=st.sampled_from([0.1, 1.0, 30.0]),
)
def test_categorical_log_prob_entropy_and_gradients_match_torch(batch, actions, seed, scale):
    generator = torch.Generator().manual_seed(seed)
    logits = (torch.randn(batch, actions, generator=generator) * scale).requires_grad_()
    value = torch.randint(0, actions, (batch,), generator=generator)
    ours, reference = Categorical(logits=logits), torch.distributions.Categorical(logits=logits)
    torch.testing.assert_close(ours.log_prob(value), reference.log_prob(value))
    torch.testing.assert_close(ours.entropy(), reference.entropy())
    (grad_ours,) = torch.autograd.grad(ours.log_prob(value).sum(), logits)
    (grad_reference,) = torch.autograd.grad(reference.log_prob(value).sum(), logits)
    torch.testing.assert_close(grad_ours, grad_reference)
    # Other value shapes (a sample_shape in front) take torch's general path.
    many = torch.randint(0, actions, (3, batch), generator=generator)
    torch.testing.assert_close(ours.log_prob(many), reference.log_prob(many))


def test_categorical_samples_follow_the_probabilities_and_never_masked_actions():
    torch.manual_seed(0)
    probs = torch.tensor([0.2, 0.5, 0.0, 0.3, 0.0])
    rows = 200_000
    dist = Categorical(logits=probs.log().expand(rows, 5))
    draws = dist.sample()
    assert draws.shape == (rows,) and draws.dtype == torch.int64
    counts = torch.bincount(draws, minlength=5).double()
    # Zero-probability (masked, -inf logit) actions never come up.
    assert counts[2] == 0 and counts[4] == 0
    # Each frequency within 5 binomial standard deviations of its probability.
    expected = probs.double() * rows
    sd = (rows * probs.double() * (1 - probs.double())).sqrt()
    assert ((counts - expected).abs() <= 5 * sd + 1e-9).all(), counts / rows
    # One row per batch entry, from the global RNG: seeded runs repeat.
    torch.manual_seed(3)
    first = Categorical(logits=torch.randn(7, 4)).sample()
    torch.manual_seed(3)
    assert torch.equal(Categorical(logits=torch.randn(7, 4)).sample(), first)
    # A sample_shape takes torch's path, with torch's shapes.
    assert Categorical(logits=torch.zeros(7, 4)).sample((2, 3)).shape == (2, 3, 7)
    assert Categorical(logits=torch.zeros(4)).sample().shape == ()


def test_categorical_is_a_torch_categorical():
    dist = Categorical(logits=torch.zeros(3, 2))
    assert isinstance(dist, torch.distributions.Categorical)
    expanded = dist.expand(torch.Size([4, 3]))
    assert type(expanded) is Categorical and expanded.batch_shape == (4, 3)
    torch.testing.assert_close(
        expanded.log_prob(torch.zeros(4, 3, dtype=torch.long)), torch.full((4, 3), -math.log(2))
    )
    # probs, a single distribution, and torch's argument errors take torch's own constructor.
    by_probs = Categorical(probs=torch.tensor([0.25, 0.75]))
    torch.testing.assert_close(by_probs.log_prob(torch.tensor(1)), torch.tensor(0.75).log())
    assert Categorical(logits=torch.tensor([0.0, 1.0])).batch_shape == ()
    with pytest.raises(ValueError, match="Either `probs` or `logits`"):
        Categorical()
    other = torch.distributions.Categorical(logits=torch.tensor([0.0, 1.0]).expand(3, 2))
    torch.testing.assert_close(
        torch.distributions.kl_divergence(dist, other),
        torch.distributions.kl_divergence(torch.distributions.Categorical(logits=torch.zeros(3, 2)), other),
    )
    with pytest.raises(ValueError):
        Categorical(logits=torch.zeros(3, 2), validate_args=True).log_prob(torch.tensor([0, 5, 1]))


def test_categorical_head_matches_numpy_log_softmax():
    torch.manual_seed(1)
    head = CategoricalHead(5, 4, gain=1.0)
    x = torch.randn(6, 5)
    dist = head(x)
    logits = _f64(x) @ _f64(head.logits.weight).T + _f64(head.logits.bias)
    log_p = (
        logits
        - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True))
        - logits.max(1, keepdims=True)
    )
    actions = torch.tensor([0, 1, 2, 3, 3, 1])
    assert dist.batch_shape == (6,) and dist.sample().dtype == torch.int64
    np.testing.assert_allclose(_f64(dist.log_prob(actions)), log_p[np.arange(6), actions.numpy()], atol=1e-5)
    np.testing.assert_allclose(_f64(dist.entropy()), -(np.exp(log_p) * log_p).sum(1), atol=1e-5)


def test_categorical_head_small_gain_starts_near_uniform_and_rejects_bad_input():
    head = CategoricalHead(16, 6)
    probs = head(torch.randn(4, 16)).probs
    np.testing.assert_allclose(_f64(probs), np.full((4, 6), 1 / 6), atol=0.02)
    with pytest.raises(ValueError, match=r"CategoricalHead: num_actions must be an int >= 1, got 0"):
        CategoricalHead(4, 0)
    with pytest.raises(
        ValueError, match=r"CategoricalHead: expected features of shape \(B, 16\), got \(4, 15\)"
    ):
        head(torch.zeros(4, 15))


# --------------------------------------------------------------------------- GaussianHead
def _normal_logpdf(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    return -0.5 * ((x - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)


@pytest.mark.parametrize("state_dependent_std", [False, True])
def test_gaussian_head_log_prob_and_entropy_match_closed_forms(state_dependent_std):
    torch.manual_seed(2)
    head = GaussianHead(5, 3, state_dependent_std=state_dependent_std, log_std_init=-0.5, mean_gain=1.0)
    x = torch.randn(8, 5)
    dist = head(x)
    assert isinstance(dist, Independent)
    assert dist.batch_shape == (8,) and dist.event_shape == (3,)
    mu = _f64(x) @ _f64(head.mean.weight).T + _f64(head.mean.bias)
    if state_dependent_std:
        assert isinstance(head.log_std, nn.Linear)
        log_std = _f64(x) @ _f64(head.log_std.weight).T + _f64(head.log_std.bias)
    else:
        log_std = np.broadcast_to(_f64(head.log_std), mu.shape)
        np.testing.assert_allclose(log_std, -0.5)
    sigma = np.exp(log_std)
    actions = dist.sample()
    np.testing.assert_allclose(
        _f64(dist.log_prob(actions)), _normal_logpdf(_f64(actions), mu, sigma).sum(1), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        _f64(dist.entropy()), (0.5 * np.log(2 * np.pi * np.e * sigma**2)).sum(1), atol=1e-5
    )


def test_gaussian_head_clamps_log_std_and_passes_gradients_to_it():
    head = GaussianHead(2, 2, log_std_min=-3.0, log_std_max=1.0)
    assert isinstance(head.log_std, nn.Parameter)
    with torch.no_grad():
        head.log_std.copy_(torch.tensor([5.0, -0.25]))
    dist = head(torch.zeros(1, 2))
    np.testing.assert_allclose(_f64(dist.stddev[0]), np.exp([1.0, -0.25]), rtol=1e-6)
    dist.log_prob(torch.zeros(1, 2)).sum().backward()
    assert head.log_std.grad is not None
    assert head.log_std.grad[0] == 0.0 and head.log_std.grad[1] != 0.0  # clamped entry: no gradient


@pytest.mark.parametrize("bounds", [None, ([-2.0, 0.0, 5.0], [2.0, 1.0, 9.0])])
def test_squashed_log_prob_matches_torch_transformed_distribution(bounds):
    torch.manual_seed(3)
    low, high = (None, None) if bounds is None else bounds
    head = GaussianHead(
        4, 3, state_dependent_std=True, squash=True, action_low=low, action_high=high, mean_gain=1.0
    )
    x = torch.randn(64, 4, dtype=torch.float32)
    dist = head(x)
    assert isinstance(dist, SquashedNormal)
    transforms = [TanhTransform(cache_size=1)]
    if bounds is not None:
        lo, hi = torch.tensor(low), torch.tensor(high)
        transforms.append(AffineTransform((hi + lo) / 2, (hi - lo) / 2, cache_size=1))
    reference = TransformedDistribution(Normal(dist.loc, dist.scale), transforms)
    torch.manual_seed(10)
    action, log_prob = dist.rsample_and_log_prob()
    torch.manual_seed(10)
    ref_action = reference.rsample()
    ref_log_prob = reference.log_prob(ref_action).sum(-1)  # cached pre-image: no atanh
    torch.testing.assert_close(action, ref_action)
    torch.testing.assert_close(log_prob, ref_log_prob, rtol=1e-5, atol=1e-4)
    # log_prob of given actions inverts the squash; compare away from the bounds in float64.
    dist64 = SquashedNormal(
        dist.loc.double(),
        dist.scale.double(),
        *(None, None) if bounds is None else (lo.double(), hi.double()),
    )
    ref64 = TransformedDistribution(
        Normal(dist.loc.double(), dist.scale.double()),
        [TanhTransform()]
        + ([] if bounds is None else [AffineTransform((hi + lo).double() / 2, (hi - lo).double() / 2)]),
    )
    inner = dist64.sample()
    torch.testing.assert_close(dist64.log_prob(inner), ref64.log_prob(inner).sum(-1), rtol=1e-7, atol=1e-6)
    assert action.shape == (64, 3) and log_prob.shape == (64,)
    if bounds is not None:
        assert bool(((action >= lo) & (action <= hi)).all())
    else:
        assert bool((action.abs() <= 1).all())


def test_squashed_density_by_numerical_change_of_variables():
    """d/dy P(a <= y) by central differences of the Gaussian CDF through atanh, in float64."""
    mu, sigma, low, high = 0.3, 0.7, -1.0, 3.0
    c, h = (high + low) / 2, (high - low) / 2
    dist = SquashedNormal(
        torch.tensor([[mu]], dtype=torch.float64),
        torch.tensor([[sigma]], dtype=torch.float64),
        torch.tensor([low], dtype=torch.float64),
        torch.tensor([high], dtype=torch.float64),
    )

    def cdf(y: float) -> float:
        return 0.5 * (1.0 + math.erf((math.atanh((y - c) / h) - mu) / (sigma * math.sqrt(2.0))))

    for y in np.linspace(low + 0.05, high - 0.05, 17):
        step = 1e-6
        numeric = (cdf(y + step) - cdf(y - step)) / (2 * step)
        analytic = float(dist.log_prob(torch.tensor([[y]], dtype=torch.float64)).exp())
        assert analytic == pytest.approx(numeric, rel=1e-5)
    # The density integrates to one over (low, high).
    grid = torch.linspace(low, high, 200_001, dtype=torch.float64)[1:-1, None].unsqueeze(1)
    density = dist.log_prob(grid).exp().squeeze()
    assert float(torch.trapezoid(density, grid.squeeze())) == pytest.approx(1.0, abs=1e-4)


def test_squashed_log_prob_stays_finite_where_tanh_saturates():
    dist = SquashedNormal(torch.full((1, 2), 12.0), torch.full((1, 2), 0.1))
    action, log_prob = dist.rsample_and_log_prob()
    assert torch.isfinite(log_prob).all()
    assert torch.equal(action, torch.ones(1, 2))  # tanh(12) rounds to 1 in float32
    reference = TransformedDistribution(Normal(dist.loc, dist.scale), [TanhTransform(cache_size=1)])
    torch.manual_seed(0)
    _, lp = dist.rsample_and_log_prob()
    torch.manual_seed(0)
    y = reference.rsample()
    torch.testing.assert_close(lp, reference.log_prob(y).sum(-1), rtol=1e-5, atol=1e-3)
    assert torch.isfinite(dist.log_prob(action)).all()  # clamped inverse, approximate but finite


def test_squashed_median_entropy_and_shapes():
    head = GaussianHead(3, 2, squash=True, action_low=0.0, action_high=10.0)
    with torch.no_grad():
        head.mean.weight.zero_()
        head.mean.bias.copy_(torch.tensor([0.0, 1.0]))
    dist = head(torch.zeros(5, 3))
    np.testing.assert_allclose(_f64(dist.median[0]), [5.0, 5.0 + 5.0 * math.tanh(1.0)], rtol=1e-6)
    assert dist.rsample((7,)).shape == (7, 5, 2) and dist.log_prob(dist.sample((7,))).shape == (7, 5)
    with pytest.raises(NotImplementedError, match=r"SquashedNormal.entropy: .* no closed form"):
        dist.entropy()


def test_gaussian_head_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"GaussianHead: action_dim must be an int >= 1, got 0"):
        GaussianHead(3, 0)
    with pytest.raises(
        ValueError,
        match=r"GaussianHead: need finite log_std_min < log_std_max, got log_std_min=2.0, log_std_max=-2.0",
    ):
        GaussianHead(3, 1, log_std_min=2.0, log_std_max=-2.0)
    with pytest.raises(
        ValueError,
        match=r"GaussianHead: log_std_init must lie in \[log_std_min, log_std_max\] = \[-20.0, 2.0\], got 3.0",
    ):
        GaussianHead(3, 1, log_std_init=3.0)
    with pytest.raises(ValueError, match=r"GaussianHead: action_low/action_high need squash=True"):
        GaussianHead(3, 1, action_low=-1.0, action_high=1.0)
    with pytest.raises(
        ValueError,
        match=r"GaussianHead: pass both action_low and action_high or neither, got action_low=-1.0, action_high=None",
    ):
        GaussianHead(3, 1, squash=True, action_low=-1.0)
    with pytest.raises(
        ValueError, match=r"GaussianHead: action_high must be a number or of shape \(2,\), got shape \(3,\)"
    ):
        GaussianHead(3, 2, squash=True, action_low=-1.0, action_high=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"GaussianHead: action_low must be finite, got \[-inf, 0.0\]"):
        GaussianHead(3, 2, squash=True, action_low=[-np.inf, 0.0], action_high=1.0)
    with pytest.raises(
        ValueError,
        match=r"GaussianHead: need action_low < action_high in every dimension, got action_low=\[0.0, 0.0\], action_high=\[1.0, 0.0\]",
    ):
        GaussianHead(3, 2, squash=True, action_low=0.0, action_high=[1.0, 0.0])
    with pytest.raises(
        ValueError,
        match=r"SquashedNormal: loc and scale must have the same shape \(\*batch, A\), got \(2, 3\) and \(2,\)",
    ):
        SquashedNormal(torch.zeros(2, 3), torch.ones(2))
    with pytest.raises(ValueError, match=r"SquashedNormal: pass both low and high, or neither"):
        SquashedNormal(torch.zeros(2, 3), torch.ones(2, 3), low=torch.zeros(3))


def test_gaussian_head_bounds_follow_the_module_but_stay_out_of_the_state_dict():
    head = GaussianHead(3, 2, squash=True, action_low=-1.0, action_high=2.0).double()
    assert head.action_low is not None and head.action_low.dtype == torch.float64
    assert set(head.state_dict()) == {"mean.weight", "mean.bias", "log_std"}


@settings(max_examples=50, deadline=None)
@given(u=st.floats(-40.0, 40.0))
def test_tanh_log_abs_det_jacobian_matches_a_logaddexp_identity(u):
    # log(1 - tanh^2 u) = log(4 / (e^u + e^-u)^2) = 2 log 2 - 2 logaddexp(u, -u).
    expected = 2 * math.log(2.0) - 2 * np.logaddexp(u, -u)
    got = float(tanh_log_abs_det_jacobian(torch.tensor(u, dtype=torch.float64)))
    # torch.softplus is linear above 20, which costs at most 2 * log1p(exp(-20)) ~ 4e-9 here.
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-8)
    if abs(u) < 5:
        assert got == pytest.approx(math.log1p(-(math.tanh(u) ** 2)), rel=1e-9, abs=1e-12)
    assert math.isfinite(float(tanh_log_abs_det_jacobian(torch.tensor(u, dtype=torch.float32))))


# --------------------------------------------------------------------------- DuelingQHead
@pytest.mark.parametrize("hidden_sizes", [(), (32,)])
def test_dueling_head_identity(hidden_sizes):
    torch.manual_seed(4)
    head = DuelingQHead(6, 5, hidden_sizes=hidden_sizes)
    x = torch.randn(9, 6)
    q = head(x)
    value = head.value(x)
    advantage = head.advantage(x)
    expected = _f64(value) + _f64(advantage) - _f64(advantage).mean(1, keepdims=True)
    assert q.shape == (9, 5) and value.shape == (9, 1)
    np.testing.assert_allclose(_f64(q), expected, atol=1e-5)
    np.testing.assert_allclose(_f64(q).mean(1), _f64(value)[:, 0], atol=1e-5)
    assert torch.equal(q.argmax(1), advantage.argmax(1))
    with pytest.raises(ValueError, match=r"DuelingQHead: expected features of shape \(B, 6\), got \(9, 5\)"):
        head(torch.zeros(9, 5))
    with pytest.raises(ValueError, match=r"DuelingQHead: in_features must be an int >= 1, got True"):
        DuelingQHead(True, 3)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- polyak_update
def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


@FAST
@given(tau=st.floats(0.0, 1.0), seed=st.integers(0, 2**16))
def test_polyak_update_matches_a_naive_float64_loop(tau, seed):
    torch.manual_seed(seed)
    target, source = _net(), _net()
    source(torch.randn(5, 3))  # moves BatchNorm's running statistics away from the target's
    before = [_f64(p) for p in target.parameters()]
    polyak_update(target, source, tau)
    for old, new, src in zip(before, target.parameters(), source.parameters()):
        np.testing.assert_allclose(_f64(new), (1 - tau) * old + tau * _f64(src), rtol=1e-6, atol=1e-6)
    for t, s in zip(target.buffers(), source.buffers()):
        assert torch.equal(t, s)


def test_polyak_update_edge_taus_are_exact_and_leave_no_graph():
    torch.manual_seed(0)
    target, source = _net(), _net()
    frozen = [p.clone() for p in target.parameters()]
    polyak_update(target, source, 0.0)
    assert all(torch.equal(a, b) for a, b in zip(frozen, target.parameters()))
    polyak_update(target, source, 1)
    assert all(torch.equal(a, b) for a, b in zip(target.parameters(), source.parameters()))
    assert all(p.grad_fn is None and p.requires_grad for p in target.parameters())


def test_polyak_update_on_tensors_agrees_with_stable_baselines3():
    from stable_baselines3.common.utils import polyak_update as sb3_polyak_update

    torch.manual_seed(5)
    ours, theirs, source = _net(), _net(), _net()
    theirs.load_state_dict(ours.state_dict())
    for _ in range(20):
        with torch.no_grad():
            for p in source.parameters():
                p.add_(torch.randn_like(p) * 0.1)
        polyak_update(list(ours.parameters()), source.parameters(), 0.05)
        sb3_polyak_update(source.parameters(), theirs.parameters(), 0.05)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_polyak_update_rejects_bad_arguments():
    a, b = nn.Linear(2, 2), nn.Linear(2, 3)
    with pytest.raises(ValueError, match=r"polyak_update: tau must be a number in \[0, 1\], got 1.5"):
        polyak_update(a, a, 1.5)
    with pytest.raises(ValueError, match=r"polyak_update: tau .* got nan"):
        polyak_update(a, a, float("nan"))
    with pytest.raises(
        ValueError, match=r"polyak_update: parameters #0 has shape \(2, 2\) in target and \(3, 2\) in source"
    ):
        polyak_update(a, b, 0.5)
    with pytest.raises(
        ValueError,
        match=r"polyak_update: target and source parameters differ: target has \['weight', 'bias'\], source has \['weight'\]",
    ):
        polyak_update(a, nn.Linear(2, 2, bias=False), 0.5)
    with pytest.raises(
        ValueError,
        match=r"polyak_update: target and source must both be modules or both be iterables of tensors, got Linear and list",
    ):
        polyak_update(a, list(a.parameters()), 0.5)
    with pytest.raises(
        ValueError, match=r"polyak_update: target has 2 tensors, source has 1; expected the same number"
    ):
        polyak_update(list(a.parameters()), [a.weight], 0.5)
