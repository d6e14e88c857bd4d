"""The hand-written backward pass of a convolutional layer against the
derivation in ``docs/conv_gradients.md``, summed with NumPy loops: the kernel
gradient sums over the positions that share each weight, the bias gradient is
the upstream gradient summed over batch and positions per map, and the input
gradient is a full convolution with the flipped kernel."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from convnets.ops import conv2d

HANDGRAD_IMPLS = ("handgrad", "xla_handgrad")


def numpy_gradients(x, w, g, stride):
  """``(dE/dx, dE/dw, dE/db)`` of a valid strided cross-correlation, by the
  formulas of the derivation, one output unit at a time."""
  kh, kw = w.shape[:2]
  dx, dw, db = np.zeros_like(x), np.zeros_like(w), np.zeros(w.shape[3])
  for n in range(g.shape[0]):
    for i in range(g.shape[1]):
      for j in range(g.shape[2]):
        field = x[n, stride * i:stride * i + kh, stride * j:stride * j + kw]   # (kh, kw, C)
        dw += field[..., None] * g[n, i, j]                                    # shared weights
        db += g[n, i, j]                                                       # shared bias
        dx[n, stride * i:stride * i + kh, stride * j:stride * j + kw] += w @ g[n, i, j]
  return dx, dw, db


@pytest.mark.parametrize("impl", HANDGRAD_IMPLS)
@pytest.mark.parametrize("stride", [1, 2])
def test_hand_gradients_are_the_derivations_sums(impl, stride):
  rng = np.random.default_rng(3)
  x = rng.normal(size=(2, 7, 8, 3))
  w = rng.normal(size=(3, 2, 3, 4))
  b = rng.normal(size=4)
  with jax.enable_x64(True):
    y = conv2d(x, w, b, stride=stride, impl=impl)
    g = rng.normal(size=y.shape)
    _, vjp = jax.vjp(lambda x, w, b: conv2d(x, w, b, stride=stride, impl=impl), x, w, b)
    got = vjp(g)
  for name, got_, want in zip("xwb", got, numpy_gradients(x, w, g, stride)):
    np.testing.assert_allclose(np.asarray(got_), want, rtol=1e-10, atol=1e-10, err_msg=name)

