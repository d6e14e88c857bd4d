"""Translation equivariance of a convolutional layer and the limited
invariance of pooling (Lecture 7, "Shared weights" and "Pooling").

A valid cross-correlation shares one kernel over every position, so shifting
the input by ``k`` shifts the feature map by ``k`` (away from the borders,
where the shifted-in background differs). Max-pooling over non-overlapping
``s x s`` windows is invariant only to shifts that keep each window's maximum
inside it; a shift by a multiple of ``s`` shifts the pooled map by ``k / s``.
"""

from __future__ import annotations

import numpy as np
import pytest

from convnets.ops import conv2d, pool2d
from convnets.ops import conv as conv_module

IMPLS = ("xla", "im2col", "handgrad", "naive")
SIZE, KERNEL = 14, 3


def shift(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
  """``(N, H, W, C)`` translated ``dy`` rows down and ``dx`` columns right, zeros shifted in."""
  out = np.zeros_like(x)
  h, w = x.shape[1:3]
  out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
      x[:, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
  return out


def image_and_kernel() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """A random image whose border (3 pixels) is background, so that shifts up
  to 3 lose nothing, and an asymmetric kernel (a flipped one differs)."""
  rng = np.random.default_rng(0)
  x = np.zeros((2, SIZE, SIZE, 2), np.float32)
  x[:, 3:-3, 3:-3] = rng.normal(size=(2, SIZE - 6, SIZE - 6, 2))
  w = rng.normal(size=(KERNEL, KERNEL, 2, 4)).astype(np.float32)
  return x, w, rng.normal(size=4).astype(np.float32)


def numpy_xcorr(x: np.ndarray, w: np.ndarray, pad: int) -> np.ndarray:
  """The cross-correlation of the zero-padded input as loops over positions
  (the reference)."""
  x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  kh, kw = w.shape[:2]
  out = np.zeros((x.shape[0], x.shape[1] - kh + 1, x.shape[2] - kw + 1, w.shape[3]))
  for i in range(out.shape[1]):
    for j in range(out.shape[2]):
      out[:, i, j] = np.einsum("nklc,klcf->nf", x[:, i:i + kh, j:j + kw], w)
  return out


SHIFTS = ((1, 0), (0, 2), (-2, 1), (3, -3))
PADDINGS = {"VALID": 0, "SAME": KERNEL // 2}


def check_layer(impl: str, padding: str) -> None:
  """AssertionError unless conv2d is the reference cross-correlation (on an
  image with ink up to its border) and translation-equivariant:
  ``conv(shift(x, k)) == shift(conv(x), k)`` on the output positions whose
  receptive fields lie inside the image before and after the shift."""
  x, w, b = image_and_kernel()
  full = np.random.default_rng(1).normal(size=x.shape).astype(np.float32)
  got = np.asarray(conv2d(full, w, padding=padding, impl=impl))
  want = numpy_xcorr(full, w, PADDINGS[padding])
  assert got.shape == want.shape, (got.shape, want.shape)
  np.testing.assert_allclose(got, want, atol=1e-4)
  maps = np.asarray(conv2d(x, w, b, padding=padding, impl=impl))
  border = KERNEL - 1 - PADDINGS[padding]
  for dy, dx in SHIFTS:
    moved = np.asarray(conv2d(shift(x, dy, dx), w, b, padding=padding, impl=impl))
    out = maps.shape[1]
    interior = (slice(None), slice(max(dy, 0) + border, out + min(dy, 0) - border),
                slice(max(dx, 0) + border, out + min(dx, 0) - border))
    np.testing.assert_allclose(moved[interior], shift(maps, dy, dx)[interior], atol=1e-5)
    # Not vacuous: the maps really moved (the shifted maps differ from the unshifted).
    assert not np.allclose(moved[interior], maps[interior], atol=1e-2)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("padding", list(PADDINGS))
def test_cross_correlation_is_translation_equivariant(impl, padding):
  check_layer(impl, padding)


def test_a_term_per_position_would_break_equivariance():
  """The check sees a layer whose output depends on absolute position: adding
  a position-dependent term (what a layer without weight sharing can do) fails it."""
  x, w, b = image_and_kernel()
  ramp = np.arange(SIZE - KERNEL + 1, dtype=np.float32)[None, :, None, None]
  maps = np.asarray(conv2d(x, w, b)) + ramp
  moved = np.asarray(conv2d(shift(x, 2, 0), w, b)) + ramp
  assert not np.allclose(moved[:, 2:], shift(maps, 2, 0)[:, 2:], atol=1e-3)


def _flipped(xcorr):
  return lambda x, w, b, stride, pads: xcorr(x, w[::-1, ::-1], b, stride, pads)


def _padded_by_edge(xcorr):
  """Padding by repeating the border pixels (``mode="edge"``) instead of zeros."""
  def mutant(x, w, b, stride, pads):
    x = np.pad(np.asarray(x), ((0, 0), pads[0], pads[1], (0, 0)), mode="edge")
    return xcorr(x, w, b, stride, ((0, 0), (0, 0)))
  return mutant


def _padded_always(xcorr):
  """"SAME"-sized padding whatever the layer asked for."""
  return lambda x, w, b, stride, pads: xcorr(x, w, b, stride, ((1, 1), (1, 1)))


@pytest.mark.parametrize("bug, padding", [(_flipped, "VALID"), (_padded_by_edge, "SAME"),
                                          (_padded_always, "VALID")])
def test_the_check_fails_for_a_flip_or_padding_bug(monkeypatch, bug, padding):
  """Mutants of the im2col implementation make :func:`check_layer` fail (a
  flipped kernel is still equivariant: the reference is what catches it)."""
  monkeypatch.setitem(conv_module._XCORR, "im2col", bug(conv_module._XCORR["im2col"]))
  with pytest.raises(AssertionError):
    check_layer("im2col", padding)


def test_max_pool_is_invariant_to_a_shift_inside_its_window():
  """One bright pixel per 2x2 window, at its top-left corner: moving it one
  pixel right or down stays inside the window, and the pooled map is unchanged."""
  x = np.zeros((1, 8, 8, 1), np.float32)
  x[0, ::2, ::2, 0] = np.arange(1, 17).reshape(4, 4)
  pooled = np.asarray(pool2d(x, kind="max", window=2))
  for dy, dx in ((0, 1), (1, 0), (1, 1)):
    np.testing.assert_array_equal(np.asarray(pool2d(shift(x, dy, dx), kind="max", window=2)),
                                  pooled)


def test_max_pool_is_not_invariant_to_a_shift_across_windows():
  """The same image with the bright pixels at the windows' bottom-right
  corners: a one-pixel shift carries each into the next window, and the pooled
  map changes; a shift by the stride (2) shifts the pooled map by 1."""
  x = np.zeros((1, 8, 8, 1), np.float32)
  x[0, 1::2, 1::2, 0] = np.arange(1, 17).reshape(4, 4)
  pooled = np.asarray(pool2d(x, kind="max", window=2))
  assert not np.array_equal(np.asarray(pool2d(shift(x, 0, 1), kind="max", window=2)), pooled)
  x = np.pad(x, ((0, 0), (0, 2), (0, 2), (0, 0)))          # room to move
  pooled = np.asarray(pool2d(x, kind="max", window=2))
  for dy, dx in ((2, 0), (0, 2), (2, 2)):
    moved = np.asarray(pool2d(shift(x, dy, dx), kind="max", window=2))
    np.testing.assert_array_equal(moved, shift(pooled, dy // 2, dx // 2))
