"""Transfer functions, the dense layer and the training criterion against hand
formulas (Lecture 7; LeCun et al. 1998, Appendix A, for the scaled tanh)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from convnets import ops

A = np.linspace(-4.0, 4.0, 81)

HAND_FORMULAS = {
    "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
    "tanh": np.tanh,
    "lecun_tanh": lambda a: 1.7159 * np.tanh(2 * a / 3),
    "relu": lambda a: np.maximum(a, 0),
    "leaky_relu": lambda a: np.where(a >= 0, a, 0.01 * a),
    "elu": lambda a: np.where(a > 0, a, np.exp(a) - 1),
    # jax.nn.gelu's default is the tanh approximation (Hendrycks & Gimpel 2016).
    "gelu": lambda a: 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a ** 3))),
    "softplus": lambda a: np.log1p(np.exp(a)),
    "identity": lambda a: a,
}


def test_every_activation_has_a_hand_formula():
  assert set(HAND_FORMULAS) == set(ops.ACTIVATIONS)


@pytest.mark.parametrize("name", sorted(HAND_FORMULAS))
def test_activation_matches_its_hand_formula(name):
  np.testing.assert_allclose(ops.get_activation(name)(jnp.asarray(A, jnp.float32)),
                             HAND_FORMULAS[name](A), rtol=1e-5, atol=1e-6)


def test_lecun_tanh_maps_plus_minus_one_to_plus_minus_one():
  f = ops.get_activation("lecun_tanh")
  assert float(f(1.0)) == pytest.approx(1.7159 * math.tanh(2 / 3), rel=1e-6)
  assert float(f(1.0)) == pytest.approx(1.0, abs=1e-4)
  assert float(f(-1.0)) == pytest.approx(-1.0, abs=1e-4)
  # The second derivative is extremal at a = +-1 (LeCun et al. 1998, A).
  second = jax.vmap(jax.grad(jax.grad(ops.lecun_tanh)))(jnp.linspace(0.0, 3.0, 301))
  assert float(jnp.linspace(0.0, 3.0, 301)[jnp.argmin(second)]) == pytest.approx(1.0, abs=0.02)


def test_unknown_activation_lists_the_known_ones():
  with pytest.raises(ValueError, match="swish") as error:
    ops.get_activation("swish")
  for name in ops.ACTIVATIONS:
    assert name in str(error.value)


def test_dense_is_an_affine_map():
  rng = np.random.default_rng(0)
  x, w, b = rng.normal(size=(5, 784)), rng.normal(size=(784, 100)), rng.normal(size=(100,))
  expected = np.einsum("ni,io->no", x, w) + b
  np.testing.assert_allclose(ops.dense(x.astype(np.float32), w.astype(np.float32),
                                       b.astype(np.float32)), expected, rtol=1e-4, atol=1e-3)
  np.testing.assert_allclose(ops.dense(x.astype(np.float32), w.astype(np.float32)),
                             expected - b, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("x_shape, w_shape", [((5, 784), (783, 100)), ((5, 28, 28), (784, 100)),
                                              ((5, 784), (784,))])
def test_dense_rejects_mismatched_shapes(x_shape, w_shape):
  with pytest.raises(ValueError, match="D_in"):
    ops.dense(jnp.zeros(x_shape), jnp.zeros(w_shape))


def test_softmax_cross_entropy_is_minus_log_softmax_of_the_label():
  rng = np.random.default_rng(1)
  logits = rng.normal(size=(6, 10))
  labels = rng.integers(0, 10, size=6)
  softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
  expected = -np.log(softmax[np.arange(6), labels])
  np.testing.assert_allclose(ops.softmax_cross_entropy(jnp.asarray(logits, jnp.float32),
                                                       jnp.asarray(labels)), expected, rtol=1e-5)


def test_softmax_cross_entropy_is_stable_for_large_logits():
  logits = jnp.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 1000.0]])
  losses = ops.softmax_cross_entropy(logits, jnp.array([0, 1]))
  # No overflow, and no rounding of the label's term at this scale.
  np.testing.assert_allclose(losses, [0.0, math.log(2)], atol=1e-6)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.4])
def test_smoothed_cross_entropy_is_against_the_smoothed_target(smoothing):
  """``-sum_k t_k log p_k`` with ``t = (1 - e) onehot + e / K``, and its
  gradient ``p - t`` (Szegedy et al. 2016, Section 7)."""
  rng = np.random.default_rng(2)
  logits = rng.normal(size=(6, 10)) * 3
  labels = rng.integers(0, 10, size=6)
  p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
  target = (1 - smoothing) * np.eye(10)[labels] + smoothing / 10
  logits32, labels32 = jnp.asarray(logits, jnp.float32), jnp.asarray(labels)
  np.testing.assert_allclose(ops.softmax_cross_entropy(logits32, labels32, smoothing),
                             -(target * np.log(p)).sum(axis=1), rtol=1e-5)
  grad = jax.grad(lambda z: ops.softmax_cross_entropy(z, labels32, smoothing).sum())(logits32)
  np.testing.assert_allclose(grad, p - target, atol=1e-6)


def test_smoothed_cross_entropy_is_least_at_finite_logits():
  """With smoothing the loss of a two-class margin ``m`` is least where
  ``softmax`` equals the target, ``m = log((1 - e/2) / (e/2))``, not as
  ``m`` grows without bound."""
  margins = jnp.linspace(0.0, 10.0, 1001)
  logits = jnp.stack([margins, jnp.zeros_like(margins)], axis=1)
  losses = ops.softmax_cross_entropy(logits, jnp.zeros(1001, jnp.int32), 0.2)
  assert float(margins[jnp.argmin(losses)]) == pytest.approx(math.log(0.9 / 0.1), abs=0.01)
  plain = ops.softmax_cross_entropy(logits, jnp.zeros(1001, jnp.int32))
  assert int(jnp.argmin(plain)) == 1000


def test_accuracy_marks_the_argmax():
  logits = jnp.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
  np.testing.assert_array_equal(ops.accuracy(logits, jnp.array([1, 1, 1])), [1.0, 0.0, 1.0])
