"""Two-dimensional convolution as pure JAX functions (MLP Lecture 7).

A convolutional layer connects each hidden unit to a small ``kh x kw`` *local
receptive field* of every input map and *shares* one kernel across all
positions, so each output map is a feature map (Lecture 7, "Shared weights"):

    h[n, i, j, f] = sum_{k, l, c} w[k, l, c, f] * x[n, s*i + k, s*j + l, c] + b[f]

That is a **cross-correlation** (``mode="xcorr"``, what deep learning calls
convolution). The signal-processing **convolution** (``mode="conv"``, the
lecture's ``v * x``) indexes the input with ``x[i - k, j - l]``, which over a
finite kernel is the same as cross-correlating with the kernel flipped in both
spatial axes: ``conv(x, w) == xcorr(x, flip(w))``. A network learns whichever
orientation it is given, so the two train identically (Lecture 7, "Convolutional
Layer"); ``experiments/xcorr_vs_conv.py`` tests that claim.

Arrays: activations ``x`` are NHWC ``(batch, height, width, in_maps)``, kernels
``w`` are HWIO ``(kh, kw, in_maps, out_maps)``, biases ``b`` are ``(out_maps,)``.
With several input maps (stacked layers, "Multiple input images"), each unit
sees ``in_maps x kh x kw`` inputs: 20 maps x 5 x 5 = 500 weights per unit.

Implementations (``impl``), all computing the same function:

* ``"xla"``: ``lax.conv_general_dilated``, XLA's own convolution.
* ``"im2col"``: the local receptive fields unrolled into a patch matrix of shape
  ``(batch * out_h * out_w, kh * kw * in_maps)`` and multiplied by the kernel
  reshaped to ``(kh * kw * in_maps, out_maps)``: one matrix product, the
  lecture's picture made literal.
* ``"handgrad"``: the im2col forward pass with the backward pass (input,
  kernel and bias gradients) written by hand (``jax.custom_vjp``), the
  lecture's exercise as code; see :func:`_hand_vjp_bwd` and
  ``docs/conv_gradients.md`` for the derivation.
* ``"xla_handgrad"``: the same hand-written backward pass around XLA's
  convolution: XLA computes the forward pass and the input gradient (itself a
  forward convolution), one im2col product the kernel gradient. On CPU, XLA's
  own gradient of its convolution is slow (its kernel gradient especially).
* ``"naive"``: explicit Python loops over output positions, the reference.
* ``"auto"``: the fastest correct implementation for the current backend,
  chosen per backend, input map count and kernel size from
  ``benchmarks/conv_pool.py`` measurements (see ``AUTO_IMPL``); a forward pass
  that is not differentiated (evaluation) may take another, faster one
  forward (``AUTO_FORWARD_IMPL``), while its gradient, when one is taken, is
  the training choice's.
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
from jax import lax

from convnets.ops.windows import IntOrPair, Padding, as_pair, extract_patches, resolve_padding

MODES = ("xcorr", "conv")
IMPLS = ("auto", "xla", "im2col", "handgrad", "xla_handgrad", "naive")

# Chosen per backend from benchmarks/conv_pool.py (forward + backward of each
# implementation on the project's layers; results/benchmarks/conv_pool_*.json)
# and from end-to-end runs. On CPU, XLA's convolution is fast forward but slow
# to differentiate (its kernel gradient above all), and im2col's patch matrix
# is slow to build for large batches: "xla_handgrad" takes XLA's forward pass
# with the hand-written gradient and wins on long patch rows; on few input
# maps its input gradient, an XLA convolution producing only those few maps,
# is slow, and im2col wins; between, XLA's own gradient ties or wins. So
# ``auto`` picks the "few maps" impl up to FEW_INPUT_MAPS input maps, the
# "long rows" impl from LONG_PATCH_ROW values per patch row (kh * kw *
# in_maps), and the "short rows" impl between. On a GPU im2col won on most
# layers timed; the TPU, not benchmarked, uses XLA's.
FEW_INPUT_MAPS = 8
LONG_PATCH_ROW = 150
AUTO_IMPL = {
    "cpu": {"few_maps": "im2col", "short_rows": "xla", "long_rows": "xla_handgrad"},
    "gpu": {"few_maps": "im2col", "short_rows": "im2col", "long_rows": "im2col"},
    "tpu": {"few_maps": "xla", "short_rows": "xla", "long_rows": "xla"},
}
UNMEASURED = {"few_maps": "xla", "short_rows": "xla", "long_rows": "xla"}
# A forward pass alone (``benchmarks/conv_pool.py``'s "conv fwd" rows, at the
# evaluation batch): on CPU XLA's convolution is the fastest, or within the
# host's noise of it, at every layer timed, though its gradient is slow; and
# the ConvNet's whole evaluation pass runs several times faster on it than on
# im2col. Backends not listed run the training choice forward too.
AUTO_FORWARD_IMPL = {"cpu": "xla"}


def auto_impl(in_maps: int, window: tuple[int, int], backend: str | None = None, *,
              forward_only: bool = False) -> str:
  """The implementation ``impl="auto"`` resolves to on ``backend`` (default:
  JAX's) for a ``window``-sized kernel over ``in_maps`` input maps: the one
  that is differentiated in training or, with ``forward_only``, the one that
  computes a forward pass nobody differentiates."""
  backend = backend or jax.default_backend()
  table = AUTO_IMPL.get(backend, UNMEASURED)
  if in_maps <= FEW_INPUT_MAPS:
    training = table["few_maps"]
  else:
    long_rows = window[0] * window[1] * in_maps >= LONG_PATCH_ROW
    training = table["long_rows" if long_rows else "short_rows"]
  return AUTO_FORWARD_IMPL.get(backend, training) if forward_only else training


def flip_kernel(w: jax.Array) -> jax.Array:
  """Reflect an HWIO kernel horizontally and vertically (xcorr <-> conv)."""
  return w[::-1, ::-1]


def _xcorr_im2col(x, w, stride, pads):
  kh, kw, cin, cout = w.shape
  patches = extract_patches(x, (kh, kw), stride, pads)
  n, oh, ow = patches.shape[:3]
  out = patches.reshape(n * oh * ow, kh * kw * cin) @ w.reshape(kh * kw * cin, cout)
  return out.reshape(n, oh, ow, cout)


def _xcorr_xla(x, w, stride, pads):
  return lax.conv_general_dilated(x, w, window_strides=stride, padding=pads,
                                  dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _xcorr_naive(x, w, stride, pads):
  """The lecture's formula, one output position at a time (the reference)."""
  kh, kw = w.shape[:2]
  sh, sw = stride
  xp = jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
  out_h = (xp.shape[1] - kh) // sh + 1
  out_w = (xp.shape[2] - kw) // sw + 1
  rows = []
  for i in range(out_h):
    row = []
    for j in range(out_w):
      field = xp[:, sh * i:sh * i + kh, sw * j:sw * j + kw, :]
      row.append(jnp.einsum("nklc,klcf->nf", field, w))
    rows.append(jnp.stack(row, axis=1))
  return jnp.stack(rows, axis=1)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def _xcorr_hand_vjp(x, w, b, stride, pads, xcorr):
  return _add_bias(xcorr(x, w, stride, pads), b)


def _add_bias(y, b):
  return y if b is None else y + b


def _hand_vjp_fwd(x, w, b, stride, pads, xcorr):
  return _add_bias(xcorr(x, w, stride, pads), b), (x, w, b)


def _hand_vjp_bwd(stride, pads, xcorr, residuals, g):
  r"""Gradients of a cross-correlation layer, derived by hand (Lecture 7's
  exercise; the derivation in the lecture's notation is ``docs/conv_gradients.md``);
  ``xcorr`` (the forward pass's implementation) also computes the input gradient.

  Forward: ``y[n,i,j,f] = sum_{k,l,c} w[k,l,c,f] xp[n, s i + k, s j + l, c] + b[f]``
  with ``xp`` the padded input. Given ``g = dL/dy`` of shape ``(N, oh, ow, F)``:

  * **Kernel.** Every position ``(i, j)`` uses the same (shared) weight, so its
    gradient is the sum over all positions (and examples) that share it:
    ``dL/dw[k,l,c,f] = sum_{n,i,j} g[n,i,j,f] xp[n, s i + k, s j + l, c]``,
    i.e. ``patches^T @ g``, with the im2col patch matrix.
  * **Bias.** One bias per map, shared by all its units, each with
    ``dy/db = 1``: ``dL/db[f] = sum_{n,i,j} g[n,i,j,f]``.
  * **Input.** ``xp[n,p,q,c]`` feeds ``y[n,i,j,f]`` with weight
    ``w[p - s i, q - s j, c, f]``. So
    ``dL/dxp[n,p,q,c] = sum_{i,j,f} g[n,i,j,f] w[p - s i, q - s j, c, f]``.
    Spreading ``g`` onto the input grid (``g_up[s i, s j] = g[i, j]``, zeros
    between: the stride undone), this is ``sum_{k,l} g_up[p - k, q - l] w[k, l]``:
    a *full convolution* of the output gradients with the kernel, which is a
    cross-correlation of ``g_up`` padded by ``kh - 1, kw - 1`` with the kernel
    flipped and its in/out maps swapped. Cropping the padding gives ``dL/dx``.
  """
  x, w, b = residuals
  kh, kw, cin, cout = w.shape
  sh, sw = stride
  n, oh, ow, _ = g.shape
  patches = extract_patches(x, (kh, kw), stride, pads)
  dw = patches.reshape(n * oh * ow, kh * kw * cin).T @ g.reshape(n * oh * ow, cout)
  dw = dw.reshape(kh, kw, cin, cout)
  db = None if b is None else g.sum(axis=(0, 1, 2)).astype(b.dtype)

  hp = x.shape[1] + pads[0][0] + pads[0][1]
  wp = x.shape[2] + pads[1][0] + pads[1][1]
  g_up = jnp.zeros((n, sh * (oh - 1) + 1, sw * (ow - 1) + 1, cout), g.dtype)
  g_up = g_up.at[:, ::sh, ::sw, :].set(g) if (sh, sw) != (1, 1) else g
  # Full convolution: pad by kernel-1, plus the rows/columns the strided
  # windows never reached (they get zero gradient).
  full_pads = ((kh - 1, kh - 1 + hp - (sh * (oh - 1) + kh)),
               (kw - 1, kw - 1 + wp - (sw * (ow - 1) + kw)))
  w_back = flip_kernel(w).transpose(0, 1, 3, 2)
  dxp = xcorr(g_up, w_back, (1, 1), full_pads)
  dx = dxp[:, pads[0][0]:hp - pads[0][1], pads[1][0]:wp - pads[1][1], :]
  return dx, dw, db


_xcorr_hand_vjp.defvjp(_hand_vjp_fwd, _hand_vjp_bwd)


def _with_hand_vjp(xcorr):
  """``xcorr`` plus the bias, differentiated by :func:`_hand_vjp_bwd` instead of autodiff."""
  return lambda x, w, b, stride, pads: _xcorr_hand_vjp(x, w, b, stride, pads, xcorr)


def _with_autodiff(xcorr):
  """``xcorr`` plus the bias, differentiated by JAX."""
  return lambda x, w, b, stride, pads: _add_bias(xcorr(x, w, stride, pads), b)


# Each ``(x, w, b, stride, pads) -> y``, the bias (or None) added.
_XCORR = {"xla": _with_autodiff(_xcorr_xla), "im2col": _with_autodiff(_xcorr_im2col),
          "handgrad": _with_hand_vjp(_xcorr_im2col), "xla_handgrad": _with_hand_vjp(_xcorr_xla),
          "naive": _with_autodiff(_xcorr_naive)}


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def forward_or_training(forward: Callable[..., jax.Array], training: Callable[..., jax.Array],
                        *arrays: jax.Array | None) -> jax.Array:
  """``forward(*arrays)`` when not differentiated; differentiated, the values
  and gradients of ``training(*arrays)`` (the same function, computed
  otherwise: the two differ by rounding only)."""
  return forward(*arrays)


def _training_fwd(forward, training, *arrays):
  # The training function's own VJP closure is the residual: its backward
  # pass is exactly the one a plain call of ``training`` would run.
  return jax.vjp(training, *arrays)


def _training_bwd(forward, training, vjp, g):
  return vjp(g)


forward_or_training.defvjp(_training_fwd, _training_bwd)


def check_args(x: jax.Array, w: jax.Array, b: jax.Array | None, *, mode: str,
               stride: IntOrPair, padding: Padding, impl: str
               ) -> tuple[tuple[int, int], tuple[int, int], tuple[tuple[int, int], ...]]:
  """Refuse arguments :func:`conv2d` cannot convolve with (a ValueError
  naming the bad one); returns the stride, the kernel's window and the
  padding per side."""
  if mode not in MODES:
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
  if impl not in IMPLS:
    raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
  if x.ndim != 4:
    raise ValueError(f"x must be NHWC (4 dimensions), got shape {x.shape}")
  if w.ndim != 4:
    raise ValueError(f"w must be HWIO (kh, kw, in_maps, out_maps), got shape {w.shape}")
  if x.shape[3] != w.shape[2]:
    raise ValueError(f"channel mismatch: x has {x.shape[3]} input maps but w expects "
                     f"{w.shape[2]} (x {x.shape}, w {w.shape})")
  if b is not None and b.shape != (w.shape[3],):
    raise ValueError(f"b must have shape ({w.shape[3]},), got {b.shape}")
  stride = as_pair(stride, "stride")
  window = (w.shape[0], w.shape[1])
  pads = resolve_padding(padding, (x.shape[1], x.shape[2]), window, stride)
  for axis, size, k, pad in zip("HW", x.shape[1:3], window, pads):
    if size + pad[0] + pad[1] < k:
      raise ValueError(f"kernel {w.shape[:2]} is larger than the padded input "
                       f"({axis}: {size} + padding {pad} < {k})")
  return stride, window, pads


def conv2d(x: jax.Array, w: jax.Array, b: jax.Array | None = None, *,
           mode: str = "xcorr", stride: IntOrPair = 1, padding: Padding = "VALID",
           impl: str = "auto") -> jax.Array:
  """A convolutional layer's pre-activations (feature maps before the transfer
  function).

  Args:
    x: inputs, ``(N, H, W, C_in)``.
    w: kernel, ``(kh, kw, C_in, C_out)``.
    b: optional bias, ``(C_out,)``: one per feature map, shared by its units.
    mode: ``"xcorr"`` (cross-correlation) or ``"conv"`` (kernel flipped).
    stride: receptive-field step, an int or ``(sh, sw)``.
    padding: ``"VALID"``, ``"SAME"``, an int, or ``((top, bottom), (left, right))``.
    impl: one of ``IMPLS``; every implementation computes the same values.

  Returns:
    ``(N, out_h, out_w, C_out)`` with ``out = (H + pads - kh) // sh + 1``.

  Raises:
    ValueError: naming the bad argument (mode, impl, stride, padding, shapes).
  """
  stride, window, pads = check_args(x, w, b, mode=mode, stride=stride, padding=padding,
                                    impl=impl)
  if mode == "conv":
    w = flip_kernel(w)
  if impl == "auto":
    training = auto_impl(x.shape[3], window)
    forward = auto_impl(x.shape[3], window, forward_only=True)
    if forward != training:
      return forward_or_training(lambda x, w, b: _XCORR[forward](x, w, b, stride, pads),
                                 lambda x, w, b: _XCORR[training](x, w, b, stride, pads),
                                 x, w, b)
    impl = training
  return _XCORR[impl](x, w, b, stride, pads)
