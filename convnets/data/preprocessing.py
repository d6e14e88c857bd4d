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
float32 inputs, and colour ``(N, H, W, C)`` images to C input maps.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from convnets.data import whitening
from convnets.data.transforms import PREPROCESSORS, get_preprocessor, with_channels

Preprocessor = Callable[[jax.Array], jax.Array]

# Added to the eigenvalues, pixels in [0, 1]. MNIST's pixel variances sum to
# 52.9 and its leading eigenvalue is 5.2; 69 of the 784 components (87% of the
# variance) exceed 0.1, and 75 are exactly 0 (border pixels that are always
# blank). Components below this are attenuated rather than amplified to unit
# variance, so the whitened digits are not drowned in amplified noise.
WHITENING_EPSILON = 0.1


def per_image(images: jax.Array) -> jax.Array:
  """``(N, H, W[, C])`` uint8 -> ``(N, H, W, 1 or C)``: each image
  standardised by its own values' (every channel's) mean and standard deviation."""
  unit = images.astype(jnp.float32) / 255.0
  axes = tuple(range(1, images.ndim))
  mean = unit.mean(axis=axes, keepdims=True)
  std = unit.std(axis=axes, keepdims=True)
  floor = 1.0 / np.sqrt(np.prod(images.shape[1:]))
  return with_channels((unit - mean) / jnp.maximum(std, floor))


IMAGE_WISE: dict[str, Preprocessor] = {"per_image": per_image}
FITTED = whitening.KINDS


def names() -> tuple[str, ...]:
  """Every preprocessor name ``config.preprocess`` may take."""
  return (*PREPROCESSORS, *IMAGE_WISE, *FITTED)


def whitener(fitted: whitening.Whitening) -> Preprocessor:
  """``(N, H, W[, C])`` uint8 -> ``(N, H, W, 1 or C)``: pixels in [0, 1],
  unrolled, whitened."""
  def preprocess(images: jax.Array) -> jax.Array:
    unit = images.reshape(images.shape[0], -1).astype(jnp.float32) / 255.0
    return with_channels(whitening.whiten(unit, fitted).reshape(images.shape))
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


def input_shape(name: str, image_shape: tuple[int, ...] = (28, 28)) -> tuple[int, ...]:
  """One network input's shape ``(H, W, C)`` after preprocessor ``name`` of
  stored images of ``image_shape`` ``(H, W)`` or ``(H, W, C)``, without
  fitting it (the fitted ones keep the image's size).

  Raises:
    ValueError: the preprocessor cannot take such images.
  """
  if name in FITTED:
    return tuple(image_shape) + ((1,) if len(image_shape) == 2 else ())
  preprocess = make_preprocessor(name, {})
  try:
    return tuple(jax.eval_shape(preprocess, jax.ShapeDtypeStruct((1, *image_shape), jnp.uint8)
                                ).shape[1:])
  except (ValueError, TypeError, IndexError) as e:
    raise ValueError(f"preprocess {name!r} cannot take {'x'.join(map(str, image_shape))} "
                     f"images ({' '.join(str(e).split())})") from None
