"""Random data augmentation as pure functions of a PRNG key, run on the device
inside the jitted training step (no host input pipeline)."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from ml_collections import ConfigDict


def random_shift(key: jax.Array, images: jax.Array, max_shift: int) -> jax.Array:
  """Translate each image by an independent random whole-pixel offset.

  Args:
    key: PRNG key.
    images: ``(N, H, W)`` (any dtype); vacated pixels become 0 (background).
    max_shift: offsets are uniform in ``[-max_shift, max_shift]`` on each axis.

  Returns:
    ``(N, H, W)``, same dtype: ``out[n, i, j] = images[n, i - dy_n, j - dx_n]``.
  """
  if max_shift == 0:
    return images
  n, h, w = images.shape
  padded = jnp.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift)))
  offsets = jax.random.randint(key, (n, 2), 0, 2 * max_shift + 1)
  crop = lambda image, off: jax.lax.dynamic_slice(image, (off[0], off[1]), (h, w))
  return jax.vmap(crop)(padded, offsets)


AUGMENTATIONS = ("none", "shift")


def make_augmentation(config: ConfigDict) -> Callable[[jax.Array, jax.Array], jax.Array]:
  """``augment(key, images (N, H, W) uint8) -> images`` from ``config.augment``."""
  if config.augment == "none":
    return lambda key, images: images
  if config.augment == "shift":
    if config.shift_pixels < 0:
      raise ValueError(f"config.shift_pixels must be >= 0, got {config.shift_pixels}")
    return lambda key, images: random_shift(key, images, config.shift_pixels)
  raise ValueError(f"unknown augment {config.augment!r}; known: {', '.join(AUGMENTATIONS)}")
