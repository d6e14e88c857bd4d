"""Sliding windows over NHWC feature maps: window and stride pairs, padding,
output sizes and the patches themselves, shared by convolution and pooling
(Lecture 7: a ``m x m`` window over a ``d x d`` map gives ``d - m + 1``
positions at stride 1).
"""

from __future__ import annotations

import numbers
from typing import Sequence, Union

import jax
import jax.numpy as jnp

Padding = Union[str, int, Sequence[Sequence[int]]]
IntOrPair = Union[int, Sequence[int]]


def _is_int(value: object) -> bool:
  # NumPy integers count; bools do not (stride=True is a mistake, not a 1).
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def as_pair(value: IntOrPair, name: str) -> tuple[int, int]:
  """An int or a pair of ints as a pair of positive ints, or a ValueError."""
  if _is_int(value):
    pair = (int(value), int(value))
  elif isinstance(value, Sequence) and len(value) == 2 and all(map(_is_int, value)):
    pair = (int(value[0]), int(value[1]))
  else:
    raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
  if min(pair) < 1:
    raise ValueError(f"{name} must be >= 1, got {value!r}")
  return pair


def resolve_padding(padding: Padding, in_hw: tuple[int, int],
                    window: tuple[int, int], stride: tuple[int, int]
                    ) -> tuple[tuple[int, int], tuple[int, int]]:
  """Explicit ``((top, bottom), (left, right))`` padding.

  ``"SAME"`` pads so that ``out = ceil(in / stride)``, putting the odd pixel at
  the bottom/right, as ``lax`` and TensorFlow do.
  """
  if isinstance(padding, str):
    name = padding.upper()
    if name == "VALID":
      return ((0, 0), (0, 0))
    if name == "SAME":
      pads = []
      for size, k, s in zip(in_hw, window, stride):
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
      return tuple(pads)  # type: ignore[return-value]
    raise ValueError(f"padding must be 'VALID', 'SAME', an int or "
                     f"((top, bottom), (left, right)), got {padding!r}")
  if isinstance(padding, int):
    if padding < 0:
      raise ValueError(f"padding must be >= 0, got {padding}")
    return ((padding, padding), (padding, padding))
  try:
    (top, bottom), (left, right) = padding
  except (TypeError, ValueError):
    raise ValueError(f"padding must be 'VALID', 'SAME', an int or "
                     f"((top, bottom), (left, right)), got {padding!r}") from None
  pads = ((int(top), int(bottom)), (int(left), int(right)))
  if min(min(p) for p in pads) < 0:
    raise ValueError(f"padding must be >= 0, got {padding!r}")
  return pads


def extract_patches(x: jax.Array, window: tuple[int, int], stride: tuple[int, int],
                    pads, pad_value: float = 0.0) -> jax.Array:
  """Local receptive fields of every output position.

  Args:
    x: ``(N, H, W, C)``.
    window, stride: ``(kh, kw)`` and ``(sh, sw)``.
    pads: ``((top, bottom), (left, right))``.
    pad_value: value of the padded border (``-inf`` for max-pooling).

  Returns:
    ``(N, out_h, out_w, kh * kw, C)``: patch ``[n, i, j, k * kw + l, c]`` is
    ``x_padded[n, sh * i + k, sw * j + l, c]``. Built from ``kh * kw`` strided
    slices, so its gradient is a sum of pads, never a scatter.
  """
  kh, kw = window
  sh, sw = stride
  if any(pads[0]) or any(pads[1]):
    x = jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=pad_value)
  out_h = (x.shape[1] - kh) // sh + 1
  out_w = (x.shape[2] - kw) // sw + 1
  views = [x[:, k:k + sh * (out_h - 1) + 1:sh, l:l + sw * (out_w - 1) + 1:sw, :]
           for k in range(kh) for l in range(kw)]
  return jnp.stack(views, axis=3)
