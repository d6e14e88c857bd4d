"""Random data augmentation as pure functions of a PRNG key, run on the device
inside the jitted training step (no host input pipeline).

Every augmentation maps ``(key, images (N, H, W))`` (or colour ``(N, H, W,
C)``, every channel moved alike) to images of the same shape and dtype
(uint8 in, uint8 out: resampled values are rounded and clipped back),
each image drawing its own parameters from its own key:

* ``"shift"``: whole-pixel translations (:func:`random_shift`);
* ``"affine"``: random planar affine distortions (:func:`affine_distort`),
  LeCun et al. 1998's "[dist]" training sets (Section III.B: horizontal and
  vertical translations, scaling, squeezing and horizontal shearing), plus
  rotation;
* ``"elastic"``: Simard, Steinkraus & Platt 2003's elastic distortions
  (:func:`elastic_distort`);
* ``"affine+elastic"``: both, composed into one resampling (:func:`distort`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import ConfigDict

from convnets.data import geometry


def shift_offsets(key: jax.Array, n: int, max_shift: int) -> jax.Array:
  """``(N, 2)`` int32 offsets ``(dy, dx)``, each uniform in ``[-max_shift, max_shift]``."""
  return jax.random.randint(key, (n, 2), -max_shift, max_shift + 1)


def shift(images: jax.Array, offsets: jax.Array, max_shift: int) -> jax.Array:
  """Translate each image by whole pixels.

  Args:
    images: ``(N, H, W)`` or ``(N, H, W, C)`` (any dtype); vacated pixels
      become 0 (background), in every channel.
    offsets: ``(N, 2)`` int ``(dy, dx)``, each within ``[-max_shift, max_shift]``.
    max_shift: a bound on the offsets (the padding the translation needs).

  Returns:
    images' shape and dtype: ``out[n, i, j] = images[n, i - dy_n, j - dx_n]``.
  """
  h, w, channels = images.shape[1], images.shape[2], images.shape[3:]
  margins = ((0, 0), (max_shift, max_shift), (max_shift, max_shift)) + ((0, 0),) * len(channels)
  padded = jnp.pad(images, margins)
  crop = lambda image, off: jax.lax.dynamic_slice(
      image, (max_shift - off[0], max_shift - off[1]) + (0,) * len(channels), (h, w) + channels)
  return jax.vmap(crop)(padded, offsets)


def random_shift(key: jax.Array, images: jax.Array, max_shift: int) -> jax.Array:
  """:func:`shift` by ``shift_offsets(key, N, max_shift)``: independent random
  whole-pixel offsets, uniform in ``[-max_shift, max_shift]`` on each axis."""
  if max_shift == 0:
    return images
  return shift(images, shift_offsets(key, images.shape[0], max_shift), max_shift)


@dataclasses.dataclass(frozen=True)
class AffineRanges:
  """Ranges of a random planar affine distortion; each parameter is uniform
  in its range, independently per image. All zero is the identity.

  Attributes:
    rotation_degrees: rotation angle in ``[-r, r]`` degrees.
    scale: isotropic scale factor in ``[1 - s, 1 + s]``.
    squeeze: ``q`` in ``[-s, s]``; widths are multiplied by ``1 + q`` and
      heights by ``1 / (1 + q)`` (LeCun et al.'s "simultaneous horizontal
      compression and vertical elongation, or the reverse", area-preserving).
    shear: horizontal shear factor ``k`` in ``[-s, s]``: a point ``d`` rows
      below the centre moves ``k d`` columns.
    translate_pixels: translation in ``[-t, t]`` pixels on each axis (not
      rounded: sub-pixel shifts are resampled).
  """
  rotation_degrees: float = 0.0
  scale: float = 0.0
  squeeze: float = 0.0
  shear: float = 0.0
  translate_pixels: float = 0.0

  def __post_init__(self):
    for field in dataclasses.fields(self):
      if getattr(self, field.name) < 0:
        raise ValueError(f"affine {field.name} must be >= 0, got {getattr(self, field.name)}")
    if self.scale >= 1 or self.squeeze >= 1:
      raise ValueError(f"affine scale and squeeze must be < 1, got {self.scale}, {self.squeeze}")


@dataclasses.dataclass(frozen=True)
class ElasticParams:
  """Simard et al. 2003's elastic distortion: displacement fields uniform in
  ``[-1, 1]`` per pixel, smoothed by a Gaussian of standard deviation
  ``sigma`` pixels and scaled by ``alpha`` (their MNIST values: 34 and 4)."""
  alpha: float = 34.0
  sigma: float = 4.0

  def __post_init__(self):
    if self.alpha < 0 or self.sigma <= 0:
      raise ValueError(f"elastic alpha must be >= 0 and sigma > 0, got alpha={self.alpha}, "
                       f"sigma={self.sigma}")


def affine_transform(key: jax.Array, ranges: AffineRanges) -> tuple[jax.Array, jax.Array]:
  """A random forward transform ``p -> centre + A (p - centre) + t``.

  Returns:
    ``(A (2, 2), t (2,))`` in ``(row, column)`` coordinates, with
    ``A = rotation @ shear @ diag(scale / (1 + q), scale (1 + q))``.
  """
  # One draw for all six parameters: each random call costs compile time.
  u = jax.random.uniform(key, (6,), minval=-1.0, maxval=1.0) * jnp.array(
      [math.radians(ranges.rotation_degrees), ranges.scale, ranges.squeeze, ranges.shear,
       ranges.translate_pixels, ranges.translate_pixels], jnp.float32)
  angle, scale, squeeze, shear, translation = u[0], 1.0 + u[1], 1.0 + u[2], u[3], u[4:]
  cos, sin = jnp.cos(angle), jnp.sin(angle)
  rotation = jnp.array([[cos, -sin], [sin, cos]])
  shearing = jnp.array([[1.0, 0.0], [shear, 1.0]])
  return rotation @ shearing @ jnp.diag(jnp.stack([scale / squeeze, scale * squeeze])), translation


def inverse_2x2(m: jax.Array) -> jax.Array:
  """The inverse of a ``(2, 2)`` matrix, in closed form (no LU decomposition
  to compile under ``vmap``)."""
  adjugate = jnp.array([[m[1, 1], -m[0, 1]], [-m[1, 0], m[0, 0]]])
  return adjugate / (m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0])


def gaussian_smoothing_matrix(size: int, sigma: float) -> np.ndarray:
  """``(size, size)`` float32 ``G`` with ``G @ v`` the Gaussian smoothing of
  ``v``: ``G[i, j] = g(i - j)`` for the normalised kernel truncated at 4
  sigma, and zero beyond the ends (scipy's ``gaussian_filter(mode="constant")``).
  A NumPy constant: the size and sigma are fixed when tracing."""
  radius = int(4 * sigma + 0.5)
  taps = np.arange(-radius, radius + 1)
  kernel = np.exp(-0.5 * (taps / sigma) ** 2)
  kernel /= kernel.sum()
  lag = np.arange(size)[:, None] - np.arange(size)[None, :]
  inside = np.abs(lag) <= radius
  return np.where(inside, kernel[np.clip(lag + radius, 0, 2 * radius)], 0.0).astype(np.float32)


def elastic_displacement(key: jax.Array, h: int, w: int, params: ElasticParams) -> jax.Array:
  """``(2, H, W)`` displacements (rows, columns) of Simard et al. 2003, Section 2:
  ``alpha * G * U(-1, 1)`` with ``G`` the Gaussian smoothing (separable:
  ``G_h @ field @ G_w^T``)."""
  field = jax.random.uniform(key, (2, h, w), minval=-1.0, maxval=1.0)
  g_h = gaussian_smoothing_matrix(h, params.sigma)
  g_w = gaussian_smoothing_matrix(w, params.sigma)
  return params.alpha * jnp.einsum("ik,ckl,jl->cij", g_h, field, g_w)


def distortion_coordinates(key: jax.Array, h: int, w: int, affine: AffineRanges | None,
                           elastic: ElasticParams | None) -> jax.Array:
  """Where each output pixel of one distorted ``H x W`` image reads its input:
  ``(2, H, W)`` positions for :func:`convnets.data.geometry.resample`.

  The image is first transformed by the affine map and then displaced
  elastically: output ``p`` reads the input at ``T^-1(p + d(p))``, with
  ``T^-1(q) = centre + A^-1 (q - centre - t)``. Vmappable over keys.
  """
  k_affine, k_elastic = jax.random.split(key)
  coords = geometry.pixel_grid(h, w)
  if elastic is not None:
    coords = coords + elastic_displacement(k_elastic, h, w, elastic)
  if affine is not None:
    matrix, translation = affine_transform(k_affine, affine)
    centre = geometry.centre(h, w)
    coords = centre + jnp.einsum("ab,bhw->ahw", inverse_2x2(matrix),
                                 coords - centre - translation[:, None, None])
  return coords


# Jitted with the parameters static, so that calls outside a jitted step (the
# gallery) run one compiled program, not hundreds of dispatched ops; inside
# the training step it is inlined.
@functools.partial(jax.jit, static_argnames=("affine", "elastic"))
def distort(key: jax.Array, images: jax.Array, affine: AffineRanges | None = None,
            elastic: ElasticParams | None = None) -> jax.Array:
  """Random affine and/or elastic distortions, one draw per image.

  Args:
    key: PRNG key; the same key gives the same distortions.
    images: ``(N, H, W)`` or ``(N, H, W, C)``, uint8 or float.
    affine, elastic: the distortions' parameters; None leaves that one out.

  Returns:
    images' shape and dtype, resampled bilinearly with background (0)
    outside the image; integer images are rounded and clipped back.
  """
  n, h, w = images.shape[:3]
  coords = jax.vmap(lambda k: distortion_coordinates(k, h, w, affine, elastic))(
      jax.random.split(key, n))
  return geometry.resample_batch(images, coords)


def affine_distort(key: jax.Array, images: jax.Array, ranges: AffineRanges) -> jax.Array:
  """:func:`distort` with random planar affine transforms only."""
  return distort(key, images, affine=ranges)


def elastic_distort(key: jax.Array, images: jax.Array, params: ElasticParams) -> jax.Array:
  """:func:`distort` with elastic distortions only; ``alpha = 0`` is the identity."""
  return distort(key, images, elastic=params)


AUGMENTATIONS = ("none", "shift", "affine", "elastic", "affine+elastic")


def affine_ranges(section: ConfigDict) -> AffineRanges:
  """A config's ``augment.affine`` section as :class:`AffineRanges`."""
  return AffineRanges(rotation_degrees=section.rotation_degrees, scale=section.scale,
                      squeeze=section.squeeze, shear=section.shear,
                      translate_pixels=section.translate_pixels)


def elastic_params(section: ConfigDict) -> ElasticParams:
  """A config's ``augment.elastic`` section as :class:`ElasticParams`."""
  return ElasticParams(alpha=section.alpha, sigma=section.sigma)


def make_augmentation(section: ConfigDict) -> Callable[[jax.Array, jax.Array], jax.Array]:
  """``augment(key, images (N, H, W) uint8) -> images`` from a config's
  ``augment`` section (``name`` and its settings)."""
  if section.name == "none":
    return lambda key, images: images
  if section.name == "shift":
    return lambda key, images: random_shift(key, images, section.shift_pixels)
  if section.name in ("affine", "elastic", "affine+elastic"):
    parts = section.name.split("+")
    return functools.partial(
        distort, affine=affine_ranges(section.affine) if "affine" in parts else None,
        elastic=elastic_params(section.elastic) if "elastic" in parts else None)
  raise ValueError(f"unknown augment {section.name!r}; known: {', '.join(AUGMENTATIONS)}")
