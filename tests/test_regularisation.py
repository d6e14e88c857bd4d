"""Weight penalties (L1, L2) and dropout: values by hand, gradients, the training step."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from convnets import models
from convnets.layers import hidden_layers
from convnets.ops.regularisers import l1_penalty, l2_penalty, weight_penalty, weights
from convnets.train import init_state, make_train_step

PARAMS = {
    "conv": {"kernel": jnp.array([[1.0, -2.0], [3.0, -4.0]]), "bias": jnp.array([100.0])},
    "dense": {"kernel": jnp.array([-0.5]), "bias": jnp.array([-7.0])},
    "bn": {"scale": jnp.array([5.0]), "bias": jnp.array([3.0])},
}


def test_penalties_by_hand_count_kernels_only():
  # Kernels: 1, -2, 3, -4 and -0.5; biases and BN's scale/shift are left out.
  assert float(l1_penalty(PARAMS)) == pytest.approx(1 + 2 + 3 + 4 + 0.5)
  assert float(l2_penalty(PARAMS)) == pytest.approx(0.5 * (1 + 4 + 9 + 16 + 0.25))
  assert float(weight_penalty(PARAMS, l1=0.1, l2=0.01)) == pytest.approx(
      0.1 * 10.5 + 0.01 * 15.125)
  assert float(weight_penalty(PARAMS)) == 0.0


def test_penalty_gradient_is_sign_and_weight_on_kernels_zero_elsewhere():
  grads = jax.grad(lambda p: weight_penalty(p, l1=0.1, l2=0.01))(PARAMS)
  for layer in ("conv", "dense"):
    w = PARAMS[layer]["kernel"]
    np.testing.assert_allclose(grads[layer]["kernel"], 0.1 * np.sign(w) + 0.01 * w, rtol=1e-6)
    assert not np.any(grads[layer]["bias"])
  assert not np.any(grads["bn"]["scale"]) and not np.any(grads["bn"]["bias"])


def test_the_lecture_convnet_has_289500_penalised_weights():
  model = models.create("convnet")
  params = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"]
  # 289,630 parameters minus one bias per map / unit: 20 + 100 + 10.
  assert sum(w.size for w in weights(params)) == 289_630 - 130


def one_sgd_step(**step_options):
  """One SGD step (lr 0.1) of a small MLP on 8 random images, plainly and
  with ``step_options``: ``(state, plain, plain metrics, other, other metrics)``."""
  model = models.create("mlp_300", hidden=(32,))
  tx = optax.sgd(0.1)
  state = init_state(model, tx, jax.random.key(0), (28, 28, 1))
  batch = {"images": jax.random.uniform(jax.random.key(1), (8, 28, 28, 1)),
           "labels": jnp.arange(8)}
  plain, m_plain = jax.jit(make_train_step(model, tx))(state, batch)
  other, m_other = jax.jit(make_train_step(model, tx, **step_options))(state, batch)
  return state, plain, m_plain, other, m_other


def test_training_step_adds_the_penalty_gradient():
  """With plain SGD (lr 0.1) the L2 penalty changes each kernel's update by
  exactly -lr * l2 * w and leaves the biases' updates alone; the reported
  loss stays the data's cross-entropy."""
  state, plain, m_plain, l2, m_l2 = one_sgd_step(l2=0.5)
  for layer in ("hidden1", "output"):
    w = state.params[layer]["kernel"]
    np.testing.assert_allclose(l2.params[layer]["kernel"] - plain.params[layer]["kernel"],
                               -0.1 * 0.5 * w, atol=1e-6)
    np.testing.assert_allclose(l2.params[layer]["bias"], plain.params[layer]["bias"], atol=1e-7)
  assert float(m_l2["loss"]) == float(m_plain["loss"])


def test_label_smoothing_changes_the_update_not_the_reported_loss():
  """The step descends the smoothed cross-entropy, so its update differs,
  while the loss it reports stays the plain cross-entropy."""
  _, plain, m_plain, smooth, m_smooth = one_sgd_step(label_smoothing=0.1)
  assert float(m_smooth["loss"]) == float(m_plain["loss"])
  # SGD's output-bias update is -lr * mean(p - t): the targets differ by
  # e (1/K - onehot), so the biases differ by +lr * e * mean(1/K - onehot).
  expected = 0.1 * 0.1 * (1 / 10 - np.eye(10)[np.arange(8)]).mean(axis=0)
  np.testing.assert_allclose(smooth.params["output"]["bias"] - plain.params["output"]["bias"],
                             expected, atol=1e-6)


class Hidden(nn.Module):
  """One hidden layer through :func:`hidden_layers`, for testing dropout."""
  units: int
  dropout: float

  @nn.compact
  def __call__(self, x, train=False):
    return hidden_layers(x, (self.units,), "relu", dropout=self.dropout, train=train)


def test_dropout_zeroes_rate_of_units_and_rescales_the_rest():
  x = jax.random.normal(jax.random.key(0), (64, 20))
  layer = Hidden(2000, 0.3)
  variables = layer.init(jax.random.key(1), x)
  full = np.asarray(Hidden(2000, 0.0).apply(variables, x))
  dropped = np.asarray(layer.apply(variables, x, train=True,
                                   rngs={"dropout": jax.random.key(2)}))
  active = full > 0
  zeroed = (dropped == 0) & active
  # 64 x 2000 units, about half active: the fraction dropped is 0.3 +- 0.003 (1 std).
  assert zeroed.sum() / active.sum() == pytest.approx(0.3, abs=0.015)
  kept = active & ~zeroed
  np.testing.assert_allclose(dropped[kept], full[kept] / (1 - 0.3), rtol=1e-5)
  # Another dropout key, another mask.
  other = np.asarray(layer.apply(variables, x, train=True, rngs={"dropout": jax.random.key(3)}))
  assert np.any((other == 0) != (dropped == 0))


@pytest.mark.parametrize("name", ["mlp_300", "convnet"])
def test_dropout_is_the_identity_at_evaluation(name):
  x = jax.random.uniform(jax.random.key(0), (4, 28, 28, 1))
  with_dropout = models.create(name, dropout=0.5)
  variables = with_dropout.init(jax.random.key(1), x)
  np.testing.assert_array_equal(with_dropout.apply(variables, x),
                                models.create(name).apply(variables, x))
  train = with_dropout.apply(variables, x, train=True, rngs={"dropout": jax.random.key(2)})
  assert not np.allclose(train, with_dropout.apply(variables, x))


def test_dropout_rate_is_checked():
  with pytest.raises(ValueError, match="dropout rate must be in"):
    models.create("convnet", dropout=1.0)
