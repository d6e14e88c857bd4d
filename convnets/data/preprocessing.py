"""Every preprocessor by name, including those fitted to the training images.

The preprocessors of :mod:`convnets.data.transforms` use fixed constants.
The ones here need more than one pixel and a constant:

* ``per_image``: each image's own pixels (in [0, 1]) shifted and scaled to
  mean 0 and standard deviation 1, so that every digit has the same
  brightness and contrast whatever its stroke width (the divisor is at least
  ``1 / sqrt(H W)``, TensorFlow's ``per_image_standardization`` rule, so a
  blank image stays finite);
* ``pca`` and ``zca``: whitening fitted to the training split
  (:mod:`convnets.data.whitening`), the matrix computed once on the host and
  applied to every batch on the device.

:func:`fit_preprocessor` is the one entry point the training loop uses; for a
name of ``transforms.PREPROCESSORS`` it returns that preprocessor unchanged.
Every preprocessor maps ``(N, 28, 28)`` uint8 images to ``(N, H, W, 1)``
float32 inputs.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from convnets.data import whitening
from convnets.data.transforms import PREPROCESSORS, get_preprocessor

Preprocessor = Callable[[jax.Array], jax.Array]

# Added to the eigenvalues, pixels in [0, 1]. MNIST's pixel variances sum to
# 52.9 and its leading eigenvalue is 5.2; 69 of the 784 components (87% of the
# variance) exceed 0.1, and 75 are exactly 0 (border pixels that are always
# blank). Components below this are attenuated rather than amplified to unit
# variance, so the whitened digits are not drowned in amplified noise.
WHITENING_EPSILON = 0.1


def per_image(images: jax.Array) -> jax.Array:
  """``(N, H, W)`` uint8 -> ``(N, H, W, 1)``: each image standardised by its
  own pixels' mean and standard deviation."""
  unit = images.astype(jnp.float32) / 255.0
  mean = unit.mean(axis=(1, 2), keepdims=True)
  std = unit.std(axis=(1, 2), keepdims=True)
  floor = 1.0 / np.sqrt(images.shape[1] * images.shape[2])
  return ((unit - mean) / jnp.maximum(std, floor))[..., None]


IMAGE_WISE: dict[str, Preprocessor] = {"per_image": per_image}
FITTED = whitening.KINDS


def names() -> tuple[str, ...]:
  """Every preprocessor name ``config.preprocess`` may take."""
  return (*PREPROCESSORS, *IMAGE_WISE, *FITTED)


def whitener(fitted: whitening.Whitening) -> Preprocessor:
  """``(N, H, W)`` uint8 -> ``(N, H, W, 1)``: pixels in [0, 1], unrolled, whitened."""
  def preprocess(images: jax.Array) -> jax.Array:
    unit = images.reshape(images.shape[0], -1).astype(jnp.float32) / 255.0
    return whitening.whiten(unit, fitted).reshape(images.shape + (1,))
  return preprocess


def fit_state(name: str, train_images: np.ndarray, epsilon: float = WHITENING_EPSILON
              ) -> dict[str, np.ndarray]:
  """What preprocessor ``name`` learns from ``train_images`` ``(N, 28, 28)``
  uint8: the whitening's ``mean`` ``(D,)`` and ``matrix`` ``(D, D)`` for
  ``pca`` and ``zca`` (never fitted to validation or test images, or they
  leak into training); nothing for the others. Saved with a run, so that it
  reloads without refitting."""
  if name not in FITTED:
    return {}
  unit = train_images.reshape(len(train_images), -1).astype(np.float32) / 255.0
  return dataclasses.asdict(whitening.fit_whitening(unit, name, epsilon))


def make_preprocessor(name: str, state: Mapping[str, np.ndarray]) -> Preprocessor:
  """The preprocessor ``name`` with its fitted ``state`` (:func:`fit_state`)."""
  if name in IMAGE_WISE:
    return IMAGE_WISE[name]
  if name in FITTED:
    return whitener(whitening.Whitening(**state))
  try:
    return get_preprocessor(name)
  except ValueError:
    raise ValueError(f"unknown preprocess {name!r}; known: {', '.join(names())}") from None


def fit_preprocessor(name: str, train_images: np.ndarray,
                     epsilon: float = WHITENING_EPSILON) -> Preprocessor:
  """The preprocessor ``name``, fitted to ``train_images`` where it needs fitting."""
  return make_preprocessor(name, fit_state(name, train_images, epsilon))


def input_shape(name: str) -> tuple[int, ...]:
  """One network input's shape ``(H, W, C)`` after preprocessor ``name``,
  without fitting it (the fitted ones keep the 28x28 image)."""
  if name in IMAGE_WISE or name in FITTED:
    return (28, 28, 1)
  images = jax.ShapeDtypeStruct((1, 28, 28), jnp.uint8)
  return tuple(jax.eval_shape(get_preprocessor(name), images).shape[1:])
