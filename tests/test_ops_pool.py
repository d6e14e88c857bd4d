"""convnets.ops.pool2d against explicit NumPy loops over the regions (Lecture 7,
"Pooling"), and its max-pool gradient against ``lax.reduce_window``'s."""

from __future__ import annotations

import functools

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from jax import lax
from jax.test_util import check_grads

from convnets.ops import KINDS, pool2d


def explicit_pads(padding, in_hw, window, stride):
  """``((top, bottom), (left, right))``; SAME as lax / TensorFlow define it."""
  if padding == "VALID":
    return ((0, 0), (0, 0))
  if padding == "SAME":
    pads = []
    for n, k, s in zip(in_hw, window, stride):
      total = max((-(-n // s) - 1) * s + k - n, 0)
      pads.append((total // 2, total - total // 2))
    return tuple(pads)
  if isinstance(padding, int):
    return ((padding, padding), (padding, padding))
  return padding


def numpy_pool(x, *, kind, window, stride, padding, p):
  """One region at a time; NaN marks the padding, which no kind pools."""
  kh, kw = window
  sh, sw = stride
  pads = explicit_pads(padding, x.shape[1:3], window, stride)
  xp = np.pad(np.asarray(x, np.float64), ((0, 0), *pads, (0, 0)), constant_values=np.nan)
  n, h, w, c = xp.shape
  out = np.empty((n, (h - kh) // sh + 1, (w - kw) // sw + 1, c))
  for i in range(out.shape[1]):
    for j in range(out.shape[2]):
      region = xp[:, sh * i:sh * i + kh, sw * j:sw * j + kw, :].reshape(n, kh * kw, c)
      real = ~np.isnan(region)
      if kind == "max":
        out[:, i, j] = np.nanmax(region, axis=1)
      elif kind == "sum":
        out[:, i, j] = np.nansum(region, axis=1)
      elif kind == "avg":
        out[:, i, j] = np.nansum(region, axis=1) / real.sum(axis=1)
      else:
        out[:, i, j] = np.nansum(np.abs(region) ** p, axis=1) ** (1 / p)
  return out


def reduce_window_max(x, window, stride, padding):
  """XLA's own max-pooling, whose gradient is ``select_and_scatter``."""
  pads = explicit_pads(padding, x.shape[1:3], window, stride)
  return lax.reduce_window(x, -jnp.inf, lax.max, (1, *window, 1), (1, *stride, 1),
                           ((0, 0), *pads, (0, 0)))


@st.composite
def pool_cases(draw, max_size=8):
  """Pooling settings whose every region holds a real cell (pads < window)."""
  kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
  stride = draw(st.one_of(st.none(), st.integers(1, 3),
                          st.tuples(st.integers(1, 3), st.integers(1, 3))))
  small_pads = st.tuples(st.tuples(st.integers(0, kh - 1), st.integers(0, kh - 1)),
                         st.tuples(st.integers(0, kw - 1), st.integers(0, kw - 1)))
  padding = draw(st.one_of(st.sampled_from(["VALID", "SAME"]),
                           st.integers(0, min(kh, kw) - 1), small_pads))
  pads = ((0, 0), (0, 0)) if padding == "SAME" else explicit_pads(padding, None, None, None)
  h = draw(st.integers(max(1, kh - sum(pads[0])), max_size))
  w = draw(st.integers(max(1, kw - sum(pads[1])), max_size))
  return {"shape": (draw(st.integers(1, 2)), h, w, draw(st.integers(1, 3))),
          "window": (kh, kw), "stride": stride, "padding": padding,
          "p": draw(st.floats(1.0, 4.0)), "seed": draw(st.integers(0, 2**32 - 1))}


@functools.partial(jax.jit, static_argnums=0)
def values_and_vjps(fs, x, cotangent):
  """``(f(x), cotangent pulled back through f)`` for each ``f``, compiled as one
  program (far cheaper than compiling each op eagerly)."""
  pairs = []
  for f in fs:
    y, vjp = jax.vjp(f, x)
    pairs.append((y, vjp(cotangent)[0]))
  return pairs


def as_pair(value, default):
  value = default if value is None else value
  return (value, value) if isinstance(value, int) else value


@settings(max_examples=20, deadline=None)
@given(pool_cases())
def test_every_kind_matches_numpy_loops(case):
  x = np.random.default_rng(case["seed"]).normal(size=case["shape"]).astype(np.float32)
  stride = as_pair(case["stride"], case["window"])
  # One compilation for all kinds: cheaper than compiling each op eagerly.
  pooled = jax.jit(lambda x: [pool2d(x, kind=kind, window=case["window"], stride=case["stride"],
                                     padding=case["padding"], p=case["p"]) for kind in KINDS])(x)
  for kind, got in zip(KINDS, pooled):
    expected = numpy_pool(x, kind=kind, window=case["window"], stride=stride,
                          padding=case["padding"], p=case["p"])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, err_msg=f"kind={kind}")


@settings(max_examples=12, deadline=None)
@given(pool_cases())
def test_max_pool_and_its_gradient_match_reduce_window_including_ties(case):
  """Inputs from {0, 1, 2} tie often; each tied region's gradient must go to
  the one unit ``select_and_scatter`` picks (the first in row-major order)."""
  rng = np.random.default_rng(case["seed"])
  x = rng.integers(0, 3, size=case["shape"]).astype(np.float32)
  window, stride = case["window"], as_pair(case["stride"], case["window"])
  ours = functools.partial(pool2d, kind="max", window=window, stride=case["stride"],
                           padding=case["padding"])
  xla = functools.partial(reduce_window_max, window=window, stride=stride,
                          padding=case["padding"])
  cotangent = rng.normal(size=jax.eval_shape(xla, x).shape).astype(np.float32)
  (got, grad), (expected, expected_grad) = values_and_vjps((ours, xla), x, cotangent)
  assert np.array_equal(got, expected)
  assert np.array_equal(grad, expected_grad)


@pytest.mark.parametrize("shape", [(128, 24, 24, 20), (4, 25, 23, 3)], ids=["lecture", "odd"])
def test_max_pool_blocks_gradient_matches_reduce_window(shape):
  """The lecture's 2x2 pooling (the hand-written VJP), with ties from ReLU's
  zeros; odd sizes leave a row and a column that feed no region."""
  rng = np.random.default_rng(0)
  x = np.maximum(rng.normal(size=shape), 0).round(1).astype(np.float32)
  ours = functools.partial(pool2d, kind="max", window=2)
  xla = functools.partial(reduce_window_max, window=(2, 2), stride=(2, 2), padding="VALID")
  cotangent = rng.normal(size=jax.eval_shape(xla, x).shape).astype(np.float32)
  (got, grad), (expected, expected_grad) = values_and_vjps((ours, xla), x, cotangent)
  assert np.array_equal(got, expected)
  assert np.array_equal(grad, expected_grad)


@pytest.mark.parametrize("kind, kwargs", [
    ("avg", {"window": 3, "stride": 2, "padding": "SAME"}),
    ("sum", {"window": (3, 2), "stride": 1, "padding": ((1, 2), (0, 1))}),
    ("lp", {"window": 2, "stride": 1, "p": 3.0}),
    ("max", {"window": 3, "stride": 2, "padding": 1}),
])
def test_gradients_pass_check_grads_in_float64(kind, kwargs):
  with jax.enable_x64(True):
    # Distinct values away from 0: max is differentiable and |x|^p smooth there.
    x = np.random.default_rng(1).permutation(np.arange(1, 1 + 2 * 7 * 6 * 2))
    x = (x.reshape(2, 7, 6, 2) * np.where(x % 2, 0.1, -0.1).reshape(2, 7, 6, 2))
    # Compiled: check_grads calls f many times, and eager ops each compile.
    f = jax.jit(functools.partial(pool2d, kind=kind, **kwargs))
    assert f(x).dtype == jnp.float64
    check_grads(f, (x,), order=1, modes=["rev"])


def test_lp_gradient_in_p_passes_check_grads():
  with jax.enable_x64(True):
    x = np.random.default_rng(2).uniform(0.1, 2.0, size=(2, 6, 6, 3))
    check_grads(jax.jit(lambda p: pool2d(x, kind="lp", p=p)), (np.float64(2.5),), order=1,
                modes=["rev"])


def test_lp_with_p_1_is_the_sum_of_absolute_values():
  x = np.random.default_rng(3).normal(size=(2, 8, 6, 3)).astype(np.float32)
  for kwargs in [{"window": 2}, {"window": 3, "stride": 1, "padding": "SAME"}]:
    np.testing.assert_allclose(pool2d(x, kind="lp", p=1.0, **kwargs),
                               pool2d(np.abs(x), kind="sum", **kwargs), rtol=1e-6)


def test_lp_with_large_p_approaches_max():
  """``max |h| <= ||h||_p <= K^(1/p) max |h|`` over a region of K units: the
  norm tends to max pooling as p grows (within 2.2% for p=64, K=4)."""
  x = np.random.default_rng(4).uniform(-2.0, 2.0, size=(2, 8, 8, 3)).astype(np.float32)
  biggest = pool2d(np.abs(x), kind="max", window=2)
  lp = pool2d(x, kind="lp", p=64.0, window=2)
  assert np.all(lp >= biggest * (1 - 1e-6))
  assert np.all(lp <= biggest * 4 ** (1 / 64) * (1 + 1e-6))
  np.testing.assert_allclose(lp, biggest, rtol=4 ** (1 / 64) - 1)


def test_lp_of_an_all_zero_region_is_zero_with_zero_gradient():
  """Dead ReLU regions: ``(sum 0^p)^(1/p)`` has an infinite derivative at 0."""
  x = jnp.zeros((1, 4, 4, 1)).at[0, 0, 0, 0].set(2.0)

  def total(x, p):
    return pool2d(x, kind="lp", p=p).sum()

  value = total(x, 2.5)
  dx, dp = jax.jit(jax.grad(total, argnums=(0, 1)))(x, 2.5)
  assert value == pytest.approx(2.0)
  assert np.isfinite(dx).all() and np.isfinite(dp)
  assert dx[0, 0, 0, 0] == pytest.approx(1.0)
  assert np.count_nonzero(dx) == 1 and dp == pytest.approx(0.0, abs=1e-6)


def test_avg_with_same_padding_divides_by_the_real_cells():
  x = np.ones((1, 5, 5, 1), np.float32)
  np.testing.assert_allclose(pool2d(x, kind="avg", window=3, stride=1, padding="SAME"), x)
  x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
  corner = pool2d(x, kind="avg", window=3, stride=1, padding="SAME")[0, 0, 0, 0]
  assert corner == pytest.approx((0 + 1 + 4 + 5) / 4)


@pytest.mark.parametrize("kwargs, argument", [
    ({"kind": "median"}, "kind"),
    ({"kind": "lp", "p": 0.5}, "p must be >= 1"),
    ({"kind": "lp", "p": np.float32(0.5)}, "p must be >= 1"),
    ({"window": 7}, "window .* larger than the padded input"),
    ({"window": 0}, "window"),
    ({"window": 2.0}, "window"),
    ({"stride": 0}, "stride"),
    ({"stride": (2,)}, "stride"),
    ({"padding": 2}, "padding"),
    ({"window": 3, "padding": ((0, 0), (3, 0))}, "padding"),
    ({"padding": "FULL"}, "padding"),
])
def test_bad_settings_raise_value_errors_naming_them(kwargs, argument):
  with pytest.raises(ValueError, match=argument):
    pool2d(jnp.ones((1, 6, 6, 2)), **kwargs)


def test_input_must_be_nhwc():
  with pytest.raises(ValueError, match="NHWC"):
    pool2d(jnp.ones((6, 6, 2)))
