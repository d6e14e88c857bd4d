"""Pure, jittable transforms from stored uint8 images to network inputs."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

# Mean and standard deviation of the 50,000 training images' pixels in [0, 1].
TRAIN_MEAN = 0.1310
TRAIN_STD = 0.3086


def scale(images: jax.Array) -> jax.Array:
  """``(N, 28, 28)`` uint8 -> ``(N, 28, 28, 1)`` float32 in [0, 1]."""
  return (images.astype(jnp.float32) / 255.0)[..., None]


def standardise(images: jax.Array) -> jax.Array:
  """Pixels in [0, 1] shifted and scaled by the training set's mean and std."""
  return (scale(images) - TRAIN_MEAN) / TRAIN_STD


PREPROCESSORS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "scale": scale,
    "standardise": standardise,
}


def get_preprocessor(name: str) -> Callable[[jax.Array], jax.Array]:
  try:
    return PREPROCESSORS[name]
  except KeyError:
    raise ValueError(f"unknown preprocess {name!r}; known: {', '.join(PREPROCESSORS)}") from None
