"""convnets.ops.conv2d against references written independently of it: SciPy's
2-D correlation and convolution (Lecture 7's ``w (x) x`` and ``v * x``), the
naive loops, and autodiff / finite differences for the hand-derived gradient."""

from __future__ import annotations

import functools
import math

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from jax import lax
from jax.test_util import check_grads
from scipy import signal

from convnets.ops import IMPLS, MODES, conv2d, flip_kernel
from convnets.ops import conv as conv_module
from convnets.ops.conv import (AUTO_FORWARD_IMPL, AUTO_IMPL, FEW_INPUT_MAPS, LONG_PATCH_ROW,
                               UNMEASURED, auto_impl)

CONCRETE_IMPLS = tuple(impl for impl in IMPLS if impl != "auto")
FAST_IMPLS = ("xla", "im2col", "handgrad", "xla_handgrad")
# The hand-written backward pass, around im2col and around XLA's convolution.
HANDGRAD_IMPLS = ("handgrad", "xla_handgrad")


def explicit_pads(padding, in_hw, window, stride):
  """``((top, bottom), (left, right))`` per the lax / TensorFlow convention:
  SAME gives ``ceil(in / stride)`` outputs, the odd padded pixel at the end."""
  if padding == "VALID":
    return ((0, 0), (0, 0))
  if padding == "SAME":
    pads = []
    for n, k, s in zip(in_hw, window, stride):
      total = max((math.ceil(n / s) - 1) * s + k - n, 0)
      pads.append((total // 2, total - total // 2))
    return tuple(pads)
  if isinstance(padding, int):
    return ((padding, padding), (padding, padding))
  return padding


def scipy_reference(x, w, b, *, mode, stride, padding):
  """Each output map is the sum over input maps of SciPy's 'valid' 2-D
  correlation (xcorr) or convolution (conv) of the padded input with that
  map pair's kernel, subsampled by the stride, plus the map's bias."""
  sh, sw = (stride, stride) if isinstance(stride, int) else stride
  pads = explicit_pads(padding, x.shape[1:3], w.shape[:2], (sh, sw))
  x = np.pad(np.asarray(x, np.float64), ((0, 0), *pads, (0, 0)))
  w = np.asarray(w, np.float64)
  op = {"xcorr": signal.correlate2d, "conv": signal.convolve2d}[mode]
  out = np.stack([
      np.stack([sum(op(x[n, :, :, c], w[:, :, c, f], mode="valid") for c in range(w.shape[2]))
                for f in range(w.shape[3])], axis=-1)
      for n in range(x.shape[0])])
  return out[:, ::sh, ::sw] + np.asarray(b, np.float64)


def random_arrays(seed, x_shape, w_shape, dtype=np.float32):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=x_shape).astype(dtype)
  w = rng.normal(size=w_shape).astype(dtype)
  b = rng.normal(size=w_shape[3:]).astype(dtype)
  return x, w, b


pairs = st.tuples(st.integers(1, 3), st.integers(1, 3))
strides = st.one_of(st.integers(1, 3), pairs)
paddings = st.one_of(st.sampled_from(["VALID", "SAME"]), st.integers(0, 2),
                     st.tuples(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                               st.tuples(st.integers(0, 2), st.integers(0, 2))))


@st.composite
def conv_cases(draw, max_size=7):
  """Shapes, settings and a seed of a conv2d call whose kernel fits."""
  kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
  stride, padding = draw(strides), draw(paddings)
  # SAME always fits; otherwise the padded input must hold the kernel.
  pads = ((0, 0), (0, 0)) if padding == "SAME" else explicit_pads(padding, None, None, None)
  fits_h = 1 if padding == "SAME" else max(1, kh - sum(pads[0]))
  fits_w = 1 if padding == "SAME" else max(1, kw - sum(pads[1]))
  h, w = draw(st.integers(fits_h, max_size)), draw(st.integers(fits_w, max_size))
  n, cin, cout = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
  return {"x_shape": (n, h, w, cin), "w_shape": (kh, kw, cin, cout), "stride": stride,
          "padding": padding, "mode": draw(st.sampled_from(MODES)),
          "seed": draw(st.integers(0, 2**32 - 1))}


@settings(max_examples=20, deadline=None)
@given(conv_cases())
def test_every_impl_matches_scipy_and_flipping_turns_conv_into_xcorr(case):
  """Each impl against SciPy and against the naive loops; and
  ``conv(x, w) == xcorr(x, flip(w))`` bit for bit, per impl."""
  x, w, b = random_arrays(case["seed"], case["x_shape"], case["w_shape"])
  mode, stride, padding = case["mode"], case["stride"], case["padding"]
  other = {"xcorr": "conv", "conv": "xcorr"}[mode]
  expected = scipy_reference(x, w, b, mode=mode, stride=stride, padding=padding)
  if padding == "SAME":
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    assert expected.shape[1:3] == (math.ceil(x.shape[1] / sh), math.ceil(x.shape[2] / sw))

  def both_modes(impl, x, w, b):
    return (conv2d(x, w, b, mode=mode, stride=stride, padding=padding, impl=impl),
            conv2d(x, flip_kernel(w), b, mode=other, stride=stride, padding=padding, impl=impl))

  # Compiling the fast impls as one program, and running the naive loops op by
  # op (cached per shape), is the cheapest way through many shapes.
  results = dict(zip(FAST_IMPLS, jax.jit(
      lambda x, w, b: [both_modes(impl, x, w, b) for impl in FAST_IMPLS])(x, w, b)))
  results["naive"] = both_modes("naive", x, w, b)
  for impl, (got, flipped) in results.items():
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, err_msg=f"impl={impl}")
    np.testing.assert_allclose(got, results["naive"][0], rtol=1e-5, atol=1e-5,
                               err_msg=f"impl={impl} against the naive loops")
    assert np.array_equal(got, flipped), f"impl={impl}"


def test_the_two_modes_differ_for_an_asymmetric_kernel():
  x, w, _ = random_arrays(3, (1, 6, 6, 1), (3, 3, 1, 1))
  assert not np.allclose(conv2d(x, w, mode="conv"), conv2d(x, w, mode="xcorr"))


@pytest.mark.parametrize("impl", FAST_IMPLS)
def test_same_padding_matches_lax(impl):
  """Our SAME padding is XLA's, odd padding included (7 and 8 wide, 4x3 kernel)."""
  x, w, _ = random_arrays(1, (2, 7, 8, 2), (4, 3, 2, 3))
  for stride in [(1, 1), (2, 3)]:
    expected = lax.conv_general_dilated(x, w, stride, "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))
    np.testing.assert_allclose(conv2d(x, w, stride=stride, padding="SAME", impl=impl),
                               expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("in_shape, w_shape", [((128, 28, 28, 1), (5, 5, 1, 20)),
                                                ((128, 12, 12, 20), (5, 5, 20, 40))],
                         ids=["conv1", "conv2"])
def test_lecture_layer_shapes(in_shape, w_shape):
  """The models' own layers: 28x28x1 -> 20 maps of 24x24; 12x12x20 -> 40 maps of 8x8."""
  x, w, b = random_arrays(2, in_shape, w_shape)
  expected = conv2d(x, w, b, impl="xla")
  assert expected.shape == (in_shape[0], in_shape[1] - 4, in_shape[2] - 4, w_shape[3])
  for impl in FAST_IMPLS[1:]:
    np.testing.assert_allclose(conv2d(x, w, b, impl=impl), expected, rtol=1e-4, atol=1e-4)


def test_auto_is_the_measured_impl_for_this_backend(monkeypatch):
  assert {impl for table in AUTO_IMPL.values() for impl in table.values()} <= set(FAST_IMPLS)
  assert auto_impl(32, (5, 5), "an unmeasured backend") == "xla"
  cpu = AUTO_IMPL["cpu"]
  assert auto_impl(1, (5, 5), "cpu") == cpu["few_maps"]
  assert auto_impl(16, (3, 3), "cpu") == cpu["short_rows"]  # 144 values per patch row
  assert auto_impl(32, (3, 3), "cpu") == cpu["long_rows"]  # 288
  table = AUTO_IMPL.get(jax.default_backend(), UNMEASURED)
  # Which implementation conv2d calls, recorded: xla and xla_handgrad give
  # identical forward values, so comparing outputs could not tell them apart.
  called = []
  monkeypatch.setattr(conv_module, "_XCORR", {
      name: (lambda *args, name=name, fn=fn: called.append(name) or fn(*args))
      for name, fn in conv_module._XCORR.items()})
  forward = AUTO_FORWARD_IMPL.get(jax.default_backend())
  for in_maps, size, kind in ((2, 3, "few_maps"), (FEW_INPUT_MAPS + 2, 3, "short_rows"),
                              (FEW_INPUT_MAPS + 2, 7, "long_rows")):
    assert (size * size * in_maps >= LONG_PATCH_ROW) == (kind == "long_rows")
    x, w, b = random_arrays(4, (2, 8, 8, in_maps), (size, size, in_maps, 4))
    called.clear()
    grad = jax.grad(lambda w, impl: conv2d(x, w, b, impl=impl).sum(), argnums=0)
    np.testing.assert_array_equal(grad(w, "auto"), grad(w, table[kind]))
    assert called == [table[kind]] * 2, "differentiated: the training choice"
    called.clear()
    y = conv2d(x, w, b, impl="auto")
    assert called == [forward or table[kind]], "a forward pass alone"
    np.testing.assert_allclose(y, conv2d(x, w, b, impl=table[kind]), rtol=1e-5, atol=1e-5)


def loss(impl, mode, stride, padding, x, w, b, cotangent):
  """``<y, cotangent>``: its gradient is the VJP of conv2d at ``cotangent``."""
  return (conv2d(x, w, b, mode=mode, stride=stride, padding=padding, impl=impl)
          * cotangent).sum()


@settings(max_examples=8, deadline=None)
@given(conv_cases())
def test_handgrad_gradients_match_xla_autodiff(case):
  """Both hand-written backward passes against autodiff of XLA's convolution."""
  x, w, b = random_arrays(case["seed"], case["x_shape"], case["w_shape"])
  static = (case["mode"], case["stride"], case["padding"])
  y = conv2d(x, w, b, mode=case["mode"], stride=case["stride"], padding=case["padding"],
             impl="xla")
  cotangent = np.random.default_rng(case["seed"] + 1).normal(size=y.shape).astype(np.float32)

  # Both gradients compiled as one program.
  *got, want = jax.jit(lambda *args: [
      jax.grad(functools.partial(loss, impl, *static), argnums=(0, 1, 2))(*args)
      for impl in HANDGRAD_IMPLS + ("xla",)])(x, w, b, cotangent)
  for impl, grads in zip(HANDGRAD_IMPLS, got):
    for name, got_, want_ in zip("xwb", grads, want):
      np.testing.assert_allclose(got_, want_, rtol=1e-4, atol=1e-4, err_msg=f"{impl} d/d{name}")


GRAD_CASES = [("xcorr", 2, "SAME"), ("conv", (2, 3), ((2, 1), (0, 2))), ("xcorr", (3, 1), 1)]


@pytest.mark.parametrize("impl", HANDGRAD_IMPLS)
@pytest.mark.parametrize("mode, stride, padding", GRAD_CASES)
def test_handgrad_passes_check_grads_in_float64(mode, stride, padding, impl):
  with jax.enable_x64(True):
    x, w, b = random_arrays(5, (2, 8, 7, 2), (3, 2, 2, 3), np.float64)
    # Compiled: check_grads calls f many times, and eager ops each compile.
    f = jax.jit(functools.partial(conv2d, mode=mode, stride=stride, padding=padding,
                                  impl=impl))
    assert f(x, w, b).dtype == jnp.float64
    check_grads(f, (x, w, b), order=1, modes=["rev"], atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("impl", HANDGRAD_IMPLS)
@pytest.mark.parametrize("mode, stride, padding", GRAD_CASES)
def test_handgrad_matches_central_differences(mode, stride, padding, impl):
  """``<grad, d>`` against ``(L(a + eps d) - L(a - eps d)) / 2 eps`` for x, w and b."""
  with jax.enable_x64(True):
    x, w, b = random_arrays(6, (2, 8, 7, 2), (3, 2, 2, 3), np.float64)
    y_shape = conv2d(x, w, mode=mode, stride=stride, padding=padding, impl="xla").shape
    rng = np.random.default_rng(7)
    cotangent = rng.normal(size=y_shape)
    f = jax.jit(functools.partial(loss, impl, mode, stride, padding))
    args = [x, w, b]
    grads = jax.jit(jax.grad(f, argnums=(0, 1, 2)))(*args, cotangent)
    eps = 1e-6
    for i, grad in enumerate(grads):
      direction = rng.normal(size=args[i].shape)
      plus, minus = list(args), list(args)
      plus[i] = args[i] + eps * direction
      minus[i] = args[i] - eps * direction
      numeric = (f(*plus, cotangent) - f(*minus, cotangent)) / (2 * eps)
      np.testing.assert_allclose(np.vdot(grad, direction), numeric, rtol=1e-7)


@pytest.mark.parametrize("kwargs, argument", [
    ({"mode": "convolution"}, "mode"),
    ({"impl": "cudnn"}, "impl"),
    ({"stride": 0}, "stride"),
    ({"stride": (1, 0)}, "stride"),
    ({"stride": 1.5}, "stride"),
    ({"padding": "FULL"}, "padding"),
    ({"padding": -1}, "padding"),
    ({"padding": ((1, -1), (0, 0))}, "padding"),
    ({"padding": (1, 2, 3)}, "padding"),
])
def test_bad_settings_raise_value_errors_naming_them(kwargs, argument):
  x, w, b = random_arrays(8, (1, 6, 6, 2), (3, 3, 2, 4))
  with pytest.raises(ValueError, match=argument):
    conv2d(x, w, b, **kwargs)


@pytest.mark.parametrize("x_shape, w_shape, b_shape, match", [
    ((1, 4, 6, 2), (5, 3, 2, 4), (4,), "kernel .* larger than the padded input"),
    ((1, 6, 6, 3), (3, 3, 2, 4), (4,), "channel mismatch"),
    ((6, 6, 2), (3, 3, 2, 4), (4,), "x must be NHWC"),
    ((1, 6, 6, 2), (3, 3, 2), (4,), "w must be HWIO"),
    ((1, 6, 6, 2), (3, 3, 2, 4), (3,), "b must have shape"),
])
def test_bad_shapes_raise_value_errors_naming_them(x_shape, w_shape, b_shape, match):
  with pytest.raises(ValueError, match=match):
    conv2d(jnp.zeros(x_shape), jnp.zeros(w_shape), jnp.zeros(b_shape))
