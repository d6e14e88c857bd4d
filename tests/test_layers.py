"""The Flax layers compute their ops with their own parameters, and the models'
parameter counts are the lecture's (289,630 for the simple ConvNet)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from convnets import models, ops
from convnets.layers import MONOTONE_ACTIVATIONS, Conv2D, ConvPool, Dense, Pool2D

X = np.random.default_rng(0).normal(size=(2, 10, 9, 3)).astype(np.float32)


def with_random_biases(variables, seed=1):
  """Initialised biases are 0; random ones make a misplaced bias visible."""
  rng = np.random.default_rng(seed)
  return jax.tree_util.tree_map_with_path(
      lambda path, leaf: (rng.normal(size=leaf.shape).astype(np.float32)
                          if path[-1].key == "bias" else leaf), variables)


@pytest.mark.parametrize("kwargs", [{}, {"mode": "conv", "stride": 2, "padding": "SAME"},
                                    {"kernel_size": (3, 2), "padding": ((1, 0), (2, 2))}])
def test_conv2d_layer_calls_the_op_with_its_parameters(kwargs):
  layer = Conv2D(4, **{"kernel_size": 3, **kwargs})
  variables = with_random_biases(layer.init(jax.random.key(0), X))
  kernel, bias = variables["params"]["kernel"], variables["params"]["bias"]
  kh, kw = ops.windows.as_pair(kwargs.get("kernel_size", 3), "kernel_size")
  assert kernel.shape == (kh, kw, 3, 4) and bias.shape == (4,)
  op_kwargs = {k: v for k, v in kwargs.items() if k != "kernel_size"}
  expected = ops.conv2d(X, kernel, bias, impl="xla", **op_kwargs)
  np.testing.assert_allclose(layer.apply(variables, X), expected, rtol=1e-5, atol=1e-5)
  maps, returned_bias = layer.apply(variables, X, add_bias=False)
  np.testing.assert_allclose(maps + returned_bias, expected, rtol=1e-5, atol=1e-5)


def test_conv2d_without_bias_has_only_a_kernel():
  variables = jax.eval_shape(Conv2D(4, 3, use_bias=False).init, jax.random.key(0), X)
  assert set(variables["params"]) == {"kernel"}


def is_non_decreasing(f) -> bool:
  values = np.asarray(f(jnp.linspace(-6.0, 6.0, 2001)))
  # float32 tanh wobbles by an ulp near saturation; gelu's dip is 1e-3 a step.
  return bool(np.all(np.diff(values) >= -1e-6))


def test_monotone_activations_are_monotone_and_the_rest_are_not():
  """ConvPool may pool before the transfer function only for these."""
  for name, f in ops.ACTIVATIONS.items():
    assert is_non_decreasing(f) == (name in MONOTONE_ACTIVATIONS), name


@pytest.mark.parametrize("activation", sorted(ops.ACTIVATIONS))
def test_conv_pool_is_pool_of_activation_of_conv(activation):
  """``maxpool(f(conv(x) + b))``, whichever order the layer computes it in."""
  layer = ConvPool(5, 3, activation)
  variables = with_random_biases(layer.init(jax.random.key(1), X))
  params = variables["params"]["conv"]
  maps = ops.conv2d(X, params["kernel"], params["bias"], impl="xla")
  expected = ops.pool2d(ops.get_activation(activation)(maps), kind="max", window=2)
  np.testing.assert_allclose(layer.apply(variables, X), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pooling", ["avg", "sum", "lp", "none"])
def test_conv_pool_with_other_pooling(pooling):
  layer = ConvPool(5, 3, "tanh", pooling=pooling, pool_window=3, pool_stride=1, p=3.0)
  variables = with_random_biases(layer.init(jax.random.key(2), X))
  params = variables["params"]["conv"]
  maps = jnp.tanh(ops.conv2d(X, params["kernel"], params["bias"], impl="xla"))
  expected = maps if pooling == "none" else ops.pool2d(maps, kind=pooling, window=3, stride=1,
                                                       p=3.0)
  np.testing.assert_allclose(layer.apply(variables, X), expected, rtol=1e-5, atol=1e-5)


def test_pool2d_has_no_parameters_unless_p_is_learnt():
  assert jax.eval_shape(Pool2D("lp", p=3.0).init, jax.random.key(0), X) == {}
  layer = Pool2D("lp", p=3.0, learnable_p=True)
  variables = layer.init(jax.random.key(0), X)
  rho = variables["params"]["rho"]
  assert rho.shape == ()
  assert float(1 + jax.nn.softplus(rho)) == pytest.approx(3.0, rel=1e-6)
  np.testing.assert_allclose(layer.apply(variables, X), ops.pool2d(X, kind="lp", p=3.0),
                             rtol=1e-5)


def test_learnable_p_gets_a_gradient_and_stays_at_least_one():
  layer = Pool2D("lp", p=1.5, learnable_p=True)
  variables = layer.init(jax.random.key(0), X)

  def loss(params):
    # Small p pools toward the sum of |h|, large p toward their max; asking for
    # a big output pushes p down, toward (and never below) 1.
    return -layer.apply({"params": params}, X).sum()

  step = jax.jit(lambda params: jax.tree.map(lambda p, g: p - 10.0 * g, params,
                                             jax.grad(loss)(params)))
  grad = jax.grad(loss)(variables["params"])["rho"]
  assert np.isfinite(grad) and grad > 0
  params = variables["params"]
  for _ in range(20):
    params = step(params)
  p = 1 + jax.nn.softplus(params["rho"])
  assert np.isfinite(p) and p >= 1.0 and p < 1.5
  assert np.isfinite(layer.apply({"params": params}, X)).all()


def test_learnable_p_must_start_above_one():
  with pytest.raises(ValueError, match="p"):
    Pool2D("lp", p=1.0, learnable_p=True).init(jax.random.key(0), X)


def test_dense_layer_is_x_w_plus_b():
  x = X.reshape(2, -1)
  layer = Dense(7)
  variables = with_random_biases(layer.init(jax.random.key(0), x))
  kernel, bias = variables["params"]["kernel"], variables["params"]["bias"]
  assert kernel.shape == (x.shape[1], 7)
  np.testing.assert_allclose(layer.apply(variables, x), x @ np.asarray(kernel) + bias,
                             rtol=1e-5, atol=1e-5)


def parameter_count(name, **kwargs) -> int:
  variables = jax.eval_shape(models.create(name, **kwargs).init, jax.random.key(0),
                             jnp.zeros((1, 28, 28, 1)))
  return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(variables["params"]))


@pytest.mark.parametrize("name, kwargs, count", [
    # 20 * (5*5 + 1) + 20*12*12 * 100 + 100 + 100*10 + 10 (Lecture 7).
    ("convnet", {}, 289_630),
    # 784*300 + 300 + 300*10 + 10, LeCun et al. 1998's 28x28-300-10.
    ("mlp_300", {}, 238_510),
    ("mlp_300_100", {}, 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10),
    # The coursework MLP's input layer, 784*100 + 100 = 78,500, plus 100*10 + 10.
    ("mlp_300", {"hidden": (100,)}, 78_500 + 1_010),
    # A second 5x5 layer on 20 maps: 20*5*5 = 500 weights + 1 bias per map.
    ("convnet", {"conv_features": (20, 40)}, 20 * 26 + 40 * 501 + 40 * 4 * 4 * 100 + 100 + 1_010),
])
def test_parameter_counts(name, kwargs, count):
  assert parameter_count(name, **kwargs) == count


def test_a_learnable_p_train_step_compiles_once():
  # A weakly typed initial exponent turned strongly typed after the first
  # update, so the jitted step was traced and compiled twice.
  import optax

  from convnets.train.step import init_state, make_train_step

  model = models.create("convnet", pooling="lp", learnable_p=True)
  tx = optax.adam(1e-3)
  state = init_state(model, tx, jax.random.key(0), (28, 28, 1))
  assert not any(leaf.weak_type for leaf in jax.tree.leaves(state.params))
  traces = []
  train_step = make_train_step(model, tx)
  step = jax.jit(lambda s, b: (traces.append(1), train_step(s, b))[1])
  batch = {"images": jnp.ones((4, 28, 28, 1)), "labels": jnp.arange(4)}
  for _ in range(3):
    state, _ = step(state, batch)
  assert len(traces) == 1
