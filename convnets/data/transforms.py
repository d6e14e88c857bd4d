"""Pure, jittable transforms from stored uint8 images to network inputs.

A preprocessor maps ``(N, 28, 28)`` uint8 images (0 = background, 255 = ink)
to ``(N, H, W, 1)`` float32 network inputs (colour ``(N, H, W, C)`` images,
the lecture's "multiple input images", keep their C maps; deslanting needs
greyscale) in three optional stages, named
together as ``[deslant_]<normalisation>[_<geometry>]``:

1. ``deslant_``: deskew by second moments (:func:`convnets.data.geometry.deslant`);
2. ``<geometry>``, one of ``GEOMETRIES``, on pixels in [0, 1] (padding adds
   background, 0):

   * none: the 28x28 image;
   * ``pad32``: 28x28 centred in 32x32, LeNet-5's input field (LeCun et al.
     1998, Section II.B: the digit sits in a larger field so that stroke ends
     can reach the centre of the top feature detectors' receptive fields);
   * ``crop20``: the central 20x20, where MNIST's size-normalised digits lie
     (the "20x20-300-10" MLP of the table);
   * ``down16``: ``crop20`` down-sampled to 16x16 (the "[16x16]" entries);
   * ``down16_pad28``: the 16x16 digit centred in a 28x28 field, LeNet-1's
     input (Section III.C, LeNet-1: "down-sampled to 16x16 pixels and centered in
     the 28x28 input layer");

3. ``<normalisation>``, one of ``NORMALISATIONS``: ``scale`` (pixels in
   [0, 1]), ``standardise`` (the training set's mean and std) or ``lecun``
   (background -0.1, ink 1.175, so mean about 0 and variance about 1: Section
   II.B, which makes learning faster).

So ``lecun_pad32`` feeds LeNet-5, ``deslant_scale_crop20`` the deslanted
20x20 MLP; ``scale`` and ``standardise`` are the 28x28 inputs of the lecture.
"""

from __future__ import annotations

import itertools
from typing import Callable

import jax
import jax.numpy as jnp

from convnets.data import geometry

# Mean and standard deviation of the 50,000 training images' pixels in [0, 1].
TRAIN_MEAN = 0.1310
TRAIN_STD = 0.3086
# LeCun et al. 1998, Section II.B: "the background level (white) corresponds
# to a value of -0.1 and the foreground (black) corresponds to 1.175".
LECUN_BACKGROUND = -0.1
LECUN_INK = 1.175


def with_channels(images: jax.Array) -> jax.Array:
  """``(N, H, W)`` -> ``(N, H, W, 1)``; ``(N, H, W, C)`` unchanged."""
  return images[..., None] if images.ndim == 3 else images


def pad_to(images: jax.Array, size: int) -> jax.Array:
  """``(N, h, w[, C])`` -> ``(N, size, size[, C])``: centred on a background
  (0) field; an odd margin puts the extra pixel at the bottom/right."""
  dh, dw = size - images.shape[1], size - images.shape[2]
  if min(dh, dw) < 0:
    raise ValueError(f"cannot pad {images.shape[1:]} images to {size}x{size}")
  return jnp.pad(images, ((0, 0), (dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2))
                 + ((0, 0),) * (images.ndim - 3))


def crop20(images: jax.Array) -> jax.Array:
  """``(N, 28, 28)`` -> ``(N, 20, 20)``: the central box. MNIST's digits were
  size-normalised into a 20x20 box and then centred by centre of mass, so a
  digit's bounding box can sit a pixel or two off centre and lose an edge
  column or row here."""
  return images[:, 4:24, 4:24]


def down16(images: jax.Array) -> jax.Array:
  """``(N, 28, 28)`` -> ``(N, 16, 16)``: the central 20x20 box (the digit,
  :func:`crop20`) down-sampled by 16/20. ``jax.image.resize``'s linear method
  with antialiasing widens the triangle filter by the 1.25 reduction, so each
  output pixel averages the input area it covers (no aliasing of thin
  strokes)."""
  return jax.image.resize(crop20(images), (images.shape[0], 16, 16) + images.shape[3:], "linear",
                          antialias=True)


GEOMETRIES: dict[str, Callable[[jax.Array], jax.Array]] = {
    "": lambda images: images,
    "pad32": lambda images: pad_to(images, 32),
    "crop20": crop20,
    "down16": down16,
    "down16_pad28": lambda images: pad_to(down16(images), 28),
}

NORMALISATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "scale": lambda unit: unit,
    "standardise": lambda unit: (unit - TRAIN_MEAN) / TRAIN_STD,
    "lecun": lambda unit: LECUN_BACKGROUND + (LECUN_INK - LECUN_BACKGROUND) * unit,
}


def preprocessor_name(normalisation: str, geometry_name: str = "", deslant: bool = False) -> str:
  """``[deslant_]<normalisation>[_<geometry>]``, the key in ``PREPROCESSORS``."""
  return (("deslant_" if deslant else "") + normalisation
          + (f"_{geometry_name}" if geometry_name else ""))


def make_preprocessor(normalisation: str = "scale", geometry_name: str = "",
                      deslant: bool = False) -> Callable[[jax.Array], jax.Array]:
  """``preprocess(images (N, 28, 28[, C]) uint8) -> (N, H, W, 1 or C) float32``, the
  stages in the order of the module docstring (deslanting needs the whole
  28x28 digit, and padding must add background before normalising)."""
  if normalisation not in NORMALISATIONS:
    raise ValueError(f"unknown normalisation {normalisation!r}; known: "
                     f"{', '.join(NORMALISATIONS)}")
  if geometry_name not in GEOMETRIES:
    raise ValueError(f"unknown geometry {geometry_name!r}; known: "
                     f"{', '.join(g for g in GEOMETRIES if g)}")
  normalise, reshape = NORMALISATIONS[normalisation], GEOMETRIES[geometry_name]

  def preprocess(images: jax.Array) -> jax.Array:
    unit = images.astype(jnp.float32) / 255.0
    if deslant:
      unit = geometry.deslant(unit)
    return with_channels(normalise(reshape(unit)))

  preprocess.__name__ = preprocessor_name(normalisation, geometry_name, deslant)
  return preprocess


scale = make_preprocessor("scale")
scale.__doc__ = "``(N, 28, 28)`` uint8 -> ``(N, 28, 28, 1)`` float32 in [0, 1]."
standardise = make_preprocessor("standardise")
standardise.__doc__ = "Pixels in [0, 1] shifted and scaled by the training set's mean and std."

PREPROCESSORS: dict[str, Callable[[jax.Array], jax.Array]] = {"scale": scale,
                                                              "standardise": standardise}
for _deslant, _geometry, _normalisation in itertools.product((False, True), GEOMETRIES,
                                                             NORMALISATIONS):
  _name = preprocessor_name(_normalisation, _geometry, _deslant)
  if _name not in PREPROCESSORS:
    PREPROCESSORS[_name] = make_preprocessor(_normalisation, _geometry, _deslant)


def get_preprocessor(name: str) -> Callable[[jax.Array], jax.Array]:
  try:
    return PREPROCESSORS[name]
  except KeyError:
    raise ValueError(f"unknown preprocess {name!r}; known: {', '.join(PREPROCESSORS)}") from None
