"""Fully connected (dense) layers: every unit sees every input."""

from __future__ import annotations

import jax


def dense(x: jax.Array, w: jax.Array, b: jax.Array | None = None) -> jax.Array:
  """Affine map ``x @ w + b``.

  Args:
    x: ``(N, D_in)``; feature maps are flattened first (``(N, H*W*C)``).
    w: ``(D_in, D_out)``: ``D_in * D_out`` weights, e.g. 784 x 100 = 78,400
      for the coursework MLP's input layer (+ 100 biases = 78,500, Lecture 7).
    b: ``(D_out,)`` or None.
  """
  if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
    raise ValueError(f"dense needs x (N, D_in) and w (D_in, D_out) with matching D_in, "
                     f"got x {x.shape} and w {w.shape}")
  y = x @ w
  return y if b is None else y + b
