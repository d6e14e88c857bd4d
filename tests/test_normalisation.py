"""Batch normalisation: the op against NumPy, the layer's running averages,
and batch-normalised ConvNets in the training step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from convnets import models
from convnets.layers import BatchNorm
from convnets.ops.normalisation import batch_norm
from convnets.train import init_state, make_train_step

EPS = 1e-5


def maps(seed: int = 0, shape=(8, 6, 5, 3)) -> np.ndarray:
  """NHWC maps whose channels have different means and spreads."""
  rng = np.random.default_rng(seed)
  return (rng.normal(size=shape) * [0.5, 2.0, 7.0] + [3.0, -1.0, 0.0]).astype(np.float32)


def test_training_normalises_each_channel_by_the_batch_and_updates_running_averages():
  x = maps()
  running_mean, running_var = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
  y, (new_mean, new_var) = batch_norm(jnp.asarray(x), jnp.ones(3), jnp.zeros(3),
                                      running_mean, running_var, train=True, momentum=0.8,
                                      epsilon=EPS)
  y = np.asarray(y)
  np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
  np.testing.assert_allclose(y.var(axis=(0, 1, 2)), 1.0, atol=1e-3)
  # Running averages: 0.8 old + 0.2 batch, the batch variance unbiased (m = 8 * 6 * 5).
  np.testing.assert_allclose(new_mean, 0.8 * running_mean + 0.2 * x.mean(axis=(0, 1, 2)),
                             rtol=1e-5)
  np.testing.assert_allclose(new_var, 0.8 * running_var + 0.2 * x.var(axis=(0, 1, 2), ddof=1),
                             rtol=1e-5)


def test_scale_and_shift_set_each_channels_mean_and_std():
  y, _ = batch_norm(jnp.asarray(maps()), jnp.array([2.0, -0.5, 1.0]), jnp.array([1.0, 0.0, -3.0]),
                    jnp.zeros(3), jnp.ones(3), train=True)
  np.testing.assert_allclose(np.asarray(y).mean(axis=(0, 1, 2)), [1.0, 0.0, -3.0], atol=1e-5)
  np.testing.assert_allclose(np.asarray(y).std(axis=(0, 1, 2)), [2.0, 0.5, 1.0], rtol=1e-3)


def test_evaluation_uses_the_running_averages_and_keeps_them():
  x = maps()
  mean, var = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
  scale, bias = np.array([2.0, 1.0, 0.5]), np.array([0.0, 1.0, -1.0])
  y, running = batch_norm(jnp.asarray(x), scale, bias, mean, var, train=False, epsilon=EPS)
  np.testing.assert_allclose(y, scale * (x - mean) / np.sqrt(var + EPS) + bias, rtol=1e-5,
                             atol=1e-6)
  assert running[0] is mean and running[1] is var


def test_layer_keeps_running_averages_in_batch_stats():
  x = jnp.asarray(maps())
  layer = BatchNorm(momentum=0.9)
  variables = layer.init(jax.random.key(0), x)
  np.testing.assert_array_equal(variables["batch_stats"]["mean"], np.zeros(3))
  np.testing.assert_array_equal(variables["batch_stats"]["var"], np.ones(3))
  assert set(variables["params"]) == {"scale", "bias"}
  y, updates = layer.apply(variables, x, train=True, mutable=["batch_stats"])
  stats = updates["batch_stats"]
  np.testing.assert_allclose(stats["mean"], 0.1 * np.asarray(x).mean(axis=(0, 1, 2)), rtol=1e-5)
  np.testing.assert_allclose(stats["var"], 0.9 + 0.1 * np.asarray(x).var(axis=(0, 1, 2), ddof=1),
                             rtol=1e-5)
  np.testing.assert_allclose(np.asarray(y).mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
  # Repeated on one batch the running averages converge to its statistics;
  # evaluation then normalises that batch as training does.
  for _ in range(300):
    _, updates = layer.apply({**variables, **updates}, x, train=True, mutable=["batch_stats"])
  trained = {**variables, **updates}
  m = np.prod(x.shape[:-1])
  np.testing.assert_allclose(trained["batch_stats"]["mean"], np.asarray(x).mean(axis=(0, 1, 2)),
                             rtol=1e-4, atol=1e-5)
  evaluated = layer.apply(trained, x)
  expected = (np.asarray(x) - np.asarray(x).mean(axis=(0, 1, 2))) / np.sqrt(
      np.asarray(x).var(axis=(0, 1, 2)) * m / (m - 1) + EPS)
  np.testing.assert_allclose(evaluated, expected, rtol=1e-3, atol=1e-4)


def n_params(model) -> int:
  variables = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
  return sum(x.size for x in jax.tree.leaves(variables["params"]))


def test_batch_normalised_convnet_parameters():
  # The lecture ConvNet (289,630) loses its conv and hidden biases (20 + 100)
  # and gains a scale and a shift per map and per hidden unit (2 * 20 + 2 * 100).
  assert n_params(models.create("convnet", batch_norm=True)) == 289_630 - 120 + 240
  # MLP 784-300-10: 300 hidden biases become 600 BN parameters.
  assert n_params(models.create("mlp_300", batch_norm=True)) == 784 * 300 + 600 + 3010


def test_training_step_updates_batch_stats_and_evaluation_is_per_example():
  model = models.create("convnet", conv_features=(4,), hidden=(8,), batch_norm=True)
  tx = optax.adam(1e-3)
  state = init_state(model, tx, jax.random.key(0), (28, 28, 1))
  images = jax.random.uniform(jax.random.key(1), (16, 28, 28, 1))
  new, _ = jax.jit(make_train_step(model, tx))(state, {"images": images,
                                                      "labels": jnp.arange(16) % 10})
  for before, after in zip(jax.tree.leaves(state.batch_stats), jax.tree.leaves(new.batch_stats)):
    assert not np.allclose(before, after)
  # At evaluation an example's output does not depend on the rest of the batch.
  whole = model.apply(new.variables(), images)
  np.testing.assert_allclose(model.apply(new.variables(), images[:3]), whole[:3], rtol=1e-5,
                             atol=1e-5)
