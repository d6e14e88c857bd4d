"""convnets.ops.conv2d_max_pool (a convolution's maps max-pooled, by phases)
against references written independently of it: SciPy's 2-D correlation
max-pooled by NumPy, the separate passes' autodiff and finite differences."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.test_util import check_grads
from scipy import signal

from convnets import models
from convnets.layers import Conv2D
from convnets.ops import conv2d_max_pool
from convnets.ops import conv_pool
from convnets.ops.conv_pool import phase_kernels, uses_phases

CASES = [  # x shape, kernel (kh, kw, in, out), pool, padding, mode
    ((2, 28, 28, 1), (5, 5, 1, 6), (2, 2), "VALID", "xcorr"),
    ((2, 13, 11, 3), (3, 5, 3, 4), (2, 2), "VALID", "conv"),   # maps 11x7: odd rows dropped
    ((1, 12, 12, 2), (3, 3, 2, 5), (3, 3), "SAME", "xcorr"),
    ((2, 10, 9, 1), (4, 3, 1, 3), (2, 3), "SAME", "conv"),
]


def reference(x, w, pool, padding, mode):
  """SciPy's 'valid' correlation (or convolution) of the padded input, summed
  over input maps, then the largest value of each pooling region by NumPy."""
  x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
  kh, kw = w.shape[:2]
  if padding == "SAME":
    x = np.pad(x, ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))
  op = {"xcorr": signal.correlate2d, "conv": signal.convolve2d}[mode]
  maps = np.stack([np.stack([sum(op(x[n, :, :, c], w[:, :, c, f], mode="valid")
                                 for c in range(w.shape[2])) for f in range(w.shape[3])], -1)
                   for n in range(x.shape[0])])
  ph, pw = pool
  oh, ow = maps.shape[1] // ph, maps.shape[2] // pw
  regions = maps[:, :oh * ph, :ow * pw].reshape(maps.shape[0], oh, ph, ow, pw, -1)
  return regions.max(axis=(2, 4))


def arrays(case, seed=0):
  """Inputs whose left half is zero (a digit's background: there every
  phase's maps are 0, a tie), the rest uniform; normal kernels."""
  x_shape, w_shape = case[:2]
  kx, kw = jax.random.split(jax.random.key(seed))
  x = jax.random.uniform(kx, x_shape)
  background = jnp.arange(x_shape[2])[None, None, :, None] < x_shape[2] // 2
  return jnp.where(background, 0.0, x), jax.random.normal(kw, w_shape)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("phases", [True, False, None])
def test_values_are_the_max_pooled_convolution(case, phases):
  x, w = arrays(case)
  _, _, pool, padding, mode = case
  got = conv2d_max_pool(x, w, pool=pool, padding=padding, mode=mode, phases=phases)
  np.testing.assert_allclose(got, reference(x, w, pool, padding, mode), rtol=1e-5, atol=1e-5)


def test_phase_kernels_are_the_kernel_moved_to_each_phase():
  w = np.arange(2 * 3 * 1 * 2, dtype=np.float32).reshape(2, 3, 1, 2) + 1
  moved = np.asarray(phase_kernels(jnp.asarray(w), (2, 2))).reshape(3, 4, 1, 4, 2)
  for p, (a, c) in enumerate(itertools.product(range(2), range(2))):
    expected = np.zeros((3, 4, 1, 2), np.float32)
    expected[a:a + 2, c:c + 3] = w
    np.testing.assert_array_equal(moved[:, :, :, p], expected)


@pytest.mark.parametrize("case", CASES)
def test_gradients_match_the_separate_passes_and_finite_differences(case):
  """Input and kernel gradients by phases against autodiff of XLA's
  convolution and the separate max-pool, on inputs with zero regions, where
  the four phases tie and the gradient must go to the first of them."""
  x, w = arrays(case, seed=1)
  _, _, pool, padding, mode = case
  cotangent = jax.random.normal(jax.random.key(2), reference(x, w, pool, padding, mode).shape)
  def loss(x, w, phases, impl):
    return jnp.sum(conv2d_max_pool(x, w, pool=pool, padding=padding, mode=mode, impl=impl,
                                   phases=phases) * cotangent)
  gradients = jax.jit(jax.grad(loss, argnums=(0, 1)), static_argnums=(2, 3))
  got, expected = gradients(x, w, True, "im2col"), gradients(x, w, False, "xla")
  for g, e in zip(got, expected):
    np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4)
  dense = jax.random.normal(jax.random.key(3), x.shape)  # no ties: a smooth neighbourhood
  check_grads(jax.jit(lambda x, w: loss(x, w, True, "im2col")), (dense, w), order=1,
              modes=("rev",), atol=5e-2, rtol=5e-2)


def test_auto_trains_by_phases_and_evaluates_by_the_separate_passes(monkeypatch):
  assert uses_phases("cpu") and not uses_phases("an unmeasured backend")
  called = []
  by_phases = conv_pool._by_phases
  monkeypatch.setattr(conv_pool, "_by_phases", lambda *a: called.append("phases") or by_phases(*a))
  monkeypatch.setattr(conv_pool, "PHASES_BACKENDS", (jax.default_backend(),))
  x, w = arrays(CASES[0])
  conv2d_max_pool(x, w)
  assert called == [], "a forward pass alone: the separate passes"
  jax.grad(lambda w: conv2d_max_pool(x, w).sum())(w)
  assert called == ["phases"], "differentiated: by phases"
  called.clear()
  monkeypatch.setattr(conv_pool, "PHASES_BACKENDS", ())
  jax.grad(lambda w: conv2d_max_pool(x, w).sum())(w)
  assert called == [], "a backend not measured faster: the separate passes"


def test_the_convnet_trains_alike_either_way(monkeypatch):
  """The lecture's ConvNet (289,630 weights either way): one Adam step's loss
  and updated parameters by phases and by the separate passes."""
  images = jax.random.uniform(jax.random.key(0), (16, 28, 28, 1))
  labels = jnp.arange(16) % 10
  def one_step(backends):
    monkeypatch.setattr(conv_pool, "PHASES_BACKENDS", backends)
    model = models.create("convnet")
    params = model.init(jax.random.key(1), images[:1])["params"]
    def loss(params):
      logits = model.apply({"params": params}, images)
      return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    value, grads = jax.jit(jax.value_and_grad(loss))(params)
    return params, value, grads
  params, value, grads = one_step((jax.default_backend(),))
  _, value_separate, grads_separate = one_step(())
  assert sum(p.size for p in jax.tree.leaves(params)) == 289_630
  assert value == pytest.approx(float(value_separate), rel=1e-6)
  for g, e in zip(jax.tree.leaves(grads), jax.tree.leaves(grads_separate)):
    np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


def test_a_strided_convolution_cannot_pool_by_phases():
  layer = Conv2D(features=4, kernel_size=3, stride=2)
  x = jnp.ones((1, 8, 8, 1))
  with pytest.raises(ValueError, match="stride-1"):
    layer.init(jax.random.key(0), x, max_pool=2)
  with pytest.raises(ValueError, match="larger than"):
    conv2d_max_pool(jnp.ones((1, 6, 6, 1)), jnp.ones((5, 5, 1, 2)), pool=3, phases=True)
