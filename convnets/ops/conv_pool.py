"""A convolutional layer's maps max-pooled, computed in one pass by phases
(Lecture 7's "convolutional + pooling layer").

Max-pooling a stride-1 cross-correlation over non-overlapping ``ph x pw``
regions keeps, for pooled unit ``(i, j)``, the largest of the map's values at
``(ph i + a, pw j + c)``, ``0 <= a < ph``, ``0 <= c < pw``. Each *phase*
``(a, c)`` is itself a cross-correlation, at stride ``(ph, pw)``, with the
kernel moved ``a`` rows down and ``c`` columns right inside a window of
``(kh + ph - 1) x (kw + pw - 1)``:

    h[n, ph i + a, pw j + c, f] = sum_{k, l, m} w_ac[k, l, m, f] x[n, ph i + k, pw j + l, m]

with ``w_ac[k, l] = w[k - a, l - c]`` (zero outside the kernel). So one patch
matrix of the larger windows at stride ``(ph, pw)``, ``(N oh ow, (kh + ph - 1)
(kw + pw - 1) C_in)``, times the ``ph pw`` moved kernels side by side gives
every phase at once, and the largest phase is the pooled map. For the
lecture's first layer (1 input map, 5x5 kernels, 2x2 pooling) the patch matrix
holds 36 values per pooled unit where im2col's holds 4 x 25, and the full-size
maps are never reshaped into pooling regions: fewer bytes moved, for 1.44x the
multiply-adds.

The gradient sends each pooled unit's gradient to its first maximal phase
(:func:`convnets.ops.pool.first_max_routes`, the separate pooling's
convention); autodiff does the rest, folding the moved kernels' gradients
back onto ``w`` by summation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from convnets.ops.conv import check_args, conv2d, flip_kernel, forward_or_training
from convnets.ops.pool import first_max_routes, pool2d
from convnets.ops.windows import IntOrPair, Padding, as_pair, extract_patches

# Backends where training computes by phases: there ``benchmarks/conv_pool.py``'s
# "conv + max 2x2" rows measured it faster than the separate passes on every
# layer timed, from 1 input map to 32 (conv1, lenet5_c3, conv2, best_conv2).
PHASES_BACKENDS = ("cpu",)


def uses_phases(backend: str | None = None) -> bool:
  """Whether ``conv2d_max_pool(impl="auto")`` trains by phases on ``backend``
  (default: JAX's)."""
  return (backend or jax.default_backend()) in PHASES_BACKENDS


def phase_kernels(w: jax.Array, pool: tuple[int, int]) -> jax.Array:
  """``(kh, kw, C_in, C_out)`` -> ``(kh + ph - 1, kw + pw - 1, C_in, ph pw C_out)``:
  the kernel moved to each phase ``(a, c)`` of the ``(ph, pw)`` pooling
  regions, phases in row-major order, zeros around it."""
  ph, pw = pool
  moved = [jnp.pad(w, ((a, ph - 1 - a), (c, pw - 1 - c), (0, 0), (0, 0)))
           for a in range(ph) for c in range(pw)]
  stacked = jnp.stack(moved, axis=3)
  return stacked.reshape(*stacked.shape[:3], -1)


@jax.custom_vjp
def _largest_phase(maps: jax.Array) -> jax.Array:
  """``(N, oh, ow, phases, C)`` -> ``(N, oh, ow, C)``, the maximum over phases."""
  return jnp.max(maps, axis=3)


def _largest_phase_fwd(maps):
  pooled = _largest_phase(maps)
  return pooled, (maps, pooled)


def _largest_phase_bwd(residuals, g):
  maps, pooled = residuals
  routed = first_max_routes([maps[:, :, :, p] for p in range(maps.shape[3])], pooled, g)
  return (jnp.stack(routed, axis=3),)


_largest_phase.defvjp(_largest_phase_fwd, _largest_phase_bwd)


def _by_phases(x: jax.Array, w: jax.Array, pads, pool: tuple[int, int]) -> jax.Array:
  kh, kw, _, out_maps = w.shape
  patches = extract_patches(x, (kh + pool[0] - 1, kw + pool[1] - 1), pool, pads)
  n, oh, ow = patches.shape[:3]
  kernels = phase_kernels(w, pool)
  maps = patches.reshape(n * oh * ow, -1) @ kernels.reshape(-1, kernels.shape[-1])
  return _largest_phase(maps.reshape(n, oh, ow, pool[0] * pool[1], out_maps))


def conv2d_max_pool(x: jax.Array, w: jax.Array, *, pool: IntOrPair = 2, mode: str = "xcorr",
                    padding: Padding = "VALID", impl: str = "auto",
                    phases: bool | None = None) -> jax.Array:
  """``pool2d(conv2d(x, w, ...), kind="max", window=pool)``: a stride-1
  convolution's maps (no bias) max-pooled over non-overlapping regions.

  Args:
    x: ``(N, H, W, C_in)``; ``w``: ``(kh, kw, C_in, C_out)``.
    pool: the pooling regions (and their stride), an int or ``(ph, pw)``.
    mode, padding, impl: as for :func:`convnets.ops.conv2d`.
    phases: compute by phases (True), or convolve then pool (False); None:
      with ``impl="auto"``, by phases in training where :func:`uses_phases`
      (a forward pass alone then takes the separate passes, faster there).

  Returns:
    ``(N, out_h // ph, out_w // pw, C_out)``, ``out`` the convolution's size.
  """
  pool = as_pair(pool, "pool")
  _, _, pads = check_args(x, w, None, mode=mode, stride=1, padding=padding, impl=impl)

  def separate(x: jax.Array, w: jax.Array) -> jax.Array:
    maps = conv2d(x, w, mode=mode, padding=padding, impl=impl)
    return pool2d(maps, kind="max", window=pool)

  def by_phases(x: jax.Array, w: jax.Array) -> jax.Array:
    return _by_phases(x, flip_kernel(w) if mode == "conv" else w, pads, pool)

  automatic = phases is None
  if automatic:
    phases = impl == "auto" and uses_phases()
  if not phases:
    return separate(x, w)
  jax.eval_shape(separate, x, w)  # the separate passes' checks: a pool larger than the maps
  return forward_or_training(separate, by_phases, x, w) if automatic else by_phases(x, w)
