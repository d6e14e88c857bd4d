"""The lecture's hand-designed image-processing kernels (MLP Lecture 7,
"Convolution: image processing kernels"): the identity, three edge
detectors and sharpening, each a 3x3 kernel applied by cross-correlation
(:func:`convnets.ops.conv2d`).

A ConvNet learns its kernels; these are what a person would have designed
instead, and ``experiments/kernels.py`` asks how the two compare.
"""

from __future__ import annotations

import numpy as np

# name -> (3, 3) kernel, in the lecture's order.
HAND_DESIGNED: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], np.float32),
    "edge (diagonal)": np.array([[1, 0, -1], [0, 0, 0], [-1, 0, 1]], np.float32),
    "edge (4-neighbour)": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32),
    "edge (8-neighbour)": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], np.float32),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float32),
}


def hand_designed_bank(size: int = 3) -> np.ndarray:
  """The :data:`HAND_DESIGNED` kernels as one layer's HWIO kernel for a
  single input map, each 3x3 kernel embedded in the centre of a ``size x
  size`` window of zeros (``size=5`` for the lecture's 5x5 ConvNet), so the
  layer computes the same maps, cropped by the wider window's border.

  Returns:
    ``(size, size, 1, len(HAND_DESIGNED))`` float32, in the lecture's order.

  Raises:
    ValueError: ``size`` is even or smaller than 3 (no centre for a 3x3 kernel).
  """
  if size < 3 or size % 2 == 0:
    raise ValueError(f"hand-designed kernels need an odd kernel size >= 3, got {size}")
  margin = (size - 3) // 2
  bank = np.zeros((size, size, 1, len(HAND_DESIGNED)), np.float32)
  for f, kernel in enumerate(HAND_DESIGNED.values()):
    bank[margin:margin + 3, margin:margin + 3, 0, f] = kernel
  return bank
