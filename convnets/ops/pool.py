"""Pooling (subsampling) of feature maps as pure JAX functions (MLP Lecture 7).

Pooling condenses each ``window`` region of a feature map into one unit,
separately for every map (Lecture 7, "Pooling"):

* max:  ``h' = max_{i in region} h_i``
* avg:  ``h' = (1 / |region|) sum_{i in region} h_i``
* sum:  ``h' = sum_{i in region} h_i``
* lp:   ``h' = (sum_{i in region} |h_i|^p)^(1/p)``: ``p = 1`` is the sum of
  absolute values, ``p = 2`` the Euclidean norm, and ``p -> inf`` tends to max.

Regions step by ``stride`` (default ``window``: non-overlapping regions, as in
the lecture; ``stride < window`` overlaps them).

Two layouts of the regions, chosen by shape, compute the same values:

* non-overlapping, unpadded regions (the lecture's 2x2 pooling): a reshape to
  ``(N, out_h, kh, out_w, kw, C)`` reduced over the ``kh`` and ``kw`` axes. Max
  pooling there has a hand-written gradient (:func:`_max_pool_blocks`), faster
  on CPU than autodiff's tie-splitting one (``benchmarks/conv_pool.py``);
* anything else: a patch tensor (``kh * kw`` strided slices stacked on a new
  axis, :func:`convnets.ops.extract_patches`) reduced over that axis; max
  pooling there reads each region's first maximum, so both paths send a tied
  region's gradient to the same single unit.

Neither is differentiated through ``lax.reduce_window``, whose max-pool
gradient lowers to ``select_and_scatter``, much slower on CPU; the blocks path
computes its forward pass with it.
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from convnets.ops.windows import IntOrPair, Padding, as_pair, extract_patches, resolve_padding

KINDS = ("max", "avg", "sum", "lp")


def _check(x: jax.Array, kind: str, window: tuple[int, int], stride: tuple[int, int],
           padding: Padding, p: float | jax.Array) -> tuple[tuple[int, int], ...]:
  """Refuse arguments :func:`pool2d` cannot pool with; returns the padding per side."""
  if kind not in KINDS:
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
  if x.ndim != 4:
    raise ValueError(f"x must be NHWC (4 dimensions), got shape {x.shape}")
  pads = resolve_padding(padding, (x.shape[1], x.shape[2]), window, stride)
  for axis, size, k, pad in zip("HW", x.shape[1:3], window, pads):
    if size + pad[0] + pad[1] < k:
      raise ValueError(f"window {window} is larger than the padded input "
                       f"({axis}: {size} + padding {pad} < {k})")
    # A region of padding alone has no max (-inf) and no average (0 / 0).
    if max(pad) >= k:
      raise ValueError(f"padding {pad} along {axis} must be smaller than the window "
                       f"{window}, or some regions hold padding only")
  # A traced p (a learnt one) cannot be checked here; Pool2D keeps it above 1.
  if kind == "lp" and not isinstance(p, jax.core.Tracer) and np.any(np.asarray(p) < 1):
    raise ValueError(f"p must be >= 1 for Lp pooling, got {p}")
  return pads


def pool2d(x: jax.Array, *, kind: str = "max", window: IntOrPair = 2,
           stride: IntOrPair | None = None, p: float | jax.Array = 2.0,
           padding: Padding = "VALID") -> jax.Array:
  """Pool each feature map of ``x`` over ``window`` regions.

  Args:
    x: ``(N, H, W, C)`` feature maps.
    kind: one of ``KINDS``.
    window: region size, an int or ``(kh, kw)``.
    stride: region step; ``None`` means ``window`` (non-overlapping).
    p: the exponent of Lp pooling (``kind="lp"``), ``p >= 1``; may be a traced
      array, so that a layer can learn it.
    padding: as for :func:`convnets.ops.conv2d`; padded cells never win a max
      and are not counted by avg. Each side's padding must be smaller than
      the window, so that every region holds at least one real cell.

  Returns:
    ``(N, out_h, out_w, C)`` with ``out = (H + pads - kh) // sh + 1``.
  """
  window = as_pair(window, "window")
  stride = window if stride is None else as_pair(stride, "stride")
  pads = _check(x, kind, window, stride, padding, p)
  blocks = stride == window and not any(pads[0]) and not any(pads[1])
  if kind == "max":
    if blocks:
      return _max_pool_blocks(x, window)
    patches = extract_patches(x, window, stride, pads, pad_value=-jnp.inf)
    # Select the first maximum rather than reduce with max, whose gradient
    # splits ties: the gradient then goes to one unit per region, the first in
    # row-major order, as in the blocks path and lax.reduce_window.
    first = jnp.argmax(patches, axis=3)[:, :, :, None, :]
    winner = jnp.arange(patches.shape[3])[:, None] == first
    return jnp.where(winner, patches, 0.0).sum(axis=3)

  def window_sum(values: jax.Array) -> jax.Array:
    if blocks:
      return _as_blocks(values, window).sum(axis=(2, 4))
    return extract_patches(values, window, stride, pads).sum(axis=3)

  if kind == "lp":
    total = window_sum(jnp.abs(x) ** p)
    # (sum)^(1/p) has an infinite derivative at 0; all-zero regions (dead ReLUs)
    # are common, so give them output 0 and gradient 0.
    positive = total > 0
    return jnp.where(positive, jnp.where(positive, total, 1.0) ** (1.0 / p), 0.0)
  total = window_sum(x)
  if kind == "sum":
    return total
  if not any(pads[0]) and not any(pads[1]):
    return total / (window[0] * window[1])
  ones = jnp.ones((1, x.shape[1], x.shape[2], 1), x.dtype)
  return total / extract_patches(ones, window, stride, pads).sum(axis=3)


def _as_blocks(x: jax.Array, window: tuple[int, int]) -> jax.Array:
  """``(N, H, W, C)`` -> ``(N, H // kh, kh, W // kw, kw, C)``; the rows and
  columns past the last whole window are dropped, as VALID pooling does."""
  kh, kw = window
  n, h, w, c = x.shape
  oh, ow = h // kh, w // kw
  return x[:, :oh * kh, :ow * kw, :].reshape(n, oh, kh, ow, kw, c)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _max_pool_blocks(x: jax.Array, window: tuple[int, int]) -> jax.Array:
  # Forward, after XLA's convolution, reduce_window runs the lecture ConvNet's
  # evaluation pass faster than the blocks' reshape (benchmarks/conv_pool.py's
  # "convnet evaluation pass" rows). The max is exact, so both give the same
  # values; the gradient is the hand-written one below.
  kh, kw = window
  whole = x[:, :x.shape[1] // kh * kh, :x.shape[2] // kw * kw, :]
  return jax.lax.reduce_window(whole, jnp.array(-jnp.inf, x.dtype), jax.lax.max,
                               (1, kh, kw, 1), (1, kh, kw, 1), "VALID")


def _max_pool_blocks_fwd(x, window):
  pooled = _max_pool_blocks(x, window)
  return pooled, (x, pooled)


def _max_pool_blocks_bwd(window, residuals, g):
  """Route each region's gradient to its maximum: ``dL/dh_i = g`` for the
  winning unit, 0 for the others. On ties the first unit in row-major order
  wins, the convention of ``lax.reduce_window``'s gradient."""
  x, pooled = residuals
  kh, kw = window
  blocks = _as_blocks(x, window)
  routed = first_max_routes([blocks[:, :, k, :, l, :] for k in range(kh) for l in range(kw)],
                            pooled, g)
  rows = [jnp.stack(routed[k * kw:(k + 1) * kw], axis=3) for k in range(kh)]
  n, oh, _, ow, _, c = blocks.shape
  grad = jnp.stack(rows, axis=2).reshape(n, oh * kh, ow * kw, c)
  # Units past the last whole window fed no region: zero gradient.
  grad = jnp.pad(grad, ((0, 0), (0, x.shape[1] - oh * kh), (0, x.shape[2] - ow * kw), (0, 0)))
  return (grad,)


_max_pool_blocks.defvjp(_max_pool_blocks_fwd, _max_pool_blocks_bwd)


def first_max_routes(candidates: Sequence[jax.Array], pooled: jax.Array, g: jax.Array
                     ) -> list[jax.Array]:
  """The gradient of ``pooled = max(candidates)`` (elementwise over the
  equally shaped ``candidates``) for each candidate, given ``g = dL/dpooled``:
  ``g`` where that candidate is the first to equal the maximum, 0 elsewhere.
  Ties go to the earliest candidate, ``lax.reduce_window``'s convention."""
  taken = jnp.zeros(pooled.shape, bool)
  routed = []
  for candidate in candidates:
    wins = (candidate == pooled) & ~taken
    taken = taken | wins
    routed.append(jnp.where(wins, g, 0.0))
  return routed
